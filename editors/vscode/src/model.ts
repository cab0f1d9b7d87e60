// What the extension knows of the server's state, kept current from notifications, and the shapes
// the UI shows (tree, status bar). No vscode imports: unit-tested on its own.

import { AgentState, NetworkMode, PullRequest, SandboxReport, Session, SessionSandbox, Task, TrialStatus, SessionStatus } from './protocol';

export type Node =
  | { kind: 'task'; task: Task; trials: Node[] }
  | { kind: 'trial'; taskId: string; trialId: string; number: number; agent: string; status: TrialStatus; sessions: Node[] }
  | { kind: 'session'; session: Session };

export interface TreeOptions {
  showHidden?: boolean;
  filter?: string;
}

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

  /// Tasks (newest first) with their trials and sessions, then sessions with no task. Hidden
  /// sessions only with `showHidden`; `filter` keeps sessions whose title, agent, host, branch or
  /// state contains it (and the tasks whose title does).
  tree(options: TreeOptions = {}): Node[] {
    const needle = options.filter?.toLowerCase();
    const matches = (session: Session) =>
      !needle || [session.title ?? '', session.agent, session.host ?? '', session.branch ?? '', stateWords(session)].some((text) => text.toLowerCase().includes(needle));
    const shown = (session: Session) => (options.showHidden || !session.hidden) && matches(session);
    const sessionNode = (id: string): Node[] => {
      const session = this.sessions.get(id);
      return session && shown(session) ? [{ kind: 'session', session }] : [];
    };
    const tasks: Node[] = [...this.tasks.values()]
      .filter((task) => !needle || task.title.toLowerCase().includes(needle) || (this.trials.get(task.id) ?? []).some((trial) => trial.sessionIds.some((id) => sessionNode(id).length > 0)))
      .map((task) => ({
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
      .filter((session) => !session.taskId && shown(session))
      .sort(bySessionOrder)
      .map((session): Node => ({ kind: 'session', session }));
    return [...tasks, ...adHoc];
  }

  /// Whether the view has anything to show (its welcome content says what to do otherwise).
  isEmpty(): boolean {
    return this.sessions.size === 0 && this.tasks.size === 0;
  }
}

/// A session whose agent may still ask something: not yet stopped, finished or failed.
export function isLive(session: Session): boolean {
  return session.status === 'pending' || session.status === 'creating' || session.status === 'running' || session.status === 'stopping';
}

export interface StatusGroups {
  working: Session[];
  waiting: Session[];
  idle: Session[];
}

/// Live sessions by what they need: working (or starting), waiting for the user (the ids in
/// `waiting`, or the server says so), idle (a turn ended; the agent waits for a prompt).
export function statusGroups(sessions: Session[], waiting: Set<string>): StatusGroups {
  const groups: StatusGroups = { working: [], waiting: [], idle: [] };
  for (const session of sessions.filter(isLive)) {
    if (waiting.has(session.id) || session.agentState === 'waiting_input') groups.waiting.push(session);
    else if (session.status === 'running' && session.agentState !== 'working') groups.idle.push(session);
    else groups.working.push(session);
  }
  return groups;
}

/// A session's state in words: "working", "waiting for you", "idle", "stopped" …
export function stateWords(session: Session): string {
  if (session.status === 'running') return session.agentState === 'waiting_input' ? 'waiting for you' : session.agentState === 'working' ? 'working' : 'idle';
  if (session.status === 'pending' && session.queuePosition) return `#${session.queuePosition} in queue`;
  return session.status;
}

/// Dollars, marked "≈" when Arbor estimated them from token counts.
export function formatCost(usd: number, estimated = false): string {
  return `${estimated ? '≈ ' : ''}$${usd.toFixed(usd >= 1 ? 2 : 4)}`;
}

/// Where a pinned session sits among the pins: its pinOrder (a server without one: last).
function pinRank(session: Session): number {
  return session.pinOrder ?? Number.MAX_SAFE_INTEGER;
}

/// Pinned sessions first, in their order, then the most recently updated.
export function bySessionOrder(a: Session, b: Session): number {
  if (a.pinned !== b.pinned) return Number(b.pinned) - Number(a.pinned);
  if (a.pinned) return pinRank(a) - pinRank(b) || (a.pinnedAt ?? 0) - (b.pinnedAt ?? 0);
  return b.updatedAt - a.updatedAt;
}

/// The pin order after dropping the `dragged` pinned sessions on `target` (they go just before
/// it; on no session or an unpinned one, to the end); undefined when nothing pinned moves.
export function pinOrderAfterDrop(sessions: Session[], dragged: string[], target: string | undefined): string[] | undefined {
  const pinned = sessions.filter((session) => session.pinned).sort(bySessionOrder).map((session) => session.id);
  const moving = pinned.filter((id) => dragged.includes(id));
  if (!moving.length || (target && moving.includes(target))) return undefined;
  const rest = pinned.filter((id) => !moving.includes(id));
  const at = target && rest.includes(target) ? rest.indexOf(target) : rest.length;
  const order = [...rest.slice(0, at), ...moving, ...rest.slice(at)];
  return order.every((id, index) => id === pinned[index]) ? undefined : order;
}

/// The codicon for a session's status.
export function statusIcon(status: SessionStatus, agentState?: AgentState | null): string {
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

/// Where a session runs, in words: "on build-1" for a session the admission scheduler placed on
/// a configured host, undefined for one on this machine, so that users without hosts see nothing
/// new.
export function hostWords(session: Session): string | undefined {
  return session.host ? `on ${session.host}` : undefined;
}

/// The line beside a session in the tree: agent, where it runs (when on a host), state, branch
/// (or its pull request) and cost.
export function sessionDescription(session: Session): string {
  const parts = [session.agent];
  const host = hostWords(session);
  if (host) parts.push(host);
  parts.push(stateWords(session));
  if (session.pullRequest) parts.push(pullRequestWords(session.pullRequest));
  else if (session.branch) parts.push(session.branch);
  parts.push(formatCost(session.usage.costUsd, session.usage.costEstimated));
  return parts.join(' · ');
}

/// What the forge calls it, with its number: "pull request #12", or GitLab's "merge request !12".
export function pullRequestName(pull: PullRequest): string {
  return pull.forge === 'gitlab' ? `merge request !${pull.number}` : `pull request #${pull.number}`;
}

/// A pull request in a few words: "PR #12 open, approved, checks 2/3" (GitLab's: "MR !12 …").
export function pullRequestWords(pull: PullRequest): string {
  const words = [`${pull.forge === 'gitlab' ? 'MR !' : 'PR #'}${pull.number} ${pull.state}`];
  if (pull.state === 'open' || pull.state === 'draft') {
    if (pull.review === 'approved') words.push('approved');
    if (pull.review === 'changes_requested') words.push('changes requested');
    if (pull.checks.state === 'failure') words.push(`checks ${pull.checks.failed} failed`);
    else if (pull.checks.total > 0) words.push(`checks ${pull.checks.passed}/${pull.checks.total}`);
  }
  return words.join(', ');
}

const NETWORK_WORDS: Record<NetworkMode, string> = { off: 'no network', model_api: 'model API only', on: 'full network' };

/// How a session is confined, in a line: "bwrap · model API only · at most 512 processes and
/// 8192 MiB (cgroup)", or "none" with the reason when a sandbox was wanted but none works.
export function sandboxWords(sandbox: SessionSandbox | null | undefined): string {
  if (!sandbox || sandbox.backend === 'none') return sandbox?.reason ? `none: ${sandbox.reason}` : 'none';
  const limits = `at most ${sandbox.maxProcesses} processes and ${sandbox.maxMemoryMb} MiB (${sandbox.limitsEnforcedBy})`;
  return `${sandbox.backend} · ${NETWORK_WORDS[sandbox.network]} · ${limits}`;
}

/// What the server's machine offers (`agents/list`'s `sandbox`): what `auto` picks, then each
/// backend with what was found or why it does not work.
export function sandboxReportLines(report: SandboxReport): string[] {
  const auto = report.auto ? `auto picks ${report.auto}` : `auto finds no working backend: ${report.reason ?? 'no reason given'}`;
  const backends = report.backends.map((status) => `${status.backend}: ${status.available ? 'works' : 'unavailable'} (${status.detail})`);
  return [auto, ...backends, `process and memory limits: ${report.limits}`];
}

/// What the user may want to hear of when a session's pull request changed between two
/// snapshots: it was merged on the forge, or new review comments came in.
export function pullRequestNews(before: PullRequest | null | undefined, after: PullRequest | null | undefined): 'merged' | 'review' | undefined {
  if (!before || !after || before.number !== after.number) return undefined;
  if (after.state === 'merged' && before.state !== 'merged') return 'merged';
  if (after.reviewComments > before.reviewComments) return 'review';
  return undefined;
}

/// A commit message's first line must not be empty; titles shown must not be either.
export function sessionLabel(session: Session): string {
  return session.title ?? 'Untitled session';
}

/// The rows of a session's tooltip in the tree, as name and value: agent, the host it runs on
/// (only when it runs on one), state, branch, cost, sandbox, then extra directories and the pull
/// request when it has them.
export function sessionDetails(session: Session): [string, string][] {
  const rows: [string, string][] = [['Agent', session.agent + (session.model ? ` (${session.model})` : '')]];
  if (session.host) rows.push(['Runs on', session.host]);
  rows.push(
    ['State', stateWords(session) + (session.statusReason ? `: ${session.statusReason}` : '')],
    ['Branch', session.branch ? `${session.branch} (from ${session.baseBranch ?? 'its base'})` : 'none (works in place)'],
    ['Cost', `${formatCost(session.usage.costUsd, session.usage.costEstimated)}${session.usage.costEstimated ? ' (estimated from tokens)' : ''} · ${session.usage.inputTokens} in / ${session.usage.outputTokens} out`],
    ['Sandbox', sandboxWords(session.sandbox)],
  );
  if (session.additionalDirs?.length) rows.push(['Extra directories', session.additionalDirs.join(', ')]);
  if (session.pullRequest) rows.push(['Pull request', `${pullRequestWords(session.pullRequest)} · ${session.pullRequest.url}`]);
  return rows;
}

/// What a screen reader says for a session's row: title, state, agent, the host it runs on
/// (when on one) and whether it is pinned.
export function sessionAccessibleLabel(session: Session): string {
  const host = hostWords(session);
  return `${sessionLabel(session)}, ${stateWords(session)}, ${session.agent}${host ? `, ${host}` : ''}${session.pinned ? ', pinned' : ''}`;
}
