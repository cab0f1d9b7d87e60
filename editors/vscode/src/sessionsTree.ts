// The Sessions view: tasks → trials → sessions, then sessions with no task, with status icons,
// agent, branch and cost, refreshed from notifications.

import * as vscode from 'vscode';
import { Node, Store, sessionDescription, sessionLabel, statusIcon } from './model';

export class SessionsTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly store: Store) {}

  refresh(): void {
    this.changed.fire();
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.store.tree();
    if (node.kind === 'task') return node.trials;
    if (node.kind === 'trial') return node.sessions;
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'task') {
      const item = new vscode.TreeItem(node.task.title, vscode.TreeItemCollapsibleState.Expanded);
      item.description = node.task.status;
      item.iconPath = new vscode.ThemeIcon('checklist');
      item.contextValue = 'task';
      return item;
    }
    if (node.kind === 'trial') {
      const item = new vscode.TreeItem(`Trial ${node.number} · ${node.agent}`, vscode.TreeItemCollapsibleState.Expanded);
      item.description = node.status;
      item.iconPath = new vscode.ThemeIcon(node.status === 'promoted' ? 'star-full' : node.status === 'failed' ? 'error' : 'beaker');
      item.contextValue = 'trial';
      return item;
    }
    const session = node.session;
    const item = new vscode.TreeItem(sessionLabel(session), vscode.TreeItemCollapsibleState.None);
    item.description = sessionDescription(session);
    item.tooltip = `${session.status}${session.agentState ? ` (${session.agentState})` : ''}${session.statusReason ? `: ${session.statusReason}` : ''}`;
    item.iconPath = new vscode.ThemeIcon(statusIcon(session.status, session.agentState));
    item.contextValue = 'session';
    item.command = { command: 'arbor.openSession', title: 'Open Chat', arguments: [{ session }] };
    return item;
  }
}
