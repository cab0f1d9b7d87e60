// The command palette: each command is a factory over the Ctx, so tests can build and run them
// against a fake connection and a mocked vscode.

import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { AgentInfo, CompareResult, MergeResult, Method, Session, Task, TaskDetail } from './protocol';

type Factory = (ctx: Ctx) => (...args: any[]) => Promise<unknown>;

function config<T>(key: string): T | undefined {
  return vscode.workspace.getConfiguration('arbor').get<T>(key);
}

function workspaceRoot(): string | undefined {
  return vscode.window.activeTextEditor?.document.uri.scheme === 'file'
    ? vscode.workspace.getWorkspaceFolder(vscode.window.activeTextEditor.document.uri)?.uri.fsPath
    : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

async function pickAgent(ctx: Ctx): Promise<{ agent: string; model?: string } | undefined> {
  const result = await ctx.request<{ agents: AgentInfo[] }>(Method.agentsList);
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
  const cwd = workspaceRoot();
  if (!cwd) {
    void vscode.window.showErrorMessage('Arbor: open a folder in a git repository first');
    return;
  }
  const choice = await pickAgent(ctx);
  if (!choice) return;
  const editor = vscode.window.activeTextEditor;
  const selection = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : '';
  const prompt = await vscode.window.showInputBox({ prompt: 'What should the agent do?', value: selection });
  if (!prompt) return;
  const session = await ctx.request<Session>(Method.sessionNew, {
    cwd,
    agent: choice.agent,
    model: choice.model,
    prompt,
    config: { permissionMode: config<string>('permissionMode') ?? 'ask' },
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
  if (!sessionId) return;
  const message = text ?? (await vscode.window.showInputBox({ prompt: 'Message' }));
  if (message) return ctx.request(Method.sessionPrompt, { sessionId, text: message });
};

function simple(method: string, done?: (ctx: Ctx, result: any) => Promise<void> | void): Factory {
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
  if (newTitle) return ctx.request(Method.sessionConfigure, { sessionId, title: newTitle });
};

function toggle(field: 'pinned' | 'hidden'): Factory {
  return (ctx) => async (given?: { session?: Session }) => {
    const sessionId = await ctx.session(given);
    if (!sessionId) return;
    const current = ctx.store.sessions.get(sessionId)?.[field] ?? false;
    return ctx.request(Method.sessionConfigure, { sessionId, [field]: !current });
  };
}

const deleteSession: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const answer = await vscode.window.showWarningMessage('Delete this session? Its branch is kept.', { modal: true }, 'Delete');
  if (answer !== 'Delete') return;
  const result = await ctx.request<{ keptBranch: string | null }>(Method.sessionDelete, { sessionId });
  if (result?.keptBranch) void vscode.window.showInformationMessage(`Arbor: the session's work is on ${result.keptBranch}`);
  if (ctx.currentSession === sessionId) ctx.currentSession = undefined;
  return result;
};

const exportSession: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const target = await vscode.window.showSaveDialog({ filters: { Markdown: ['md'], HTML: ['html'], JSON: ['json'] }, saveLabel: 'Export' });
  if (!target) return;
  const extension = target.fsPath.split('.').pop();
  const format = extension === 'html' || extension === 'json' ? extension : 'markdown';
  const result = await ctx.request<{ content: string }>(Method.sessionExport, { sessionId, format });
  if (!result) return;
  await vscode.workspace.fs.writeFile(target, Buffer.from(result.content));
  return target;
};

const newTask: Factory = (ctx) => async () => {
  const cwd = workspaceRoot();
  if (!cwd) return;
  const title = await vscode.window.showInputBox({ prompt: 'Task title' });
  if (!title) return;
  const description = await vscode.window.showInputBox({ prompt: 'What is wanted (the trials\' default prompt)' });
  const checkCommand = await vscode.window.showInputBox({ prompt: 'Check command, such as the test suite (optional)' });
  const task = await ctx.request<Task>(Method.taskNew, { title, description: description || undefined, cwd, checkCommand: checkCommand || undefined });
  if (task) ctx.store.applyTask(task);
  ctx.views.refreshTree();
  return task;
};

async function pickTask(ctx: Ctx, given?: { task?: Task }): Promise<Task | undefined> {
  if (given?.task) return given.task;
  const tasks = [...ctx.store.tasks.values()];
  const picked = await vscode.window.showQuickPick(tasks.map((task) => ({ label: task.title, description: task.status, task })), { placeHolder: 'Task' });
  return picked?.task;
}

const newTrials: Factory = (ctx) => async (given?: { task?: Task }) => {
  const task = await pickTask(ctx, given);
  if (!task) return;
  const result = await ctx.request<{ agents: AgentInfo[] }>(Method.agentsList);
  if (!result) return;
  const picked = await vscode.window.showQuickPick(
    result.agents.filter((agent) => agent.available).map((agent) => ({ label: agent.name, id: agent.id })),
    { canPickMany: true, placeHolder: 'One trial per agent picked' },
  );
  if (!picked || picked.length === 0) return;
  const started = await ctx.request<{ trials: unknown[] }>(Method.trialNew, { taskId: task.id, trials: picked.map((agent) => ({ agent: agent.id })) });
  await ctx.loadTrials(task.id);
  ctx.views.refreshTree();
  return started;
};

const compareTrials: Factory = (ctx) => async (given?: { task?: Task }) => {
  const task = await pickTask(ctx, given);
  if (task) await ctx.views.showCompare(task.id);
  return task;
};

const promoteTrial: Factory = (ctx) => async (given?: { trialId?: string }) => {
  let trialId = given?.trialId;
  if (!trialId) {
    const task = await pickTask(ctx);
    if (!task) return;
    const compare = await ctx.request<CompareResult>(Method.trialCompare, { taskId: task.id });
    const row = await vscode.window.showQuickPick(
      (compare?.rows ?? []).map((row) => ({ label: `Trial ${row.number}`, description: `${row.agent} · ${row.status}`, trialId: row.trialId })),
      { placeHolder: 'Trial to promote' },
    );
    trialId = row?.trialId;
  }
  if (!trialId) return;
  const answer = await vscode.window.showWarningMessage('Merge this trial into the task\'s base branch and abandon the others?', { modal: true }, 'Promote');
  if (answer !== 'Promote') return;
  const result = await ctx.request<{ merge: MergeResult; abandoned: string[] }>(Method.trialPromote, { trialId });
  if (result && !result.merge.merged) void vscode.window.showWarningMessage(`Arbor: not promoted; conflicts in ${result.merge.conflicts.join(', ')}`);
  return result;
};

const reviewChanges: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const session = await ctx.request<Session>(Method.sessionGet, { sessionId });
  if (session) await ctx.views.startReview(session);
  return session;
};

const commit: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const message = await vscode.window.showInputBox({ prompt: 'Commit message (empty: made from the session)' });
  if (message === undefined) return;
  const result = await ctx.request<{ commit: string; filesChanged: number }>(Method.reviewCommit, { sessionId, message: message || undefined });
  if (result) void vscode.window.showInformationMessage(`Arbor: committed ${result.commit.slice(0, 12)} (${result.filesChanged} files)`);
  return result;
};

const merge: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  const answer = await vscode.window.showWarningMessage('Merge the session\'s branch into its base branch?', { modal: true }, 'Merge', 'Squash');
  if (!answer) return;
  const result = await ctx.request<MergeResult>(Method.sessionMerge, { sessionId, strategy: answer === 'Squash' ? 'squash' : 'merge' });
  if (result?.merged) void vscode.window.showInformationMessage(`Arbor: merged into ${result.baseBranch}`);
  else if (result) void vscode.window.showWarningMessage(`Arbor: not merged; conflicts in ${result.conflicts.join(', ')}`);
  return result;
};

const openSession: Factory = (ctx) => async (given?: { session?: Session }) => {
  const sessionId = await ctx.session(given);
  if (!sessionId) return;
  ctx.currentSession = sessionId;
  await ctx.views.showChat(sessionId);
  return sessionId;
};

/// Every command, by id.
export const commands: Record<string, Factory> = {
  'arbor.newSession': newSession,
  'arbor.sendMessage': sendMessage,
  'arbor.cancel': simple(Method.sessionCancel),
  'arbor.stop': simple(Method.sessionStop),
  'arbor.resume': simple(Method.sessionResume),
  'arbor.fork': simple(Method.sessionFork, openNew),
  'arbor.clone': simple(Method.sessionClone, openNew),
  'arbor.rename': rename,
  'arbor.pin': toggle('pinned'),
  'arbor.hide': toggle('hidden'),
  'arbor.delete': deleteSession,
  'arbor.export': exportSession,
  'arbor.newTask': newTask,
  'arbor.newTrials': newTrials,
  'arbor.compareTrials': compareTrials,
  'arbor.promoteTrial': promoteTrial,
  'arbor.reviewChanges': reviewChanges,
  'arbor.commit': commit,
  'arbor.merge': merge,
  'arbor.openSession': openSession,
};

export function registerCommands(ctx: Ctx): vscode.Disposable[] {
  return Object.entries(commands).map(([id, factory]) => vscode.commands.registerCommand(id, factory(ctx)));
}

export type { TaskDetail };
