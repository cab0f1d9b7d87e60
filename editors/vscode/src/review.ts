// Review where the diff is: the session's changes open in VS Code's multi-file diff (new files as
// added, base text from review/file), and each change carries Accept / Reject CodeLenses on its
// first changed line, with Accept File / Reject File on the file's first line, in the diff
// editors (the extension turns `diffEditor.codeLens` on by default) and in the worktree's files.
// The same actions sit in the diff editor's title bar and context menu and act on the change at
// the cursor. An accepted change can be rejected still; a rejected new file's editors close.

import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { FileDiff, Hunk, Method, ReviewAction, ReviewDiff, ReviewFile, Session } from './protocol';

export const BASE_SCHEME = 'arbor-base';

interface Reviewed {
  session: Session;
  diff: ReviewDiff;
  /// The session's review requests, run one after another: an answer computed before a change
  /// (a refresh on `files_changed` racing an accept or a reject) must never land after the
  /// change's own answer and bring back lenses for changes already gone.
  queue: Promise<unknown>;
  /// A refresh waiting in the queue, not yet sent: later refreshes join it.
  queuedRefresh?: Promise<ReviewDiff | undefined>;
}

/// Runs `work` after the session's earlier review requests, whatever became of them.
function inTurn<T>(reviewed: Reviewed, work: () => Promise<T>): Promise<T> {
  const run = reviewed.queue.then(work, work);
  reviewed.queue = run.catch(() => undefined);
  return run;
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

/// The 0-based worktree line of a hunk's first change (its first added line, or where its
/// removed lines were), so its lens sits on the change, not on the context before it.
export function firstChangedLine(hunk: Hunk): number {
  let line = Math.max(hunk.newStart, 1) - 1;
  for (const entry of hunk.lines) {
    if (entry.kind !== 'context') return line;
    line++;
  }
  return line;
}

/// The worktree lines (0-based, inclusive) a hunk spans, for "the change at the cursor".
function hunkSpan(hunk: Hunk): { start: number; end: number } {
  const start = Math.max(hunk.newStart, 1) - 1;
  return { start, end: start + Math.max(hunk.newLines, 1) - 1 };
}

type Target = { sessionId: string; hunkId?: string; path?: string };

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
      vscode.commands.registerCommand('arbor.acceptHunk', (sessionId?: unknown, hunkId?: unknown) => this.command('accept', 'hunk', sessionId, hunkId)),
      vscode.commands.registerCommand('arbor.rejectHunk', (sessionId?: unknown, hunkId?: unknown) => this.command('reject', 'hunk', sessionId, hunkId)),
      vscode.commands.registerCommand('arbor.acceptFile', (sessionId?: unknown, path?: unknown) => this.command('accept', 'file', sessionId, path)),
      vscode.commands.registerCommand('arbor.rejectFile', (sessionId?: unknown, path?: unknown) => this.command('reject', 'file', sessionId, path)),
      vscode.commands.registerCommand('arbor.nextChange', () => this.step(1)),
      vscode.commands.registerCommand('arbor.previousChange', () => this.step(-1)),
      vscode.commands.registerCommand('arbor.unstageHunk', (sessionId?: unknown, hunkId?: unknown) => this.command('unstage', 'hunk', sessionId, hunkId)),
      vscode.commands.registerCommand('arbor.unstageFile', (sessionId?: unknown, path?: unknown) => this.command('unstage', 'file', sessionId, path)),
    ];
  }

  /// The base side of a worktree file: the file's own path (so VS Code shows a modification, not
  /// a rename), in the base scheme, with the session in the query.
  static baseUri(session: Session, path: string): vscode.Uri {
    return vscode.Uri.from({ scheme: BASE_SCHEME, path: vscode.Uri.file(`${session.cwd}/${path}`).path, query: session.id });
  }

  /// The base text of a `baseUri`.
  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const sessionId = uri.query;
    const cwd = this.reviewed.get(sessionId)?.session.cwd ?? this.ctx.store.sessions.get(sessionId)?.cwd;
    if (!cwd) return '';
    const path = uri.path.slice(vscode.Uri.file(cwd).path.length + 1);
    const file = await this.ctx.request(Method.ReviewFile, { sessionId, path });
    return file?.baseText ?? '';
  }

  private fileOf(uri: vscode.Uri): { reviewed: Reviewed; path: string; file: FileDiff | undefined } | undefined {
    if (uri.scheme !== 'file') return undefined;
    for (const reviewed of this.reviewed.values()) {
      const root = reviewed.session.cwd + '/';
      if (uri.fsPath.startsWith(root)) {
        const path = uri.fsPath.slice(root.length);
        return { reviewed, path, file: reviewed.diff.files.find((candidate) => candidate.path === path) };
      }
    }
    return undefined;
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const found = this.fileOf(document.uri);
    if (!found?.file) return [];
    const sessionId = found.reviewed.session.id;
    const top = new vscode.Range(0, 0, 0, 0);
    const fileAccepted = (found.file.hunks ?? []).length > 0 && (found.file.hunks ?? []).every((hunk) => hunk.state === 'accepted');
    const lenses = [
      fileAccepted
        ? new vscode.CodeLens(top, { title: `✓ Accepted · Undo (${found.path})`, command: 'arbor.unstageFile', arguments: [sessionId, found.path], tooltip: 'Unstage the file again; the worktree keeps it' })
        : new vscode.CodeLens(top, { title: `Accept File (${found.path})`, command: 'arbor.acceptFile', arguments: [sessionId, found.path] }),
      new vscode.CodeLens(top, { title: found.file.status === 'added' ? 'Reject File (delete it)' : 'Reject File', command: 'arbor.rejectFile', arguments: [sessionId, found.path] }),
    ];
    // A new file is one change: the file's lenses are its lenses.
    const hunks = found.file.status === 'added' ? [] : found.file.hunks ?? [];
    for (const hunk of hunks) {
      const line = Math.min(firstChangedLine(hunk), Math.max(document.lineCount - 1, 0));
      const range = new vscode.Range(line, 0, line, 0);
      if (hunk.state === 'accepted') {
        lenses.push(new vscode.CodeLens(range, { title: '✓ Accepted · Undo', command: 'arbor.unstageHunk', arguments: [sessionId, hunk.id], tooltip: 'Staged: Commit includes it. Click to unstage it again; the worktree keeps it' }));
      } else {
        lenses.push(new vscode.CodeLens(range, { title: 'Accept Change', command: 'arbor.acceptHunk', arguments: [sessionId, hunk.id] }));
      }
      lenses.push(new vscode.CodeLens(range, { title: hunk.state === 'accepted' ? 'Undo and Reject' : 'Reject Change', command: 'arbor.rejectHunk', arguments: [sessionId, hunk.id] }));
    }
    return lenses;
  }

  private decorate(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const file = this.fileOf(editor.document.uri)?.file;
      const pending: vscode.Range[] = [];
      const done: vscode.Range[] = [];
      for (const hunk of file?.hunks ?? []) {
        for (const range of addedRanges(hunk)) (hunk.state === 'accepted' ? done : pending).push(new vscode.Range(range.start, 0, range.end, 0));
      }
      // Diff editors show the change already; the worktree file alone gets the highlight.
      editor.setDecorations(this.added, pending);
      editor.setDecorations(this.accepted, done);
    }
  }

  /// Keeps the `arbor.reviewedFiles` context key (the title-bar actions' `when`) current.
  private publishReviewedFiles(): void {
    const paths: string[] = [];
    for (const { session, diff } of this.reviewed.values()) for (const file of diff.files) paths.push(vscode.Uri.file(`${session.cwd}/${file.path}`).fsPath);
    void vscode.commands.executeCommand('setContext', 'arbor.reviewedFiles', paths);
  }

  async refresh(sessionId: string): Promise<ReviewDiff | undefined> {
    const reviewed = this.reviewed.get(sessionId);
    if (!reviewed) return undefined;
    reviewed.queuedRefresh ??= inTurn(reviewed, async () => {
      reviewed.queuedRefresh = undefined;
      const diff = await this.ctx.request(Method.ReviewDiff, { sessionId });
      if (diff) reviewed.diff = diff;
      this.changed();
      return diff;
    });
    return reviewed.queuedRefresh;
  }

  private changed(): void {
    this.lensesChanged.fire();
    this.decorate();
    this.publishReviewedFiles();
  }

  /// What a command acts on: its arguments (from a lens), or the change (or file) at the cursor.
  private target(kind: 'hunk' | 'file', sessionId: unknown, item: unknown): Target | undefined {
    if (typeof sessionId === 'string' && typeof item === 'string') return kind === 'hunk' ? { sessionId, hunkId: item } : { sessionId, path: item };
    const editor = vscode.window.activeTextEditor;
    const resource = editor?.document.uri ?? (sessionId instanceof vscode.Uri ? sessionId : undefined);
    const found = resource && this.fileOf(resource);
    if (!found?.file) return undefined;
    if (kind === 'file') return { sessionId: found.reviewed.session.id, path: found.path };
    const line = editor?.selection.active.line ?? 0;
    const hunk = found.file.hunks?.find((candidate) => {
      const span = hunkSpan(candidate);
      return line >= span.start && line <= span.end;
    });
    return hunk ? { sessionId: found.reviewed.session.id, hunkId: hunk.id } : undefined;
  }

  private async command(action: ReviewAction, kind: 'hunk' | 'file', sessionId: unknown, item: unknown): Promise<void> {
    const target = this.target(kind, sessionId, item);
    if (!target) {
      void vscode.window.showInformationMessage(
        kind === 'hunk'
          ? `Arbor: put the cursor on a change of a session's file (Arbor: Review Changes opens them) to ${action} it`
          : `Arbor: open a changed file of a session (Arbor: Review Changes) to ${action} it`,
      );
      return;
    }
    await this.apply(action, target);
  }

  private async apply(action: ReviewAction, target: Target): Promise<void> {
    const reviewed = this.reviewed.get(target.sessionId);
    const send = () =>
      this.ctx.request(Method.ReviewApply, {
        sessionId: target.sessionId,
        action,
        hunkIds: target.hunkId ? [target.hunkId] : [],
        paths: target.path ? [target.path] : [],
      });
    if (!reviewed) {
      await send();
      return;
    }
    // What the change was is read when its turn comes: an earlier request may have changed it.
    let before: ReviewDiff | undefined;
    const diff = await inTurn(reviewed, async () => {
      before = reviewed.diff;
      const after = await send();
      if (after) reviewed.diff = after;
      return after;
    });
    if (!diff) return;
    this.changed();
    const path = target.path ?? before?.files.find((file) => file.hunks?.some((hunk) => hunk.id === target.hunkId))?.path;
    const wasNew = before?.files.find((file) => file.path === path)?.status === 'added';
    if (action === 'reject' && reviewed && path && wasNew && !diff.files.some((file) => file.path === path)) await this.closeRemoved(reviewed.session, path);
    else if (action === 'reject' && reviewed && path) await this.reloadFromDisk(reviewed.session, path);
  }

  /// A reject rewrites the file on disk; an open editor of it must show that at once rather than
  /// when (or whether) the file watcher notices, which it may not do for a worktree outside the
  /// workspace. An editor with unsaved changes is left alone: they are the user's.
  private async reloadFromDisk(session: Session, path: string): Promise<void> {
    const fsPath = vscode.Uri.file(`${session.cwd}/${path}`).fsPath;
    const document = vscode.workspace.textDocuments.find((open) => open.uri.scheme === 'file' && open.uri.fsPath === fsPath);
    if (document && !document.isDirty) await vscode.commands.executeCommand('workbench.action.files.revert', document.uri);
  }

  /// A rejected new file is gone from the worktree: its editors would show text that no longer
  /// exists, so they close, and the user is told.
  private async closeRemoved(session: Session, path: string): Promise<void> {
    const fsPath = vscode.Uri.file(`${session.cwd}/${path}`).fsPath;
    let reviewClosed = false;
    const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => {
      const input = tab.input;
      if (input instanceof vscode.TabInputText) return input.uri.fsPath === fsPath;
      if (input instanceof vscode.TabInputTextDiff) return input.modified.fsPath === fsPath;
      // The multi-file diff's tab input (TabInputTextMultiDiff) is newer than the API this
      // extension builds against: recognised by its shape.
      const diffs = (input as { textDiffs?: { modified?: vscode.Uri }[] } | undefined)?.textDiffs;
      if (Array.isArray(diffs) && diffs.some((diff) => diff.modified?.fsPath === fsPath)) return (reviewClosed = true);
      return false;
    });
    if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
    void vscode.window.showInformationMessage(`Arbor: rejected the new file ${path}; it was removed from the session's worktree`);
    // The review of the session's other files goes on without it.
    const rest = this.reviewed.get(session.id)?.diff.files.length ?? 0;
    if (reviewClosed && rest > 0) await this.start(session);
  }

  /// Moves the cursor to the next (or previous) change of the session under review, on to the
  /// next file after a file's last change and round to the first after the last.
  private async step(direction: 1 | -1): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const found = editor && this.fileOf(editor.document.uri);
    const reviewed = found?.reviewed ?? [...this.reviewed.values()].at(-1);
    const stops = (reviewed?.diff.files ?? []).flatMap((file, fileIndex) =>
      (file.status === 'added' || file.status === 'deleted' ? [0] : (file.hunks ?? []).map(firstChangedLine)).map((line) => ({ file, fileIndex, line })),
    );
    if (!reviewed || stops.length === 0) {
      void vscode.window.showInformationMessage('Arbor: no changes under review (Arbor: Review Changes opens a session\'s changes)');
      return;
    }
    const hereFile = found ? reviewed.diff.files.findIndex((file) => file.path === found.path) : -1;
    const hereLine = editor?.selection.active.line ?? -1;
    const after = (stop: (typeof stops)[number]) => stop.fileIndex > hereFile || (stop.fileIndex === hereFile && stop.line > hereLine);
    const before = (stop: (typeof stops)[number]) => stop.fileIndex < hereFile || (stop.fileIndex === hereFile && stop.line < hereLine);
    const next = direction === 1 ? stops.find(after) ?? stops[0] : [...stops].reverse().find(before) ?? stops[stops.length - 1];
    const position = new vscode.Position(next.line, 0);
    if (editor && next.fileIndex === hereFile) {
      editor.selection = new vscode.Selection(position, position);
      editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      return;
    }
    const session = reviewed.session;
    const current = vscode.Uri.file(`${session.cwd}/${next.file.path}`);
    const base = next.file.status === 'added' ? current.with({ scheme: BASE_SCHEME, query: session.id }) : Review.baseUri(session, next.file.oldPath ?? next.file.path);
    await vscode.commands.executeCommand('vscode.diff', base, current, `${next.file.path} (base ↔ session)`, { selection: new vscode.Range(position, position) });
  }

  /// Opens the session's changes: one multi-file diff when VS Code has it, else one per file.
  async start(session: Session): Promise<void> {
    const queue = this.reviewed.get(session.id)?.queue ?? Promise.resolve();
    this.reviewed.set(session.id, { session, diff: { baseCommit: '', files: [], stats: { filesChanged: 0, additions: 0, deletions: 0 }, truncated: false, rejected: [] }, queue });
    const diff = await this.refresh(session.id);
    if (!diff || diff.files.length === 0) {
      void vscode.window.showInformationMessage(`Arbor: "${session.title ?? 'the session'}" has no changes to review`);
      return;
    }
    await this.ctx.request(Method.SessionSubscribe, { sessionId: session.id, afterSeq: session.lastSeq });
    // A new file has no base side: it shows as added, not as renamed from the base's path.
    const changes = diff.files.map((file) => {
      const current = vscode.Uri.file(`${session.cwd}/${file.path}`);
      const base = file.status === 'added' ? undefined : Review.baseUri(session, file.oldPath ?? file.path);
      return [current, base, file.status === 'deleted' ? undefined : current] as [vscode.Uri, vscode.Uri | undefined, vscode.Uri | undefined];
    });
    try {
      await vscode.commands.executeCommand('vscode.changes', `Arbor: ${session.title ?? session.id}`, changes);
    } catch {
      for (const [current, base] of changes) await vscode.commands.executeCommand('vscode.diff', base ?? current.with({ scheme: BASE_SCHEME, query: session.id }), current, `${current.path} (base ↔ session)`);
    }
  }
}
