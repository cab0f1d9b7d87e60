// The command palette: each command is a factory over the Ctx, so tests can build and run them
// against a fake connection and a mocked vscode.

import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { pullRequestName, sandboxReportLines, sandboxWords } from './model';
import { RequestType } from 'vscode-jsonrpc';
import { AgentInfo, CheckResult, CompareResult, ConfigureParams, ConfigureResult, MergeResult, Method, PermissionMode, PullRequest, PushResult, SandboxReport, Session, Task, TaskDetail } from './protocol';

type Factory = (ctx: Ctx) => (...args: any[]) => Promise<unknown>;

function config<T>(key: string): T | undefined {
  return vscode.workspace.getConfiguration('arbor').get<T>(key);
}

/// The repository new work starts from, or undefined after telling the user what to open.
function repositoryRoot(ctx: Ctx): string | undefined {
  const root = ctx.repositoryRoot();
  if (!root) void vscode.window.showErrorMessage('Arbor: open a folder in a git repository first (File: Open Folder…)');
  return root;
}

function titleOf(ctx: Ctx, sessionId: string): string {
  return `"${ctx.store.sessions.get(sessionId)?.title ?? 'Untitled session'}"`;
}

async function pickAgent(ctx: Ctx): Promise<{ agent: string; model?: string } | undefined> {
  const result = await ctx.request(Method.AgentsList);
  if (!result) return undefined;
  const preferred = config<string>('defaultAgent');
  const available = result.agents.filter((agent) => agent.available).sort((a, b) => Number(b.id === preferred) - Number(a.id === preferred));
  const agent = await vscode.window.showQuickPick(
    available.map((info) => ({ label: info.name, description: info.version ?? '', detail: info.description, info })),
    { placeHolder: 'Agent' },
  );
  if (!agent) return undefined;
  const preferredModel = config<string>('defaultModel');
  let model: string | undefined = preferredModel || undefined;
  if (!model && agent.info.models.length > 1) {
    model = (await vscode.window.showQuickPick(agent.info.models, { placeHolder: 'Model' })) ?? undefined;
  }
  return { agent: agent.info.id, model };
}

const newSession: Factory = (ctx) => async () => {
  const cwd = repositoryRoot(ctx);
  if (!cwd) return;
  const choice = await pickAgent(ctx);
  if (!choice) return;
  const editor = vscode.window.activeTextEditor;
  const selection = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : '';
  const prompt = await vscode.window.showInputBox({ prompt: 'What should the agent do?', value: selection });
  if (!prompt) return;
  const session = await ctx.request(Method.SessionNew, {
    cwd,
    agent: choice.agent,
    model: choice.model,
    prompt,
    config: { permissionMode: config<PermissionMode>('permissionMode') ?? 'ask' },
  });
  if (session) {
    ctx.store.applySession(session);
    ctx.currentSession = session.id;
    await ctx.views.showChat(session.id);
  }
  return session;
};

const sendMessage: Factory = (ctx) => async (given?: { session?: Session }, text?: string) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) {
    if (ctx.store.sessions.size === 0) void vscode.window.showInformationMessage('Arbor: there is no session to send to; start one with Arbor: New Session');
    return;
  }
  const message = text ?? (await vscode.window.showInputBox({ prompt: `Message to ${titleOf(ctx, sessionId)}` }));
  if (message) return ctx.request(Method.SessionPrompt, { sessionId, text: message });
};

function simple<R>(method: RequestType<{ sessionId: string }, R, void>, done?: (ctx: Ctx, result: R) => Promise<void> | void): Factory {
  return (ctx) => async (given?: { session?: Session }) => {
    const sessionId = await ctx.session(given);
    if (!sessionId) return;
    const result = await ctx.request(method, { sessionId });
    if (result !== undefined && done) await done(ctx, result);
    return result;
  };
}

const openNew = async (ctx: Ctx, session: Session) => {
  ctx.store.applySession(session);
  ctx.currentSession = session.id;
  await ctx.views.showChat(session.id);
};

const rename: Factory = (ctx) => async (given?: { session?: Session }, title?: string) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const newTitle = title ?? (await vscode.window.showInputBox({ prompt: 'Title', value: ctx.store.sessions.get(sessionId)?.title ?? '' }));
  if (newTitle) return ctx.request(Method.SessionConfigure, { sessionId, title: newTitle });
};

const MODES: { mode: PermissionMode; label: string; detail: string }[] = [
  { mode: 'ask', label: 'Ask', detail: 'The agent asks before it edits files or runs commands' },
  { mode: 'accept_edits', label: 'Accept edits', detail: 'File edits go ahead; commands still ask' },
  { mode: 'bypass_permissions', label: 'Bypass permissions', detail: 'Nothing asks (deny rules still hold)' },
];

/// Change Mode and Model: the session's permission mode and model, passed on to its running agent
/// (`session/configure`); only what the user changed is sent.
const configureSession: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const session = ctx.store.sessions.get(sessionId);
  const currentMode = session?.config?.permissionMode ?? 'ask';
  const mode = await vscode.window.showQuickPick(
    MODES.map((entry) => ({ ...entry, description: entry.mode === currentMode ? 'current' : undefined })),
    { placeHolder: `Permission mode of ${titleOf(ctx, sessionId)}` },
  );
  if (!mode) return;
  const agents = await ctx.request(Method.AgentsList);
  if (!agents) return;
  const offered = agents.agents.find((agent) => agent.id === session?.agent)?.models ?? [];
  const currentModel = session?.agentModel ?? session?.model ?? '';
  const model = offered.length
    ? (await vscode.window.showQuickPick(
        offered.map((label) => ({ label, description: label === currentModel ? 'current' : undefined })),
        { placeHolder: 'Model' },
      ))?.label
    : await vscode.window.showInputBox({ prompt: 'Model (empty keeps the agent\'s own)', value: currentModel });
  if (model === undefined) return;
  const change: ConfigureParams = { sessionId };
  if (mode.mode !== currentMode) change.permissionMode = mode.mode;
  if (model && model !== currentModel) change.model = model;
  if (Object.keys(change).length === 1) return;
  const result = await ctx.request(Method.SessionConfigure, change);
  if (result) {
    ctx.store.applySession(result);
    ctx.views.refreshTree();
  }
  return result;
};

/// Pin, Unpin, Hide, Unhide: set one flag of the session (the menus offer the one that applies).
function setFlag(field: 'pinned' | 'hidden', value: boolean): Factory {
  return (ctx) => async (given?: { session?: Session }) => {
    const sessionId = await ctx.session(given);
    if (!sessionId) return;
    const result = await ctx.request(Method.SessionConfigure, { sessionId, [field]: value });
    if (result) {
      const { unpinned = [], ...session } = result;
      ctx.store.applySession(session);
      // The server unpinned the oldest pins to stay within its maxPinnedSessions.
      for (const id of unpinned) {
        const old = ctx.store.sessions.get(id);
        if (old) ctx.store.applySession({ ...old, pinned: false, pinOrder: null, pinnedAt: null });
      }
      if (unpinned.length) {
        const names = unpinned.map((id) => titleOf(ctx, id)).join(', ');
        void vscode.window.showInformationMessage(`Arbor: unpinned ${names} to make room (the maximum number of pins was reached).`);
      }
      ctx.views.refreshTree();
    }
    return result;
  };
}

const archiveSession: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const title = titleOf(ctx, sessionId);
  const result = await ctx.request(Method.SessionArchive, { sessionId });
  if (result) {
    const branch = result.session.branch ?? 'its branch';
    void vscode.window.showInformationMessage(`Arbor: archived ${title}; its work is on ${branch}. Resume it to get the worktree back.`);
  }
  return result;
};

const deleteSession: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const title = titleOf(ctx, sessionId);
  const answer = await vscode.window.showWarningMessage(`Delete the session ${title}? Its branch is kept.`, { modal: true }, 'Delete');
  if (answer !== 'Delete') return;
  const result = await ctx.request(Method.SessionDelete, { sessionId });
  if (result) void vscode.window.showInformationMessage(`Arbor: deleted ${title}${result.keptBranch ? `; its work is on ${result.keptBranch}` : ''}`);
  if (ctx.currentSession === sessionId) ctx.currentSession = undefined;
  return result;
};

const exportSession: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  // The default is a named file in the repository's folder, never inside the agent's worktree.
  const session = ctx.store.sessions.get(sessionId);
  const folder = session?.repoRoot ?? ctx.repositoryRoot();
  const name = `${exportName(session?.title ?? 'session')}.md`;
  const target = await vscode.window.showSaveDialog({
    defaultUri: folder ? vscode.Uri.file(`${folder}/${name}`) : undefined,
    filters: { Markdown: ['md'], HTML: ['html'], JSON: ['json'], PDF: ['pdf'] },
    saveLabel: 'Export',
    title: `Export ${titleOf(ctx, sessionId)}`,
  });
  if (!target) return;
  const extension = target.fsPath.split('.').pop();
  const format = extension === 'html' || extension === 'json' || extension === 'pdf' ? extension : 'markdown';
  const result = await ctx.request(Method.SessionExport, { sessionId, format });
  if (!result) return;
  // A PDF arrives base64-encoded; text formats arrive as the text itself.
  await vscode.workspace.fs.writeFile(target, Buffer.from(result.content, result.encoding === 'base64' ? 'base64' : 'utf8'));
  void vscode.window.showInformationMessage(`Arbor: exported ${titleOf(ctx, sessionId)} to ${target.fsPath}`, 'Open').then((answer) => {
    if (answer !== 'Open') return;
    // A PDF opens in the system's viewer; the others open as text.
    if (format === 'pdf') void vscode.env.openExternal(target);
    else void vscode.window.showTextDocument(target);
  });
  return target;
};

/// A file name from a title: lower case words joined by dashes.
export function exportName(title: string): string {
  const words = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  return `arbor-${words || 'session'}`;
}

const newTask: Factory = (ctx) => async () => {
  const cwd = repositoryRoot(ctx);
  if (!cwd) return;
  const title = await vscode.window.showInputBox({ prompt: 'Task title' });
  if (!title) return;
  const description = await vscode.window.showInputBox({ prompt: 'What is wanted (the trials\' default prompt)' });
  const checkCommand = await vscode.window.showInputBox({ prompt: 'Check command, such as the test suite (optional)' });
  const task = await ctx.request(Method.TaskNew, { title, description: description || undefined, cwd, checkCommand: checkCommand || undefined });
  if (!task) return;
  ctx.store.applyTask(task);
  ctx.views.refreshTree();
  const answer = await vscode.window.showInformationMessage(`Arbor: created the task "${task.title}"`, 'New Trials');
  if (answer === 'New Trials') await vscode.commands.executeCommand('arbor.newTrials', { task });
  return task;
};

/// How many trials per agent: one agent picked runs two by default (the point is to compare).
async function pickCount(agents: number): Promise<number | undefined> {
  const options = agents === 1 ? ['2', '1', '3', '4'] : ['1', '2', '3'];
  const picked = await vscode.window.showQuickPick(options.map((label) => ({ label, description: label === '1' ? 'trial per agent' : 'trials per agent' })), { placeHolder: 'Trials per agent' });
  return picked ? Number(picked.label) : undefined;
}

async function pickTask(ctx: Ctx, given?: { task?: Task }): Promise<Task | undefined> {
  if (given?.task) return given.task;
  const tasks = [...ctx.store.tasks.values()];
  const picked = await vscode.window.showQuickPick(tasks.map((task) => ({ label: task.title, description: task.status, task })), { placeHolder: 'Task' });
  return picked?.task;
}

const newTrials: Factory = (ctx) => async (given?: { task?: Task }) => {
  const task = await pickTask(ctx, given);
  if (!task) {
    if (ctx.store.tasks.size === 0) void vscode.window.showInformationMessage('Arbor: there is no task yet; create one with Arbor: New Task');
    return;
  }
  const result = await ctx.request(Method.AgentsList);
  if (!result) return;
  const picked = await vscode.window.showQuickPick(
    result.agents.filter((agent) => agent.available).map((agent) => ({ label: agent.name, id: agent.id })),
    { canPickMany: true, placeHolder: 'One trial per agent picked' },
  );
  if (!picked || picked.length === 0) return;
  const count = await pickCount(picked.length);
  if (!count) return;
  const trials = picked.flatMap((agent) => Array.from({ length: count }, () => ({ agent: agent.id })));
  const started = await ctx.request(Method.TrialNew, { taskId: task.id, trials });
  if (!started) return;
  await ctx.loadTrials(task.id);
  ctx.views.refreshTree();
  void vscode.window.showInformationMessage(`Arbor: started ${trials.length} trial${trials.length === 1 ? '' : 's'} of "${task.title}"`);
  return started;
};

const compareTrials: Factory = (ctx) => async (given?: { task?: Task }) => {
  const task = await pickTask(ctx, given);
  if (task) await ctx.views.showCompare(task.id);
  return task;
};

/// The trial a command acts on: the one given (a tree row, the comparison), or one picked.
async function pickTrial(ctx: Ctx, given: { trialId?: string } | undefined, placeHolder: string): Promise<{ trialId: string; label: string; task: Task | undefined } | undefined> {
  if (given?.trialId) {
    for (const [taskId, trials] of ctx.store.trials) {
      const trial = trials.find((candidate) => candidate.trialId === given.trialId);
      if (trial) return { trialId: trial.trialId, label: `trial ${trial.number} (${trial.agent})`, task: ctx.store.tasks.get(taskId) };
    }
    return { trialId: given.trialId, label: 'the trial', task: undefined };
  }
  const task = await pickTask(ctx);
  if (!task) return undefined;
  const compare = await ctx.request(Method.TrialCompare, { taskId: task.id });
  const row = await vscode.window.showQuickPick(
    (compare?.rows ?? []).map((row) => ({ label: `Trial ${row.number}`, description: `${row.agent} · ${row.status}`, row })),
    { placeHolder },
  );
  return row ? { trialId: row.row.trialId, label: `trial ${row.row.number} (${row.row.agent})`, task } : undefined;
}

const promoteTrial: Factory = (ctx) => async (given?: { trialId?: string }) => {
  const trial = await pickTrial(ctx, given, 'Trial to promote');
  if (!trial) return;
  const base = trial.task?.baseBranch ?? "the task's base branch";
  const answer = await vscode.window.showWarningMessage(`Promote ${trial.label}${trial.task ? ` of "${trial.task.title}"` : ''}? Its branch is merged into ${base} and the other trials are abandoned.`, { modal: true }, 'Promote');
  if (answer !== 'Promote') return;
  const result = await ctx.request(Method.TrialPromote, { trialId: trial.trialId });
  if (!result) return;
  if (result.merge.merged) void vscode.window.showInformationMessage(`Arbor: promoted ${trial.label} into ${result.merge.baseBranch}; ${result.abandoned.length} other trial${result.abandoned.length === 1 ? '' : 's'} abandoned`);
  else void vscode.window.showWarningMessage(`Arbor: ${trial.label} was not promoted; conflicts in ${result.merge.conflicts.join(', ')}`);
  return result;
};

const checkTrial: Factory = (ctx) => async (given?: { trialId?: string }) => {
  const trial = await pickTrial(ctx, given, 'Trial to check');
  if (!trial) return;
  if (trial.task && !trial.task.checkCommand) {
    void vscode.window.showWarningMessage(`Arbor: the task "${trial.task.title}" has no check command`);
    return;
  }
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Arbor: checking ${trial.label}…` }, () =>
    ctx.request(Method.TrialCheck, { trialId: trial.trialId }),
  );
  if (!result) return;
  const message = `Arbor: the check of ${trial.label} ${result.passed ? 'passed' : 'failed'}: ${result.summary || `exit code ${result.exitCode}`}`;
  if (result.passed) void vscode.window.showInformationMessage(message);
  else void vscode.window.showWarningMessage(message);
  return result;
};

const reviewChanges: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const session = await ctx.request(Method.SessionGet, { sessionId });
  if (session) await ctx.views.startReview(session);
  return session;
};

const commit: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const message = await vscode.window.showInputBox({ prompt: 'Commit message (empty: made from the session)' });
  if (message === undefined) return;
  const result = await ctx.request(Method.ReviewCommit, { sessionId, message: message || undefined });
  if (result) void vscode.window.showInformationMessage(`Arbor: committed ${result.commit.slice(0, 12)} on ${ctx.store.sessions.get(sessionId)?.branch ?? 'the session branch'} (${result.filesChanged} file${result.filesChanged === 1 ? '' : 's'})`);
  return result;
};

const merge: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const session = ctx.store.sessions.get(sessionId);
  const answer = await vscode.window.showWarningMessage(`Merge ${session?.branch ?? "the session's branch"} of ${titleOf(ctx, sessionId)} into ${session?.baseBranch ?? 'its base branch'}?`, { modal: true }, 'Merge', 'Squash');
  if (!answer) return;
  const result = await ctx.request(Method.SessionMerge, { sessionId, strategy: answer === 'Squash' ? 'squash' : 'merge' });
  if (result?.merged) void vscode.window.showInformationMessage(`Arbor: merged ${session?.branch ?? titleOf(ctx, sessionId)} into ${result.baseBranch}`);
  else if (result) void vscode.window.showWarningMessage(`Arbor: not merged; conflicts in ${result.conflicts.join(', ')}`);
  return result;
};

const push: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const result = await ctx.request(Method.SessionPush, { sessionId });
  if (result) void vscode.window.showInformationMessage(`Arbor: pushed ${result.branch} to ${result.remote} (${result.remoteUrl})`);
  return result;
};

/// Pushes the branch and opens its pull request, ready for review or as a draft.
const createPullRequest: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const session = ctx.store.sessions.get(sessionId);
  const kind = await vscode.window.showQuickPick(
    [
      { label: 'Ready for review', draft: false },
      { label: 'Draft', draft: true },
    ],
    { placeHolder: `Pull request from ${session?.branch ?? "the session's branch"} into ${session?.baseBranch ?? 'its base branch'}` },
  );
  if (!kind) return;
  const pull = await ctx.request(Method.SessionPr, { sessionId, draft: kind.draft });
  if (!pull) return;
  const answer = await vscode.window.showInformationMessage(`Arbor: opened ${pullRequestName(pull)} on ${pull.repository}`, 'Open Pull Request');
  if (answer === 'Open Pull Request') await vscode.env.openExternal(vscode.Uri.parse(pull.url));
  return pull;
};

const openPullRequest: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const pull = ctx.store.sessions.get(sessionId)?.pullRequest;
  if (!pull) {
    void vscode.window.showInformationMessage(`Arbor: ${titleOf(ctx, sessionId)} has no pull request yet; create one with Arbor: Create Pull Request`);
    return;
  }
  await vscode.env.openExternal(vscode.Uri.parse(pull.url));
  return pull.url;
};

/// "Send the review to the agent": the pull request's review comments become the agent's next prompt.
const sendReview: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const result = await ctx.request(Method.SessionSendReview, { sessionId });
  if (result) {
    const when = result.queued ? 'after its current turn' : 'now';
    void vscode.window.showInformationMessage(`Arbor: sent ${result.comments} review comment${result.comments === 1 ? '' : 's'} to the agent (${when})`);
  }
  return result;
};

/// After the pull request was merged on the forge: deletes the session with its branch and
/// worktree (the server allows it while the branch is at the merged commit).
const deleteMerged: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const session = ctx.store.sessions.get(sessionId);
  const answer = await vscode.window.showWarningMessage(
    `Delete the session ${titleOf(ctx, sessionId)} with its branch ${session?.branch ?? ''} and worktree? Its pull request was merged.`,
    { modal: true },
    'Delete',
  );
  if (answer !== 'Delete') return;
  return ctx.request(Method.SessionDelete, { sessionId, deleteBranch: true });
};

const openSession: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  ctx.currentSession = sessionId;
  await ctx.views.showChat(sessionId);
  return sessionId;
};

/// What the server's machine offers for sandboxing sessions, and how the current session is
/// confined, in one message.
const showSandbox: Factory = (ctx) => async () => {
  const result = await ctx.request(Method.AgentsList);
  if (!result) return;
  const current = ctx.currentSession ? ctx.store.sessions.get(ctx.currentSession) : undefined;
  const lines = sandboxReportLines(result.sandbox);
  if (current) lines.push(`${titleOf(ctx, current.id)}: ${sandboxWords(current.sandbox)}`);
  const headline = result.sandbox.auto ? `Arbor: sandboxes by ${result.sandbox.auto} here` : 'Arbor: no sandbox works here';
  await vscode.window.showInformationMessage(headline, { modal: true, detail: lines.join('\n') });
  return lines;
};

/// Every command, by id.
export const commands: Record<string, Factory> = {
  'arbor.newSession': newSession,
  'arbor.sendMessage': sendMessage,
  'arbor.cancel': simple(Method.SessionCancel),
  'arbor.stop': simple(Method.SessionStop),
  'arbor.resume': simple(Method.SessionResume),
  'arbor.fork': simple(Method.SessionFork, openNew),
  'arbor.clone': simple(Method.SessionClone, openNew),
  'arbor.rename': rename,
  'arbor.configureSession': configureSession,
  'arbor.pin': setFlag('pinned', true),
  'arbor.unpin': setFlag('pinned', false),
  'arbor.hide': setFlag('hidden', true),
  'arbor.unhide': setFlag('hidden', false),
  'arbor.archive': archiveSession,
  'arbor.delete': deleteSession,
  'arbor.export': exportSession,
  'arbor.newTask': newTask,
  'arbor.newTrials': newTrials,
  'arbor.compareTrials': compareTrials,
  'arbor.promoteTrial': promoteTrial,
  'arbor.checkTrial': checkTrial,
  'arbor.reviewChanges': reviewChanges,
  'arbor.commit': commit,
  'arbor.merge': merge,
  'arbor.push': push,
  'arbor.createPullRequest': createPullRequest,
  'arbor.openPullRequest': openPullRequest,
  'arbor.sendReview': sendReview,
  'arbor.deleteMerged': deleteMerged,
  'arbor.openSession': openSession,
  'arbor.showSandbox': showSandbox,
};

/// Registers every command; while the server is not running each one says why instead.
export function registerCommands(ctx: Ctx): vscode.Disposable[] {
  return Object.entries(commands).map(([id, factory]) => {
    const run = factory(ctx);
    return vscode.commands.registerCommand(id, (...args: unknown[]) => (ctx.connected ? run(...args) : ctx.views.explainServer()));
  });
}

export type { TaskDetail };
