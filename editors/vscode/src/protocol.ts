// Generated from the arbor-protocol crate's method table and wire types: do not edit. Regenerate with UPDATE_SCHEMA=1 cargo test -p arbor-protocol --test schema_drift.

import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';

/** The protocol version this client speaks; the server reports its own in `initialize`. */
export const PROTOCOL_VERSION = 1;

/** Result of requests that return nothing but success. */
export type Ack = Record<string, unknown>;

/** What a driver supports. Clients hide the actions an agent cannot do. */
export interface AgentCapabilities {
  /** The agent can be given directories beyond its worktree (`additionalDirs`). */
  additionalDirs?: boolean;
  /** The conversation can be forked natively. */
  fork: boolean;
  /** A running turn can be interrupted. */
  interrupt: boolean;
  /** The agent asks permission before acting. */
  permissions: boolean;
  /** One process serves many turns (otherwise a process is started per turn). */
  persistentProcess: boolean;
  /** A stopped session can continue its conversation. */
  resume: boolean;
  /**
   * The `config` fields that reach the agent itself, beyond the ones Arbor applies to every
   * agent (time limits, permission mode, sandbox): some of `systemPrompt`, `temperature`,
   * `maxTokens`, `script`. A session giving another one is refused.
   */
  settings?: string[];
  /** The agent streams its thinking. */
  thinking: boolean;
  /** The agent reports token usage. */
  usage: boolean;
}

/** One agent Arbor can run. */
export interface AgentInfo {
  /** Whether a session can be started with it on this machine now. */
  available: boolean;
  /** What the agent's driver supports. */
  capabilities: AgentCapabilities;
  /** One sentence on what this agent is; the scripted agent says plainly that it is scripted. */
  description: string;
  /** Stable id used in `session/new` (for example `scripted`). */
  id: string;
  /** How to make the agent available when it is not. */
  installHint?: string | null;
  /** Model names the agent accepts; empty when the agent chooses its own. */
  models: string[];
  /** Human-readable name. */
  name: string;
  /** Version reported by the agent, when it could be found. */
  version?: string | null;
}

/** A named agent, model and settings, from the config file. */
export interface AgentProfile {
  /** Extra directories for sessions started from the profile (see `session/new`). */
  additionalDirs?: string[];
  /** Agent id. */
  agent: string;
  /** Settings (system prompt, permission mode …). */
  config?: SessionConfig | null;
  /**
   * The profile's memory: a Markdown file whose text seeds it the first time. Arbor then keeps
   * the memory's versions in its own store, saving the agent's edits after each turn; the
   * file itself is only read.
   */
  memory?: string | null;
  /** Model. */
  model?: string | null;
  /** Its name. */
  name?: string;
  /** Permission rules for sessions started from the profile. */
  permissions?: PermissionRule[];
  /**
   * Skills for the profile's sessions: directories each holding a `SKILL.md` (and any files
   * it refers to), named by the directory.
   */
  skills?: string[];
}

/** What a running agent is doing. */
export type AgentState =
  /** A turn is in progress. */
  | 'working'
  /** Waiting for the next prompt. */
  | 'idle'
  /** Blocked on a permission request or question from the agent. */
  | 'waiting_input';

/** `agents/list` result. */
export interface AgentsListResult {
  /** Every agent Arbor knows, available or not. */
  agents: AgentInfo[];
  /** The sandbox backends that work on the server's machine. */
  sandbox: SandboxReport;
}

/** The rule that decided a permission request, and where it was set. */
export interface AppliedRule {
  /** What the rule did. */
  action: PermissionAction;
  /** The rule's tool kind (null: every kind). */
  kind?: ToolKind | null;
  /** Where the rule was set. */
  level: RuleLevel;
  /** The rule's pattern (null: every subject). */
  pattern?: string | null;
}

/** `review/apply` params. Give hunk ids, whole files, or both. */
export interface ApplyParams {
  /** Accept, reject, or undo an accept. */
  action: ReviewAction;
  /** Hunks, by id from `review/diff`. */
  hunkIds?: string[];
  /** Whole files, relative to the worktree. */
  paths?: string[];
  /** The session. */
  sessionId: string;
}

/** What the server adds under `capabilities.experimental.arbor` in its `initialize` result. */
export interface ArborCapabilities {
  /** The agents found on this machine, as `agents/list` reports them. */
  agents: AgentInfo[];
  /** The protocol version the server speaks; see `PROTOCOL_VERSION`. */
  protocolVersion: number;
  /** The server's own version (the `arbor` binary's crate version). */
  serverVersion: string;
}

/** `session/archive` result. */
export interface ArchiveResult {
  /** Bytes the removed worktree took on disk. */
  freedBytes: number;
  /** The session, now `archived`. */
  session: Session;
  /** The commit made of uncommitted worktree changes before the worktree was removed, if any. */
  snapshotCommit?: string | null;
}

/** `agents/authenticate` params. */
export interface AuthenticateParams {
  /** The agent's id, as `agents/list` names it. */
  agent: string;
  /**
   * The id of one of the agent's login methods (ACP's `authMethods`), as the error of a
   * session it refused names them.
   */
  methodId: string;
}

/** The result of running a task's check command in a trial's worktree. */
export interface CheckResult {
  /** When it finished, milliseconds since the Unix epoch. */
  at: number;
  /** The command run. */
  command: string;
  /** How long it ran, in milliseconds. */
  durationMs: number;
  /** Its exit code (null when it was killed). */
  exitCode?: number | null;
  /** True when it exited with 0. */
  passed: boolean;
  /** One line: the runner's own summary when recognised, else the last line of output. */
  summary: string;
  /** Tests failed, when the runner's summary was recognised. */
  testsFailed?: number | null;
  /** Tests passed, when the runner's summary was recognised. */
  testsPassed?: number | null;
}

/** A checkpoint of a session's worktree. */
export interface Checkpoint {
  /** Number of the checkpoint within the session: 1, 2, 3 … */
  checkpointId: number;
  /** The snapshot commit. */
  commit: string;
  /** Files that differ from the session's base commit at this checkpoint. */
  filesChanged: number;
  /** Why it was taken ("after turn 2", "before rewinding to checkpoint 1" …). */
  label: string;
  /** The ref that keeps it, `refs/arbor/checkpoints/<session>/<n>`. */
  reference: string;
}

/** One checkpoint and where it sits in the session's history. */
export interface CheckpointEntry {
  /** When it was taken, milliseconds since the Unix epoch. */
  at: number;
  /** The checkpoint. */
  checkpoint: Checkpoint;
  /** Seq of the checkpoint event; forking at this checkpoint carries the history up to here. */
  seq: number;
}

/** `session/checkpoints` result. */
export interface CheckpointsResult {
  /** Oldest first. */
  checkpoints: CheckpointEntry[];
}

/** The combined result of the check runs on the pull request's head commit. */
export type ChecksState =
  /** No check runs on the head commit. */
  | 'none'
  /** Some are still queued or running, none failed yet. */
  | 'pending'
  /** Every check run succeeded (or was skipped or neutral). */
  | 'success'
  /** At least one failed, timed out, was cancelled or needs action. */
  | 'failure';

/** The check runs on the pull request's head commit, counted. */
export interface ChecksSummary {
  /** Those that failed, timed out, were cancelled or need action. */
  failed: number;
  /** Those that succeeded, were skipped or neutral. */
  passed: number;
  /** Those still queued or running. */
  pending: number;
  /** What they add up to. */
  state: ChecksState;
  /** Check runs in all. */
  total: number;
}

/**
 * `session/clone` params: a new session with the same agent, model, settings and repository,
 * a fresh history and a fresh worktree from the same base branch.
 */
export interface CloneParams {
  /** First prompt of the new session. */
  prompt?: string | null;
  /** The session to clone. */
  sessionId: string;
  /** Title of the new session. */
  title?: string | null;
}

/** `review/commit` params. */
export interface CommitParams {
  /** Commit only what is accepted (staged) instead of every change in the worktree. */
  acceptedOnly?: boolean;
  /** Commit message; default one made from the session's title and prompts. */
  message?: string | null;
  /** The session. */
  sessionId: string;
}

/** `review/commit` result. */
export interface CommitResult {
  /** The new commit on the session's branch. */
  commit: string;
  /** Files it changed against its parent. */
  filesChanged: number;
  /** Its message. */
  message: string;
}

/** `trial/compare` result. */
export interface CompareResult {
  /** One row per trial, in order. */
  rows: CompareRow[];
  /** Files that two or more trials changed. */
  sharedFiles: SharedFile[];
  /** The task. */
  taskId: string;
}

/** One row of `trial/compare`. */
export interface CompareRow {
  /** Lines added. */
  additions: number;
  /** Agent id. */
  agent: string;
  /** The latest session's branch. */
  branch?: string | null;
  /** The latest check. */
  check?: CheckResult | null;
  /** Lines removed. */
  deletions: number;
  /** The files it changed. */
  files: string[];
  /** Files changed against the base. */
  filesChanged: number;
  /** Model. */
  model?: string | null;
  /** Its number in the task. */
  number: number;
  /** Its status. */
  status: TrialStatus;
  /** The trial. */
  trialId: string;
  /** Tokens and cost over all the trial's sessions. */
  usage: Usage;
  /** Wall time of the trial's sessions, from creation to their last event, in milliseconds. */
  wallTimeMs: number;
}

/** `session/configure` params. Absent fields are left as they are. */
export interface ConfigureParams {
  /**
   * Replace the session's extra directories (checked as in `session/new`); the agent gets
   * them when it next starts (resume).
   */
  additionalDirs?: string[] | null;
  /** Hide or show. */
  hidden?: boolean | null;
  /** New model, passed on to the running agent and used by later starts. */
  model?: string | null;
  /** New permission mode, passed on to the running agent and used by later starts. */
  permissionMode?: PermissionMode | null;
  /** Replace the session's own permission rules. */
  permissions?: PermissionRule[] | null;
  /** Pin or unpin. */
  pinned?: boolean | null;
  /** The session to change. */
  sessionId: string;
  /** New title. Applied only when `titleSource` is at least the current title's source. */
  title?: string | null;
  /** Source of the new title; default `user`. */
  titleSource?: TitleSource | null;
}

/**
 * `session/configure` result: the session, and the sessions unpinned to make room when it was
 * pinned beyond the config's `maxPinnedSessions`.
 */
export interface ConfigureResult extends Session {
  /** Sessions unpinned to make room for this pin, oldest pin first; empty otherwise. */
  unpinned?: string[];
}

/** `session/delete` params. */
export interface DeleteParams {
  /**
   * Also delete the session's branch. Refused when the branch holds commits that are not in its
   * base branch, unless `force` is set.
   */
  deleteBranch?: boolean;
  /** Delete the branch even when it is not merged. */
  force?: boolean;
  /** The session to remove. */
  sessionId: string;
}

/** `session/delete` result. */
export interface DeleteResult {
  /** The branch left in the repository, if any, so the user knows where the work is. */
  keptBranch?: string | null;
  /** The commit made of uncommitted worktree changes before the worktree was removed, if any. */
  snapshotCommit?: string | null;
}

/** One line of a hunk. */
export interface DiffLine {
  /** Context, added or removed. */
  kind: LineKind;
  /** The line's text without its line break. */
  text: string;
}

/** `review/diff` params. */
export interface DiffParams {
  /**
   * Most bytes of hunk text to return; files beyond it come with stats only and `truncated`
   * is set. Default 4 MiB.
   */
  maxBytes?: number | null;
  /** The session to review. */
  sessionId: string;
  /** Only per-file figures, no hunks (for huge changes). */
  statsOnly?: boolean;
}

/** Totals of a diff. */
export interface DiffStats {
  /** Lines added. */
  additions: number;
  /** Lines removed. */
  deletions: number;
  /** Files changed. */
  filesChanged: number;
}

/** `session/events` params. */
export interface EventsParams {
  /** Return events with a seq greater than this; default 0 (from the start). */
  afterSeq?: number | null;
  /** Page size; default 500, at most 5000. */
  limit?: number | null;
  /** The session to read. */
  sessionId: string;
}

/** `session/events` result. */
export interface EventsResult {
  /** Events in seq order. */
  events: SessionEventNotification[];
  /** True when more events follow this page. */
  hasMore: boolean;
  /** The session's newest seq at the time of reading. */
  lastSeq: number;
}

/** How `session/export`'s `content` is encoded. */
export type ExportEncoding =
  /** The text itself (Markdown, HTML and JSON). */
  | 'text'
  /** The bytes in standard base64 (PDF). */
  | 'base64';

/** Formats `session/export` writes. */
export type ExportFormat =
  /** A readable Markdown transcript (the default). */
  | 'markdown'
  /** A standalone HTML page. */
  | 'html'
  /** The session record and every event, as JSON. */
  | 'json'
  /** The HTML page printed to a paginated PDF (by headless Chromium), base64-encoded. */
  | 'pdf';

/** `session/export` params. */
export interface ExportParams {
  /** Markdown (default), HTML, JSON or PDF. */
  format?: ExportFormat | null;
  /** The session to export. */
  sessionId: string;
}

/** `session/export` result. */
export interface ExportResult {
  /** The export itself. */
  content: string;
  /** How `content` is encoded: absent for text, `base64` for PDF. */
  encoding?: ExportEncoding;
  /** A suggested file name. */
  fileName: string;
  /** The format written. */
  format: ExportFormat;
  /** Its MIME type. */
  mimeType: string;
}

/** One changed file. */
export interface FileDiff {
  /** Lines added. */
  additions: number;
  /** Binary files have no hunks; review them as whole files. */
  binary: boolean;
  /** Lines removed. */
  deletions: number;
  /** The hunks; null in stats-only mode or beyond the byte cap. */
  hunks?: Hunk[] | null;
  /** Path in the base, for renames. */
  oldPath?: string | null;
  /** Path in the worktree, relative to its root. */
  path: string;
  /** How it differs. */
  status: FileStatus;
}

/** `review/file` params. */
export interface FileParams {
  /** Path relative to the worktree. */
  path: string;
  /** The session. */
  sessionId: string;
}

/** How a file differs from the base. */
export type FileStatus =
  /** New in the session (tracked or not). */
  | 'added'
  /** Changed. */
  | 'modified'
  /** Removed. */
  | 'deleted'
  /** Moved, possibly with changes; `oldPath` names the original. */
  | 'renamed'
  /** Changed between file, symlink or submodule. */
  | 'type_changed';

/** `session/fork` params. */
export interface ForkParams {
  /** The checkpoint to fork at; default the latest. */
  checkpointId?: number | null;
  /** A prompt to send once the new session's agent is ready. */
  prompt?: string | null;
  /** The session to fork. */
  sessionId: string;
  /** Title of the new session; default the parent's with " (fork)". */
  title?: string | null;
}

/** One thing `worktree/gc` frees. */
export interface GcAction {
  /** The branch deleted, for `delete_branch`. */
  branch?: string | null;
  /** Bytes it takes. */
  bytes: number;
  /** What is done. */
  kind: GcActionKind;
  /** The directory removed; for `delete_branch`, the repository the branch is in. */
  path: string;
  /** Why it qualifies. */
  reason: string;
  /** The session archived, for `archive_session`. */
  sessionId?: string | null;
}

/** What `worktree/gc` does (or would do) to free space. */
export type GcActionKind =
  /** Archive a session the retention policy covers. */
  | 'archive_session'
  /** Remove an orphaned worktree. */
  | 'remove_orphan'
  /** Delete a session branch that no session owns. */
  | 'delete_branch';

/** Something `worktree/gc` leaves alone because removing it could lose work. */
export interface GcKept {
  /** The orphaned session branch kept, when it is one. */
  branch?: string | null;
  /** The directory; for an orphaned branch, its repository. */
  path: string;
  /** Why it is kept. */
  reason: string;
  /** The session, when it is one. */
  sessionId?: string | null;
  /** Commits on its branch that are not in its base, newest first (id and summary). */
  unmergedCommits: string[];
}

/** `worktree/gc` params. */
export interface GcParams {
  /** Only say what would be done. */
  dryRun?: boolean;
  /**
   * Remove orphaned worktrees and branches even when they hold uncommitted changes or commits
   * found nowhere else.
   */
  force?: boolean;
  /**
   * Also remove orphaned worktrees (no session uses them) and delete orphaned session branches
   * (named like a session's, owned by none).
   */
  orphans?: boolean;
}

/** `worktree/gc` result. */
export interface GcResult {
  /** What was (or would be) freed. */
  actions: GcAction[];
  /** Whether this only said what would be done. */
  dryRun: boolean;
  /** Bytes freed (or that would be). */
  freedBytes: number;
  /** What was left alone, and why. */
  kept: GcKept[];
  /** Every session worktree's disk use, largest first. */
  sessions: SessionDiskUse[];
  /** Bytes all session worktrees take. */
  totalBytes: number;
}

/** `host/list` result: the places sessions can run, as the admission scheduler sees them now. */
export interface HostListResult {
  /**
   * Every host of the config file's `hosts`, in the file's order (the order placement breaks
   * ties by, after this machine).
   */
  hosts: HostPlace[];
  /** This machine, which runs every agent it has and has no labels. */
  local: LocalPlace;
}

/** One configured host as a place sessions run (`host/list`). */
export interface HostPlace {
  /** The agents it runs; empty for any. */
  agents: string[];
  /** Labels a session can ask for (`config.hostLabels`). */
  labels: string[];
  /**
   * Its one-minute load average per processor as it last reported it over ssh (asked every
   * 15 s); null while unknown, as when it did not answer the last time.
   */
  load?: number | null;
  /** Sessions with a live agent on it at once. */
  maxRunning: number;
  /** The name sessions and commands use for it (`config.host`, `Session.host`). */
  name: string;
  /** Sessions of this daemon whose agent runs on it now. */
  running: number;
  /** What ssh is given to reach it: `user@host` or a `Host` alias of the user's ssh config. */
  ssh: string;
}

/** A contiguous change in a file. */
export interface Hunk {
  /** The `@@ -a,b +c,d @@` header. */
  header: string;
  /** Id that stays the same while the file's change is the same; used by `review/apply`. */
  id: string;
  /** The lines, in order. */
  lines: DiffLine[];
  /** Lines in the worktree. */
  newLines: number;
  /** First line in the worktree (1-based). */
  newStart: number;
  /** Lines in the base. */
  oldLines: number;
  /** First line in the base (1-based). */
  oldStart: number;
  /** Pending or accepted. */
  state: HunkState;
}

/** Review state of a hunk still in the diff. */
export type HunkState =
  /** Not reviewed yet. */
  | 'pending'
  /** Accepted: staged in the worktree's index (or already committed on the branch). */
  | 'accepted';

/** How a session's files are isolated from the user's checkout. */
export type Isolation =
  /** Its own branch and worktree under Arbor's data directory (the default). */
  | 'worktree'
  /** Directly in the given directory, on whatever is checked out there. */
  | 'in_place';

/** A line of a hunk. */
export type LineKind =
  /** Unchanged context. */
  | 'context'
  /** Added in the session. */
  | 'added'
  /** Removed in the session. */
  | 'removed';

/** `session/list` params. */
export interface ListSessionsParams {
  /** Only sessions of this agent. */
  agent?: string | null;
  /** Include hidden sessions. */
  includeHidden?: boolean;
  /** Page size; default 100, at most 1000. */
  limit?: number | null;
  /** Number of sessions to skip (from `nextOffset` of the previous page). */
  offset?: number | null;
  /**
   * Case-insensitive text matched against title, repository path, working directory and first
   * prompt.
   */
  query?: string | null;
  /** Only sessions in one of these statuses. */
  status?: SessionStatus[] | null;
}

/** `session/list` result. */
export interface ListSessionsResult {
  /** Offset of the next page, or null on the last page. */
  nextOffset?: number | null;
  /** Pinned sessions first (in pin order), then the most recently updated. */
  sessions: Session[];
  /** Number of sessions matching the filter, over all pages. */
  total: number;
}

/** This machine as a place sessions run (`host/list`). */
export interface LocalPlace {
  /**
   * This machine's one-minute load average per processor as placement last read it (every
   * 15 s, only while hosts are configured); null while unknown.
   */
  load?: number | null;
  /** Sessions with a live agent here at once: the config file's `limits.maxRunning`. */
  maxRunning: number;
  /** Sessions whose agent runs here now. */
  running: number;
}

/** `profile/memoryRestore` params. */
export interface MemoryRestoreParams {
  /** The profile's name. */
  profile: string;
  /** The version whose text becomes the memory again (saved as a new version). */
  version: number;
}

/** One saved version of a profile's memory. */
export interface MemoryVersion {
  /** How it came to be: "seeded from …", "edited by the agent", "restored from version N". */
  note: string;
  /** When it was saved (ms since the Unix epoch). */
  savedAt: number;
  /** The session whose agent wrote it, when one did. */
  sessionId?: string | null;
  /** 1, 2, … in the order they were saved. */
  version: number;
}

/** `session/merge` params. */
export interface MergeParams {
  /** Commit message; default one naming the session. */
  message?: string | null;
  /** The session whose branch to merge into its base branch. */
  sessionId: string;
  /** Merge (default) or squash. */
  strategy?: MergeStrategy | null;
}

/** `session/merge` result. */
export interface MergeResult {
  /** The branch merged into. */
  baseBranch: string;
  /** The commit made on the base branch. */
  commit?: string | null;
  /** Files that conflict; when any, nothing was changed. */
  conflicts: string[];
  /** True when the base branch now has the session's work. */
  merged: boolean;
}

/** How `session/merge` lands a branch. */
export type MergeStrategy =
  /** A merge commit with both histories (the default). */
  | 'merge'
  /** One new commit on the base with the session's combined changes. */
  | 'squash';

/** What a sandboxed agent may reach on the network. */
export type NetworkMode =
  /** Nothing. */
  | 'off'
  /** Only the agent's model API (the default). */
  | 'model_api'
  /** Everything the user can reach. */
  | 'on';

/** `session/new` params. */
export interface NewSessionParams {
  /**
   * Directories outside the worktree the agent may also read and write: absolute paths of
   * existing directories, outside Arbor's data directory (which holds every session's
   * worktree). Refused for agents that cannot take them (`capabilities.additionalDirs`).
   */
  additionalDirs?: string[] | null;
  /** Agent id from `agents/list`; may be left out when `profile` names one. */
  agent?: string;
  /** Branch to start from; default the repository's current branch. */
  baseBranch?: string | null;
  /** Per-session settings. */
  config?: SessionConfig | null;
  /**
   * A directory inside the git repository to work on. Leave empty when `repositoryUrl` is
   * given.
   */
  cwd?: string;
  /** Worktree (default) or in place. */
  isolation?: Isolation | null;
  /** Model name, when the agent accepts one. */
  model?: string | null;
  /** The session's permission rules (see the protocol's permission policy). */
  permissions?: PermissionRule[] | null;
  /**
   * An agent profile (agent, model and settings by name, from the config file) to use; the
   * fields above override it.
   */
  profile?: string | null;
  /** First prompt, sent as soon as the agent is ready. */
  prompt?: string | null;
  /**
   * A repository to clone (a URL or a local path) into Arbor's data directory and work on,
   * instead of `cwd`. `baseBranch` chooses the branch cloned; an earlier clone is fetched again.
   */
  repositoryUrl?: string | null;
  /**
   * Files (paths relative to the repository root, usually gitignored ones such as `.env`)
   * copied from the repository into the new worktree.
   */
  setupFiles?: string[] | null;
  /** Title; recorded with source `user`. Without it, the first prompt gives the title. */
  title?: string | null;
  /**
   * When given, the server reports the set-up as LSP `$/progress` notifications with this
   * token (begin, report, end).
   */
  workDoneToken?: ProgressToken | null;
  /**
   * A workflow (a Markdown prompt plan from `.arbor/workflows/` or the user's config) whose
   * text is sent to the agent ahead of the prompt.
   */
  workflow?: string | null;
}

/**
 * The params of a method that takes none: `{}` or `[]` (and, through the server's framing
 * guard, omitted or null params).
 */
export type NoParams = Record<string, unknown>;

/** A worktree or registration that no session accounts for. */
export interface OrphanedWorktree {
  /** Its directory. */
  path: string;
  /** Why it is listed. */
  reason: string;
}

/** `worktree/orphans` result: found at start-up and left in place for the user to decide. */
export interface OrphansResult {
  /** What was found. */
  orphans: OrphanedWorktree[];
}

/** What a rule does with the permission requests it matches. */
export type PermissionAction =
  /** Answer yes without asking anyone. */
  | 'allow'
  /** Ask the user (in `bypass_permissions` mode nobody is asked: it allows). */
  | 'ask'
  /** Answer no without asking anyone, whatever the permission mode. */
  | 'deny';

/** How much the agent may do without asking. */
export type PermissionMode =
  /** Ask before every action that needs permission (the default). */
  | 'ask'
  /** Allow file edits, ask for everything else. */
  | 'accept_edits'
  /** Allow everything without asking. Only ever chosen explicitly by the user. */
  | 'bypass_permissions';

/** One answer to a permission request. */
export interface PermissionOption {
  /** What choosing it means. */
  kind: PermissionOptionKind;
  /** Label for the button. */
  name: string;
  /** Id to send back in `session/respond`. */
  optionId: string;
}

/** What a permission option means (ACP's PermissionOptionKind). */
export type PermissionOptionKind =
  /** Allow this once. */
  | 'allow_once'
  /** Allow this and the same from now on. */
  | 'allow_always'
  /** Refuse this once. */
  | 'reject_once'
  /** Refuse this and the same from now on. */
  | 'reject_always';

/**
 * One permission rule. A request matches when its tool kind is `kind` (any kind when absent) and
 * its subject (the command, path, URL or query) matches `pattern` (anything when absent).
 *
 * The one wire type that refuses unknown fields instead of ignoring them (docs/protocol.md,
 * "Params and compatibility"): a misspelt `pattern`, ignored, would widen the rule to every
 * subject, so a rule that is not fully understood is refused.
 */
export interface PermissionRule {
  /** What to do with a matching request. */
  action: PermissionAction;
  /** The tool kind the rule is about; absent: every kind. */
  kind?: ToolKind | null;
  /**
   * A glob over the request's subject, such as `npm test`, `src/**` or `rm -rf *`. For file
   * kinds `*` stays within one path segment and `**` crosses them; for commands, URLs and
   * queries `*` matches anything. Absent: every subject.
   */
  pattern?: string | null;
}

/** `session/pinOrder` params. */
export interface PinOrderParams {
  /**
   * Pinned sessions in the order wanted. Pinned sessions left out keep their relative order
   * after these.
   */
  pinnedOrder: string[];
}

/** `session/pinOrder` result. */
export interface PinOrderResult {
  /** Every pinned session, in the new order. */
  sessions: Session[];
}

/** One entry of a plan. */
export interface PlanEntry {
  /** What the step is. */
  content: string;
  /** `pending`, `in_progress` or `completed`. */
  status: string;
}

/** `profile/list` result. */
export interface ProfileListResult {
  /** Every profile in the config file, by name. */
  profiles: AgentProfile[];
}

/** `profile/memory` params. */
export interface ProfileMemoryParams {
  /** The profile's name. */
  profile: string;
}

/** `profile/memory` and `profile/memoryRestore` result. */
export interface ProfileMemoryResult {
  /** The profile's name. */
  profile: string;
  /** The memory's text now (the newest version's). */
  text: string;
  /** Every version, oldest first. */
  versions: MemoryVersion[];
}

/** `$/progress`: one step of a long request's work-done progress, under the client's token. */
export interface ProgressNotification {
  /** The token the client gave as `workDoneToken`. */
  token: ProgressToken;
  /** The step. */
  value: WorkDoneProgress;
}

/** An LSP progress token: a number or a string chosen by the client. */
export type ProgressToken =
  /** A numeric token. */
  | number
  /** A string token. */
  | string;

/** `trial/promote` params. */
export interface PromoteParams {
  /** Commit message. */
  message?: string | null;
  /** Merge (default) or squash. */
  strategy?: MergeStrategy | null;
  /** The trial to land. */
  trialId: string;
}

/** `trial/promote` result. */
export interface PromoteResult {
  /** Trials marked abandoned (their branches are kept). */
  abandoned: string[];
  /** The commit made of the trial's uncommitted work before merging, if any. */
  committed?: string | null;
  /** The merge; on conflicts nothing changed and no trial was abandoned. */
  merge: MergeResult;
}

/** Whether a prompt sent during a turn interrupts it or waits for it. */
export type PromptMode =
  /** Send after the current turn ends (the default). */
  | 'queue'
  /** Interrupt the current turn, then send. */
  | 'interrupt';

/** `session/prompt` params. */
export interface PromptParams {
  /** What to do when the agent is working; default `queue`. */
  mode?: PromptMode | null;
  /** The session's Arbor id. */
  sessionId: string;
  /** The message. */
  text: string;
}

/** `session/prompt` result. */
export interface PromptResult {
  /** True when the prompt waits behind a running turn. */
  queued: boolean;
}

/**
 * A session's pull request as Arbor last saw it on the forge. Shown on the session
 * (`pullRequest`) and carried by the `pr_opened` and `pr_updated` events.
 */
export interface PullRequest {
  /** The branch it merges into. */
  baseBranch: string;
  /** The check runs on the head commit. */
  checks: ChecksSummary;
  /** The forge (`github` or `gitlab`). */
  forge: string;
  /** The branch it merges (the session's branch as pushed). */
  headBranch: string;
  /** The head commit the forge has for it. */
  headCommit: string;
  /** The merge commit, once merged. */
  mergeCommit?: string | null;
  /** The pull request's number in that repository. */
  number: number;
  /** The repository on the forge, `owner/name`. */
  repository: string;
  /** What the reviews add up to. */
  review: ReviewDecision;
  /** Review comments and reviews with text, which `session/sendReview` hands to the agent. */
  reviewComments: number;
  /** Open, draft, closed or merged. */
  state: PullRequestState;
  /** When Arbor last read it from the forge, milliseconds since the Unix epoch. */
  syncedAt: number;
  /** Its title. */
  title: string;
  /** The page that shows it, for a link. */
  url: string;
}

/** `session/pr` params. */
export interface PullRequestParams {
  /**
   * Body; default one made from the session (its prompts, what changed, the files, the
   * trial's check, tokens and cost).
   */
  body?: string | null;
  /** Open it as a draft; default false (ready for review). */
  draft?: boolean;
  /** The remote to push to, as in `session/push`. */
  remote?: string | null;
  /** The repository on the forge, `owner/name`; default the last two parts of the remote's URL. */
  repository?: string | null;
  /** The session to open a pull request for. Its branch is pushed first. */
  sessionId: string;
  /** Title; default the session's title. */
  title?: string | null;
}

/** Where a pull request stands on the forge. */
export type PullRequestState =
  /** Open and ready for review. */
  | 'open'
  /** Open as a draft. */
  | 'draft'
  /** Closed without being merged. */
  | 'closed'
  /** Merged on the forge. */
  | 'merged';

/** `session/push` params. */
export interface PushParams {
  /**
   * The remote to push to; default the base branch's upstream remote, else the repository's
   * only remote, else `origin`.
   */
  remote?: string | null;
  /** The session whose branch to push. */
  sessionId: string;
}

/** `session/push` and `trial/push` result. */
export interface PushResult {
  /** The branch pushed (the same name on the remote). */
  branch: string;
  /** The commit the remote branch now points at. */
  commit: string;
  /** The commit Arbor committed first (trials only), when there was remaining work. */
  committed?: string | null;
  /** The remote pushed to. */
  remote: string;
  /** Its URL, without any credentials. */
  remoteUrl: string;
}

/** How a question was answered. */
export type QuestionAction =
  /** Answered with the form's values. */
  | 'accept'
  /** Refused. */
  | 'decline'
  /** Dismissed, or withdrawn. */
  | 'cancel';

/** A hunk the user rejected (reverted in the worktree). */
export interface RejectedHunk {
  /** When, milliseconds since the Unix epoch. */
  at: number;
  /** Its header when it was rejected. */
  header: string;
  /** The hunk's id when it was rejected. */
  id: string;
  /** Its file. */
  path: string;
}

/** Who answered a permission request. */
export type ResolvedBy =
  /** Arbor's permission policy, without asking anyone. */
  | 'policy'
  /** A user, through `session/respond`. */
  | 'user';

/** `session/respond` params: the answer to a `permission_request` or a `question` event. */
export interface RespondParams {
  /** A question's answers (an object matching its schema), with `accept`. */
  content?: unknown;
  /**
   * The chosen option's `optionId`; for a question `accept`, `decline` or `cancel`; null
   * cancels the request.
   */
  optionId?: string | null;
  /** `requestId` of the permission_request event. */
  requestId: string;
  /** The session that asked. */
  sessionId: string;
}

/** `session/resume` params. */
export interface ResumeParams {
  /**
   * Continue the conversation in a new session (with `resumedFrom` set) instead of in place;
   * the old session keeps its history unchanged.
   */
  asNewSession?: boolean;
  /**
   * Move the session: the name of a configured host, or `local` for this machine, where it
   * runs from now on (it becomes the session's `config.host` pin). The agent there starts from
   * the work as of the session's last checkpoint with a new conversation that is given this
   * session's transcript. Default: back where it ran.
   */
  host?: string | null;
  /** A prompt to send once the agent is back. */
  prompt?: string | null;
  /** The session to resume. */
  sessionId: string;
}

/** What to do with hunks or files under review. */
export type ReviewAction =
  /** Stage the change. */
  | 'accept'
  /** Revert the change in the worktree (and unstage it). */
  | 'reject'
  /** Undo an accept: the change is unstaged and back to pending, the worktree untouched. */
  | 'unstage';

/** What the reviews of a pull request add up to: each reviewer's latest verdict counts. */
export type ReviewDecision =
  /** No reviewer has approved or asked for changes yet. */
  | 'none'
  /** Someone commented without a verdict. */
  | 'commented'
  /** At least one reviewer approved and none asks for changes. */
  | 'approved'
  /** At least one reviewer asks for changes. */
  | 'changes_requested';

/** `review/diff` (and `review/apply`) result: the session's changes against its base commit. */
export interface ReviewDiff {
  /** The commit the session started from. */
  baseCommit: string;
  /** Changed files, by path. */
  files: FileDiff[];
  /** Hunks rejected so far, newest last. */
  rejected: RejectedHunk[];
  /** Totals over every file. */
  stats: DiffStats;
  /** True when hunks were left out because of `maxBytes`. */
  truncated: boolean;
}

/** `review/file` result: a file's base and current text, for an editor's diff view. */
export interface ReviewFile {
  /** Text at the base commit; null when the file is new (or binary). */
  baseText?: string | null;
  /** True when either side is not text. */
  binary: boolean;
  /** Text in the worktree; null when deleted (or binary). */
  currentText?: string | null;
  /** The path asked for. */
  path: string;
}

/** `session/rewind` params. */
export interface RewindParams {
  /** The checkpoint to restore. */
  checkpointId: number;
  /** The session whose worktree to reset. */
  sessionId: string;
}

/** `session/rewind` result. */
export interface RewindResult {
  /** The checkpoint restored. */
  restored: Checkpoint;
  /** The checkpoint that keeps the state the rewind replaced. */
  saved: Checkpoint;
}

/** Where a rule was set. Listed from the most specific: a rule of a more specific level wins. */
export type RuleLevel =
  /** The session's own rules (`session/new`, `session/configure`, "allow always" answers). */
  | 'session'
  /** The task's rules (`task/new`, and "allow always" answers given in any of its trials). */
  | 'task'
  /** The agent profile's rules (config file). */
  | 'profile'
  /** The config file's top-level rules. */
  | 'config'
  /** No rule matched; the session's permission mode decided (`bypass_permissions` allows). */
  | 'mode';

/** A backend that actually confines a session. */
export type SandboxBackend =
  /** No confinement. */
  | 'none'
  /** Bubblewrap. */
  | 'bwrap'
  /** Landlock. */
  | 'landlock'
  /** A container. */
  | 'container';

/** One backend as found on the server's machine. */
export interface SandboxBackendStatus {
  /** Whether it ran `true` successfully at start-up. */
  available: boolean;
  /** The backend. */
  backend: SandboxBackend;
  /** What was found (version, ABI) or why it does not work. */
  detail: string;
}

/** The sandbox asked for, in a session's settings, a profile, a trial or the config file. */
export type SandboxChoice =
  /** No sandbox: the agent runs with the user's full power. */
  | 'none'
  /** The strongest backend that works on this machine (see `agents/list`). */
  | 'auto'
  /** Bubblewrap: namespaces (user, mount, PID, network), the strongest. */
  | 'bwrap'
  /** Landlock: file system and TCP port rules, no namespaces. */
  | 'landlock'
  /** A podman (or docker) container from the image `arbor sandbox build-image` makes. */
  | 'container';

/** The `sandbox` section of `agents/list`: what works here and what `auto` picks. */
export interface SandboxReport {
  /** The backend `auto` picks, or null when none works. */
  auto?: SandboxBackend | null;
  /** Every backend, strongest first. */
  backends: SandboxBackendStatus[];
  /** What enforces process and memory limits here: `cgroup` or `rlimit`. */
  limits: string;
  /** Why none works, when `auto` is null. */
  reason?: string | null;
}

/** `session/sendReview` result. */
export interface SendReviewResult {
  /** How many reviews and comments it holds. */
  comments: number;
  /** The prompt sent to the agent: the reviews and review comments of the pull request. */
  prompt: string;
  /** True when it waits behind a running turn. */
  queued: boolean;
}

/** A session: one agent conversation on one branch and worktree (or in place). */
export interface Session {
  /**
   * Directories outside the worktree the agent may also read and write (absolute, as given
   * and checked at `session/new` or `session/configure`).
   */
  additionalDirs?: string[];
  /** Id of the agent running the session (see `agents/list`). */
  agent: string;
  /**
   * The agent's own permission mode as it last reported it (for ACP agents, the id of the
   * mode it is in, such as `default` or `read-only`); null until the agent says.
   */
  agentMode?: string | null;
  /** The model the agent last reported it runs on; null until the agent says. */
  agentModel?: string | null;
  /** The agent's own id for the conversation, once known; used to resume it. */
  agentSessionId?: string | null;
  /** What the agent is doing; null unless the session is running. */
  agentState?: AgentState | null;
  /**
   * Archived by `session/archive` or the retention policy: its worktree is removed (its branch,
   * checkpoints and history kept); `session/resume` recreates the worktree.
   */
  archived?: boolean;
  /** The branch the session started from. */
  baseBranch?: string | null;
  /** The commit the session started from. */
  baseCommit?: string | null;
  /** The session's branch (`arbor/<short-id>-<slug>`), or the checked-out branch in place. */
  branch?: string | null;
  /** Settings the session was created with. */
  config: SessionConfig;
  /** Creation time, milliseconds since the Unix epoch. */
  createdAt: number;
  /** Directory the agent runs in: the worktree, or the repository directory for in-place sessions. */
  cwd: string;
  /** The first prompt sent to the session. */
  firstPrompt?: string | null;
  /** The seq of the parent's event the fork was taken at. */
  forkedAtSeq?: number | null;
  /** The session this one was forked from, when it was started by `session/fork`. */
  forkedFrom?: string | null;
  /**
   * The worktree's HEAD commit as Arbor last saw or made it; a different HEAD means someone
   * committed or checked out in the worktree outside Arbor.
   */
  headCommit?: string | null;
  /** Hidden sessions are left out of `session/list` unless asked for. */
  hidden: boolean;
  /**
   * The configured host the session's agent runs on (see docs/scaling.md), as the admission
   * scheduler placed it; null for this machine. Kept when the session ends, so a resume goes
   * back to the same host.
   */
  host?: string | null;
  /** Arbor's id for the session; stable for its whole life. */
  id: string;
  /** Worktree or in place. */
  isolation: Isolation;
  /** Seq of the session's newest event (0 when it has none). */
  lastSeq: number;
  /** Model requested for the session, if any. */
  model?: string | null;
  /**
   * The session's own permission rules, the most specific level of the policy: those given to
   * `session/new` or `session/configure`, and "allow always" answers.
   */
  permissions?: PermissionRule[];
  /**
   * Place among the pinned sessions (0 first), as `session/pinOrder` set it; a new pin goes
   * last. Null when the session is not pinned.
   */
  pinOrder?: number | null;
  /** Pinned sessions are listed first. */
  pinned: boolean;
  /**
   * When the session was pinned, milliseconds since the Unix epoch; when more sessions are
   * pinned than the config's `maxPinnedSessions`, the one pinned longest ago is unpinned.
   */
  pinnedAt?: number | null;
  /** The agent profile the session was started from, if any (its permission rules apply). */
  profile?: string | null;
  /**
   * The pull request opened for the session's branch, as last synced from the forge; null
   * before `session/pr`.
   */
  pullRequest?: PullRequest | null;
  /** Place in the admission queue (1 = next) while the session waits for a free slot. */
  queuePosition?: number | null;
  /** Root of the git repository the session works on. */
  repoRoot: string;
  /** The session this one resumed, when it was started by `session/resume` with `asNewSession`. */
  resumedFrom?: string | null;
  /**
   * How the agent is confined; null for a session that never started or runs unconfined by
   * choice.
   */
  sandbox?: SessionSandbox | null;
  /** Lifecycle status. */
  status: SessionStatus;
  /** Why the session ended in its current status, when it did not end normally. */
  statusReason?: string | null;
  /** The task the session works on, if any. */
  taskId?: string | null;
  /** Title shown in lists. */
  title?: string | null;
  /** Where the title came from; null when there is no title. */
  titleSource?: TitleSource | null;
  /** The trial of that task the session belongs to, if any. */
  trialId?: string | null;
  /** Time of the last change, milliseconds since the Unix epoch. */
  updatedAt: number;
  /** Token usage and cost summed over the session. */
  usage: Usage;
  /** The workflow attached to the session, if any. */
  workflow?: string | null;
}

/**
 * `session/changed` notification params: sent to every client whenever a session's summary
 * changes (status, agent state, title, pin, usage …).
 */
export interface SessionChangedNotification {
  /** True when the session was just deleted. */
  deleted?: boolean;
  /** The session as it is now; `deleted` sessions carry their last state. */
  session: Session;
}

/** Per-session settings. */
export interface SessionConfig {
  /**
   * Where the session runs: the name of one of the config file's `hosts`, or `local` for this
   * machine. Pins the session there; default: the admission scheduler places it on the
   * least-loaded place that can run its agent (see docs/scaling.md).
   */
  host?: string | null;
  /**
   * Labels the host a session is placed on must have (the `labels` of a configured host); a
   * session with labels never runs on this machine. Default none.
   */
  hostLabels?: string[] | null;
  /** The most memory a sandboxed agent may use, in MiB. Default 8192. */
  maxMemoryMb?: number | null;
  /** The most processes a sandboxed agent may run at once. Default 512. */
  maxProcesses?: number | null;
  /** Output token limit for agents that accept one. */
  maxTokens?: number | null;
  /** What a sandboxed agent may reach: `off`, `model_api` (the default) or `on`. */
  network?: NetworkMode | null;
  /** Permission mode passed to the agent. Default `ask`. */
  permissionMode?: PermissionMode | null;
  /**
   * The sandbox the agent runs in (`none`, `auto`, `bwrap`, `landlock`, `container`). Default:
   * the config file's `sandbox`, else `auto` for trials and `bypass_permissions`, `none` for
   * the rest. See `docs/sandbox.md`.
   */
  sandbox?: SandboxChoice | null;
  /**
   * The script for the scripted agent, as text in the script format of `docs/scripted-agent.md`.
   * Ignored by other agents. When absent the scripted agent runs its built-in demo script.
   */
  script?: string | null;
  /** Optional limit on the whole session's running time, in seconds. Default none. */
  sessionTimeoutSecs?: number | null;
  /** Limit on starting the agent process and its handshake, in seconds. Default 60. */
  startupTimeoutSecs?: number | null;
  /**
   * Stop the session (resumable) when a turn ends with no prompt waiting, freeing its slot in
   * the admission queue. Trials set this; default false.
   */
  stopWhenIdle?: boolean | null;
  /** Extra system prompt for agents that accept one. */
  systemPrompt?: string | null;
  /** Sampling temperature for agents that accept one. */
  temperature?: number | null;
  /**
   * Limit on one turn, in seconds; the turn is cancelled and the session marked `timeout` when
   * exceeded. Default 1800.
   */
  turnTimeoutSecs?: number | null;
}

/** One session worktree's disk use. */
export interface SessionDiskUse {
  /** Whether it is archived. */
  archived: boolean;
  /** Bytes under the worktree (0 once archived). */
  bytes: number;
  /** Its worktree. */
  path: string;
  /** The session. */
  sessionId: string;
  /** Its title, if any. */
  title?: string | null;
}

/** One thing that happened in a session. */
export type SessionEvent =
  /** A prompt sent by the user. */
  | {
    kind: 'user_message';
    /** The prompt text. */
    text: string;
  }
  /**
   * A piece of the agent's reply, in order; concatenated they form the reply. Pieces the
   * agent sent back to back that waited together to be stored arrive joined as one.
   */
  | {
    kind: 'agent_message_chunk';
    /** The text of this piece. */
    text: string;
  }
  /** A piece of the agent's visible thinking, joined like the reply's. */
  | {
    kind: 'agent_thought_chunk';
    /** The text of this piece. */
    text: string;
  }
  /** The agent started a tool call. */
  | {
    /** Content produced so far. */
    content: ToolCallContent[];
    kind: 'tool_call';
    /** Files the call touches, relative to the session's working directory. */
    locations: string[];
    /** The tool's input as the agent gave it. */
    rawInput?: unknown;
    /** Current status. */
    status: ToolCallStatus;
    /** Human-readable summary, such as "Write src/lib.rs" or "Run cargo test". */
    title: string;
    /** Id unique within the session; later updates name it. */
    toolCallId: string;
    /** What sort of action the tool performs. */
    toolKind: ToolKind;
  }
  /**
   * A change to an earlier tool call. Absent fields are unchanged; `content` and `locations`,
   * when present, replace the call's.
   */
  | {
    /** New content, replacing the old. */
    content?: ToolCallContent[] | null;
    kind: 'tool_call_update';
    /** The files the call touches, replacing the earlier list. */
    locations?: string[] | null;
    /** The tool's input, replacing the earlier one. */
    rawInput?: unknown;
    /** The tool's output as the agent gave it. */
    rawOutput?: unknown;
    /** New status. */
    status?: ToolCallStatus | null;
    /** New title. */
    title?: string | null;
    /** The `toolCallId` of the call. */
    toolCallId: string;
    /** The sort of action, now known. */
    toolKind?: ToolKind | null;
  }
  /** The agent's plan for the turn. */
  | {
    /** Every entry of the plan as it now stands. */
    entries: PlanEntry[];
    kind: 'plan';
  }
  /** The agent asks permission; answer with `session/respond`. */
  | {
    kind: 'permission_request';
    /** The answers the user may choose from. */
    options: PermissionOption[];
    /** Id to answer with. */
    requestId: string;
    /**
     * What permission rules' patterns match: the command, the path (relative to the
     * session's directory when inside it), the URL or the query; null when the agent gave
     * none.
     */
    subject?: string | null;
    /** What the agent wants to do. */
    title: string;
    /** The tool call the request is about, when there is one. */
    toolCallId?: string | null;
    /** The sort of action asked for, which permission rules match on. */
    toolKind?: ToolKind;
  }
  /** A permission request was answered (by the policy or a client) or withdrawn. */
  | {
    /** Who answered; null when the request was withdrawn (a cancelled or ended turn). */
    by?: ResolvedBy | null;
    kind: 'permission_resolved';
    /** The chosen option; null when the request was cancelled. */
    optionId?: string | null;
    /** The request's id. */
    requestId: string;
    /** The rule that decided, when the policy answered. */
    rule?: AppliedRule | null;
  }
  /** The session's status or agent state changed. */
  | {
    /** New agent state; null unless running. */
    agentState?: AgentState | null;
    kind: 'status_changed';
    /** Why, when the change was not routine. */
    reason?: string | null;
    /** New status. */
    status: SessionStatus;
  }
  /** A turn ended. */
  | {
    kind: 'turn_ended';
    /** Why it ended. */
    stopReason: StopReason;
  }
  /**
   * How full the agent's context window is, and what the session has cost so far, as the
   * agent reports them (ACP's `usage_update`).
   */
  | {
    /** The session's cost so far in USD, when the agent reports one in USD. */
    costUsd?: number | null;
    kind: 'context_usage';
    /** The context window's size in tokens. */
    size: number;
    /** Tokens in the context now. */
    used: number;
  }
  /**
   * The slash commands the agent offers now (ACP's `available_commands_update`); the latest
   * one is the current list.
   */
  | {
    /** Every command, in the agent's order. */
    commands: SlashCommand[];
    kind: 'available_commands';
  }
  /**
   * The agent asks the user a structured question (ACP's `elicitation/create`); answer with
   * `session/respond` (`optionId` `accept` with `content`, `decline` or `cancel`).
   */
  | {
    kind: 'question';
    /** What the agent asks, in words. */
    message: string;
    /** Id to answer with. */
    requestId: string;
    /**
     * The form: a JSON Schema object whose properties are strings, numbers, integers,
     * booleans or string arrays.
     */
    schema: unknown;
    /** The tool call the question belongs to, when there is one. */
    toolCallId?: string | null;
  }
  /** A question was answered (by the user or a deny rule) or withdrawn. */
  | {
    /** The answer. */
    action: QuestionAction;
    /** Who answered; null when the question was withdrawn (a cancelled or ended turn). */
    by?: ResolvedBy | null;
    /** The values given, when accepted. */
    content?: unknown;
    kind: 'question_answered';
    /** The question's id. */
    requestId: string;
  }
  /** Token usage reported by the agent. */
  | {
    kind: 'usage';
    /** The session's totals after adding it. */
    total: Usage;
    /** Usage of the turn (or the part of it) just reported. */
    turn: Usage;
  }
  /**
   * A snapshot of the worktree's full state (untracked files included, ignored ones excluded)
   * was committed under `refs/arbor/checkpoints/…`, without touching HEAD, the index or any
   * branch.
   */
  | {
    /** Number of the checkpoint within the session: 1, 2, 3 … */
    checkpointId: number;
    /** The snapshot commit. */
    commit: string;
    /** Files that differ from the session's base commit at this checkpoint. */
    filesChanged: number;
    kind: 'checkpoint';
    /** Why it was taken ("after turn 2", "before rewinding to checkpoint 1" …). */
    label: string;
    /** The ref that keeps it, `refs/arbor/checkpoints/<session>/<n>`. */
    reference: string;
  }
  /** Files in the worktree changed (after tool calls or a turn). */
  | {
    kind: 'files_changed';
    /** The paths whose state changed since the last report, relative to the worktree. */
    paths: string[];
  }
  /** The worktree was reset to an earlier checkpoint. */
  | {
    kind: 'rewound';
    /** The checkpoint that saved the state the rewind left behind. */
    savedCheckpoint: number;
    /** The checkpoint restored. */
    toCheckpoint: number;
  }
  /** Someone changed the worktree's git state outside Arbor (a commit, a checkout). */
  | {
    /** The branch now checked out in the worktree (null when detached). */
    branch?: string | null;
    /** The commit now at HEAD. */
    head: string;
    kind: 'external_change';
    /** What changed, in words. */
    message: string;
  }
  /** Information for the user that is not part of the conversation (what a fork carries …). */
  | {
    kind: 'notice';
    /** The information. */
    message: string;
  }
  /** A pull request was opened for the session's branch (`session/pr`). */
  | {
    kind: 'pr_opened';
    /** What happened, in words ("Opened PR #12 …"). */
    message: string;
    /** The pull request as the forge answered (boxed: it is the largest event by far). */
    pullRequest: PullRequest;
  }
  /** The session's pull request changed on the forge: its state, reviews, checks or merge. */
  | {
    /**
     * What a client can offer now: deleting the branch and worktree once merged, sending
     * new review comments to the agent.
     */
    actions?: SuggestedAction[];
    /** What changed, one phrase each ("checks passed", "approved", "merged"). */
    changes: string[];
    kind: 'pr_updated';
    /** All of it in one line a user can read. */
    message: string;
    /** The pull request as it is now. */
    pullRequest: PullRequest;
  }
  /** Something went wrong. The session carries on unless `fatal` is set. */
  | {
    /** True when the session could not continue. */
    fatal: boolean;
    kind: 'error';
    /** What happened, in words a user can act on. */
    message: string;
  };

/** `session/event` notification params, and one entry of `session/events`. */
export interface SessionEventNotification {
  /** When the event was recorded, milliseconds since the Unix epoch. */
  at: number;
  /** The event itself. */
  event: SessionEvent;
  /** Position in the session's history: 1, 2, 3 … with no gaps. */
  seq: number;
  /** The session the event belongs to. */
  sessionId: string;
}

/** Params naming one session. */
export interface SessionIdParams {
  /** The session's Arbor id. */
  sessionId: string;
}

/** How a session is confined, as shown on the session. */
export interface SessionSandbox {
  /** The backend actually used. */
  backend: SandboxBackend;
  /** What enforces the limits: `cgroup` or `rlimit`. */
  limitsEnforcedBy: string;
  /** The most memory the session's agent may use, in MiB. */
  maxMemoryMb: number;
  /** The most processes the session's agent may run at once. */
  maxProcesses: number;
  /** The network mode. */
  network: NetworkMode;
  /** Why the session runs unconfined when a sandbox was wanted (`auto` with no backend here). */
  reason?: string | null;
}

/**
 * Lifecycle of a session. `pending → creating → running → (stopping → stopped) | completed |
 * failed | timeout | dead`.
 */
export type SessionStatus =
  /** Accepted, not yet being set up. */
  | 'pending'
  /** Branch, worktree and agent process are being set up. */
  | 'creating'
  /** The agent process is live; see `agentState` for what it is doing. */
  | 'running'
  /** A graceful stop is under way. */
  | 'stopping'
  /** Stopped on request; resumable. */
  | 'stopped'
  /** The agent finished the conversation by itself. */
  | 'completed'
  /** The agent or its setup failed; resumable when the agent has a resume id. */
  | 'failed'
  /** A turn, the whole session or the start-up exceeded its time limit; resumable. */
  | 'timeout'
  /** The agent process vanished, or the server crashed while the session ran; resumable. */
  | 'dead';

/** A file two or more trials changed. */
export interface SharedFile {
  /** The file. */
  path: string;
  /** The trials that changed it, by number. */
  trials: number[];
}

/** One slash command an agent offers. */
export interface SlashCommand {
  /** What it does. */
  description: string;
  /** A hint for its input, when it takes one. */
  hint?: string | null;
  /** The name, without the slash. */
  name: string;
}

/** Why a turn ended. */
export type StopReason =
  /** The agent finished its reply. */
  | 'end_turn'
  /** The turn was interrupted. */
  | 'cancelled'
  /** The agent hit its output limit. */
  | 'max_tokens'
  /** The agent refused. */
  | 'refusal'
  /** The agent hit its limit of model requests for one turn. */
  | 'max_turn_requests'
  /** The turn failed; an `error` event says why. */
  | 'error'
  /** The turn exceeded its time limit. */
  | 'timeout';

/** `session/subscribe` params. */
export interface SubscribeParams {
  /** Replay events with a seq greater than this before the live ones; default 0 (everything). */
  afterSeq?: number | null;
  /** The session to watch. */
  sessionId: string;
}

/**
 * `session/subscribe` result. The replayed and live events arrive as `session/event`
 * notifications, each seq exactly once and in order.
 */
export interface SubscribeResult {
  /** The session's newest seq when the subscription started; replay covers up to here. */
  lastSeq: number;
}

/**
 * Something a client can offer the user after a pull request event, described fully enough to
 * be done without knowing the event: a label for a button and the request to send.
 */
export interface SuggestedAction {
  /** Stable id (`delete_session`, `send_review`, `open_pull_request`). */
  id: string;
  /** Label for a button or menu entry. */
  label: string;
  /** The request that does it. */
  method: string;
  /** Its params. */
  params: unknown;
}

/** An objective, such as "add E2E tests for the login flow". */
export interface Task {
  /** Branch trials start from and the promoted trial merges into. */
  baseBranch: string;
  /** Command that checks a trial (such as the test suite), run in the trial's worktree. */
  checkCommand?: string | null;
  /** Creation time, milliseconds since the Unix epoch. */
  createdAt: number;
  /** What is wanted; the default prompt of its trials. */
  description: string;
  /** Arbor's id for the task. */
  id: string;
  /**
   * The task's permission rules, applied to every trial: those given to `task/new`, then
   * "allow always" answers given in its trials, in order.
   */
  permissions?: PermissionRule[];
  /** Root of the repository the task works on. */
  project: string;
  /** Command run in each new trial worktree before its agent starts. */
  setupCommand?: string | null;
  /** Follows the trials. */
  status: TaskStatus;
  /** Short title. */
  title: string;
  /** Time of the last change, milliseconds since the Unix epoch. */
  updatedAt: number;
  /** Workflow attached to the task's trials. */
  workflow?: string | null;
}

/** `task/changed` notification params. */
export interface TaskChangedNotification {
  /** The task as it is now. */
  task: Task;
}

/** `task/get` result. */
export interface TaskDetail {
  /** The task. */
  task: Task;
  /** Its trials, in order. */
  trials: TrialDetail[];
}

/** Params naming one task. */
export interface TaskIdParams {
  /** The task. */
  taskId: string;
}

/** `task/list` params. */
export interface TaskListParams {
  /** Only tasks in these statuses. */
  status?: TaskStatus[] | null;
}

/** `task/list` result. */
export interface TaskListResult {
  /** Newest first. */
  tasks: Task[];
}

/** `task/new` params. */
export interface TaskNewParams {
  /** Base branch; default the repository's current branch. */
  baseBranch?: string | null;
  /** Check command, such as `cargo test`. */
  checkCommand?: string | null;
  /** A directory inside the repository to work on. */
  cwd: string;
  /** What is wanted; default the title. */
  description?: string | null;
  /** Permission rules for every trial of the task. */
  permissions?: PermissionRule[];
  /** Setup command run in each new trial worktree. */
  setupCommand?: string | null;
  /** Short title. */
  title: string;
  /** Workflow attached to the task's trials. */
  workflow?: string | null;
}

/** Where a task stands, following its trials. */
export type TaskStatus =
  /** No trial yet. */
  | 'open'
  /** At least one trial is waiting or working. */
  | 'running'
  /** Every trial has finished; none promoted yet. */
  | 'done'
  /** A trial was promoted into the base branch. */
  | 'promoted'
  /** Every trial was abandoned. */
  | 'abandoned';

/**
 * Where a session's title came from. A title is replaced only by one from an equal or higher
 * source: (no title) < prompt < auto < user, so a user's title is never overwritten.
 */
export type TitleSource =
  /** Taken from the first prompt. */
  | 'prompt'
  /** Proposed by the agent or the server. */
  | 'auto'
  /** Set by the user. */
  | 'user';

/** Something a tool call produced. */
export type ToolCallContent =
  /** Plain text. */
  | {
    /** The text. */
    text: string;
    type: 'text';
  }
  /** A file change. */
  | {
    /** The file after the change. */
    newText: string;
    /** The file before the change; null for a new file. */
    oldText?: string | null;
    /** The file, relative to the session's working directory. */
    path: string;
    type: 'diff';
  }
  /** Output of a command. */
  | {
    /** The exit code, once the command has ended. */
    exitCode?: number | null;
    /** Combined stdout and stderr so far. */
    output: string;
    type: 'terminal';
  };

/** Progress of a tool call. */
export type ToolCallStatus =
  /** Not started (waiting for input or permission). */
  | 'pending'
  /** Running. */
  | 'in_progress'
  /** Finished successfully. */
  | 'completed'
  /** Failed or was refused. */
  | 'failed';

/** The sort of action a tool performs (ACP's ToolKind). */
export type ToolKind =
  /** Reads files or data. */
  | 'read'
  /** Modifies files. */
  | 'edit'
  /** Deletes files. */
  | 'delete'
  /** Moves or renames files. */
  | 'move'
  /** Searches. */
  | 'search'
  /** Runs a command. */
  | 'execute'
  /** Thinks or plans. */
  | 'think'
  /** Fetches from the network. */
  | 'fetch'
  /** Anything else. */
  | 'other';

/** One attempt at a task. */
export interface Trial {
  /** Agent id. */
  agent: string;
  /** The latest check, if any. */
  check?: CheckResult | null;
  /** Creation time, milliseconds since the Unix epoch. */
  createdAt: number;
  /** Arbor's id for the trial. */
  id: string;
  /** Model, if chosen. */
  model?: string | null;
  /** 1, 2, 3 … within the task. */
  number: number;
  /** Agent profile, if one was used. */
  profile?: string | null;
  /** The prompt given. */
  prompt: string;
  /** Its sessions, oldest first (a follow-up session after a failed one joins the same trial). */
  sessionIds: string[];
  /** Follows its latest session. */
  status: TrialStatus;
  /** The task. */
  taskId: string;
}

/** A trial with its sessions. */
export interface TrialDetail {
  /** Its sessions, oldest first. */
  sessions: Session[];
  /** The trial. */
  trial: Trial;
}

/** Params naming one trial. */
export interface TrialIdParams {
  /** The trial. */
  trialId: string;
}

/** `trial/new` params: one or several trials at once. */
export interface TrialNewParams {
  /** The task. */
  taskId: string;
  /** The trials to start, e.g. the same prompt on three agents. */
  trials: TrialSpec[];
}

/** `trial/new` result. */
export interface TrialNewResult {
  /** The trials started, each with its first session. */
  trials: TrialDetail[];
}

/** `trial/push` params. */
export interface TrialPushParams {
  /** The remote, as in `session/push`. */
  remote?: string | null;
  /** The trial whose latest session's branch to push (its remaining work committed first). */
  trialId: string;
}

/** `trial/retry` params: a follow-up session in the same trial, fresh from the base. */
export interface TrialRetryParams {
  /** Prompt; default the trial's. */
  prompt?: string | null;
  /** The trial. */
  trialId: string;
}

/** One trial to start. */
export interface TrialSpec {
  /** Agent id; may be left out when `profile` names one. */
  agent?: string | null;
  /** Session settings (for the scripted agent, its script). */
  config?: SessionConfig | null;
  /** Model. */
  model?: string | null;
  /** Agent profile from the config file. */
  profile?: string | null;
  /** Prompt; default the task's description. */
  prompt?: string | null;
}

/** Where a trial stands, following its latest session. */
export type TrialStatus =
  /** Its session waits to start. */
  | 'pending'
  /** Its agent is working. */
  | 'running'
  /** Its agent finished its turn. */
  | 'done'
  /** Its session failed, timed out or died. */
  | 'failed'
  /** It was promoted into the task's base branch. */
  | 'promoted'
  /** Another trial was promoted, or it was given up. */
  | 'abandoned';

/** Token counts and cost. */
export interface Usage {
  /** Input tokens read from the prompt cache. */
  cacheReadTokens: number;
  /** Input tokens written to the prompt cache. */
  cacheWriteTokens: number;
  /** True when some of `costUsd` is Arbor's estimate rather than a figure the agent reported. */
  costEstimated?: boolean;
  /**
   * Cost in US dollars: as reported by the agent, or estimated from the token counts and a
   * price table when the agent reports tokens but no cost (then `costEstimated` is true).
   */
  costUsd: number;
  /** Input tokens, not counting cache reads. */
  inputTokens: number;
  /** Output tokens. */
  outputTokens: number;
}

/** LSP's work-done progress values, as Arbor sends them. */
export type WorkDoneProgress =
  /** The operation started. */
  | {
    /** Always false: Arbor's long requests cannot be cancelled half-way. */
    cancellable: boolean;
    kind: 'begin';
    /** Always 0. */
    percentage: number;
    /** What is being done. */
    title: string;
  }
  /** A step. */
  | {
    kind: 'report';
    /** The step's description. */
    message: string;
    /** How far the operation is, 0 to 100. */
    percentage: number;
  }
  /** The operation ended. */
  | {
    kind: 'end';
    /** How it ended. */
    message: string;
  };

/** A named prompt plan. */
export interface Workflow {
  /** Its name (the file name without `.md`). */
  name: string;
  /** The file it comes from. */
  path: string;
  /** Its text. */
  text: string;
  /** Its first heading, or the name. */
  title: string;
}

/** `workflow/list` params. */
export interface WorkflowListParams {
  /** A directory in the repository whose `.arbor/workflows/` to read, besides the user's. */
  cwd?: string | null;
}

/** `workflow/list` result. */
export interface WorkflowListResult {
  /** Repository workflows first (they win over the user's of the same name). */
  workflows: Workflow[];
}

/** Every request of the protocol, by its name in the method table. */
export const Method = {
  /** Agents found on this machine. */
  AgentsList: new RequestType0<AgentsListResult, void>('agents/list'),
  /** Have an agent log in with one of its login methods that needs no terminal. */
  AgentsAuthenticate: new RequestType<AuthenticateParams, Ack, void>('agents/authenticate'),
  /** This machine and the configured hosts: their limits, running sessions and last reported load. */
  HostList: new RequestType0<HostListResult, void>('host/list'),
  /** Create and start a session. */
  SessionNew: new RequestType<NewSessionParams, Session, void>('session/new'),
  /** List sessions with filters. */
  SessionList: new RequestType<ListSessionsParams, ListSessionsResult, void>('session/list'),
  /** Read one session. */
  SessionGet: new RequestType<SessionIdParams, Session, void>('session/get'),
  /** Send a message to a session's agent. */
  SessionPrompt: new RequestType<PromptParams, PromptResult, void>('session/prompt'),
  /** Interrupt the current turn. */
  SessionCancel: new RequestType<SessionIdParams, Ack, void>('session/cancel'),
  /** Stop a session gracefully; it can be resumed later. */
  SessionStop: new RequestType<SessionIdParams, Session, void>('session/stop'),
  /** Start a stopped, dead, failed or timed-out session again. */
  SessionResume: new RequestType<ResumeParams, Session, void>('session/resume'),
  /** Change a session's title, pin, hidden flag, permission mode, model or extra directories. */
  SessionConfigure: new RequestType<ConfigureParams, ConfigureResult, void>('session/configure'),
  /** Put pinned sessions in an order. */
  SessionPinOrder: new RequestType<PinOrderParams, PinOrderResult, void>('session/pinOrder'),
  /** Remove a session. */
  SessionDelete: new RequestType<DeleteParams, DeleteResult, void>('session/delete'),
  /** Read a page of a session's event history. */
  SessionEvents: new RequestType<EventsParams, EventsResult, void>('session/events'),
  /** Replay a session's history after a seq, then receive its live events. */
  SessionSubscribe: new RequestType<SubscribeParams, SubscribeResult, void>('session/subscribe'),
  /** Stop receiving a session's live events. */
  SessionUnsubscribe: new RequestType<SessionIdParams, Ack, void>('session/unsubscribe'),
  /** Answer a permission request. */
  SessionRespond: new RequestType<RespondParams, Ack, void>('session/respond'),
  /** Export a session's conversation (Markdown, HTML, JSON or PDF). */
  SessionExport: new RequestType<ExportParams, ExportResult, void>('session/export'),
  /** List a session's checkpoints. */
  SessionCheckpoints: new RequestType<SessionIdParams, CheckpointsResult, void>('session/checkpoints'),
  /** Start a new session from a checkpoint of another. */
  SessionFork: new RequestType<ForkParams, Session, void>('session/fork'),
  /** Start a new session with the same settings and a fresh history. */
  SessionClone: new RequestType<CloneParams, Session, void>('session/clone'),
  /** Reset a session's worktree to a checkpoint. */
  SessionRewind: new RequestType<RewindParams, RewindResult, void>('session/rewind'),
  /** Merge a session's branch into its base branch. */
  SessionMerge: new RequestType<MergeParams, MergeResult, void>('session/merge'),
  /** Push a session's branch to the repository's remote. */
  SessionPush: new RequestType<PushParams, PushResult, void>('session/push'),
  /** Push the session's branch and open a pull request for it on the forge. */
  SessionPr: new RequestType<PullRequestParams, PullRequest, void>('session/pr'),
  /** Send the pull request's reviews and review comments to the session's agent as a prompt. */
  SessionSendReview: new RequestType<SessionIdParams, SendReviewResult, void>('session/sendReview'),
  /** A session's changes against its base. */
  ReviewDiff: new RequestType<DiffParams, ReviewDiff, void>('review/diff'),
  /** A file's base and current text. */
  ReviewFile: new RequestType<FileParams, ReviewFile, void>('review/file'),
  /** Accept or reject hunks or files. */
  ReviewApply: new RequestType<ApplyParams, ReviewDiff, void>('review/apply'),
  /** Commit a session's worktree on its branch. */
  ReviewCommit: new RequestType<CommitParams, CommitResult, void>('review/commit'),
  /** Worktrees no session accounts for. */
  WorktreeOrphans: new RequestType0<OrphansResult, void>('worktree/orphans'),
  /** Stop a session, commit its leftovers and remove its worktree, keeping branch and history. */
  SessionArchive: new RequestType<SessionIdParams, ArchiveResult, void>('session/archive'),
  /** Disk use of session worktrees, and archiving by the retention policy (optionally orphans). */
  WorktreeGc: new RequestType<GcParams, GcResult, void>('worktree/gc'),
  /** Create a task. */
  TaskNew: new RequestType<TaskNewParams, Task, void>('task/new'),
  /** List tasks. */
  TaskList: new RequestType<TaskListParams, TaskListResult, void>('task/list'),
  /** A task with its trials and their sessions. */
  TaskGet: new RequestType<TaskIdParams, TaskDetail, void>('task/get'),
  /** Start one or several trials of a task. */
  TrialNew: new RequestType<TrialNewParams, TrialNewResult, void>('trial/new'),
  /** A follow-up session in a trial. */
  TrialRetry: new RequestType<TrialRetryParams, TrialDetail, void>('trial/retry'),
  /** Run the task's check command in a trial's worktree. */
  TrialCheck: new RequestType<TrialIdParams, CheckResult, void>('trial/check'),
  /** Compare a task's trials. */
  TrialCompare: new RequestType<TaskIdParams, CompareResult, void>('trial/compare'),
  /** Commit a trial's remaining work and push its branch. */
  TrialPush: new RequestType<TrialPushParams, PushResult, void>('trial/push'),
  /** Merge a trial into the task's base and abandon the others. */
  TrialPromote: new RequestType<PromoteParams, PromoteResult, void>('trial/promote'),
  /** Workflows available to a repository. */
  WorkflowList: new RequestType<WorkflowListParams, WorkflowListResult, void>('workflow/list'),
  /** Agent profiles from the config file. */
  ProfileList: new RequestType0<ProfileListResult, void>('profile/list'),
  /** A profile's memory and its saved versions. */
  ProfileMemory: new RequestType<ProfileMemoryParams, ProfileMemoryResult, void>('profile/memory'),
  /** Make an earlier version of a profile's memory the current one again. */
  ProfileMemoryRestore: new RequestType<MemoryRestoreParams, ProfileMemoryResult, void>('profile/memoryRestore'),
} as const;

/** Every notification the server sends, by its name in the method table. */
export const Notification = {
  /** One event of a subscribed session. */
  SessionEvent: new NotificationType<SessionEventNotification>('session/event'),
  /** A session's summary changed (status, agent state, title, usage …) or it was deleted. */
  SessionChanged: new NotificationType<SessionChangedNotification>('session/changed'),
  /** A task changed (its status follows its trials). */
  TaskChanged: new NotificationType<TaskChangedNotification>('task/changed'),
  /** LSP work-done progress of a long request that was given a `workDoneToken`. */
  Progress: new NotificationType<ProgressNotification>('$/progress'),
} as const;
