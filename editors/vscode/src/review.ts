// Review in the editor: the session's changes in VS Code's multi-file diff (or one diff per file)
// between the base and the worktree, base text from review/file; per-hunk Accept / Reject
// CodeLens and decorations in the worktree's files, refreshed on files_changed.

import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { Hunk, Method, ReviewDiff, ReviewFile, Session } from './protocol';

export const BASE_SCHEME = 'arbor-base';

interface Reviewed {
  session: Session;
  diff: ReviewDiff;
}

/// The line ranges (0-based, in the worktree file) a hunk's added lines cover.
export function addedRanges(hunk: Hunk): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  let line = Math.max(hunk.newStart, 1) - 1;
  for (const entry of hunk.lines) {
    if (entry.kind === 'added') {
      const last = ranges[ranges.length - 1];
      if (last && last.end === line - 1) last.end = line;
      else ranges.push({ start: line, end: line });
    }
    if (entry.kind !== 'removed') line++;
  }
  return ranges;
}

export class Review implements vscode.TextDocumentContentProvider, vscode.CodeLensProvider {
  private readonly reviewed = new Map<string, Reviewed>();
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private readonly added = vscode.window.createTextEditorDecorationType({ backgroundColor: new vscode.ThemeColor('diffEditor.insertedLineBackground'), isWholeLine: true });
  private readonly accepted = vscode.window.createTextEditorDecorationType({ backgroundColor: new vscode.ThemeColor('diffEditor.unchangedRegionBackground'), isWholeLine: true });

  constructor(private readonly ctx: Ctx) {
    ctx.connection.onEvent(({ sessionId, event }) => {
      if (event.kind === 'files_changed' && this.reviewed.has(sessionId)) void this.refresh(sessionId);
    });
    vscode.window.onDidChangeVisibleTextEditors(() => this.decorate());
  }

  register(): vscode.Disposable[] {
    return [
      vscode.workspace.registerTextDocumentContentProvider(BASE_SCHEME, this),
      vscode.languages.registerCodeLensProvider({ scheme: 'file' }, this),
      vscode.commands.registerCommand('arbor.acceptHunk', (sessionId: string, hunkId: string) => this.apply(sessionId, 'accept', hunkId)),
      vscode.commands.registerCommand('arbor.rejectHunk', (sessionId: string, hunkId: string) => this.apply(sessionId, 'reject', hunkId)),
    ];
  }

  /// The base text of `arbor-base:/<session>/<path>`.
  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const [, sessionId, ...rest] = uri.path.split('/');
    const file = await this.ctx.request<ReviewFile>(Method.reviewFile, { sessionId, path: rest.join('/') });
    return file?.baseText ?? '';
  }

  private fileOf(document: vscode.TextDocument): { reviewed: Reviewed; path: string } | undefined {
    for (const reviewed of this.reviewed.values()) {
      const root = reviewed.session.cwd + '/';
      if (document.uri.fsPath.startsWith(root)) return { reviewed, path: document.uri.fsPath.slice(root.length) };
    }
    return undefined;
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const found = this.fileOf(document);
    const file = found?.reviewed.diff.files.find((candidate) => candidate.path === found.path);
    if (!found || !file?.hunks) return [];
    return file.hunks.flatMap((hunk) => {
      const range = new vscode.Range(Math.max(hunk.newStart - 1, 0), 0, Math.max(hunk.newStart - 1, 0), 0);
      const sessionId = found.reviewed.session.id;
      const state = hunk.state === 'accepted' ? ' (accepted)' : '';
      return [
        new vscode.CodeLens(range, { title: `Accept${state}`, command: 'arbor.acceptHunk', arguments: [sessionId, hunk.id] }),
        new vscode.CodeLens(range, { title: 'Reject', command: 'arbor.rejectHunk', arguments: [sessionId, hunk.id] }),
      ];
    });
  }

  private decorate(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const found = this.fileOf(editor.document);
      const file = found?.reviewed.diff.files.find((candidate) => candidate.path === found.path);
      const pending: vscode.Range[] = [];
      const done: vscode.Range[] = [];
      for (const hunk of file?.hunks ?? []) {
        for (const range of addedRanges(hunk)) (hunk.state === 'accepted' ? done : pending).push(new vscode.Range(range.start, 0, range.end, 0));
      }
      editor.setDecorations(this.added, pending);
      editor.setDecorations(this.accepted, done);
    }
  }

  async refresh(sessionId: string): Promise<ReviewDiff | undefined> {
    const reviewed = this.reviewed.get(sessionId);
    if (!reviewed) return undefined;
    const diff = await this.ctx.request<ReviewDiff>(Method.reviewDiff, { sessionId });
    if (diff) reviewed.diff = diff;
    this.lensesChanged.fire();
    this.decorate();
    return diff;
  }

  private async apply(sessionId: string, action: 'accept' | 'reject', hunkId: string): Promise<void> {
    const diff = await this.ctx.request<ReviewDiff>(Method.reviewApply, { sessionId, action, hunkIds: [hunkId] });
    const reviewed = this.reviewed.get(sessionId);
    if (diff && reviewed) reviewed.diff = diff;
    this.lensesChanged.fire();
    this.decorate();
  }

  /// Opens the session's changes: one multi-file diff when VS Code has it, else one per file.
  async start(session: Session): Promise<void> {
    this.reviewed.set(session.id, { session, diff: { baseCommit: '', files: [], stats: { filesChanged: 0, additions: 0, deletions: 0 }, truncated: false, rejected: [] } });
    const diff = await this.refresh(session.id);
    if (!diff || diff.files.length === 0) {
      void vscode.window.showInformationMessage('Arbor: the session has no changes');
      return;
    }
    await this.ctx.request(Method.sessionSubscribe, { sessionId: session.id, afterSeq: session.lastSeq });
    const changes = diff.files.map((file) => {
      const base = vscode.Uri.from({ scheme: BASE_SCHEME, path: `/${session.id}/${file.oldPath ?? file.path}` });
      const current = vscode.Uri.file(`${session.cwd}/${file.path}`);
      return [current, base, current] as [vscode.Uri, vscode.Uri, vscode.Uri];
    });
    try {
      await vscode.commands.executeCommand('vscode.changes', `Arbor: ${session.title ?? session.id}`, changes);
    } catch {
      for (const [current, base] of changes) await vscode.commands.executeCommand('vscode.diff', base, current, `${current.path} (base ↔ session)`);
    }
  }
}
