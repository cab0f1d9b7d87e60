// What the extension knows of the server's state, kept current from notifications, and the shapes
// the UI shows (tree, status bar). No vscode imports: unit-tested on its own.

import { Session, Task, TrialStatus, SessionStatus } from './protocol';

export type Node =
  | { kind: 'task'; task: Task; trials: Node[] }
  | { kind: 'trial'; taskId: string; trialId: string; number: number; agent: string; status: TrialStatus; sessions: Node[] }
  | { kind: 'session'; session: Session };

export interface TrialSummary {
  trialId: string;
  number: number;
  agent: string;
  status: TrialStatus;
  sessionIds: string[];
}

export class Store {
  readonly sessions = new Map<string, Session>();
  readonly tasks = new Map<string, Task>();
  readonly trials = new Map<string, TrialSummary[]>();

  applySession(session: Session, deleted = false): void {
    if (deleted) this.sessions.delete(session.id);
    else this.sessions.set(session.id, session);
  }

  applyTask(task: Task): void {
    this.tasks.set(task.id, task);
  }

  setTrials(taskId: string, trials: TrialSummary[]): void {
    this.trials.set(taskId, trials);
  }

  /// Tasks (newest first) with their trials and sessions, then sessions with no task.
  tree(): Node[] {
    const sessionNode = (id: string): Node[] => {
      const session = this.sessions.get(id);
      return session && !session.hidden ? [{ kind: 'session', session }] : [];
    };
    const tasks: Node[] = [...this.tasks.values()].map((task) => ({
      kind: 'task',
      task,
      trials: (this.trials.get(task.id) ?? []).map((trial) => ({
        kind: 'trial',
        taskId: task.id,
        trialId: trial.trialId,
        number: trial.number,
        agent: trial.agent,
        status: trial.status,
        sessions: trial.sessionIds.flatMap(sessionNode),
      })),
    }));
    const adHoc = [...this.sessions.values()]
      .filter((session) => !session.taskId && !session.hidden)
      .sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updatedAt - a.updatedAt)
      .map((session): Node => ({ kind: 'session', session }));
    return [...tasks, ...adHoc];
  }

  /// The status bar text: sessions running and the total cost.
  statusText(): string {
    const sessions = [...this.sessions.values()];
    const running = sessions.filter((session) => session.status === 'running' || session.status === 'creating').length;
    const cost = sessions.reduce((sum, session) => sum + session.usage.costUsd, 0);
    return `$(hubot) ${running} running · ${formatCost(cost)}`;
  }
}

export function formatCost(usd: number): string {
  return `$${usd.toFixed(usd >= 1 ? 2 : 4)}`;
}

/// The codicon for a session's status.
export function statusIcon(status: SessionStatus, agentState: string | null): string {
  if (status === 'running') return agentState === 'waiting_input' ? 'question' : agentState === 'working' ? 'sync~spin' : 'circle-outline';
  switch (status) {
    case 'pending':
    case 'creating':
      return 'clock';
    case 'stopping':
    case 'stopped':
      return 'debug-stop';
    case 'completed':
      return 'check';
    case 'failed':
    case 'dead':
      return 'error';
    case 'timeout':
      return 'watch';
  }
}

/// The line under a session in the tree: agent, branch and cost.
export function sessionDescription(session: Session): string {
  const parts = [session.agent];
  if (session.queuePosition) parts.push(`#${session.queuePosition} in queue`);
  if (session.branch) parts.push(session.branch);
  parts.push(formatCost(session.usage.costUsd));
  return parts.join(' · ');
}

/// A commit message's first line must not be empty; titles shown must not be either.
export function sessionLabel(session: Session): string {
  return (session.pinned ? '📌 ' : '') + (session.title ?? 'Untitled session');
}
