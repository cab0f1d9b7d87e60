// The chat: one session at a time, history then live, in an editor tab (the default) or a view in
// the secondary side bar (`arbor.chat.location`). It carries the user's messages, interrupts,
// permission answers and "Open diff" back; a message the server refuses is handed back to the
// composer, never dropped. The last session shown is reopened after a reload.

import * as vscode from 'vscode';
import { errorMessage } from './connection';
import { Ctx } from './ctx';
import { ChatEvent, ChatRequest, ChatUpdate, PullRequestAction, chatEvent, chatUpdates, isChatUpdate, parseChatRequest } from './messages';
import { Method, Session, SessionEventNotification } from './protocol';
import { chatHtml, nonce } from './webviewHtml';

const LAST_SESSION = 'arbor.lastSession';

/// The command each pull request button of the chat runs on the chat's session.
const PULL_REQUEST_COMMANDS: Record<PullRequestAction, string> = {
  open: 'arbor.openPullRequest',
  delete_session: 'arbor.deleteMerged',
  send_review: 'arbor.sendReview',
};
export const TEXT_SCHEME = 'arbor-text';

/// Slash commands of the composer: each runs an extension command on the chat's session.
export const SLASH_COMMANDS: Record<string, { command: string; description: string }> = {
  '/review': { command: 'arbor.reviewChanges', description: 'review the changes' },
  '/commit': { command: 'arbor.commit', description: 'commit the worktree on the session branch' },
  '/merge': { command: 'arbor.merge', description: 'merge the branch into its base' },
  '/export': { command: 'arbor.export', description: 'export the conversation' },
  '/stop': { command: 'arbor.stop', description: 'stop the session (resumable)' },
  '/fork': { command: 'arbor.fork', description: 'fork the session' },
  '/push': { command: 'arbor.push', description: 'push the branch to its remote' },
  '/pr': { command: 'arbor.createPullRequest', description: 'push and open a pull request' },
  '/send-review': { command: 'arbor.sendReview', description: "send the pull request's review to the agent" },
};

type Location = 'editor' | 'sidebar';

/// A session's history being read: its record and its pages, the first asked for.
interface Reading {
  sessionId: string;
  record: Promise<Session | undefined>;
  pages: AsyncGenerator<SessionEventNotification[]>;
  first: Promise<IteratorResult<SessionEventNotification[]>>;
}

function location(): Location {
  return vscode.workspace.getConfiguration('arbor').get<Location>('chat.location') ?? 'editor';
}

/// The before and after texts of the tool diffs opened in VS Code's diff editor.
class Texts implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private next = 0;

  put(path: string, text: string): vscode.Uri {
    const key = `${++this.next}`;
    this.texts.set(key, text);
    return vscode.Uri.from({ scheme: TEXT_SCHEME, path: `/${key}/${path}` });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.path.split('/')[1]) ?? '';
  }
}

export class ChatView implements vscode.WebviewViewProvider, vscode.WebviewPanelSerializer {
  private view: vscode.WebviewView | undefined;
  private panel: vscode.WebviewPanel | undefined;
  private sessionId: string | undefined;
  private ready = false;
  /// Live events that arrive while the history is loading; posted after it.
  private held: ChatEvent[] | undefined;
  private ctx!: Ctx;
  private readonly texts = new Texts();
  private outbox: ChatEvent[] = [];
  private outboxTimer: NodeJS.Timeout | undefined;
  /// A history read while the page loads, for it to replay once ready.
  private reading: Reading | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.sessionId = context.workspaceState.get<string>(LAST_SESSION);
  }

  attach(ctx: Ctx): void {
    this.ctx = ctx;
    ctx.connection.onEvent((notification) => {
      if (notification.sessionId !== this.sessionId) return;
      if (this.held) this.held.push(chatEvent(notification));
      else this.queue(chatEvent(notification));
    });
    ctx.connection.onSessionChanged(({ session, deleted }) => {
      if (session.id !== this.sessionId) return;
      if (deleted) this.post({ type: 'deleted' });
      else {
        this.post({ type: 'session', session });
        if (this.panel) this.panel.title = `Arbor: ${session.title ?? 'Untitled session'}`;
      }
    });
  }

  register(): vscode.Disposable[] {
    return [
      vscode.window.registerWebviewViewProvider('arbor.chat', this, { webviewOptions: { retainContextWhenHidden: true } }),
      vscode.window.registerWebviewPanelSerializer('arbor.chat', this),
      vscode.workspace.registerTextDocumentContentProvider(TEXT_SCHEME, this.texts),
      vscode.commands.registerCommand('arbor.addSelectionToChat', () => this.addSelection()),
    ];
  }

  /// The session the chat shows, while it is on screen.
  visibleSession(): string | undefined {
    return this.panel?.visible || this.view?.visible ? this.sessionId : undefined;
  }

  private setUp(webview: vscode.Webview): void {
    const media = vscode.Uri.joinPath(this.context.extensionUri, 'media');
    webview.options = { enableScripts: true, localResourceRoots: [media] };
    webview.html = chatHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css')).toString(),
      nonce: nonce(),
    });
    webview.onDidReceiveMessage((message) => this.receive(message));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    this.setUp(view.webview);
    view.onDidDispose(() => {
      if (this.view === view) {
        this.view = undefined;
        this.drop();
      }
    });
  }

  /// Restores the chat tab after a reload, on the session it showed.
  async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
    this.adoptPanel(panel);
  }

  private adoptPanel(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.ready = false;
    panel.iconPath = vscode.Uri.joinPath(this.context.extensionUri, 'media', 'arbor.svg');
    this.setUp(panel.webview);
    panel.onDidDispose(() => {
      if (this.panel === panel) {
        this.panel = undefined;
        this.drop();
      }
    });
  }

  private get webview(): vscode.Webview | undefined {
    return location() === 'editor' ? this.panel?.webview ?? this.view?.webview : this.view?.webview ?? this.panel?.webview;
  }

  /// Live events go to the page in batches, one message per 16 ms at most: a webview message
  /// costs milliseconds in VS Code, so one per streamed chunk would leave the page a minute behind
  /// a fast reply (measured with 5,000 chunks).
  private queue(event: ChatEvent): void {
    this.outbox.push(event);
    if (this.outboxTimer) return;
    this.outboxTimer = setTimeout(() => {
      this.outboxTimer = undefined;
      const events = this.outbox;
      this.outbox = [];
      this.postEvents(events);
    }, 16);
  }

  /// Events go to the page as runs of consecutive seqs, in their short form (messages.ts).
  private postEvents(events: ChatEvent[]): void {
    for (const update of chatUpdates(events)) this.post(update);
  }

  private post(update: ChatUpdate): void {
    const webview = this.webview;
    if (webview && this.ready && isChatUpdate(update)) void webview.postMessage(update);
  }

  private async receive(message: unknown): Promise<void> {
    const request = parseChatRequest(message);
    if (!request) return;
    const sessionId = this.sessionId;
    switch (request.type) {
      case 'ready':
        this.ready = true;
        this.post({ type: 'commands', commands: Object.entries(SLASH_COMMANDS).map(([name, { description }]) => ({ name, description })) });
        if (sessionId) await this.load(sessionId);
        break;
      case 'send':
        await this.send(request);
        break;
      case 'interrupt':
        if (sessionId) await this.ctx.request(Method.SessionCancel, { sessionId });
        break;
      case 'respond':
        if (sessionId) await this.ctx.request(Method.SessionRespond, { sessionId, requestId: request.requestId, optionId: request.optionId, ...(request.content ? { content: request.content } : {}) });
        break;
      case 'openDiff': {
        const before = this.texts.put(request.path, request.oldText ?? '');
        const after = this.texts.put(request.path, request.newText);
        await vscode.commands.executeCommand('vscode.diff', before, after, `${request.path} (${request.oldText === null ? 'created' : 'edited'} by the agent)`, { preview: true });
        break;
      }
      case 'pickFile':
        await this.pickFile();
        break;
      case 'pullRequest':
        if (sessionId) await vscode.commands.executeCommand(PULL_REQUEST_COMMANDS[request.action], { session: this.ctx.store.sessions.get(sessionId) });
        break;
    }
  }

  /// Sends a message (or runs a slash command); the page gets the outcome, and keeps the text
  /// when it failed.
  private async send(request: Extract<ChatRequest, { type: 'send' }>): Promise<void> {
    const sessionId = this.sessionId;
    const result = (ok: boolean, error?: string) => this.post({ type: 'sent', id: request.id, ok, error });
    if (!sessionId) {
      result(false, 'No session is open: start one with Arbor: New Session, or open one from the Sessions view.');
      return;
    }
    const slash = SLASH_COMMANDS[request.text.trim()];
    if (slash) {
      result(true);
      await vscode.commands.executeCommand(slash.command, sessionId);
      return;
    }
    try {
      await this.ctx.connection.request(Method.SessionPrompt, { sessionId, text: request.text });
      result(true);
    } catch (error) {
      result(false, errorMessage(error));
    }
  }

  /// Inserts `@path` of a workspace file, picked by the user, into the composer.
  private async pickFile(): Promise<void> {
    const files = await vscode.workspace.findFiles('**/*', '**/{.git,node_modules,target}/**', 2000);
    const picked = await vscode.window.showQuickPick(
      files.map((uri) => vscode.workspace.asRelativePath(uri)).sort(),
      { placeHolder: 'A file for the agent to look at' },
    );
    if (picked) this.post({ type: 'insert', text: `@${picked} ` });
  }

  /// Adds the active editor's selection (or its file) to the composer as context.
  private async addSelection(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('Arbor: open a file and select some text to add it to the chat');
      return;
    }
    const path = vscode.workspace.asRelativePath(editor.document.uri);
    const selection = editor.selection;
    const text = selection.isEmpty
      ? `@${path} `
      : `@${path}#L${selection.start.line + 1}-${selection.end.line + 1}\n\`\`\`\n${editor.document.getText(selection)}\n\`\`\`\n`;
    if (!this.sessionId) {
      void vscode.window.showInformationMessage('Arbor: open a session first (Arbor: New Session, or a session in the Sessions view)');
      return;
    }
    await this.reveal();
    this.post({ type: 'insert', text });
  }

  /// Starts reading a session's history for the page; from then its live events are held back
  /// until the history is posted. The pages are read beside the session's record, not after it,
  /// as far ahead as the last seq known from the Sessions view says there are; the record is
  /// asked for first, so that its answer (and the page's reset) does not wait behind the pages'.
  /// For a session that is gone both fail, and the record's answer is the one that says so.
  private read(sessionId: string): Reading {
    this.held = [];
    this.outbox = [];
    const record = this.ctx.request(Method.SessionGet, { sessionId });
    const pages = this.ctx.connection.pages(sessionId, 0, this.ctx.store.sessions.get(sessionId)?.lastSeq);
    const first = pages.next();
    first.catch(() => undefined);
    return { sessionId, record, pages, first };
  }

  /// Replays a session's history into the page, a page of events at a time (the page files one
  /// while the next is read, and paints the log once they are in), then keeps it live: live
  /// events are held back until the history is in, so the page sees every event once and in
  /// order. The history may have begun to be read while the page was loading.
  private async load(sessionId: string): Promise<void> {
    const reading = this.reading?.sessionId === sessionId ? this.reading : this.read(sessionId);
    this.reading = undefined;
    const { record, pages, first } = reading;
    try {
      const session = await record;
      if (!session) {
        this.post({ type: 'reset', session: null, loading: true });
        return;
      }
      this.post({ type: 'reset', session, loading: true });
      let last = 0;
      for (let page = await first; !page.done; page = await pages.next()) {
        const events = page.value;
        if (events.length === 0) continue;
        this.postEvents(events.map(chatEvent));
        last = events[events.length - 1].seq;
      }
      await this.ctx.request(Method.SessionSubscribe, { sessionId, afterSeq: last });
    } finally {
      const held = this.held ?? [];
      this.held = undefined;
      if (held.length > 0) this.postEvents(held);
      // The page paints the log once the history is in (or once it failed to be).
      this.post({ type: 'loaded' });
    }
  }

  /// The chat closed before its page was ready: the history read for it is not replayed, and the
  /// session's live events are no longer held for it.
  private drop(): void {
    if (!this.reading) return;
    this.reading = undefined;
    this.held = undefined;
  }

  private async reveal(): Promise<void> {
    if (location() === 'sidebar') {
      await vscode.commands.executeCommand('arbor.chat.focus');
      return;
    }
    // The focus stays where the user is (the Sessions view, the editor): the chat only shows.
    if (this.panel) {
      this.panel.reveal(undefined, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel('arbor.chat', 'Arbor chat', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, { retainContextWhenHidden: true });
    this.adoptPanel(panel);
  }

  async show(sessionId: string): Promise<void> {
    this.sessionId = sessionId;
    await this.context.workspaceState.update(LAST_SESSION, sessionId);
    const title = this.ctx.store.sessions.get(sessionId)?.title;
    await this.reveal();
    if (this.panel) this.panel.title = `Arbor: ${title ?? 'Untitled session'}`;
    if (this.ready) await this.load(sessionId);
    // A page still loading (a chat just opened) asks for the history once it is ready: it is
    // read meanwhile.
    else this.reading = this.read(sessionId);
  }
}
