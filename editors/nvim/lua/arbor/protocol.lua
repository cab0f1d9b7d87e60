-- Generated from the arbor-protocol crate's method table and wire types: do not edit. Regenerate with UPDATE_SCHEMA=1 cargo test -p arbor-protocol --test schema_drift.

--- Result of requests that return nothing but success.
---@class arbor.Ack

--- What a driver supports. Clients hide the actions an agent cannot do.
---@class arbor.AgentCapabilities
---@field additionalDirs? boolean The agent can be given directories beyond its worktree (`additionalDirs`).
---@field fork boolean The conversation can be forked natively.
---@field interrupt boolean A running turn can be interrupted.
---@field permissions boolean The agent asks permission before acting.
---@field persistentProcess boolean One process serves many turns (otherwise a process is started per turn).
---@field resume boolean A stopped session can continue its conversation.
---@field settings? string[] The `config` fields that reach the agent itself, beyond the ones Arbor applies to every agent (time limits, permission mode, sandbox): some of `systemPrompt`, `temperature`, `maxTokens`, `script`. A session giving another one is refused.
---@field thinking boolean The agent streams its thinking.
---@field usage boolean The agent reports token usage.

--- One agent Arbor can run.
---@class arbor.AgentInfo
---@field available boolean Whether a session can be started with it on this machine now.
---@field capabilities arbor.AgentCapabilities What the agent's driver supports.
---@field description string One sentence on what this agent is; the scripted agent says plainly that it is scripted.
---@field id string Stable id used in `session/new` (for example `scripted`).
---@field installHint? string | nil How to make the agent available when it is not.
---@field models string[] Model names the agent accepts; empty when the agent chooses its own.
---@field name string Human-readable name.
---@field version? string | nil Version reported by the agent, when it could be found.

--- A named agent, model and settings, from the config file.
---@class arbor.AgentProfile
---@field additionalDirs? string[] Extra directories for sessions started from the profile (see `session/new`).
---@field agent string Agent id.
---@field config? arbor.SessionConfig | nil Settings (system prompt, permission mode …).
---@field memory? string | nil The profile's memory: a Markdown file whose text seeds it the first time. Arbor then keeps the memory's versions in its own store, saving the agent's edits after each turn; the file itself is only read.
---@field model? string | nil Model.
---@field name? string Its name.
---@field permissions? arbor.PermissionRule[] Permission rules for sessions started from the profile.
---@field skills? string[] Skills for the profile's sessions: directories each holding a `SKILL.md` (and any files it refers to), named by the directory.

--- What a running agent is doing.
---@alias arbor.AgentState
---| "working" # A turn is in progress.
---| "idle" # Waiting for the next prompt.
---| "waiting_input" # Blocked on a permission request or question from the agent.

--- `agents/list` result.
---@class arbor.AgentsListResult
---@field agents arbor.AgentInfo[] Every agent Arbor knows, available or not.
---@field sandbox arbor.SandboxReport The sandbox backends that work on the server's machine.

--- The rule that decided a permission request, and where it was set.
---@class arbor.AppliedRule
---@field action arbor.PermissionAction What the rule did.
---@field kind? arbor.ToolKind | nil The rule's tool kind (null: every kind).
---@field level arbor.RuleLevel Where the rule was set.
---@field pattern? string | nil The rule's pattern (null: every subject).

--- `review/apply` params. Give hunk ids, whole files, or both.
---@class arbor.ApplyParams
---@field action arbor.ReviewAction Accept, reject, or undo an accept.
---@field hunkIds? string[] Hunks, by id from `review/diff`.
---@field paths? string[] Whole files, relative to the worktree.
---@field sessionId string The session.

--- What the server adds under `capabilities.experimental.arbor` in its `initialize` result.
---@class arbor.ArborCapabilities
---@field agents arbor.AgentInfo[] The agents found on this machine, as `agents/list` reports them.
---@field protocolVersion integer The protocol version the server speaks; see `PROTOCOL_VERSION`.
---@field serverVersion string The server's own version (the `arbor` binary's crate version).

--- `session/archive` result.
---@class arbor.ArchiveResult
---@field freedBytes integer Bytes the removed worktree took on disk.
---@field session arbor.Session The session, now `archived`.
---@field snapshotCommit? string | nil The commit made of uncommitted worktree changes before the worktree was removed, if any.

--- `agents/authenticate` params.
---@class arbor.AuthenticateParams
---@field agent string The agent's id, as `agents/list` names it.
---@field methodId string The id of one of the agent's login methods (ACP's `authMethods`), as the error of a session it refused names them.

--- The result of running a task's check command in a trial's worktree.
---@class arbor.CheckResult
---@field at integer When it finished, milliseconds since the Unix epoch.
---@field command string The command run.
---@field durationMs integer How long it ran, in milliseconds.
---@field exitCode? integer | nil Its exit code (null when it was killed).
---@field passed boolean True when it exited with 0.
---@field summary string One line: the runner's own summary when recognised, else the last line of output.
---@field testsFailed? integer | nil Tests failed, when the runner's summary was recognised.
---@field testsPassed? integer | nil Tests passed, when the runner's summary was recognised.

--- A checkpoint of a session's worktree.
---@class arbor.Checkpoint
---@field checkpointId integer Number of the checkpoint within the session: 1, 2, 3 …
---@field commit string The snapshot commit.
---@field filesChanged integer Files that differ from the session's base commit at this checkpoint.
---@field label string Why it was taken ("after turn 2", "before rewinding to checkpoint 1" …).
---@field reference string The ref that keeps it, `refs/arbor/checkpoints/<session>/<n>`.

--- One checkpoint and where it sits in the session's history.
---@class arbor.CheckpointEntry
---@field at integer When it was taken, milliseconds since the Unix epoch.
---@field checkpoint arbor.Checkpoint The checkpoint.
---@field seq integer Seq of the checkpoint event; forking at this checkpoint carries the history up to here.

--- `session/checkpoints` result.
---@class arbor.CheckpointsResult
---@field checkpoints arbor.CheckpointEntry[] Oldest first.

--- The combined result of the check runs on the pull request's head commit.
---@alias arbor.ChecksState
---| "none" # No check runs on the head commit.
---| "pending" # Some are still queued or running, none failed yet.
---| "success" # Every check run succeeded (or was skipped or neutral).
---| "failure" # At least one failed, timed out, was cancelled or needs action.

--- The check runs on the pull request's head commit, counted.
---@class arbor.ChecksSummary
---@field failed integer Those that failed, timed out, were cancelled or need action.
---@field passed integer Those that succeeded, were skipped or neutral.
---@field pending integer Those still queued or running.
---@field state arbor.ChecksState What they add up to.
---@field total integer Check runs in all.

--- `session/clone` params: a new session with the same agent, model, settings and repository, a fresh history and a fresh worktree from the same base branch.
---@class arbor.CloneParams
---@field prompt? string | nil First prompt of the new session.
---@field sessionId string The session to clone.
---@field title? string | nil Title of the new session.

--- `review/commit` params.
---@class arbor.CommitParams
---@field acceptedOnly? boolean Commit only what is accepted (staged) instead of every change in the worktree.
---@field message? string | nil Commit message; default one made from the session's title and prompts.
---@field sessionId string The session.

--- `review/commit` result.
---@class arbor.CommitResult
---@field commit string The new commit on the session's branch.
---@field filesChanged integer Files it changed against its parent.
---@field message string Its message.

--- `trial/compare` result.
---@class arbor.CompareResult
---@field rows arbor.CompareRow[] One row per trial, in order.
---@field sharedFiles arbor.SharedFile[] Files that two or more trials changed.
---@field taskId string The task.

--- One row of `trial/compare`.
---@class arbor.CompareRow
---@field additions integer Lines added.
---@field agent string Agent id.
---@field branch? string | nil The latest session's branch.
---@field check? arbor.CheckResult | nil The latest check.
---@field deletions integer Lines removed.
---@field files string[] The files it changed.
---@field filesChanged integer Files changed against the base.
---@field model? string | nil Model.
---@field number integer Its number in the task.
---@field status arbor.TrialStatus Its status.
---@field trialId string The trial.
---@field usage arbor.Usage Tokens and cost over all the trial's sessions.
---@field wallTimeMs integer Wall time of the trial's sessions, from creation to their last event, in milliseconds.

--- `session/configure` params. Absent fields are left as they are.
---@class arbor.ConfigureParams
---@field additionalDirs? string[] | nil Replace the session's extra directories (checked as in `session/new`); the agent gets them when it next starts (resume).
---@field hidden? boolean | nil Hide or show.
---@field model? string | nil New model, passed on to the running agent and used by later starts.
---@field permissionMode? arbor.PermissionMode | nil New permission mode, passed on to the running agent and used by later starts.
---@field permissions? arbor.PermissionRule[] | nil Replace the session's own permission rules.
---@field pinned? boolean | nil Pin or unpin.
---@field sessionId string The session to change.
---@field title? string | nil New title. Applied only when `titleSource` is at least the current title's source.
---@field titleSource? arbor.TitleSource | nil Source of the new title; default `user`.

--- `session/configure` result: the session, and the sessions unpinned to make room when it was pinned beyond the config's `maxPinnedSessions`.
---@class arbor.ConfigureResult : arbor.Session
---@field unpinned? string[] Sessions unpinned to make room for this pin, oldest pin first; empty otherwise.

--- `session/delete` params.
---@class arbor.DeleteParams
---@field deleteBranch? boolean Also delete the session's branch. Refused when the branch holds commits that are not in its base branch, unless `force` is set.
---@field force? boolean Delete the branch even when it is not merged.
---@field sessionId string The session to remove.

--- `session/delete` result.
---@class arbor.DeleteResult
---@field keptBranch? string | nil The branch left in the repository, if any, so the user knows where the work is.
---@field snapshotCommit? string | nil The commit made of uncommitted worktree changes before the worktree was removed, if any.

--- One line of a hunk.
---@class arbor.DiffLine
---@field kind arbor.LineKind Context, added or removed.
---@field text string The line's text without its line break.

--- `review/diff` params.
---@class arbor.DiffParams
---@field maxBytes? integer | nil Most bytes of hunk text to return; files beyond it come with stats only and `truncated` is set. Default 4 MiB.
---@field sessionId string The session to review.
---@field statsOnly? boolean Only per-file figures, no hunks (for huge changes).

--- Totals of a diff.
---@class arbor.DiffStats
---@field additions integer Lines added.
---@field deletions integer Lines removed.
---@field filesChanged integer Files changed.

--- `session/events` params.
---@class arbor.EventsParams
---@field afterSeq? integer | nil Return events with a seq greater than this; default 0 (from the start).
---@field limit? integer | nil Page size; default 500, at most 5000.
---@field sessionId string The session to read.

--- `session/events` result.
---@class arbor.EventsResult
---@field events arbor.SessionEventNotification[] Events in seq order.
---@field hasMore boolean True when more events follow this page.
---@field lastSeq integer The session's newest seq at the time of reading.

--- How `session/export`'s `content` is encoded.
---@alias arbor.ExportEncoding
---| "text" # The text itself (Markdown, HTML and JSON).
---| "base64" # The bytes in standard base64 (PDF).

--- Formats `session/export` writes.
---@alias arbor.ExportFormat
---| "markdown" # A readable Markdown transcript (the default).
---| "html" # A standalone HTML page.
---| "json" # The session record and every event, as JSON.
---| "pdf" # The HTML page printed to a paginated PDF (by headless Chromium), base64-encoded.

--- `session/export` params.
---@class arbor.ExportParams
---@field format? arbor.ExportFormat | nil Markdown (default), HTML, JSON or PDF.
---@field sessionId string The session to export.

--- `session/export` result.
---@class arbor.ExportResult
---@field content string The export itself.
---@field encoding? arbor.ExportEncoding How `content` is encoded: absent for text, `base64` for PDF.
---@field fileName string A suggested file name.
---@field format arbor.ExportFormat The format written.
---@field mimeType string Its MIME type.

--- One changed file.
---@class arbor.FileDiff
---@field additions integer Lines added.
---@field binary boolean Binary files have no hunks; review them as whole files.
---@field deletions integer Lines removed.
---@field hunks? arbor.Hunk[] | nil The hunks; null in stats-only mode or beyond the byte cap.
---@field oldPath? string | nil Path in the base, for renames.
---@field path string Path in the worktree, relative to its root.
---@field status arbor.FileStatus How it differs.

--- `review/file` params.
---@class arbor.FileParams
---@field path string Path relative to the worktree.
---@field sessionId string The session.

--- How a file differs from the base.
---@alias arbor.FileStatus
---| "added" # New in the session (tracked or not).
---| "modified" # Changed.
---| "deleted" # Removed.
---| "renamed" # Moved, possibly with changes; `oldPath` names the original.
---| "type_changed" # Changed between file, symlink or submodule.

--- `session/fork` params.
---@class arbor.ForkParams
---@field checkpointId? integer | nil The checkpoint to fork at; default the latest.
---@field prompt? string | nil A prompt to send once the new session's agent is ready.
---@field sessionId string The session to fork.
---@field title? string | nil Title of the new session; default the parent's with " (fork)".

--- One thing `worktree/gc` frees.
---@class arbor.GcAction
---@field branch? string | nil The branch deleted, for `delete_branch`.
---@field bytes integer Bytes it takes.
---@field kind arbor.GcActionKind What is done.
---@field path string The directory removed; for `delete_branch`, the repository the branch is in.
---@field reason string Why it qualifies.
---@field sessionId? string | nil The session archived, for `archive_session`.

--- What `worktree/gc` does (or would do) to free space.
---@alias arbor.GcActionKind
---| "archive_session" # Archive a session the retention policy covers.
---| "remove_orphan" # Remove an orphaned worktree.
---| "delete_branch" # Delete a session branch that no session owns.

--- Something `worktree/gc` leaves alone because removing it could lose work.
---@class arbor.GcKept
---@field branch? string | nil The orphaned session branch kept, when it is one.
---@field path string The directory; for an orphaned branch, its repository.
---@field reason string Why it is kept.
---@field sessionId? string | nil The session, when it is one.
---@field unmergedCommits string[] Commits on its branch that are not in its base, newest first (id and summary).

--- `worktree/gc` params.
---@class arbor.GcParams
---@field dryRun? boolean Only say what would be done.
---@field force? boolean Remove orphaned worktrees and branches even when they hold uncommitted changes or commits found nowhere else.
---@field orphans? boolean Also remove orphaned worktrees (no session uses them) and delete orphaned session branches (named like a session's, owned by none).

--- `worktree/gc` result.
---@class arbor.GcResult
---@field actions arbor.GcAction[] What was (or would be) freed.
---@field dryRun boolean Whether this only said what would be done.
---@field freedBytes integer Bytes freed (or that would be).
---@field kept arbor.GcKept[] What was left alone, and why.
---@field sessions arbor.SessionDiskUse[] Every session worktree's disk use, largest first.
---@field totalBytes integer Bytes all session worktrees take.

--- `host/list` result: the places sessions can run, as the admission scheduler sees them now.
---@class arbor.HostListResult
---@field hosts arbor.HostPlace[] Every host of the config file's `hosts`, in the file's order (the order placement breaks ties by, after this machine).
---@field local arbor.LocalPlace This machine, which runs every agent it has and has no labels.

--- One configured host as a place sessions run (`host/list`).
---@class arbor.HostPlace
---@field agents string[] The agents it runs; empty for any.
---@field labels string[] Labels a session can ask for (`config.hostLabels`).
---@field load? number | nil Its one-minute load average per processor as it last reported it over ssh (asked every 15 s); null while unknown, as when it did not answer the last time.
---@field maxRunning integer Sessions with a live agent on it at once.
---@field name string The name sessions and commands use for it (`config.host`, `Session.host`).
---@field running integer Sessions of this daemon whose agent runs on it now.
---@field ssh string What ssh is given to reach it: `user@host` or a `Host` alias of the user's ssh config.

--- A contiguous change in a file.
---@class arbor.Hunk
---@field header string The `@@ -a,b +c,d @@` header.
---@field id string Id that stays the same while the file's change is the same; used by `review/apply`.
---@field lines arbor.DiffLine[] The lines, in order.
---@field newLines integer Lines in the worktree.
---@field newStart integer First line in the worktree (1-based).
---@field oldLines integer Lines in the base.
---@field oldStart integer First line in the base (1-based).
---@field state arbor.HunkState Pending or accepted.

--- Review state of a hunk still in the diff.
---@alias arbor.HunkState
---| "pending" # Not reviewed yet.
---| "accepted" # Accepted: staged in the worktree's index (or already committed on the branch).

--- How a session's files are isolated from the user's checkout.
---@alias arbor.Isolation
---| "worktree" # Its own branch and worktree under Arbor's data directory (the default).
---| "in_place" # Directly in the given directory, on whatever is checked out there.

--- A line of a hunk.
---@alias arbor.LineKind
---| "context" # Unchanged context.
---| "added" # Added in the session.
---| "removed" # Removed in the session.

--- `session/list` params.
---@class arbor.ListSessionsParams
---@field agent? string | nil Only sessions of this agent.
---@field includeHidden? boolean Include hidden sessions.
---@field limit? integer | nil Page size; default 100, at most 1000.
---@field offset? integer | nil Number of sessions to skip (from `nextOffset` of the previous page).
---@field query? string | nil Case-insensitive text matched against title, repository path, working directory and first prompt.
---@field status? arbor.SessionStatus[] | nil Only sessions in one of these statuses.

--- `session/list` result.
---@class arbor.ListSessionsResult
---@field nextOffset? integer | nil Offset of the next page, or null on the last page.
---@field sessions arbor.Session[] Pinned sessions first (in pin order), then the most recently updated.
---@field total integer Number of sessions matching the filter, over all pages.

--- This machine as a place sessions run (`host/list`).
---@class arbor.LocalPlace
---@field load? number | nil This machine's one-minute load average per processor as placement last read it (every 15 s, only while hosts are configured); null while unknown.
---@field maxRunning integer Sessions with a live agent here at once: the config file's `limits.maxRunning`.
---@field running integer Sessions whose agent runs here now.

--- `profile/memoryRestore` params.
---@class arbor.MemoryRestoreParams
---@field profile string The profile's name.
---@field version integer The version whose text becomes the memory again (saved as a new version).

--- One saved version of a profile's memory.
---@class arbor.MemoryVersion
---@field note string How it came to be: "seeded from …", "edited by the agent", "restored from version N".
---@field savedAt integer When it was saved (ms since the Unix epoch).
---@field sessionId? string | nil The session whose agent wrote it, when one did.
---@field version integer 1, 2, … in the order they were saved.

--- `session/merge` params.
---@class arbor.MergeParams
---@field message? string | nil Commit message; default one naming the session.
---@field sessionId string The session whose branch to merge into its base branch.
---@field strategy? arbor.MergeStrategy | nil Merge (default) or squash.

--- `session/merge` result.
---@class arbor.MergeResult
---@field baseBranch string The branch merged into.
---@field commit? string | nil The commit made on the base branch.
---@field conflicts string[] Files that conflict; when any, nothing was changed.
---@field merged boolean True when the base branch now has the session's work.

--- How `session/merge` lands a branch.
---@alias arbor.MergeStrategy
---| "merge" # A merge commit with both histories (the default).
---| "squash" # One new commit on the base with the session's combined changes.

--- What a sandboxed agent may reach on the network.
---@alias arbor.NetworkMode
---| "off" # Nothing.
---| "model_api" # Only the agent's model API (the default).
---| "on" # Everything the user can reach.

--- `session/new` params.
---@class arbor.NewSessionParams
---@field additionalDirs? string[] | nil Directories outside the worktree the agent may also read and write: absolute paths of existing directories, outside Arbor's data directory (which holds every session's worktree). Refused for agents that cannot take them (`capabilities.additionalDirs`).
---@field agent? string Agent id from `agents/list`; may be left out when `profile` names one.
---@field baseBranch? string | nil Branch to start from; default the repository's current branch.
---@field config? arbor.SessionConfig | nil Per-session settings.
---@field cwd? string A directory inside the git repository to work on. Leave empty when `repositoryUrl` is given.
---@field isolation? arbor.Isolation | nil Worktree (default) or in place.
---@field model? string | nil Model name, when the agent accepts one.
---@field permissions? arbor.PermissionRule[] | nil The session's permission rules (see the protocol's permission policy).
---@field profile? string | nil An agent profile (agent, model and settings by name, from the config file) to use; the fields above override it.
---@field prompt? string | nil First prompt, sent as soon as the agent is ready.
---@field repositoryUrl? string | nil A repository to clone (a URL or a local path) into Arbor's data directory and work on, instead of `cwd`. `baseBranch` chooses the branch cloned; an earlier clone is fetched again.
---@field setupFiles? string[] | nil Files (paths relative to the repository root, usually gitignored ones such as `.env`) copied from the repository into the new worktree.
---@field title? string | nil Title; recorded with source `user`. Without it, the first prompt gives the title.
---@field workDoneToken? arbor.ProgressToken | nil When given, the server reports the set-up as LSP `$/progress` notifications with this token (begin, report, end).
---@field workflow? string | nil A workflow (a Markdown prompt plan from `.arbor/workflows/` or the user's config) whose text is sent to the agent ahead of the prompt.

--- The params of a method that takes none: `{}` or `[]` (and, through the server's framing guard, omitted or null params).
---@class arbor.NoParams

--- A worktree or registration that no session accounts for.
---@class arbor.OrphanedWorktree
---@field path string Its directory.
---@field reason string Why it is listed.

--- `worktree/orphans` result: found at start-up and left in place for the user to decide.
---@class arbor.OrphansResult
---@field orphans arbor.OrphanedWorktree[] What was found.

--- What a rule does with the permission requests it matches.
---@alias arbor.PermissionAction
---| "allow" # Answer yes without asking anyone.
---| "ask" # Ask the user (in `bypass_permissions` mode nobody is asked: it allows).
---| "deny" # Answer no without asking anyone, whatever the permission mode.

--- How much the agent may do without asking.
---@alias arbor.PermissionMode
---| "ask" # Ask before every action that needs permission (the default).
---| "accept_edits" # Allow file edits, ask for everything else.
---| "bypass_permissions" # Allow everything without asking. Only ever chosen explicitly by the user.

--- One answer to a permission request.
---@class arbor.PermissionOption
---@field kind arbor.PermissionOptionKind What choosing it means.
---@field name string Label for the button.
---@field optionId string Id to send back in `session/respond`.

--- What a permission option means (ACP's PermissionOptionKind).
---@alias arbor.PermissionOptionKind
---| "allow_once" # Allow this once.
---| "allow_always" # Allow this and the same from now on.
---| "reject_once" # Refuse this once.
---| "reject_always" # Refuse this and the same from now on.

--- One permission rule. A request matches when its tool kind is `kind` (any kind when absent) and its subject (the command, path, URL or query) matches `pattern` (anything when absent). The one wire type that refuses unknown fields instead of ignoring them (docs/protocol.md, "Params and compatibility"): a misspelt `pattern`, ignored, would widen the rule to every subject, so a rule that is not fully understood is refused.
---@class arbor.PermissionRule
---@field action arbor.PermissionAction What to do with a matching request.
---@field kind? arbor.ToolKind | nil The tool kind the rule is about; absent: every kind.
---@field pattern? string | nil A glob over the request's subject, such as `npm test`, `src/**` or `rm -rf *`. For file kinds `*` stays within one path segment and `**` crosses them; for commands, URLs and queries `*` matches anything. Absent: every subject.

--- `session/pinOrder` params.
---@class arbor.PinOrderParams
---@field pinnedOrder string[] Pinned sessions in the order wanted. Pinned sessions left out keep their relative order after these.

--- `session/pinOrder` result.
---@class arbor.PinOrderResult
---@field sessions arbor.Session[] Every pinned session, in the new order.

--- One entry of a plan.
---@class arbor.PlanEntry
---@field content string What the step is.
---@field status string `pending`, `in_progress` or `completed`.

--- `profile/list` result.
---@class arbor.ProfileListResult
---@field profiles arbor.AgentProfile[] Every profile in the config file, by name.

--- `profile/memory` params.
---@class arbor.ProfileMemoryParams
---@field profile string The profile's name.

--- `profile/memory` and `profile/memoryRestore` result.
---@class arbor.ProfileMemoryResult
---@field profile string The profile's name.
---@field text string The memory's text now (the newest version's).
---@field versions arbor.MemoryVersion[] Every version, oldest first.

--- `$/progress`: one step of a long request's work-done progress, under the client's token.
---@class arbor.ProgressNotification
---@field token arbor.ProgressToken The token the client gave as `workDoneToken`.
---@field value arbor.WorkDoneProgress The step.

--- An LSP progress token: a number or a string chosen by the client.
---@alias arbor.ProgressToken
---| integer # A numeric token.
---| string # A string token.

--- `trial/promote` params.
---@class arbor.PromoteParams
---@field message? string | nil Commit message.
---@field strategy? arbor.MergeStrategy | nil Merge (default) or squash.
---@field trialId string The trial to land.

--- `trial/promote` result.
---@class arbor.PromoteResult
---@field abandoned string[] Trials marked abandoned (their branches are kept).
---@field committed? string | nil The commit made of the trial's uncommitted work before merging, if any.
---@field merge arbor.MergeResult The merge; on conflicts nothing changed and no trial was abandoned.

--- Whether a prompt sent during a turn interrupts it or waits for it.
---@alias arbor.PromptMode
---| "queue" # Send after the current turn ends (the default).
---| "interrupt" # Interrupt the current turn, then send.

--- `session/prompt` params.
---@class arbor.PromptParams
---@field mode? arbor.PromptMode | nil What to do when the agent is working; default `queue`.
---@field sessionId string The session's Arbor id.
---@field text string The message.

--- `session/prompt` result.
---@class arbor.PromptResult
---@field queued boolean True when the prompt waits behind a running turn.

--- A session's pull request as Arbor last saw it on the forge. Shown on the session (`pullRequest`) and carried by the `pr_opened` and `pr_updated` events.
---@class arbor.PullRequest
---@field baseBranch string The branch it merges into.
---@field checks arbor.ChecksSummary The check runs on the head commit.
---@field forge string The forge (`github` or `gitlab`).
---@field headBranch string The branch it merges (the session's branch as pushed).
---@field headCommit string The head commit the forge has for it.
---@field mergeCommit? string | nil The merge commit, once merged.
---@field number integer The pull request's number in that repository.
---@field repository string The repository on the forge, `owner/name`.
---@field review arbor.ReviewDecision What the reviews add up to.
---@field reviewComments integer Review comments and reviews with text, which `session/sendReview` hands to the agent.
---@field state arbor.PullRequestState Open, draft, closed or merged.
---@field syncedAt integer When Arbor last read it from the forge, milliseconds since the Unix epoch.
---@field title string Its title.
---@field url string The page that shows it, for a link.

--- `session/pr` params.
---@class arbor.PullRequestParams
---@field body? string | nil Body; default one made from the session (its prompts, what changed, the files, the trial's check, tokens and cost).
---@field draft? boolean Open it as a draft; default false (ready for review).
---@field remote? string | nil The remote to push to, as in `session/push`.
---@field repository? string | nil The repository on the forge, `owner/name`; default the last two parts of the remote's URL.
---@field sessionId string The session to open a pull request for. Its branch is pushed first.
---@field title? string | nil Title; default the session's title.

--- Where a pull request stands on the forge.
---@alias arbor.PullRequestState
---| "open" # Open and ready for review.
---| "draft" # Open as a draft.
---| "closed" # Closed without being merged.
---| "merged" # Merged on the forge.

--- `session/push` params.
---@class arbor.PushParams
---@field remote? string | nil The remote to push to; default the base branch's upstream remote, else the repository's only remote, else `origin`.
---@field sessionId string The session whose branch to push.

--- `session/push` and `trial/push` result.
---@class arbor.PushResult
---@field branch string The branch pushed (the same name on the remote).
---@field commit string The commit the remote branch now points at.
---@field committed? string | nil The commit Arbor committed first (trials only), when there was remaining work.
---@field remote string The remote pushed to.
---@field remoteUrl string Its URL, without any credentials.

--- How a question was answered.
---@alias arbor.QuestionAction
---| "accept" # Answered with the form's values.
---| "decline" # Refused.
---| "cancel" # Dismissed, or withdrawn.

--- A hunk the user rejected (reverted in the worktree).
---@class arbor.RejectedHunk
---@field at integer When, milliseconds since the Unix epoch.
---@field header string Its header when it was rejected.
---@field id string The hunk's id when it was rejected.
---@field path string Its file.

--- Who answered a permission request.
---@alias arbor.ResolvedBy
---| "policy" # Arbor's permission policy, without asking anyone.
---| "user" # A user, through `session/respond`.

--- `session/respond` params: the answer to a `permission_request` or a `question` event.
---@class arbor.RespondParams
---@field content? any A question's answers (an object matching its schema), with `accept`.
---@field optionId? string | nil The chosen option's `optionId`; for a question `accept`, `decline` or `cancel`; null cancels the request.
---@field requestId string `requestId` of the permission_request event.
---@field sessionId string The session that asked.

--- `session/resume` params.
---@class arbor.ResumeParams
---@field asNewSession? boolean Continue the conversation in a new session (with `resumedFrom` set) instead of in place; the old session keeps its history unchanged.
---@field host? string | nil Move the session: the name of a configured host, or `local` for this machine, where it runs from now on (it becomes the session's `config.host` pin). The agent there starts from the work as of the session's last checkpoint with a new conversation that is given this session's transcript. Default: back where it ran.
---@field prompt? string | nil A prompt to send once the agent is back.
---@field sessionId string The session to resume.

--- What to do with hunks or files under review.
---@alias arbor.ReviewAction
---| "accept" # Stage the change.
---| "reject" # Revert the change in the worktree (and unstage it).
---| "unstage" # Undo an accept: the change is unstaged and back to pending, the worktree untouched.

--- What the reviews of a pull request add up to: each reviewer's latest verdict counts.
---@alias arbor.ReviewDecision
---| "none" # No reviewer has approved or asked for changes yet.
---| "commented" # Someone commented without a verdict.
---| "approved" # At least one reviewer approved and none asks for changes.
---| "changes_requested" # At least one reviewer asks for changes.

--- `review/diff` (and `review/apply`) result: the session's changes against its base commit.
---@class arbor.ReviewDiff
---@field baseCommit string The commit the session started from.
---@field files arbor.FileDiff[] Changed files, by path.
---@field rejected arbor.RejectedHunk[] Hunks rejected so far, newest last.
---@field stats arbor.DiffStats Totals over every file.
---@field truncated boolean True when hunks were left out because of `maxBytes`.

--- `review/file` result: a file's base and current text, for an editor's diff view.
---@class arbor.ReviewFile
---@field baseText? string | nil Text at the base commit; null when the file is new (or binary).
---@field binary boolean True when either side is not text.
---@field currentText? string | nil Text in the worktree; null when deleted (or binary).
---@field path string The path asked for.

--- `session/rewind` params.
---@class arbor.RewindParams
---@field checkpointId integer The checkpoint to restore.
---@field sessionId string The session whose worktree to reset.

--- `session/rewind` result.
---@class arbor.RewindResult
---@field restored arbor.Checkpoint The checkpoint restored.
---@field saved arbor.Checkpoint The checkpoint that keeps the state the rewind replaced.

--- Where a rule was set. Listed from the most specific: a rule of a more specific level wins.
---@alias arbor.RuleLevel
---| "session" # The session's own rules (`session/new`, `session/configure`, "allow always" answers).
---| "task" # The task's rules (`task/new`, and "allow always" answers given in any of its trials).
---| "profile" # The agent profile's rules (config file).
---| "config" # The config file's top-level rules.
---| "mode" # No rule matched; the session's permission mode decided (`bypass_permissions` allows).

--- A backend that actually confines a session.
---@alias arbor.SandboxBackend
---| "none" # No confinement.
---| "bwrap" # Bubblewrap.
---| "landlock" # Landlock.
---| "container" # A container.

--- One backend as found on the server's machine.
---@class arbor.SandboxBackendStatus
---@field available boolean Whether it ran `true` successfully at start-up.
---@field backend arbor.SandboxBackend The backend.
---@field detail string What was found (version, ABI) or why it does not work.

--- The sandbox asked for, in a session's settings, a profile, a trial or the config file.
---@alias arbor.SandboxChoice
---| "none" # No sandbox: the agent runs with the user's full power.
---| "auto" # The strongest backend that works on this machine (see `agents/list`).
---| "bwrap" # Bubblewrap: namespaces (user, mount, PID, network), the strongest.
---| "landlock" # Landlock: file system and TCP port rules, no namespaces.
---| "container" # A podman (or docker) container from the image `arbor sandbox build-image` makes.

--- The `sandbox` section of `agents/list`: what works here and what `auto` picks.
---@class arbor.SandboxReport
---@field auto? arbor.SandboxBackend | nil The backend `auto` picks, or null when none works.
---@field backends arbor.SandboxBackendStatus[] Every backend, strongest first.
---@field limits string What enforces process and memory limits here: `cgroup` or `rlimit`.
---@field reason? string | nil Why none works, when `auto` is null.

--- `session/sendReview` result.
---@class arbor.SendReviewResult
---@field comments integer How many reviews and comments it holds.
---@field prompt string The prompt sent to the agent: the reviews and review comments of the pull request.
---@field queued boolean True when it waits behind a running turn.

--- A session: one agent conversation on one branch and worktree (or in place).
---@class arbor.Session
---@field additionalDirs? string[] Directories outside the worktree the agent may also read and write (absolute, as given and checked at `session/new` or `session/configure`).
---@field agent string Id of the agent running the session (see `agents/list`).
---@field agentMode? string | nil The agent's own permission mode as it last reported it (for ACP agents, the id of the mode it is in, such as `default` or `read-only`); null until the agent says.
---@field agentModel? string | nil The model the agent last reported it runs on; null until the agent says.
---@field agentSessionId? string | nil The agent's own id for the conversation, once known; used to resume it.
---@field agentState? arbor.AgentState | nil What the agent is doing; null unless the session is running.
---@field archived? boolean Archived by `session/archive` or the retention policy: its worktree is removed (its branch, checkpoints and history kept); `session/resume` recreates the worktree.
---@field baseBranch? string | nil The branch the session started from.
---@field baseCommit? string | nil The commit the session started from.
---@field branch? string | nil The session's branch (`arbor/<short-id>-<slug>`), or the checked-out branch in place.
---@field config arbor.SessionConfig Settings the session was created with.
---@field createdAt integer Creation time, milliseconds since the Unix epoch.
---@field cwd string Directory the agent runs in: the worktree, or the repository directory for in-place sessions.
---@field firstPrompt? string | nil The first prompt sent to the session.
---@field forkedAtSeq? integer | nil The seq of the parent's event the fork was taken at.
---@field forkedFrom? string | nil The session this one was forked from, when it was started by `session/fork`.
---@field headCommit? string | nil The worktree's HEAD commit as Arbor last saw or made it; a different HEAD means someone committed or checked out in the worktree outside Arbor.
---@field hidden boolean Hidden sessions are left out of `session/list` unless asked for.
---@field host? string | nil The configured host the session's agent runs on (see docs/scaling.md), as the admission scheduler placed it; null for this machine. Kept when the session ends, so a resume goes back to the same host.
---@field id string Arbor's id for the session; stable for its whole life.
---@field isolation arbor.Isolation Worktree or in place.
---@field lastSeq integer Seq of the session's newest event (0 when it has none).
---@field model? string | nil Model requested for the session, if any.
---@field permissions? arbor.PermissionRule[] The session's own permission rules, the most specific level of the policy: those given to `session/new` or `session/configure`, and "allow always" answers.
---@field pinOrder? integer | nil Place among the pinned sessions (0 first), as `session/pinOrder` set it; a new pin goes last. Null when the session is not pinned.
---@field pinned boolean Pinned sessions are listed first.
---@field pinnedAt? integer | nil When the session was pinned, milliseconds since the Unix epoch; when more sessions are pinned than the config's `maxPinnedSessions`, the one pinned longest ago is unpinned.
---@field profile? string | nil The agent profile the session was started from, if any (its permission rules apply).
---@field pullRequest? arbor.PullRequest | nil The pull request opened for the session's branch, as last synced from the forge; null before `session/pr`.
---@field queuePosition? integer | nil Place in the admission queue (1 = next) while the session waits for a free slot.
---@field repoRoot string Root of the git repository the session works on.
---@field resumedFrom? string | nil The session this one resumed, when it was started by `session/resume` with `asNewSession`.
---@field sandbox? arbor.SessionSandbox | nil How the agent is confined; null for a session that never started or runs unconfined by choice.
---@field status arbor.SessionStatus Lifecycle status.
---@field statusReason? string | nil Why the session ended in its current status, when it did not end normally.
---@field taskId? string | nil The task the session works on, if any.
---@field title? string | nil Title shown in lists.
---@field titleSource? arbor.TitleSource | nil Where the title came from; null when there is no title.
---@field trialId? string | nil The trial of that task the session belongs to, if any.
---@field updatedAt integer Time of the last change, milliseconds since the Unix epoch.
---@field usage arbor.Usage Token usage and cost summed over the session.
---@field workflow? string | nil The workflow attached to the session, if any.

--- `session/changed` notification params: sent to every client whenever a session's summary changes (status, agent state, title, pin, usage …).
---@class arbor.SessionChangedNotification
---@field deleted? boolean True when the session was just deleted.
---@field session arbor.Session The session as it is now; `deleted` sessions carry their last state.

--- Per-session settings.
---@class arbor.SessionConfig
---@field host? string | nil Where the session runs: the name of one of the config file's `hosts`, or `local` for this machine. Pins the session there; default: the admission scheduler places it on the least-loaded place that can run its agent (see docs/scaling.md).
---@field hostLabels? string[] | nil Labels the host a session is placed on must have (the `labels` of a configured host); a session with labels never runs on this machine. Default none.
---@field maxMemoryMb? integer | nil The most memory a sandboxed agent may use, in MiB. Default 8192.
---@field maxProcesses? integer | nil The most processes a sandboxed agent may run at once. Default 512.
---@field maxTokens? integer | nil Output token limit for agents that accept one.
---@field network? arbor.NetworkMode | nil What a sandboxed agent may reach: `off`, `model_api` (the default) or `on`.
---@field permissionMode? arbor.PermissionMode | nil Permission mode passed to the agent. Default `ask`.
---@field sandbox? arbor.SandboxChoice | nil The sandbox the agent runs in (`none`, `auto`, `bwrap`, `landlock`, `container`). Default: the config file's `sandbox`, else `auto` for trials and `bypass_permissions`, `none` for the rest. See `docs/sandbox.md`.
---@field script? string | nil The script for the scripted agent, as text in the script format of `docs/scripted-agent.md`. Ignored by other agents. When absent the scripted agent runs its built-in demo script.
---@field sessionTimeoutSecs? integer | nil Optional limit on the whole session's running time, in seconds. Default none.
---@field startupTimeoutSecs? integer | nil Limit on starting the agent process and its handshake, in seconds. Default 60.
---@field stopWhenIdle? boolean | nil Stop the session (resumable) when a turn ends with no prompt waiting, freeing its slot in the admission queue. Trials set this; default false.
---@field systemPrompt? string | nil Extra system prompt for agents that accept one.
---@field temperature? number | nil Sampling temperature for agents that accept one.
---@field turnTimeoutSecs? integer | nil Limit on one turn, in seconds; the turn is cancelled and the session marked `timeout` when exceeded. Default 1800.

--- One session worktree's disk use.
---@class arbor.SessionDiskUse
---@field archived boolean Whether it is archived.
---@field bytes integer Bytes under the worktree (0 once archived).
---@field path string Its worktree.
---@field sessionId string The session.
---@field title? string | nil Its title, if any.

--- One thing that happened in a session.
---@alias arbor.SessionEvent
---| { kind: "user_message", text: string } # A prompt sent by the user.
---| { kind: "agent_message_chunk", text: string } # A piece of the agent's reply, in order; concatenated they form the reply. Pieces the agent sent back to back that waited together to be stored arrive joined as one.
---| { kind: "agent_thought_chunk", text: string } # A piece of the agent's visible thinking, joined like the reply's.
---| { content: arbor.ToolCallContent[], kind: "tool_call", locations: string[], rawInput?: any, status: arbor.ToolCallStatus, title: string, toolCallId: string, toolKind: arbor.ToolKind } # The agent started a tool call.
---| { content?: arbor.ToolCallContent[] | nil, kind: "tool_call_update", locations?: string[] | nil, rawInput?: any, rawOutput?: any, status?: arbor.ToolCallStatus | nil, title?: string | nil, toolCallId: string, toolKind?: arbor.ToolKind | nil } # A change to an earlier tool call. Absent fields are unchanged; `content` and `locations`, when present, replace the call's.
---| { entries: arbor.PlanEntry[], kind: "plan" } # The agent's plan for the turn.
---| { kind: "permission_request", options: arbor.PermissionOption[], requestId: string, subject?: string | nil, title: string, toolCallId?: string | nil, toolKind?: arbor.ToolKind } # The agent asks permission; answer with `session/respond`.
---| { by?: arbor.ResolvedBy | nil, kind: "permission_resolved", optionId?: string | nil, requestId: string, rule?: arbor.AppliedRule | nil } # A permission request was answered (by the policy or a client) or withdrawn.
---| { agentState?: arbor.AgentState | nil, kind: "status_changed", reason?: string | nil, status: arbor.SessionStatus } # The session's status or agent state changed.
---| { kind: "turn_ended", stopReason: arbor.StopReason } # A turn ended.
---| { costUsd?: number | nil, kind: "context_usage", size: integer, used: integer } # How full the agent's context window is, and what the session has cost so far, as the agent reports them (ACP's `usage_update`).
---| { commands: arbor.SlashCommand[], kind: "available_commands" } # The slash commands the agent offers now (ACP's `available_commands_update`); the latest one is the current list.
---| { kind: "question", message: string, requestId: string, schema: any, toolCallId?: string | nil } # The agent asks the user a structured question (ACP's `elicitation/create`); answer with `session/respond` (`optionId` `accept` with `content`, `decline` or `cancel`).
---| { action: arbor.QuestionAction, by?: arbor.ResolvedBy | nil, content?: any, kind: "question_answered", requestId: string } # A question was answered (by the user or a deny rule) or withdrawn.
---| { kind: "usage", total: arbor.Usage, turn: arbor.Usage } # Token usage reported by the agent.
---| { checkpointId: integer, commit: string, filesChanged: integer, kind: "checkpoint", label: string, reference: string } # A snapshot of the worktree's full state (untracked files included, ignored ones excluded) was committed under `refs/arbor/checkpoints/…`, without touching HEAD, the index or any branch.
---| { kind: "files_changed", paths: string[] } # Files in the worktree changed (after tool calls or a turn).
---| { kind: "rewound", savedCheckpoint: integer, toCheckpoint: integer } # The worktree was reset to an earlier checkpoint.
---| { branch?: string | nil, head: string, kind: "external_change", message: string } # Someone changed the worktree's git state outside Arbor (a commit, a checkout).
---| { kind: "notice", message: string } # Information for the user that is not part of the conversation (what a fork carries …).
---| { kind: "pr_opened", message: string, pullRequest: arbor.PullRequest } # A pull request was opened for the session's branch (`session/pr`).
---| { actions?: arbor.SuggestedAction[], changes: string[], kind: "pr_updated", message: string, pullRequest: arbor.PullRequest } # The session's pull request changed on the forge: its state, reviews, checks or merge.
---| { fatal: boolean, kind: "error", message: string } # Something went wrong. The session carries on unless `fatal` is set.

--- `session/event` notification params, and one entry of `session/events`.
---@class arbor.SessionEventNotification
---@field at integer When the event was recorded, milliseconds since the Unix epoch.
---@field event arbor.SessionEvent The event itself.
---@field seq integer Position in the session's history: 1, 2, 3 … with no gaps.
---@field sessionId string The session the event belongs to.

--- Params naming one session.
---@class arbor.SessionIdParams
---@field sessionId string The session's Arbor id.

--- How a session is confined, as shown on the session.
---@class arbor.SessionSandbox
---@field backend arbor.SandboxBackend The backend actually used.
---@field limitsEnforcedBy string What enforces the limits: `cgroup` or `rlimit`.
---@field maxMemoryMb integer The most memory the session's agent may use, in MiB.
---@field maxProcesses integer The most processes the session's agent may run at once.
---@field network arbor.NetworkMode The network mode.
---@field reason? string | nil Why the session runs unconfined when a sandbox was wanted (`auto` with no backend here).

--- Lifecycle of a session. `pending → creating → running → (stopping → stopped) | completed | failed | timeout | dead`.
---@alias arbor.SessionStatus
---| "pending" # Accepted, not yet being set up.
---| "creating" # Branch, worktree and agent process are being set up.
---| "running" # The agent process is live; see `agentState` for what it is doing.
---| "stopping" # A graceful stop is under way.
---| "stopped" # Stopped on request; resumable.
---| "completed" # The agent finished the conversation by itself.
---| "failed" # The agent or its setup failed; resumable when the agent has a resume id.
---| "timeout" # A turn, the whole session or the start-up exceeded its time limit; resumable.
---| "dead" # The agent process vanished, or the server crashed while the session ran; resumable.

--- A file two or more trials changed.
---@class arbor.SharedFile
---@field path string The file.
---@field trials integer[] The trials that changed it, by number.

--- One slash command an agent offers.
---@class arbor.SlashCommand
---@field description string What it does.
---@field hint? string | nil A hint for its input, when it takes one.
---@field name string The name, without the slash.

--- Why a turn ended.
---@alias arbor.StopReason
---| "end_turn" # The agent finished its reply.
---| "cancelled" # The turn was interrupted.
---| "max_tokens" # The agent hit its output limit.
---| "refusal" # The agent refused.
---| "max_turn_requests" # The agent hit its limit of model requests for one turn.
---| "error" # The turn failed; an `error` event says why.
---| "timeout" # The turn exceeded its time limit.

--- `session/subscribe` params.
---@class arbor.SubscribeParams
---@field afterSeq? integer | nil Replay events with a seq greater than this before the live ones; default 0 (everything).
---@field sessionId string The session to watch.

--- `session/subscribe` result. The replayed and live events arrive as `session/event` notifications, each seq exactly once and in order.
---@class arbor.SubscribeResult
---@field lastSeq integer The session's newest seq when the subscription started; replay covers up to here.

--- Something a client can offer the user after a pull request event, described fully enough to be done without knowing the event: a label for a button and the request to send.
---@class arbor.SuggestedAction
---@field id string Stable id (`delete_session`, `send_review`, `open_pull_request`).
---@field label string Label for a button or menu entry.
---@field method string The request that does it.
---@field params any Its params.

--- An objective, such as "add E2E tests for the login flow".
---@class arbor.Task
---@field baseBranch string Branch trials start from and the promoted trial merges into.
---@field checkCommand? string | nil Command that checks a trial (such as the test suite), run in the trial's worktree.
---@field createdAt integer Creation time, milliseconds since the Unix epoch.
---@field description string What is wanted; the default prompt of its trials.
---@field id string Arbor's id for the task.
---@field permissions? arbor.PermissionRule[] The task's permission rules, applied to every trial: those given to `task/new`, then "allow always" answers given in its trials, in order.
---@field project string Root of the repository the task works on.
---@field setupCommand? string | nil Command run in each new trial worktree before its agent starts.
---@field status arbor.TaskStatus Follows the trials.
---@field title string Short title.
---@field updatedAt integer Time of the last change, milliseconds since the Unix epoch.
---@field workflow? string | nil Workflow attached to the task's trials.

--- `task/changed` notification params.
---@class arbor.TaskChangedNotification
---@field task arbor.Task The task as it is now.

--- `task/get` result.
---@class arbor.TaskDetail
---@field task arbor.Task The task.
---@field trials arbor.TrialDetail[] Its trials, in order.

--- Params naming one task.
---@class arbor.TaskIdParams
---@field taskId string The task.

--- `task/list` params.
---@class arbor.TaskListParams
---@field status? arbor.TaskStatus[] | nil Only tasks in these statuses.

--- `task/list` result.
---@class arbor.TaskListResult
---@field tasks arbor.Task[] Newest first.

--- `task/new` params.
---@class arbor.TaskNewParams
---@field baseBranch? string | nil Base branch; default the repository's current branch.
---@field checkCommand? string | nil Check command, such as `cargo test`.
---@field cwd string A directory inside the repository to work on.
---@field description? string | nil What is wanted; default the title.
---@field permissions? arbor.PermissionRule[] Permission rules for every trial of the task.
---@field setupCommand? string | nil Setup command run in each new trial worktree.
---@field title string Short title.
---@field workflow? string | nil Workflow attached to the task's trials.

--- Where a task stands, following its trials.
---@alias arbor.TaskStatus
---| "open" # No trial yet.
---| "running" # At least one trial is waiting or working.
---| "done" # Every trial has finished; none promoted yet.
---| "promoted" # A trial was promoted into the base branch.
---| "abandoned" # Every trial was abandoned.

--- Where a session's title came from. A title is replaced only by one from an equal or higher source: (no title) < prompt < auto < user, so a user's title is never overwritten.
---@alias arbor.TitleSource
---| "prompt" # Taken from the first prompt.
---| "auto" # Proposed by the agent or the server.
---| "user" # Set by the user.

--- Something a tool call produced.
---@alias arbor.ToolCallContent
---| { text: string, type: "text" } # Plain text.
---| { newText: string, oldText?: string | nil, path: string, type: "diff" } # A file change.
---| { exitCode?: integer | nil, output: string, type: "terminal" } # Output of a command.

--- Progress of a tool call.
---@alias arbor.ToolCallStatus
---| "pending" # Not started (waiting for input or permission).
---| "in_progress" # Running.
---| "completed" # Finished successfully.
---| "failed" # Failed or was refused.

--- The sort of action a tool performs (ACP's ToolKind).
---@alias arbor.ToolKind
---| "read" # Reads files or data.
---| "edit" # Modifies files.
---| "delete" # Deletes files.
---| "move" # Moves or renames files.
---| "search" # Searches.
---| "execute" # Runs a command.
---| "think" # Thinks or plans.
---| "fetch" # Fetches from the network.
---| "other" # Anything else.

--- One attempt at a task.
---@class arbor.Trial
---@field agent string Agent id.
---@field check? arbor.CheckResult | nil The latest check, if any.
---@field createdAt integer Creation time, milliseconds since the Unix epoch.
---@field id string Arbor's id for the trial.
---@field model? string | nil Model, if chosen.
---@field number integer 1, 2, 3 … within the task.
---@field profile? string | nil Agent profile, if one was used.
---@field prompt string The prompt given.
---@field sessionIds string[] Its sessions, oldest first (a follow-up session after a failed one joins the same trial).
---@field status arbor.TrialStatus Follows its latest session.
---@field taskId string The task.

--- A trial with its sessions.
---@class arbor.TrialDetail
---@field sessions arbor.Session[] Its sessions, oldest first.
---@field trial arbor.Trial The trial.

--- Params naming one trial.
---@class arbor.TrialIdParams
---@field trialId string The trial.

--- `trial/new` params: one or several trials at once.
---@class arbor.TrialNewParams
---@field taskId string The task.
---@field trials arbor.TrialSpec[] The trials to start, e.g. the same prompt on three agents.

--- `trial/new` result.
---@class arbor.TrialNewResult
---@field trials arbor.TrialDetail[] The trials started, each with its first session.

--- `trial/push` params.
---@class arbor.TrialPushParams
---@field remote? string | nil The remote, as in `session/push`.
---@field trialId string The trial whose latest session's branch to push (its remaining work committed first).

--- `trial/retry` params: a follow-up session in the same trial, fresh from the base.
---@class arbor.TrialRetryParams
---@field prompt? string | nil Prompt; default the trial's.
---@field trialId string The trial.

--- One trial to start.
---@class arbor.TrialSpec
---@field agent? string | nil Agent id; may be left out when `profile` names one.
---@field config? arbor.SessionConfig | nil Session settings (for the scripted agent, its script).
---@field model? string | nil Model.
---@field profile? string | nil Agent profile from the config file.
---@field prompt? string | nil Prompt; default the task's description.

--- Where a trial stands, following its latest session.
---@alias arbor.TrialStatus
---| "pending" # Its session waits to start.
---| "running" # Its agent is working.
---| "done" # Its agent finished its turn.
---| "failed" # Its session failed, timed out or died.
---| "promoted" # It was promoted into the task's base branch.
---| "abandoned" # Another trial was promoted, or it was given up.

--- Token counts and cost.
---@class arbor.Usage
---@field cacheReadTokens integer Input tokens read from the prompt cache.
---@field cacheWriteTokens integer Input tokens written to the prompt cache.
---@field costEstimated? boolean True when some of `costUsd` is Arbor's estimate rather than a figure the agent reported.
---@field costUsd number Cost in US dollars: as reported by the agent, or estimated from the token counts and a price table when the agent reports tokens but no cost (then `costEstimated` is true).
---@field inputTokens integer Input tokens, not counting cache reads.
---@field outputTokens integer Output tokens.

--- LSP's work-done progress values, as Arbor sends them.
---@alias arbor.WorkDoneProgress
---| { cancellable: boolean, kind: "begin", percentage: integer, title: string } # The operation started.
---| { kind: "report", message: string, percentage: integer } # A step.
---| { kind: "end", message: string } # The operation ended.

--- A named prompt plan.
---@class arbor.Workflow
---@field name string Its name (the file name without `.md`).
---@field path string The file it comes from.
---@field text string Its text.
---@field title string Its first heading, or the name.

--- `workflow/list` params.
---@class arbor.WorkflowListParams
---@field cwd? string | nil A directory in the repository whose `.arbor/workflows/` to read, besides the user's.

--- `workflow/list` result.
---@class arbor.WorkflowListResult
---@field workflows arbor.Workflow[] Repository workflows first (they win over the user's of the same name).

local M = {}

--- The protocol version this client speaks; the server reports its own in `initialize`.
M.PROTOCOL_VERSION = 1

--- Every request of the protocol, by its name in the method table.
M.method = {
  -- Agents found on this machine. Params: arbor.NoParams; result: arbor.AgentsListResult.
  agents_list = 'agents/list',
  -- Have an agent log in with one of its login methods that needs no terminal. Params: arbor.AuthenticateParams; result: arbor.Ack.
  agents_authenticate = 'agents/authenticate',
  -- This machine and the configured hosts: their limits, running sessions and last reported load. Params: arbor.NoParams; result: arbor.HostListResult.
  host_list = 'host/list',
  -- Create and start a session. Params: arbor.NewSessionParams; result: arbor.Session.
  session_new = 'session/new',
  -- List sessions with filters. Params: arbor.ListSessionsParams; result: arbor.ListSessionsResult.
  session_list = 'session/list',
  -- Read one session. Params: arbor.SessionIdParams; result: arbor.Session.
  session_get = 'session/get',
  -- Send a message to a session's agent. Params: arbor.PromptParams; result: arbor.PromptResult.
  session_prompt = 'session/prompt',
  -- Interrupt the current turn. Params: arbor.SessionIdParams; result: arbor.Ack.
  session_cancel = 'session/cancel',
  -- Stop a session gracefully; it can be resumed later. Params: arbor.SessionIdParams; result: arbor.Session.
  session_stop = 'session/stop',
  -- Start a stopped, dead, failed or timed-out session again. Params: arbor.ResumeParams; result: arbor.Session.
  session_resume = 'session/resume',
  -- Change a session's title, pin, hidden flag, permission mode, model or extra directories. Params: arbor.ConfigureParams; result: arbor.ConfigureResult.
  session_configure = 'session/configure',
  -- Put pinned sessions in an order. Params: arbor.PinOrderParams; result: arbor.PinOrderResult.
  session_pin_order = 'session/pinOrder',
  -- Remove a session. Params: arbor.DeleteParams; result: arbor.DeleteResult.
  session_delete = 'session/delete',
  -- Read a page of a session's event history. Params: arbor.EventsParams; result: arbor.EventsResult.
  session_events = 'session/events',
  -- Replay a session's history after a seq, then receive its live events. Params: arbor.SubscribeParams; result: arbor.SubscribeResult.
  session_subscribe = 'session/subscribe',
  -- Stop receiving a session's live events. Params: arbor.SessionIdParams; result: arbor.Ack.
  session_unsubscribe = 'session/unsubscribe',
  -- Answer a permission request. Params: arbor.RespondParams; result: arbor.Ack.
  session_respond = 'session/respond',
  -- Export a session's conversation (Markdown, HTML, JSON or PDF). Params: arbor.ExportParams; result: arbor.ExportResult.
  session_export = 'session/export',
  -- List a session's checkpoints. Params: arbor.SessionIdParams; result: arbor.CheckpointsResult.
  session_checkpoints = 'session/checkpoints',
  -- Start a new session from a checkpoint of another. Params: arbor.ForkParams; result: arbor.Session.
  session_fork = 'session/fork',
  -- Start a new session with the same settings and a fresh history. Params: arbor.CloneParams; result: arbor.Session.
  session_clone = 'session/clone',
  -- Reset a session's worktree to a checkpoint. Params: arbor.RewindParams; result: arbor.RewindResult.
  session_rewind = 'session/rewind',
  -- Merge a session's branch into its base branch. Params: arbor.MergeParams; result: arbor.MergeResult.
  session_merge = 'session/merge',
  -- Push a session's branch to the repository's remote. Params: arbor.PushParams; result: arbor.PushResult.
  session_push = 'session/push',
  -- Push the session's branch and open a pull request for it on the forge. Params: arbor.PullRequestParams; result: arbor.PullRequest.
  session_pr = 'session/pr',
  -- Send the pull request's reviews and review comments to the session's agent as a prompt. Params: arbor.SessionIdParams; result: arbor.SendReviewResult.
  session_send_review = 'session/sendReview',
  -- A session's changes against its base. Params: arbor.DiffParams; result: arbor.ReviewDiff.
  review_diff = 'review/diff',
  -- A file's base and current text. Params: arbor.FileParams; result: arbor.ReviewFile.
  review_file = 'review/file',
  -- Accept or reject hunks or files. Params: arbor.ApplyParams; result: arbor.ReviewDiff.
  review_apply = 'review/apply',
  -- Commit a session's worktree on its branch. Params: arbor.CommitParams; result: arbor.CommitResult.
  review_commit = 'review/commit',
  -- Worktrees no session accounts for. Params: arbor.NoParams; result: arbor.OrphansResult.
  worktree_orphans = 'worktree/orphans',
  -- Stop a session, commit its leftovers and remove its worktree, keeping branch and history. Params: arbor.SessionIdParams; result: arbor.ArchiveResult.
  session_archive = 'session/archive',
  -- Disk use of session worktrees, and archiving by the retention policy (optionally orphans). Params: arbor.GcParams; result: arbor.GcResult.
  worktree_gc = 'worktree/gc',
  -- Create a task. Params: arbor.TaskNewParams; result: arbor.Task.
  task_new = 'task/new',
  -- List tasks. Params: arbor.TaskListParams; result: arbor.TaskListResult.
  task_list = 'task/list',
  -- A task with its trials and their sessions. Params: arbor.TaskIdParams; result: arbor.TaskDetail.
  task_get = 'task/get',
  -- Start one or several trials of a task. Params: arbor.TrialNewParams; result: arbor.TrialNewResult.
  trial_new = 'trial/new',
  -- A follow-up session in a trial. Params: arbor.TrialRetryParams; result: arbor.TrialDetail.
  trial_retry = 'trial/retry',
  -- Run the task's check command in a trial's worktree. Params: arbor.TrialIdParams; result: arbor.CheckResult.
  trial_check = 'trial/check',
  -- Compare a task's trials. Params: arbor.TaskIdParams; result: arbor.CompareResult.
  trial_compare = 'trial/compare',
  -- Commit a trial's remaining work and push its branch. Params: arbor.TrialPushParams; result: arbor.PushResult.
  trial_push = 'trial/push',
  -- Merge a trial into the task's base and abandon the others. Params: arbor.PromoteParams; result: arbor.PromoteResult.
  trial_promote = 'trial/promote',
  -- Workflows available to a repository. Params: arbor.WorkflowListParams; result: arbor.WorkflowListResult.
  workflow_list = 'workflow/list',
  -- Agent profiles from the config file. Params: arbor.NoParams; result: arbor.ProfileListResult.
  profile_list = 'profile/list',
  -- A profile's memory and its saved versions. Params: arbor.ProfileMemoryParams; result: arbor.ProfileMemoryResult.
  profile_memory = 'profile/memory',
  -- Make an earlier version of a profile's memory the current one again. Params: arbor.MemoryRestoreParams; result: arbor.ProfileMemoryResult.
  profile_memory_restore = 'profile/memoryRestore',
}

--- Every notification the server sends, by its name in the method table.
M.notification = {
  -- One event of a subscribed session. Params: arbor.SessionEventNotification.
  session_event = 'session/event',
  -- A session's summary changed (status, agent state, title, usage …) or it was deleted. Params: arbor.SessionChangedNotification.
  session_changed = 'session/changed',
  -- A task changed (its status follows its trials). Params: arbor.TaskChangedNotification.
  task_changed = 'task/changed',
  -- LSP work-done progress of a long request that was given a `workDoneToken`. Params: arbor.ProgressNotification.
  progress = '$/progress',
}

return M
