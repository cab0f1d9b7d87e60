// What every command works with: the connection, the known state, the views, and the session the
// user means right now. Commands are factories over a Ctx (as in rust-analyzer's extension).

import * as vscode from 'vscode';
import { RequestType, RequestType0 } from 'vscode-jsonrpc';
import { ArborConnection, NotConnected, Request, errorMessage } from './connection';
import { Store, hostWords, pullRequestName, pullRequestNews, sessionLabel } from './model';
import { Method, Session, Task, TaskDetail } from './protocol';

export interface Views {
  showChat(sessionId: string): Promise<void>;
  showCompare(taskId: string): Promise<void>;
  refreshTree(): void;
  startReview(session: Session): Promise<void>;
  /// Says why the server is not running and how to fix it.
  explainServer(): Promise<void>;
  /// The session the chat shows while it is on screen.
  chatSession(): string | undefined;
}

export class Ctx {
  readonly store = new Store();
  /// The session of the chat in view, else the one last picked.
  currentSession: string | undefined;

  constructor(
    readonly connection: ArborConnection,
    readonly views: Views,
  ) {
    connection.onSessionChanged(({ session, deleted }) => {
      const news = deleted ? undefined : pullRequestNews(this.store.sessions.get(session.id)?.pullRequest, session.pullRequest);
      this.store.applySession(session, deleted);
      views.refreshTree();
      if (news) void this.offerPullRequestAction(session, news);
    });
    connection.onTaskChanged(({ task }) => {
      this.store.applyTask(task);
      void this.loadTrials(task.id).then(() => views.refreshTree());
    });
  }

  /// A pull request merged on the forge offers deleting the session's branch and worktree; new
  /// review comments offer sending them to the agent.
  async offerPullRequestAction(session: Session, news: 'merged' | 'review'): Promise<void> {
    const pull = session.pullRequest!;
    const title = `"${sessionLabel(session)}"`;
    const [message, action] =
      news === 'merged'
        ? [`Arbor: ${pullRequestName(pull)} of ${title} was merged on ${pull.forge === 'gitlab' ? 'GitLab' : 'GitHub'}`, 'Delete Branch and Worktree']
        : [`Arbor: ${pullRequestName(pull)} of ${title} has new review comments`, 'Send the Review to the Agent'];
    const answer = await vscode.window.showInformationMessage(message, action, 'Open Pull Request');
    if (answer === 'Open Pull Request') await vscode.env.openExternal(vscode.Uri.parse(pull.url));
    if (answer === 'Delete Branch and Worktree') await this.request(Method.SessionDelete, { sessionId: session.id, deleteBranch: true });
    if (answer === 'Send the Review to the Agent') await this.request(Method.SessionSendReview, { sessionId: session.id });
  }

  /// Runs a request; on failure shows the server's message and returns undefined.
  async request<R>(type: RequestType0<R, void>): Promise<R | undefined>;
  async request<P, R>(type: RequestType<P, R, void>, params: P): Promise<R | undefined>;
  async request<P, R>(type: Request<P, R>, params?: P): Promise<R | undefined> {
    try {
      return await (type instanceof RequestType0 ? this.connection.request(type) : this.connection.request(type, params as P));
    } catch (error) {
      if (error instanceof NotConnected) void this.views.explainServer();
      else void vscode.window.showErrorMessage(`Arbor: ${errorMessage(error)}`);
      return undefined;
    }
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  /// The repository a new session or task starts from: the workspace's, also while a file of a
  /// session's worktree is the active editor (the worktree is not a workspace folder, and new
  /// work belongs on the repository, not on another session's branch).
  repositoryRoot(): string | undefined {
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active?.scheme === 'file') {
      const owner = [...this.store.sessions.values()].find((session) => session.cwd !== session.repoRoot && active.fsPath.startsWith(session.cwd + '/'));
      if (owner) return owner.repoRoot;
      const folder = vscode.workspace.getWorkspaceFolder(active);
      if (folder) return folder.uri.fsPath;
    }
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  /// Loads sessions and tasks into the store.
  async refresh(): Promise<void> {
    if (!this.connected) return;
    const sessions = await this.request(Method.SessionList, { limit: 1000, includeHidden: true });
    sessions?.sessions.forEach((session) => this.store.applySession(session));
    const tasks = await this.request(Method.TaskList, {});
    for (const task of tasks?.tasks ?? []) {
      this.store.applyTask(task);
      await this.loadTrials(task.id);
    }
    this.views.refreshTree();
  }

  async loadTrials(taskId: string): Promise<void> {
    const detail = await this.request(Method.TaskGet, { taskId });
    if (!detail) return;
    this.store.applyTask(detail.task);
    for (const { sessions } of detail.trials) sessions.forEach((session) => this.store.applySession(session));
    this.store.setTrials(
      taskId,
      detail.trials.map(({ trial }) => ({ trialId: trial.id, number: trial.number, agent: trial.agent, status: trial.status, sessionIds: trial.sessionIds })),
    );
  }

  /// The session a command acts on: the one given (from the tree), the current one, or a pick.
  async session(given?: { session?: Session } | string): Promise<string | undefined> {
    if (typeof given === 'string') return given;
    if (given?.session) return given.session.id;
    if (this.currentSession) return this.currentSession;
    const sessions = [...this.store.sessions.values()];
    if (sessions.length === 0) return undefined;
    const picked = await vscode.window.showQuickPick(
      sessions.map((session) => ({ label: session.title ?? 'Untitled session', description: [session.status, session.agent, hostWords(session)].filter(Boolean).join(' · '), id: session.id })),
      { placeHolder: 'Which session?' },
    );
    return picked?.id;
  }
}
