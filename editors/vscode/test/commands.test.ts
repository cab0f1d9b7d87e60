// The command palette's logic with vscode mocked and a fake server: what each command asks, what
// it sends, and what it shows on failure.

import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { answers, install, settings, shown, written } from './vscodeMock';

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
  const transport = {
    async sendRequest<R>(method: string, params?: unknown): Promise<R> {
      sent.push({ method, params });
      const reply = replies[method];
      if (!reply) throw { code: -32601, message: `no reply for ${method}` };
      return reply(params) as R;
    },
    onNotification() {
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
  return { ctx, sent, shownChats };
}

const agents = { agents: [{ id: 'scripted', name: 'Scripted agent', description: 'd', available: true, version: '0.1.0', installHint: null, models: ['a', 'b'] }, { id: 'claude', name: 'Claude Code', description: 'd', available: false, version: null, installHint: 'npm i', models: [] }] };

beforeEach(() => {
  answers.quickPick.length = 0;
  answers.inputBox.length = 0;
  answers.warning.length = 0;
  shown.errors.length = 0;
  shown.info.length = 0;
  settings.permissionMode = 'ask';
});

test('New Session picks an available agent and a model, asks the prompt and opens the chat', async () => {
  const session = { id: 's1', title: 'x', usage: { costUsd: 0 } };
  const { ctx, sent, shownChats } = fakeServer({ 'agents/list': () => agents, 'session/new': () => session });
  let offered: string[] = [];
  answers.quickPick.push((items: { label: string }[]) => {
    offered = items.map((item) => item.label);
    return items[0];
  }, 'b');
  answers.inputBox.push('Fix the bug');
  settings.permissionMode = 'accept_edits';
  await commands['arbor.newSession'](ctx)();
  assert.deepEqual(offered, ['Scripted agent'], 'unavailable agents are not offered');
  const request = sent.find((entry) => entry.method === 'session/new')!;
  assert.deepEqual(request.params, { cwd: '/home/user/project', agent: 'scripted', model: 'b', prompt: 'Fix the bug', config: { permissionMode: 'accept_edits' } });
  assert.deepEqual(shownChats, ['s1']);
  assert.equal(ctx.currentSession, 's1');
});

test('Merge asks first and sends the chosen strategy; declining sends nothing', async () => {
  const { ctx, sent } = fakeServer({ 'session/merge': () => ({ merged: true, commit: 'abc', baseBranch: 'main', conflicts: [] }) });
  ctx.currentSession = 's1';
  answers.warning.push('Squash');
  await commands['arbor.merge'](ctx)();
  assert.deepEqual(sent.at(-1), { method: 'session/merge', params: { sessionId: 's1', strategy: 'squash' } });
  assert.deepEqual(shown.info, ['Arbor: merged "Untitled session" into main']);
  answers.warning.push(undefined);
  const before = sent.length;
  await commands['arbor.merge'](ctx)();
  assert.equal(sent.length, before, 'nothing is merged without confirmation');
});

test('a server error is shown as a message, never thrown', async () => {
  const { ctx } = fakeServer({
    'session/stop': () => {
      throw { code: -33001, message: 'no session with id s9' };
    },
  });
  const result = await commands['arbor.stop'](ctx)({ session: { id: 's9' } });
  assert.equal(result, undefined);
  assert.deepEqual(shown.errors, ['Arbor: no session with id s9']);
});

test('Rename, Pin, Delete and Export send what the user chose', async () => {
  const { ctx, sent } = fakeServer({
    'session/configure': (params) => params,
    'session/delete': () => ({ keptBranch: 'arbor/s1-x', snapshotCommit: null }),
    'session/export': (params) => ({ format: params.format, mimeType: 'text/html', fileName: 'x.html', content: `<p>exported as ${params.format}</p>` }),
  });
  ctx.store.applySession({ id: 's1', title: 'Old', pinned: false } as never);
  answers.inputBox.push('New title');
  await commands['arbor.rename'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: 'session/configure', params: { sessionId: 's1', title: 'New title' } });
  await commands['arbor.pin'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: 'session/configure', params: { sessionId: 's1', pinned: true } });
  answers.warning.push('Delete');
  await commands['arbor.delete'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: 'session/delete', params: { sessionId: 's1' } });
  assert.deepEqual(shown.info.at(-1), 'Arbor: deleted "Old"; its work is on arbor/s1-x');
  answers.saveDialog.push({ fsPath: '/tmp/out.html' });
  await commands['arbor.export'](ctx)({ session: { id: 's1' } });
  assert.deepEqual(sent.at(-1), { method: 'session/export', params: { sessionId: 's1', format: 'html' } });
  assert.deepEqual(written.at(-1), { path: '/tmp/out.html', text: '<p>exported as html</p>' });
});

test('New Trial(s) starts one trial per picked agent', async () => {
  const { ctx, sent } = fakeServer({
    'agents/list': () => agents,
    'trial/new': (params) => ({ trials: params.trials }),
    'task/get': () => ({ task: { id: 't1', title: 'T', status: 'running' }, trials: [] }),
  });
  answers.quickPick.push((items: { id: string }[]) => items, { label: '2' });
  await commands['arbor.newTrials'](ctx)({ task: { id: 't1', title: 'T' } });
  assert.deepEqual(sent.find((entry) => entry.method === 'trial/new')!.params, { taskId: 't1', trials: [{ agent: 'scripted' }, { agent: 'scripted' }] }, 'two trials of the one agent picked');
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
