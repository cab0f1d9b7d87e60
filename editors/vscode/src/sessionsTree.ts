// The Sessions view: tasks → trials → sessions, then sessions with no task, with status icons,
// descriptions (agent, the host it runs on when not this machine, state, branch or pull request,
// cost), tooltips and accessible names that say the title, state and host, and context values
// that let menus follow the state (Resume only when stopped, Unpin when pinned). A filter and
// "show hidden" are title-bar actions; an empty view shows welcome content (package.json's
// viewsWelcome) through the `arbor.empty` context key. Pinned sessions are dragged to reorder
// them (session/pinOrder).

import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { Node, isLive, pinOrderAfterDrop, sessionAccessibleLabel, sessionDescription, sessionDetails, sessionLabel, statusIcon } from './model';
import { Method, PinOrderResult, Session } from './protocol';

const SESSIONS_MIME = 'application/vnd.code.tree.arbor.sessions';

/// Drops dragged pinned sessions before `target`: asks the server for the new pin order and
/// shows what it answers. Returns the new order, or undefined when nothing moved.
export async function dropPins(ctx: Ctx, dragged: string[], target: string | undefined): Promise<string[] | undefined> {
  const order = pinOrderAfterDrop([...ctx.store.sessions.values()], dragged, target);
  if (!order) return undefined;
  const result = await ctx.request(Method.SessionPinOrder, { pinnedOrder: order });
  if (!result) return undefined;
  result.sessions.forEach((session) => ctx.store.applySession(session));
  ctx.views.refreshTree();
  return result.sessions.map((session) => session.id);
}
/// The context value of a session row: `session` plus flags the menus' `when` clauses match.
export function sessionContext(session: Session): string {
  const flags = ['session', isLive(session) ? 'live' : 'stopped', session.pinned ? 'pinned' : 'unpinned', session.hidden ? 'hidden' : 'shown'];
  if (session.branch) flags.push('branch');
  // `pr` while a pull request is shown on the session; `noOpenPr` while one can be opened.
  if (session.pullRequest) flags.push(session.pullRequest.state === 'merged' ? 'pr prMerged' : 'pr');
  if (session.branch && !(session.pullRequest?.state === 'open' || session.pullRequest?.state === 'draft')) flags.push('noOpenPr');
  return flags.join(' ');
}

function sessionTooltip(session: Session): vscode.MarkdownString {
  const text = new vscode.MarkdownString();
  text.appendMarkdown(`**${sessionLabel(session).replace(/[\\`*_[\]<>]/g, '\\$&')}**\n\n`);
  for (const [name, value] of sessionDetails(session)) text.appendMarkdown(`${name}: ${value.replace(/[\\`*_[\]<>]/g, '\\$&')}  \n`);
  return text;
}

export class SessionsTree implements vscode.TreeDataProvider<Node>, vscode.TreeDragAndDropController<Node>, vscode.Disposable {
  readonly dragMimeTypes = [SESSIONS_MIME];
  readonly dropMimeTypes = [SESSIONS_MIME];
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<Node>;
  private showHidden = false;
  private filter = '';
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly ctx: Ctx) {
    this.view = vscode.window.createTreeView('arbor.sessions', { treeDataProvider: this, showCollapseAll: true, dragAndDropController: this, canSelectMany: true });
    this.disposables = [
      this.view,
      vscode.commands.registerCommand('arbor.refresh', () => ctx.refresh()),
      vscode.commands.registerCommand('arbor.filter', () => this.askFilter()),
      vscode.commands.registerCommand('arbor.showHidden', () => this.setShowHidden(true)),
      vscode.commands.registerCommand('arbor.hideHidden', () => this.setShowHidden(false)),
    ];
    void vscode.commands.executeCommand('setContext', 'arbor.showingHidden', false);
  }

  refresh(): void {
    void vscode.commands.executeCommand('setContext', 'arbor.empty', this.ctx.connected && this.ctx.store.isEmpty());
    this.view.message = this.filter ? `Filtered by "${this.filter}"` : undefined;
    this.changed.fire();
  }

  private async askFilter(): Promise<void> {
    const filter = await vscode.window.showInputBox({ prompt: 'Show sessions whose title, agent, host, branch or state contains (empty: all)', value: this.filter });
    if (filter === undefined) return;
    this.filter = filter.trim();
    this.refresh();
  }

  private setShowHidden(show: boolean): void {
    this.showHidden = show;
    void vscode.commands.executeCommand('setContext', 'arbor.showingHidden', show);
    this.refresh();
  }

  handleDrag(nodes: readonly Node[], transfer: vscode.DataTransfer): void {
    const pinned = nodes.flatMap((node) => (node.kind === 'session' && node.session.pinned ? [node.session.id] : []));
    if (pinned.length) transfer.set(SESSIONS_MIME, new vscode.DataTransferItem(pinned));
  }

  async handleDrop(target: Node | undefined, transfer: vscode.DataTransfer): Promise<void> {
    const dragged = transfer.get(SESSIONS_MIME)?.value as string[] | undefined;
    if (!dragged?.length) return;
    await dropPins(this.ctx, dragged, target?.kind === 'session' ? target.session.id : undefined);
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.ctx.store.tree({ showHidden: this.showHidden, filter: this.filter });
    if (node.kind === 'task') return node.trials;
    if (node.kind === 'trial') return node.sessions;
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'task') {
      const item = new vscode.TreeItem(node.task.title, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `task:${node.task.id}`;
      item.description = node.task.status;
      item.tooltip = `Task: ${node.task.title} (${node.task.status})${node.task.checkCommand ? `\nCheck: ${node.task.checkCommand}` : ''}`;
      item.iconPath = new vscode.ThemeIcon('checklist');
      item.contextValue = 'task';
      return item;
    }
    if (node.kind === 'trial') {
      const item = new vscode.TreeItem(`Trial ${node.number} · ${node.agent}`, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `trial:${node.trialId}`;
      item.description = node.status;
      item.tooltip = `Trial ${node.number} of the task, by ${node.agent}: ${node.status}`;
      item.iconPath = new vscode.ThemeIcon(node.status === 'promoted' ? 'star-full' : node.status === 'failed' ? 'error' : 'beaker');
      item.contextValue = 'trial';
      return item;
    }
    const session = node.session;
    const item = new vscode.TreeItem(sessionLabel(session), vscode.TreeItemCollapsibleState.None);
    item.id = `session:${session.id}`;
    item.description = sessionDescription(session);
    item.tooltip = sessionTooltip(session);
    item.accessibilityInformation = { label: sessionAccessibleLabel(session) };
    item.iconPath = new vscode.ThemeIcon(session.pinned ? 'pinned' : statusIcon(session.status, session.agentState));
    item.contextValue = sessionContext(session);
    item.command = { command: 'arbor.openSession', title: 'Open Chat', arguments: [{ session }] };
    return item;
  }

  dispose(): void {
    this.disposables.forEach((disposable) => disposable.dispose());
  }
}
