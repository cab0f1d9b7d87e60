// The command palette's logic with vscode mocked and a fake server: what each command asks, what
// it sends, and what it shows on failure.

import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { Method, Notification } from '../src/protocol';
import { answers, install, opened, settings, shown, written } from './vscodeMock';

install();

// Loaded after the mock is installed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { commands } = require('../src/commands') as typeof import('../src/commands');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Ctx } = require('../src/ctx') as typeof import('../src/ctx');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ArborConnection } = require('../src/connection') as typeof import('../src/connection');

interface Sent {
  method: string;
  params: any;
}

function fakeServer(replies: Record<string, (params: any) => unknown>) {
  const sent: Sent[] = [];
  const handlers = new Map<string, (params: any) => void>();
  const transport = {
    async sendRequest<R>({ method }: { method: string }, params?: unknown): Promise<R> {
      sent.push({ method, params });
      const reply = replies[method];
      if (!reply) throw { code: -32601, message: `no reply for ${method}` };
      return reply(params) as R;
    },
    onNotification({ method }: { method: string }, handler: (params: any) => void) {
      handlers.set(method, handler);
      return undefined;
    },
  };
  const shownChats: string[] = [];
  const views = {
    showChat: async (id: string) => void shownChats.push(id),
    showCompare: async () => undefined,
    refreshTree: () => undefined,
    startReview: async () => undefined,
    explainServer: async () => undefined,
    chatSession: () => undefined,
  };
  const ctx = new Ctx(new ArborConnection(transport), views);
  const notify = (method: string, params: unknown) => handlers.get(method)?.(params);
  return { ctx, sent, shownChats, notify };
}

const agents = { agents: [{ id: 'scripted', name: 'Scripted agent', description: 'd', available: true, version: '0.1.0', installHint: null, models: ['a', 'b'] }, { id: 'claude', name: 'Claude Code', description: 'd', available: false, version: null, installHint: 'npm i', models: [] }] };

beforeEach(() => {
  answers.quickPick.length = 0;
  answers.inputBox.length = 0;
  answers.warning.length = 0;
  answers.info.length = 0;
  opened.length = 0;
  shown.errors.length = 0;
  shown.info.length = 0;
  shown.details.length = 0;
  settings.permissionMode = 'ask';
});

test('New Session picks an available agent and a model, asks the prompt and opens the chat', async () => {
  const session = { id: 's1', title: 'x', usage: { costUsd: 0 } };
  const { ctx, sent, shownChats } = fakeServer({ [Method.AgentsList.method]: () => agents, [Method.SessionNew.method]: () => session });
  let offered: string[] = [];
  answers.quickPick.push((items: { label: string }[]) => {
    offered = items.map((item) => item.label);
    return items[0];
  }, 'b');
  answers.inputBox.push('Fix the bug');
  settings.permissionMode = 'accept_edits';
  await commands['arbor.newSession'](ctx)();
  assert.deepEqual(offered, ['Scripted agent'], 'unavailable agents are not offered');
  const request = sent.find((entry) => entry.method === Method.SessionNew.method)!;
  assert.deepEqual(request.params, { cwd: '/home/user/project', agent: 'scripted', model: 'b', prompt: 'Fix the bug', config: { permissionMode: 'accept_edits' } });
  assert.deepEqual(shownChats, ['s1']);
  assert.equal(ctx.currentSession, 's1');
});

test('Merge asks first and sends the chosen strategy; declining sends nothing', async () => {
  const { ctx, sent } = fakeServer({ [Method.SessionMerge.method]: () => ({ merged: true, commit: 'abc', baseBranch: 'main', conflicts: [] }) });
  ctx.currentSession = 's1';
  answers.warning.push('Squash');
  await commands['arbor.merge'](ctx)();
  assert.deepEqual(sent.at(-1), { method: Method.SessionMerge.method, params: { sessionId: 's1', strategy: 'squash' } });
  assert.deepEqual(shown.info, ['Arbor: merged "Untitled session" into main']);
  answers.warning.push(undefined);
  const before = sent.length;
  await commands['arbor.merge'](ctx)();
  assert.equal(sent.length, before, 'nothing is merged without confirmation');
});

test('a server error is shown as a message, never thrown', async () => {
  const { ctx } = fakeServer({
    [Method.SessionStop.method]: () => {
      throw { code: -33001, message: 'no session with id s9' };
    },
  });
  const result = await commands['arbor.stop'](ctx)({ session: { id: 's9' } });
  assert.equal(result, undefined);
  assert.deepEqual(shown.errors, ['Arbor: no session with id s9']);
});

test('Rename, Pin, Delete and Export send what the user chose', async () => {
  const { ctx, sent } = fakeServer({
    [Method.SessionConfigure.method]: (params) => params,
    [Method.SessionDelete.method]: () => ({ keptBranch: 'arbor/s1-x', snapshotCommit: null }),
    [Method.SessionExport.method]: (params) =>
      params.format === 'pdf'
        ? { format: 'pdf', mimeType: 'application/pdf', fileName: 'x.pdf', content: Buffer.from('%PDF-1.4 exported').toString('base64'), encoding: 'base64' }
        : { format: params.format, mimeType: 'text/html', fileName: 'x.html', content: `<p>exported as ${params.format}</p>` },
  });
  ctx.store.applySession({ id: 's1', title: 'Old', pinned: false } as never);
  answers.inputBox.push('New title');
  await commands['arbor.rename'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: Method.SessionConfigure.method, params: { sessionId: 's1', title: 'New title' } });
  await commands['arbor.pin'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: Method.SessionConfigure.method, params: { sessionId: 's1', pinned: true } });
  answers.warning.push('Delete');
  await commands['arbor.delete'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: Method.SessionDelete.method, params: { sessionId: 's1' } });
  assert.deepEqual(shown.info.at(-1), 'Arbor: deleted "Old"; its work is on arbor/s1-x');
  answers.saveDialog.push({ fsPath: '/tmp/out.html' });
  await commands['arbor.export'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: Method.SessionExport.method, params: { sessionId: 's1', format: 'html' } });
  assert.deepEqual(written.at(-1), { path: '/tmp/out.html', text: '<p>exported as html</p>' });
  answers.saveDialog.push({ fsPath: '/tmp/out.pdf' });
  await commands['arbor.export'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: Method.SessionExport.method, params: { sessionId: 's1', format: 'pdf' } });
  assert.deepEqual(written.at(-1), { path: '/tmp/out.pdf', text: '%PDF-1.4 exported' }, 'the PDF is written as its bytes, not as base64 text');
});

test('pinning past the server\'s cap shows the pin it unpinned, and dropping pins sends their new order', async () => {
  // Loaded after the mock is installed.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { dropPins } = require('../src/sessionsTree') as typeof import('../src/sessionsTree');
  const pinned = (id: string, pinOrder: number) => ({ id, title: id.toUpperCase(), pinned: true, pinOrder, pinnedAt: pinOrder, updatedAt: 1 });
  const { ctx, sent } = fakeServer({
    [Method.SessionConfigure.method]: (params) => ({ ...pinned(params.sessionId, 2), unpinned: ['a'] }),
    [Method.SessionPinOrder.method]: (params) => ({ sessions: params.pinnedOrder.map((id: string, place: number) => pinned(id, place)) }),
  });
  for (const [id, place] of [['a', 0], ['b', 1]] as const) ctx.store.applySession(pinned(id, place) as never);
  ctx.store.applySession({ id: 'c', title: 'C', pinned: false, updatedAt: 1 } as never);
  await commands['arbor.pin'](ctx)({ session: { id: 'c' } });
  assert.equal(ctx.store.sessions.get('a')?.pinned, false);
  assert.match(shown.info.at(-1) ?? '', /unpinned "A" to make room/);

  // C dragged onto B goes before it; dropping B on itself moves nothing.
  assert.deepEqual(await dropPins(ctx, ['c'], 'b'), ['c', 'b']);
  assert.deepEqual(sent.at(-1), { method: Method.SessionPinOrder.method, params: { pinnedOrder: ['c', 'b'] } });
  assert.equal(ctx.store.sessions.get('c')?.pinOrder, 0);
  const count = sent.length;
  assert.equal(await dropPins(ctx, ['b'], 'b'), undefined);
  assert.equal(sent.length, count);
});

test('Archive sends session/archive and says where the work is', async () => {
  const { ctx, sent } = fakeServer({
    [Method.SessionArchive.method]: (params) => ({ session: { id: params.sessionId, branch: 'arbor/s1-x', archived: true }, snapshotCommit: null, freedBytes: 2048 }),
  });
  ctx.store.applySession({ id: 's1', title: 'Old', pinned: false } as never);
  await commands['arbor.archive'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: Method.SessionArchive.method, params: { sessionId: 's1' } });
  assert.match(shown.info.at(-1) ?? '', /archived .*arbor\/s1-x/);
});

test('Change Mode and Model sends only what the user changed', async () => {
  const { ctx, sent } = fakeServer({
    [Method.AgentsList.method]: () => ({ agents: [{ id: 'claude-acp', name: 'Claude', available: true, models: ['default', 'haiku'] }] }),
    [Method.SessionConfigure.method]: (params) => ({
      id: 's1',
      agent: 'claude-acp',
      model: params.model,
      agentModel: params.model,
      config: { permissionMode: params.permissionMode },
    }),
  });
  ctx.store.applySession({ id: 's1', agent: 'claude-acp', model: null, agentModel: 'default', config: { permissionMode: 'ask' } } as never);
  answers.quickPick.push(
    (items: { mode: string; description?: string }[]) => {
      assert.equal(items.find((item) => item.mode === 'ask')?.description, 'current');
      return items.find((item) => item.mode === 'bypass_permissions');
    },
    (items: { label: string }[]) => items.find((item) => item.label === 'haiku'),
  );
  await commands['arbor.configureSession'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), {
    method: Method.SessionConfigure.method,
    params: { sessionId: 's1', permissionMode: 'bypass_permissions', model: 'haiku' },
  });
  const before = sent.length;
  answers.quickPick.push(
    (items: { mode: string }[]) => items.find((item) => item.mode === 'bypass_permissions'),
    (items: { label: string; description?: string }[]) => {
      assert.equal(items.find((item) => item.label === 'haiku')?.description, 'current');
      return items.find((item) => item.label === 'haiku');
    },
  );
  await commands['arbor.configureSession'](ctx)({ session: { id: 's1' } });
  assert.equal(sent.length, before + 1, 'only agents/list: nothing changed, so nothing is configured');
});

test('New Trial(s) starts one trial per picked agent', async () => {
  const { ctx, sent } = fakeServer({
    [Method.AgentsList.method]: () => agents,
    [Method.TrialNew.method]: (params) => ({ trials: params.trials }),
    [Method.TaskGet.method]: () => ({ task: { id: 't1', title: 'T', status: 'running' }, trials: [] }),
  });
  answers.quickPick.push((items: { id: string }[]) => items, { label: '2' });
  await commands['arbor.newTrials'](ctx)({ task: { id: 't1', title: 'T' } });
  assert.deepEqual(sent.find((entry) => entry.method === Method.TrialNew.method)!.params, { taskId: 't1', trials: [{ agent: 'scripted' }, { agent: 'scripted' }] }, 'two trials of the one agent picked');
});

test('review decorations cover the added lines of a hunk', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { addedRanges } = require('../src/review') as typeof import('../src/review');
  const hunk = {
    id: 'h', header: '@@', oldStart: 1, oldLines: 4, newStart: 1, newLines: 5, state: 'pending' as const,
    lines: [
      { kind: 'context' as const, text: 'a' },
      { kind: 'removed' as const, text: 'b' },
      { kind: 'added' as const, text: 'B' },
      { kind: 'added' as const, text: 'B2' },
      { kind: 'context' as const, text: 'c' },
      { kind: 'added' as const, text: 'd' },
    ],
  };
  assert.deepEqual(addedRanges(hunk), [{ start: 1, end: 2 }, { start: 4, end: 4 }]);
});

const pullRequest = {
  forge: 'github', repository: 'acme/widgets', number: 7, url: 'https://github.com/acme/widgets/pull/7', title: 'T', state: 'open',
  headBranch: 'arbor/s1-x', baseBranch: 'main', headCommit: 'abc', review: 'none',
  checks: { state: 'none', total: 0, passed: 0, failed: 0, pending: 0 }, reviewComments: 0, mergeCommit: null, syncedAt: 1,
};

test('Create Pull Request sends the draft choice and offers to open the pull request', async () => {
  const { ctx, sent } = fakeServer({ [Method.SessionPr.method]: () => pullRequest });
  ctx.store.applySession({ id: 's1', title: 'Feature', branch: 'arbor/s1-x', baseBranch: 'main' } as never);
  answers.quickPick.push((items: { label: string }[]) => items.find((item) => item.label === 'Draft'));
  answers.info.push('Open Pull Request');
  await commands['arbor.createPullRequest'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: Method.SessionPr.method, params: { sessionId: 's1', draft: true } });
  assert.deepEqual(shown.info, ['Arbor: opened pull request #7 on acme/widgets']);
  assert.deepEqual(opened, ['https://github.com/acme/widgets/pull/7']);
});

test('Open Pull Request opens its link; Send the Review reports what went to the agent', async () => {
  const { ctx, sent } = fakeServer({ [Method.SessionSendReview.method]: () => ({ prompt: 'p', comments: 2, queued: true }) });
  ctx.store.applySession({ id: 's1', title: 'Feature', pullRequest } as never);
  ctx.store.applySession({ id: 's2', title: 'Other', pullRequest: null } as never);
  await commands['arbor.openPullRequest'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(opened, ['https://github.com/acme/widgets/pull/7']);
  await commands['arbor.openPullRequest'](ctx)({ session: { id: 's2' } });
  assert.match(shown.info.at(-1)!, /has no pull request yet/);
  await commands['arbor.sendReview'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: Method.SessionSendReview.method, params: { sessionId: 's1' } });
  assert.equal(shown.info.at(-1), 'Arbor: sent 2 review comments to the agent (after its current turn)');
});

test('a pull request merged on the forge offers deleting the branch and worktree', async () => {
  const { ctx, sent, notify } = fakeServer({ [Method.SessionDelete.method]: () => ({ keptBranch: null, snapshotCommit: null }) });
  const session = { id: 's1', title: 'Feature', branch: 'arbor/s1-x', pullRequest };
  notify(Notification.SessionChanged.method, { session, deleted: false });
  assert.equal(shown.info.length, 0, 'a pull request first seen is no news');
  answers.info.push('Delete Branch and Worktree');
  notify(Notification.SessionChanged.method, { session: { ...session, pullRequest: { ...pullRequest, state: 'merged' } }, deleted: false });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(shown.info, ['Arbor: pull request #7 of "Feature" was merged on GitHub']);
  assert.deepEqual(sent.at(-1), { method: Method.SessionDelete.method, params: { sessionId: 's1', deleteBranch: true } });
  notify(Notification.SessionChanged.method, { session: { ...session, pullRequest: { ...pullRequest, state: 'merged', syncedAt: 2 } }, deleted: false });
  assert.equal(shown.info.length, 1, 'a merge is offered once');
});

test('new review comments offer sending them to the agent', async () => {
  const { ctx, sent, notify } = fakeServer({ [Method.SessionSendReview.method]: () => ({ prompt: 'p', comments: 1, queued: false }) });
  const session = { id: 's1', title: 'Feature', pullRequest };
  notify(Notification.SessionChanged.method, { session, deleted: false });
  answers.info.push('Send the Review to the Agent');
  notify(Notification.SessionChanged.method, { session: { ...session, pullRequest: { ...pullRequest, reviewComments: 1 } }, deleted: false });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(shown.info, ['Arbor: pull request #7 of "Feature" has new review comments']);
  assert.deepEqual(sent.at(-1), { method: Method.SessionSendReview.method, params: { sessionId: 's1' } });
  assert.ok(ctx.store.sessions.get('s1')?.pullRequest?.reviewComments === 1);
});

test('Show Sandbox says what the machine offers and how the current session is confined', async () => {
  const sandbox = {
    backends: [
      { backend: 'bwrap', available: true, detail: 'bubblewrap 0.8.0' },
      { backend: 'landlock', available: true, detail: 'Landlock ABI 7' },
      { backend: 'container', available: false, detail: 'the image is not built: run arbor sandbox build-image' },
    ],
    auto: 'bwrap', reason: null, limits: 'cgroup',
  };
  const { ctx } = fakeServer({ [Method.AgentsList.method]: () => ({ ...agents, sandbox }) });
  ctx.store.applySession({
    id: 's1', title: 'Fix it', usage: { costUsd: 0 },
    sandbox: { backend: 'bwrap', network: 'model_api', maxProcesses: 512, maxMemoryMb: 8192, limitsEnforcedBy: 'cgroup', reason: null },
  } as any);
  ctx.currentSession = 's1';
  await commands['arbor.showSandbox'](ctx)();
  assert.deepEqual(shown.info, ['Arbor: sandboxes by bwrap here']);
  assert.deepEqual(shown.details[0].split('\n'), [
    'auto picks bwrap',
    'bwrap: works (bubblewrap 0.8.0)',
    'landlock: works (Landlock ABI 7)',
    'container: unavailable (the image is not built: run arbor sandbox build-image)',
    'process and memory limits: cgroup',
    '"Fix it": bwrap · model API only · at most 512 processes and 8192 MiB (cgroup)',
  ]);

  const none = { backends: [{ backend: 'bwrap', available: false, detail: 'bwrap is not installed' }], auto: null, reason: 'no backend works: bwrap is not installed', limits: 'rlimit' };
  const bare = fakeServer({ [Method.AgentsList.method]: () => ({ ...agents, sandbox: none }) });
  await commands['arbor.showSandbox'](bare.ctx)();
  assert.equal(shown.info[1], 'Arbor: no sandbox works here');
  assert.match(shown.details[1], /^auto finds no working backend: no backend works: bwrap is not installed\n/);
});

test('the session picker names the host a session runs on, and nothing for a local one', async () => {
  const { ctx } = fakeServer({});
  const base = { agent: 'scripted', status: 'running', usage: { costUsd: 0 } };
  ctx.store.applySession({ ...base, id: 'remote', title: 'On the build box', host: 'build-1' } as any);
  ctx.store.applySession({ ...base, id: 'local', title: 'Here', host: null } as any);
  let offered: { label: string; description: string }[] = [];
  answers.quickPick.push((items: { label: string; description: string }[]) => {
    offered = items;
    return items[0];
  });
  assert.equal(await ctx.session(), 'remote');
  assert.deepEqual(offered.map(({ label, description }) => ({ label, description })), [
    { label: 'On the build box', description: 'running · scripted · on build-1' },
    { label: 'Here', description: 'running · scripted' },
  ]);
});
