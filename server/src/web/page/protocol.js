// Generated from the arbor-protocol crate's method table and wire types: do not edit. Regenerate with UPDATE_SCHEMA=1 cargo test -p arbor-protocol --test schema_drift.
'use strict';

/** Every request of the protocol, by its name in the method table. */
const Method = Object.freeze({
  /** Agents found on this machine. */
  AgentsList: 'agents/list',
  /** Have an agent log in with one of its login methods that needs no terminal. */
  AgentsAuthenticate: 'agents/authenticate',
  /** This machine and the configured hosts: their limits, running sessions and last reported load. */
  HostList: 'host/list',
  /** Create and start a session. */
  SessionNew: 'session/new',
  /** List sessions with filters. */
  SessionList: 'session/list',
  /** Read one session. */
  SessionGet: 'session/get',
  /** Send a message to a session's agent. */
  SessionPrompt: 'session/prompt',
  /** Interrupt the current turn. */
  SessionCancel: 'session/cancel',
  /** Stop a session gracefully; it can be resumed later. */
  SessionStop: 'session/stop',
  /** Start a stopped, dead, failed or timed-out session again. */
  SessionResume: 'session/resume',
  /** Change a session's title, pin, hidden flag, permission mode, model or extra directories. */
  SessionConfigure: 'session/configure',
  /** Put pinned sessions in an order. */
  SessionPinOrder: 'session/pinOrder',
  /** Remove a session. */
  SessionDelete: 'session/delete',
  /** Read a page of a session's event history. */
  SessionEvents: 'session/events',
  /** Replay a session's history after a seq, then receive its live events. */
  SessionSubscribe: 'session/subscribe',
  /** Stop receiving a session's live events. */
  SessionUnsubscribe: 'session/unsubscribe',
  /** Answer a permission request. */
  SessionRespond: 'session/respond',
  /** Export a session's conversation (Markdown, HTML, JSON or PDF). */
  SessionExport: 'session/export',
  /** List a session's checkpoints. */
  SessionCheckpoints: 'session/checkpoints',
  /** Start a new session from a checkpoint of another. */
  SessionFork: 'session/fork',
  /** Start a new session with the same settings and a fresh history. */
  SessionClone: 'session/clone',
  /** Reset a session's worktree to a checkpoint. */
  SessionRewind: 'session/rewind',
  /** Merge a session's branch into its base branch. */
  SessionMerge: 'session/merge',
  /** Push a session's branch to the repository's remote. */
  SessionPush: 'session/push',
  /** Push the session's branch and open a pull request for it on the forge. */
  SessionPr: 'session/pr',
  /** Send the pull request's reviews and review comments to the session's agent as a prompt. */
  SessionSendReview: 'session/sendReview',
  /** A session's changes against its base. */
  ReviewDiff: 'review/diff',
  /** A file's base and current text. */
  ReviewFile: 'review/file',
  /** Accept or reject hunks or files. */
  ReviewApply: 'review/apply',
  /** Commit a session's worktree on its branch. */
  ReviewCommit: 'review/commit',
  /** Worktrees no session accounts for. */
  WorktreeOrphans: 'worktree/orphans',
  /** Stop a session, commit its leftovers and remove its worktree, keeping branch and history. */
  SessionArchive: 'session/archive',
  /** Disk use of session worktrees, and archiving by the retention policy (optionally orphans). */
  WorktreeGc: 'worktree/gc',
  /** Create a task. */
  TaskNew: 'task/new',
  /** List tasks. */
  TaskList: 'task/list',
  /** A task with its trials and their sessions. */
  TaskGet: 'task/get',
  /** Start one or several trials of a task. */
  TrialNew: 'trial/new',
  /** A follow-up session in a trial. */
  TrialRetry: 'trial/retry',
  /** Run the task's check command in a trial's worktree. */
  TrialCheck: 'trial/check',
  /** Compare a task's trials. */
  TrialCompare: 'trial/compare',
  /** Commit a trial's remaining work and push its branch. */
  TrialPush: 'trial/push',
  /** Merge a trial into the task's base and abandon the others. */
  TrialPromote: 'trial/promote',
  /** Workflows available to a repository. */
  WorkflowList: 'workflow/list',
  /** Agent profiles from the config file. */
  ProfileList: 'profile/list',
  /** A profile's memory and its saved versions. */
  ProfileMemory: 'profile/memory',
  /** Make an earlier version of a profile's memory the current one again. */
  ProfileMemoryRestore: 'profile/memoryRestore',
});

/** Every notification the server sends, by its name in the method table. */
const Notification = Object.freeze({
  /** One event of a subscribed session. */
  SessionEvent: 'session/event',
  /** A session's summary changed (status, agent state, title, usage …) or it was deleted. */
  SessionChanged: 'session/changed',
  /** A task changed (its status follows its trials). */
  TaskChanged: 'task/changed',
  /** LSP work-done progress of a long request that was given a `workDoneToken`. */
  Progress: '$/progress',
});
