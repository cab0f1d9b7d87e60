// Needs-you signals: every live session is subscribed, so that a permission request or a finished
// turn raises a notification with its actions (Allow / Reject / Open) whether its chat is on
// screen or not, the Arbor view carries a badge while sessions wait for an answer, and the status
// bar separates working, waiting-for-you and idle sessions. Each signal has a setting.

import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { hostWords, isLive, sessionLabel, statusGroups, formatCost } from './model';
import { Method, PermissionOption, Session, SessionEvent } from './protocol';

type PermissionRequest = Extract<SessionEvent, { kind: 'permission_request' }>;
type Question = Extract<SessionEvent, { kind: 'question' }>;

function enabled(key: string): boolean {
  return vscode.workspace.getConfiguration('arbor').get<boolean>(key) ?? true;
}

function optionOf(request: PermissionRequest, kinds: PermissionOption['kind'][]): PermissionOption | undefined {
  return kinds.map((kind) => request.options.find((option) => option.kind === kind)).find(Boolean);
}

export class Attention implements vscode.Disposable {
  private readonly subscribed = new Set<string>();
  private readonly lastSeq = new Map<string, number>();
  /// Unanswered permission requests by session, by request id.
  private readonly waiting = new Map<string, Map<string, PermissionRequest>>();
  private readonly status = vscode.window.createStatusBarItem('arbor.status', vscode.StatusBarAlignment.Left, 50);
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly ctx: Ctx,
    private readonly view: vscode.TreeView<unknown>,
  ) {
    this.status.name = 'Arbor sessions';
    this.status.command = 'arbor.sessions.focus';
    ctx.connection.onEvent(({ sessionId, seq, event }) => {
      // The chat may subscribe the same session again, which replays from where it asks: each
      // event counts once.
      if (seq <= (this.lastSeq.get(sessionId) ?? 0)) return;
      this.lastSeq.set(sessionId, seq);
      this.onEvent(sessionId, event);
    });
    this.disposables.push(
      this.status,
      vscode.workspace.onDidChangeConfiguration((change) => {
        if (change.affectsConfiguration('arbor')) this.refresh();
      }),
    );
  }

  /// Follows the store: subscribes new live sessions and redraws the badge and status bar.
  refresh(): void {
    for (const session of this.ctx.store.sessions.values()) {
      if (isLive(session) && !this.subscribed.has(session.id)) void this.subscribe(session);
      if (!isLive(session)) this.waiting.delete(session.id);
    }
    for (const id of [...this.waiting.keys()]) if (!this.ctx.store.sessions.has(id)) this.waiting.delete(id);
    this.render();
  }

  /// Subscribes from the session's last event; a session already waiting for an answer has its
  /// open requests found in its history.
  private async subscribe(session: Session): Promise<void> {
    this.subscribed.add(session.id);
    this.lastSeq.set(session.id, Math.max(this.lastSeq.get(session.id) ?? 0, session.lastSeq));
    if (session.agentState === 'waiting_input') {
      const history = await this.ctx.connection.history(session.id).catch(() => []);
      for (const { event } of history) this.track(session.id, event);
      this.render();
    }
    try {
      await this.ctx.connection.request(Method.SessionSubscribe, { sessionId: session.id, afterSeq: session.lastSeq });
    } catch {
      this.subscribed.delete(session.id);
    }
  }

  /// Keeps the open requests of a session; true when `event` is a new one.
  private track(sessionId: string, event: SessionEvent): boolean {
    if (event.kind === 'permission_request') {
      const open = this.waiting.get(sessionId) ?? new Map<string, PermissionRequest>();
      const isNew = !open.has(event.requestId);
      open.set(event.requestId, event);
      this.waiting.set(sessionId, open);
      return isNew;
    }
    if (event.kind === 'permission_resolved') this.waiting.get(sessionId)?.delete(event.requestId);
    return false;
  }

  private onEvent(sessionId: string, event: SessionEvent): void {
    const isNewRequest = this.track(sessionId, event);
    if (event.kind === 'permission_request' || event.kind === 'permission_resolved') this.render();
    if (isNewRequest && event.kind === 'permission_request' && enabled('notifications.permissions')) void this.askPermission(sessionId, event);
    if (event.kind === 'turn_ended' && enabled('notifications.turnEnded') && this.ctx.views.chatSession() !== sessionId) void this.turnEnded(sessionId, event.stopReason);
    if (event.kind === 'question' && enabled('notifications.permissions')) void this.askQuestion(sessionId, event);
  }

  /// A question raises a toast too: one text field is answered from an input box, a larger form
  /// in the chat.
  private async askQuestion(sessionId: string, question: Question): Promise<void> {
    // The schema is the agent's: only an object's string fields are read from it.
    const schema = question.schema as { properties?: Record<string, { type?: string }> } | null;
    const properties = Object.entries(schema?.properties ?? {});
    const single = properties.length === 1 && properties[0][1].type === 'string' ? properties[0][0] : undefined;
    const answer = await vscode.window.showWarningMessage(`Arbor: "${await this.title(sessionId)}" asks: ${question.message}`, ...(single ? ['Answer'] : []), 'Decline', 'Open');
    if (answer === 'Open') await this.ctx.views.showChat(sessionId);
    if (answer === 'Decline') await this.ctx.request(Method.SessionRespond, { sessionId, requestId: question.requestId, optionId: 'decline' });
    if (answer === 'Answer' && single) {
      const value = await vscode.window.showInputBox({ prompt: question.message, ignoreFocusOut: true });
      if (value !== undefined) await this.ctx.request(Method.SessionRespond, { sessionId, requestId: question.requestId, optionId: 'accept', content: { [single]: value } });
    }
  }

  /// The session's name for a notification. Its record and its events reach the client on
  /// separate streams, so an event can come before the change that titled the session: without a
  /// title in the store, the server is asked.
  private async title(sessionId: string): Promise<string> {
    const known = this.ctx.store.sessions.get(sessionId);
    if (known?.title) return sessionLabel(known);
    const fresh = await this.ctx.connection.request(Method.SessionGet, { sessionId }).catch(() => undefined);
    const session = fresh ?? known;
    return session ? sessionLabel(session) : 'A session';
  }

  private async askPermission(sessionId: string, request: PermissionRequest): Promise<void> {
    const allow = optionOf(request, ['allow_once', 'allow_always']);
    const reject = optionOf(request, ['reject_once', 'reject_always']);
    const buttons = [allow ? 'Allow' : undefined, reject ? 'Reject' : undefined, 'Open'].filter((button): button is string => !!button);
    const answer = await vscode.window.showWarningMessage(`Arbor: "${await this.title(sessionId)}" asks: ${request.title}`, ...buttons);
    if (answer === 'Open') await this.ctx.views.showChat(sessionId);
    const option = answer === 'Allow' ? allow : answer === 'Reject' ? reject : undefined;
    if (!option) return;
    if (!this.waiting.get(sessionId)?.has(request.requestId)) {
      void vscode.window.showInformationMessage(`Arbor: "${request.title}" was already answered`);
      return;
    }
    await this.ctx.request(Method.SessionRespond, { sessionId, requestId: request.requestId, optionId: option.optionId });
  }

  private async turnEnded(sessionId: string, stopReason: string): Promise<void> {
    const ended = stopReason === 'end_turn' ? 'finished its turn' : stopReason === 'cancelled' ? 'was interrupted' : `stopped (${stopReason.replace(/_/g, ' ')})`;
    const answer = await vscode.window.showInformationMessage(`Arbor: "${await this.title(sessionId)}" ${ended}`, 'Open', 'Review Changes');
    if (answer === 'Open') await this.ctx.views.showChat(sessionId);
    if (answer === 'Review Changes') await vscode.commands.executeCommand('arbor.reviewChanges', sessionId);
  }

  /// Sessions with an unanswered request (or that the server says wait for input).
  private waitingSessions(): Set<string> {
    const ids = new Set([...this.waiting].filter(([, open]) => open.size > 0).map(([id]) => id));
    for (const session of this.ctx.store.sessions.values()) if (session.agentState === 'waiting_input' && isLive(session)) ids.add(session.id);
    return ids;
  }

  private render(): void {
    const waiting = this.waitingSessions();
    const sessions = [...this.ctx.store.sessions.values()];
    this.view.badge =
      enabled('badge') && waiting.size > 0
        ? { value: waiting.size, tooltip: `${waiting.size} session${waiting.size === 1 ? '' : 's'} waiting for you` }
        : undefined;
    if (!enabled('statusBar.enabled') || !this.ctx.connected) {
      this.status.hide();
      return;
    }
    const groups = statusGroups(sessions, waiting);
    const cost = sessions.reduce((sum, session) => sum + session.usage.costUsd, 0);
    const estimated = sessions.some((session) => session.usage.costEstimated);
    this.status.text = `$(sync${groups.working.length ? '~spin' : ''}) ${groups.working.length} working · $(bell) ${groups.waiting.length} waiting · $(circle-outline) ${groups.idle.length} idle · ${formatCost(cost, estimated)}`;
    this.status.backgroundColor = groups.waiting.length ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    const tooltip = new vscode.MarkdownString('', true);
    const list = (name: string, group: Session[]) => {
      tooltip.appendMarkdown(`**${name}** (${group.length})\n\n`);
      for (const session of group) {
        const line = [sessionLabel(session), session.agent, hostWords(session)].filter(Boolean).join(' · ');
        tooltip.appendMarkdown(`- ${line.replace(/[\\`*_[\]<>]/g, '\\$&')}\n`);
      }
      tooltip.appendMarkdown('\n');
    };
    list('Waiting for you', groups.waiting);
    list('Working', groups.working);
    list('Idle', groups.idle);
    this.status.tooltip = tooltip;
    this.status.show();
  }

  dispose(): void {
    this.disposables.forEach((disposable) => disposable.dispose());
  }
}
