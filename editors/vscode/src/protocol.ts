// The Arbor protocol as the extension sees it: method names and the wire types it uses, mirrored
// from the arbor-protocol crate (protocol/schema/arbor.schema.json is the authority; camelCase).

export const PROTOCOL_VERSION = 1;

export const Method = {
  agentsList: 'agents/list',
  sessionNew: 'session/new',
  sessionList: 'session/list',
  sessionGet: 'session/get',
  sessionPrompt: 'session/prompt',
  sessionCancel: 'session/cancel',
  sessionStop: 'session/stop',
  sessionResume: 'session/resume',
  sessionConfigure: 'session/configure',
  sessionPinOrder: 'session/pinOrder',
  sessionDelete: 'session/delete',
  sessionArchive: 'session/archive',
  sessionEvents: 'session/events',
  sessionSubscribe: 'session/subscribe',
  sessionUnsubscribe: 'session/unsubscribe',
  sessionRespond: 'session/respond',
  sessionExport: 'session/export',
  sessionFork: 'session/fork',
  sessionClone: 'session/clone',
  sessionMerge: 'session/merge',
  sessionPush: 'session/push',
  sessionPr: 'session/pr',
  sessionSendReview: 'session/sendReview',
  reviewDiff: 'review/diff',
  reviewFile: 'review/file',
  reviewApply: 'review/apply',
  reviewCommit: 'review/commit',
  taskNew: 'task/new',
  taskList: 'task/list',
  taskGet: 'task/get',
  trialNew: 'trial/new',
  trialCheck: 'trial/check',
  trialCompare: 'trial/compare',
  trialPromote: 'trial/promote',
  trialPush: 'trial/push',
} as const;

export const Notification = {
  sessionEvent: 'session/event',
  sessionChanged: 'session/changed',
  taskChanged: 'task/changed',
} as const;

export type SessionStatus = 'pending' | 'creating' | 'running' | 'stopping' | 'stopped' | 'completed' | 'failed' | 'timeout' | 'dead';
export type AgentState = 'working' | 'idle' | 'waiting_input';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  /// True when some of the cost is Arbor's estimate from token counts (the agent reported none).
  costEstimated?: boolean;
}

export interface AgentInfo {
  id: string;
  name: string;
  description: string;
  available: boolean;
  version: string | null;
  installHint: string | null;
  models: string[];
}

export type PermissionMode = 'ask' | 'accept_edits' | 'bypass_permissions';

export type SandboxBackend = 'none' | 'bwrap' | 'landlock' | 'container';
export type NetworkMode = 'off' | 'model_api' | 'on';

/// How a session is confined (docs/sandbox.md).
export interface SessionSandbox {
  backend: SandboxBackend;
  network: NetworkMode;
  maxProcesses: number;
  maxMemoryMb: number;
  /// `cgroup` or `rlimit`.
  limitsEnforcedBy: string;
  /// Why the session runs unconfined although a sandbox was wanted.
  reason: string | null;
}

/// One backend as the server found it on its machine.
export interface SandboxBackendStatus {
  backend: SandboxBackend;
  available: boolean;
  detail: string;
}

/// The `sandbox` section of `agents/list`: what works on the server's machine.
export interface SandboxReport {
  backends: SandboxBackendStatus[];
  auto: SandboxBackend | null;
  reason: string | null;
  limits: string;
}

export interface Session {
  id: string;
  agent: string;
  model: string | null;
  /// The mode and model the agent itself last reported (null until it says).
  agentMode: string | null;
  agentModel: string | null;
  config: { permissionMode?: PermissionMode | null };
  title: string | null;
  status: SessionStatus;
  agentState: AgentState | null;
  statusReason: string | null;
  repoRoot: string;
  cwd: string;
  isolation: 'worktree' | 'in_place';
  branch: string | null;
  baseBranch: string | null;
  baseCommit: string | null;
  pinned: boolean;
  /// Place among the pinned sessions (0 first), as session/pinOrder set it.
  pinOrder?: number | null;
  pinnedAt?: number | null;
  hidden: boolean;
  archived?: boolean;
  usage: Usage;
  /// Directories beyond the worktree the agent may also read and write.
  additionalDirs?: string[];
  lastSeq: number;
  taskId: string | null;
  trialId: string | null;
  queuePosition: number | null;
  profile: string | null;
  permissions: PermissionRule[];
  /// The pull request opened for the session's branch, as last synced from the forge.
  pullRequest?: PullRequest | null;
  /// How the session is confined; null for sessions from before sandboxes.
  sandbox?: SessionSandbox | null;
  createdAt: number;
  updatedAt: number;
}

export type PullRequestState = 'open' | 'draft' | 'closed' | 'merged';
export type ReviewDecision = 'none' | 'commented' | 'approved' | 'changes_requested';

/// A session's pull request (`session/pr`), kept current by the server from the forge.
export interface PullRequest {
  forge: string;
  repository: string;
  number: number;
  url: string;
  title: string;
  state: PullRequestState;
  headBranch: string;
  baseBranch: string;
  headCommit: string;
  review: ReviewDecision;
  checks: { state: 'none' | 'pending' | 'success' | 'failure'; total: number; passed: number; failed: number; pending: number };
  reviewComments: number;
  mergeCommit: string | null;
  syncedAt: number;
}

/// What a client can offer after a pull request event: a label and the request that does it.
export interface SuggestedAction {
  id: string;
  label: string;
  method: string;
  params: unknown;
}

/// `session/configure`'s answer: the session, and those unpinned to make room for its pin.
export type ConfigureResult = Session & { unpinned?: string[] };

/// `session/pinOrder`'s answer: every pinned session in the new order.
export interface PinOrderResult {
  sessions: Session[];
}

export interface PushResult {
  remote: string;
  remoteUrl: string;
  branch: string;
  commit: string;
  committed: string | null;
}

export type ToolCallStatus = 'pending' | 'in_progress' | 'completed' | 'failed';

export type ToolCallContent =
  | { type: 'text'; text: string }
  | { type: 'diff'; path: string; oldText: string | null; newText: string }
  | { type: 'terminal'; output: string; exitCode: number | null };

export type ToolKind = 'read' | 'edit' | 'delete' | 'move' | 'search' | 'execute' | 'think' | 'fetch' | 'other';

/** One permission rule: by tool kind (absent: every kind) and a glob over the command or path. */
export interface PermissionRule {
  kind?: ToolKind | null;
  pattern?: string | null;
  action: 'allow' | 'ask' | 'deny';
}

/** The rule that decided a permission request, and where it was set. */
export interface AppliedRule {
  level: 'session' | 'task' | 'profile' | 'config' | 'mode';
  kind: ToolKind | null;
  pattern: string | null;
  action: 'allow' | 'ask' | 'deny';
}

export interface PermissionOption {
  optionId: string;
  name: string;
  kind: 'allow_once' | 'allow_always' | 'reject_once' | 'reject_always';
}

export type SessionEvent =
  | { kind: 'user_message'; text: string }
  | { kind: 'agent_message_chunk'; text: string }
  | { kind: 'agent_thought_chunk'; text: string }
  | { kind: 'tool_call'; toolCallId: string; title: string; toolKind: string; status: ToolCallStatus; content: ToolCallContent[]; locations: string[] }
  | {
      kind: 'tool_call_update';
      toolCallId: string;
      status: ToolCallStatus | null;
      title: string | null;
      content: ToolCallContent[] | null;
      toolKind?: ToolKind;
      rawInput?: unknown;
      rawOutput?: unknown;
      locations?: string[];
    }
  | { kind: 'plan'; entries: { content: string; status: string }[] }
  | { kind: 'permission_request'; requestId: string; toolCallId: string | null; title: string; options: PermissionOption[]; toolKind: ToolKind; subject: string | null }
  | { kind: 'permission_resolved'; requestId: string; optionId: string | null; by: 'policy' | 'user' | null; rule: AppliedRule | null }
  | { kind: 'status_changed'; status: SessionStatus; agentState: AgentState | null; reason: string | null }
  | { kind: 'turn_ended'; stopReason: string }
  | { kind: 'context_usage'; used: number; size: number; costUsd: number | null }
  | { kind: 'available_commands'; commands: { name: string; description: string; hint: string | null }[] }
  | { kind: 'question'; requestId: string; message: string; schema: Record<string, unknown>; toolCallId: string | null }
  | { kind: 'question_answered'; requestId: string; action: 'accept' | 'decline' | 'cancel'; content: Record<string, unknown> | null; by: 'policy' | 'user' | null }
  | { kind: 'usage'; turn: Usage; total: Usage }
  | { kind: 'checkpoint'; checkpointId: number; label: string; filesChanged: number }
  | { kind: 'files_changed'; paths: string[] }
  | { kind: 'rewound'; toCheckpoint: number; savedCheckpoint: number }
  | { kind: 'external_change'; message: string }
  | { kind: 'notice'; message: string }
  | { kind: 'pr_opened'; pullRequest: PullRequest; message: string }
  | { kind: 'pr_updated'; pullRequest: PullRequest; changes: string[]; message: string; actions: SuggestedAction[] }
  | { kind: 'error'; message: string; fatal: boolean };

export interface SessionEventNotification {
  sessionId: string;
  seq: number;
  at: number;
  event: SessionEvent;
}

export interface EventsResult {
  events: SessionEventNotification[];
  hasMore: boolean;
  lastSeq: number;
}

export interface Hunk {
  id: string;
  header: string;
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: { kind: 'context' | 'added' | 'removed'; text: string }[];
  state: 'pending' | 'accepted';
}

export interface FileDiff {
  path: string;
  oldPath: string | null;
  status: 'added' | 'modified' | 'deleted' | 'renamed' | 'type_changed';
  binary: boolean;
  additions: number;
  deletions: number;
  hunks: Hunk[] | null;
}

/// What `review/apply` does: stage, revert, or undo an accept (unstage, the worktree untouched).
export type ReviewAction = 'accept' | 'reject' | 'unstage';

export interface ReviewDiff {
  baseCommit: string;
  files: FileDiff[];
  stats: { filesChanged: number; additions: number; deletions: number };
  truncated: boolean;
  rejected: { id: string; path: string; header: string; at: number }[];
}

export interface ReviewFile {
  path: string;
  baseText: string | null;
  currentText: string | null;
  binary: boolean;
}

export interface MergeResult {
  merged: boolean;
  commit: string | null;
  baseBranch: string;
  conflicts: string[];
}

export type TaskStatus = 'open' | 'running' | 'done' | 'promoted' | 'abandoned';
export type TrialStatus = 'pending' | 'running' | 'done' | 'failed' | 'promoted' | 'abandoned';

export interface Task {
  id: string;
  title: string;
  description: string;
  project: string;
  baseBranch: string;
  checkCommand: string | null;
  permissions: PermissionRule[];
  status: TaskStatus;
}

export interface CheckResult {
  command: string;
  exitCode: number | null;
  passed: boolean;
  durationMs: number;
  summary: string;
  testsPassed: number | null;
  testsFailed: number | null;
}

export interface Trial {
  id: string;
  taskId: string;
  number: number;
  agent: string;
  model: string | null;
  prompt: string;
  sessionIds: string[];
  status: TrialStatus;
  check: CheckResult | null;
}

export interface TaskDetail {
  task: Task;
  trials: { trial: Trial; sessions: Session[] }[];
}

export interface CompareRow {
  trialId: string;
  number: number;
  status: TrialStatus;
  agent: string;
  model: string | null;
  branch: string | null;
  filesChanged: number;
  additions: number;
  deletions: number;
  usage: Usage;
  wallTimeMs: number;
  check: CheckResult | null;
  files: string[];
}

export interface CompareResult {
  taskId: string;
  rows: CompareRow[];
  sharedFiles: { path: string; trials: number[] }[];
}
