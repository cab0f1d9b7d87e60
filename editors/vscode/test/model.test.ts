// Unit tests of the logic the views show: the tree, the status bar, labels, message validation
// and the review decorations' line ranges.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store, formatCost, hostWords, pinOrderAfterDrop, pullRequestName, pullRequestNews, pullRequestWords, sandboxWords, sessionAccessibleLabel, sessionDescription, sessionDetails, sessionLabel, statusGroups, statusIcon } from '../src/model';
import { chatEvent, chatUpdates, isChatUpdate, parseChatRequest } from '../src/messages';
import { Method, PullRequest, Session, Task } from '../src/protocol';
import { chatHtml } from '../src/webviewHtml';

export function session(overrides: Partial<Session>): Session {
  return {
    id: 's1', agent: 'scripted', model: null, agentMode: null, agentModel: null, config: {}, title: 'A session', status: 'running', agentState: 'idle', statusReason: null,
    repoRoot: '/repo', cwd: '/wt/s1', isolation: 'worktree', branch: 'arbor/s1-a', baseBranch: 'main', baseCommit: 'abc',
    pinned: false, hidden: false, usage: { inputTokens: 1, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.0123 },
    lastSeq: 3, taskId: null, trialId: null, queuePosition: null, profile: null, permissions: [], createdAt: 1, updatedAt: 1, ...overrides,
  };
}

test('an estimated cost is marked and pinned sessions keep their order', () => {
  assert.equal(formatCost(0.1234), '$0.1234');
  assert.equal(formatCost(0.1234, true), '≈ $0.1234');
  const store = new Store();
  store.applySession(session({ id: 'first', pinned: true, pinOrder: 1, pinnedAt: 1 }));
  store.applySession(session({ id: 'second', pinned: true, pinOrder: 0, pinnedAt: 2 }));
  store.applySession(session({ id: 'loose', updatedAt: 9 }));
  assert.deepEqual(store.tree().map((node) => (node.kind === 'session' ? node.session.id : node.kind)), ['second', 'first', 'loose']);
  const sessions = [...store.sessions.values()];
  assert.deepEqual(pinOrderAfterDrop(sessions, ['first'], 'second'), ['first', 'second']);
  assert.deepEqual(pinOrderAfterDrop(sessions, ['second'], undefined), ['first', 'second']);
  assert.equal(pinOrderAfterDrop(sessions, ['loose'], 'first'), undefined, 'an unpinned session is not reordered');
  assert.equal(pinOrderAfterDrop(sessions, ['first'], undefined), undefined, 'already last');
});

test('the tree puts tasks with their trials first, then pinned and recent sessions, hiding hidden ones', () => {
  const store = new Store();
  const task: Task = { id: 't1', title: 'Task', description: 'd', project: '/repo', baseBranch: 'main', checkCommand: null, permissions: [], status: 'running', createdAt: 1, updatedAt: 1 };
  store.applyTask(task);
  store.applySession(session({ id: 'trial-session', taskId: 't1', trialId: 'r1' }));
  store.applySession(session({ id: 'old', updatedAt: 1 }));
  store.applySession(session({ id: 'new', updatedAt: 5 }));
  store.applySession(session({ id: 'pinned', pinned: true, updatedAt: 0 }));
  store.applySession(session({ id: 'hidden', hidden: true }));
  store.setTrials('t1', [{ trialId: 'r1', number: 1, agent: 'scripted', status: 'running', sessionIds: ['trial-session'] }]);
  const tree = store.tree();
  assert.deepEqual(tree.map((node) => (node.kind === 'session' ? node.session.id : node.kind)), ['task', 'pinned', 'new', 'old']);
  const taskNode = tree[0];
  assert.ok(taskNode.kind === 'task' && taskNode.trials[0].kind === 'trial' && taskNode.trials[0].sessions.length === 1);
  store.applySession(session({ id: 'new' }), true);
  assert.equal(store.tree().length, 3, 'deleted sessions leave the tree');
});

test('status groups, icons and labels', () => {
  const sessions = [
    session({ id: 'working', status: 'running', agentState: 'working' }),
    session({ id: 'asking', status: 'running', agentState: 'working' }),
    session({ id: 'idle', status: 'running', agentState: 'idle' }),
    session({ id: 'queued', status: 'pending' }),
    session({ id: 'done', status: 'stopped' }),
  ];
  const groups = statusGroups(sessions, new Set(['asking']));
  assert.deepEqual(
    { working: groups.working.map((s) => s.id), waiting: groups.waiting.map((s) => s.id), idle: groups.idle.map((s) => s.id) },
    { working: ['working', 'queued'], waiting: ['asking'], idle: ['idle'] },
    'an idle session is not counted as working, and a stopped one not at all',
  );
  assert.equal(formatCost(0.0123), '$0.0123');
  assert.equal(statusIcon('running', 'waiting_input'), 'question');
  assert.equal(statusIcon('dead', null), 'error');
  assert.equal(sessionLabel(session({ pinned: true, title: null })), 'Untitled session');
  assert.equal(sessionDescription(session({ status: 'pending', queuePosition: 2 })), 'scripted · #2 in queue · arbor/s1-a · $0.0123');
  const store = new Store();
  sessions.forEach((one) => store.applySession(one));
  store.applySession(session({ id: 'secret', hidden: true, title: 'Hidden work' }));
  assert.ok(!store.tree().some((node) => node.kind === 'session' && node.session.id === 'secret'), 'hidden sessions are left out');
  assert.ok(store.tree({ showHidden: true }).some((node) => node.kind === 'session' && node.session.id === 'secret'), 'and shown on request');
  assert.deepEqual(store.tree({ filter: 'idle' }).map((node) => (node.kind === 'session' ? node.session.id : node.kind)), ['idle'], 'the filter matches the state in words');
});

test('webview messages are validated both ways', () => {
  assert.deepEqual(parseChatRequest({ type: 'send', id: 1, text: 'hello' }), { type: 'send', id: 1, text: 'hello' });
  assert.equal(parseChatRequest({ type: 'send', text: 'hello' }), null, 'a message without its id could not be answered');
  assert.equal(parseChatRequest({ type: 'send', text: '   ' }), null);
  assert.equal(parseChatRequest({ type: 'send', text: 42 }), null);
  assert.equal(parseChatRequest({ type: 'respond', requestId: 'perm-1' }), null);
  assert.deepEqual(parseChatRequest({ type: 'respond', requestId: 'q-1', optionId: 'accept', content: { answer: 'ARB-12' } }), { type: 'respond', requestId: 'q-1', optionId: 'accept', content: { answer: 'ARB-12' } });
  assert.equal(parseChatRequest({ type: 'respond', requestId: 'q-1', optionId: 'accept', content: ['not', 'an object'] }), null, 'an answer is an object');
  assert.equal(parseChatRequest({ type: 'run', command: 'rm -rf /' }), null);
  assert.equal(parseChatRequest('ready'), null);
  assert.deepEqual(parseChatRequest({ type: 'pullRequest', action: 'send_review' }), { type: 'pullRequest', action: 'send_review' });
  assert.equal(parseChatRequest({ type: 'pullRequest', action: Method.SessionDelete.method }), null, 'only the known pull request actions');
  assert.ok(isChatUpdate({ type: 'events', from: 1, events: [{ kind: 'notice' }, 'a reply', ['a thought']] }));
  assert.ok(!isChatUpdate({ type: 'events', events: [{ kind: 'notice' }] }), 'a run says where it starts');
  assert.ok(!isChatUpdate({ type: 'events', from: 1, events: [{}] }));
  assert.ok(!isChatUpdate({ type: 'events', from: 1, events: [['two', 'thoughts']] }));
  assert.ok(isChatUpdate({ type: 'loaded' }));
  // The page gets each event's seq and what happened, not the session and time it does not show.
  const notice = { kind: 'notice' as const, message: 'Rebased' };
  assert.deepEqual(chatEvent({ sessionId: 's1', seq: 7, at: 1795243200123, event: notice }), { seq: 7, event: notice });
  assert.ok(!isChatUpdate({ type: 'eval', code: 'x' }));
});

test('events go to the chat page as runs of consecutive seqs, chunks as their text', () => {
  const reply = { kind: 'agent_message_chunk' as const, text: 'Hello' };
  const thought = { kind: 'agent_thought_chunk' as const, text: 'Hmm' };
  const notice = { kind: 'notice' as const, message: 'Rebased' };
  // A chunk with anything besides its text keeps its whole form, so nothing is lost.
  const more = { kind: 'agent_message_chunk', text: 'x', extra: 1 } as unknown as typeof reply;
  const updates = chatUpdates([
    { seq: 3, event: reply },
    { seq: 4, event: thought },
    { seq: 5, event: notice },
    { seq: 7, event: more },
    { seq: 8, event: reply },
  ]);
  assert.deepEqual(updates, [
    { type: 'events', from: 3, events: ['Hello', ['Hmm'], notice] },
    { type: 'events', from: 7, events: [more, 'Hello'] },
  ], 'a gap in the seqs starts another run');
  assert.ok(updates.every(isChatUpdate));
  assert.deepEqual(chatUpdates([]), []);
});

test('the chat page has a strict Content Security Policy', () => {
  const html = chatHtml({ cspSource: 'vscode-resource:', scriptUri: 'chat.js', styleUri: 'chat.css', nonce: 'abc123' });
  assert.match(html, /default-src 'none'/);
  assert.match(html, /script-src 'nonce-abc123'/);
  assert.ok(!/unsafe-inline|unsafe-eval/.test(html));
  assert.match(html, /<script nonce="abc123" src="chat.js">/);
});

test('a pull request shows in the session line, and its merge and new reviews are news', () => {
  const pull: PullRequest = {
    forge: 'github', repository: 'acme/widgets', number: 12, url: 'https://github.com/acme/widgets/pull/12', title: 'T', state: 'open',
    headBranch: 'arbor/s1-a', baseBranch: 'main', headCommit: 'abc', review: 'approved',
    checks: { state: 'pending', total: 3, passed: 2, failed: 0, pending: 1 }, reviewComments: 0, mergeCommit: null, syncedAt: 1,
  };
  assert.equal(pullRequestWords(pull), 'PR #12 open, approved, checks 2/3');
  assert.equal(pullRequestWords({ ...pull, checks: { ...pull.checks, state: 'failure', failed: 1 } }), 'PR #12 open, approved, checks 1 failed');
  assert.equal(pullRequestWords({ ...pull, state: 'merged' }), 'PR #12 merged');
  assert.equal(pullRequestWords({ ...pull, forge: 'gitlab', url: 'https://gitlab.com/acme/widgets/-/merge_requests/12' }), 'MR !12 open, approved, checks 2/3');
  assert.equal(pullRequestName({ ...pull, forge: 'gitlab' }), 'merge request !12');
  assert.equal(pullRequestName(pull), 'pull request #12');
  assert.equal(sessionDescription(session({ pullRequest: pull })), 'scripted · idle · PR #12 open, approved, checks 2/3 · $0.0123');
  assert.equal(pullRequestNews(pull, { ...pull, state: 'merged' }), 'merged');
  assert.equal(pullRequestNews(pull, { ...pull, reviewComments: 2 }), 'review');
  assert.equal(pullRequestNews(pull, { ...pull, syncedAt: 9 }), undefined);
  assert.equal(pullRequestNews(undefined, pull), undefined, 'a pull request seen for the first time is no news');
});

test('a session says how it is confined, or why it is not', () => {
  const sandbox = { backend: 'landlock' as const, network: 'off' as const, maxProcesses: 32, maxMemoryMb: 1024, limitsEnforcedBy: 'rlimit', reason: null };
  assert.equal(sandboxWords(sandbox), 'landlock · no network · at most 32 processes and 1024 MiB (rlimit)');
  assert.equal(sandboxWords({ ...sandbox, backend: 'none', reason: 'no backend works here: bwrap is not installed' }), 'none: no backend works here: bwrap is not installed');
  assert.equal(sandboxWords(undefined), 'none', 'a session from before sandboxes');
});

test('a session on a host says where it runs in its line, tooltip and name; a local one shows nothing new', () => {
  const remote = session({ id: 'remote', host: 'build-1' });
  const local = session({ id: 'local', host: null });
  assert.equal(hostWords(remote), 'on build-1');
  assert.equal(hostWords(local), undefined);
  assert.equal(sessionDescription(remote), 'scripted · on build-1 · idle · arbor/s1-a · $0.0123');
  assert.equal(sessionDescription(local), 'scripted · idle · arbor/s1-a · $0.0123', 'the line of a session on this machine is as it was');
  assert.equal(sessionDescription(session({})), sessionDescription(local), 'a record from a server before hosts (no host field) reads the same');
  assert.deepEqual(sessionDetails(remote).slice(0, 3), [['Agent', 'scripted'], ['Runs on', 'build-1'], ['State', 'idle']]);
  assert.ok(!sessionDetails(local).some(([name]) => name === 'Runs on'), 'no host row for a local session');
  assert.deepEqual(sessionDetails(local).map(([name]) => name), ['Agent', 'State', 'Branch', 'Cost', 'Sandbox']);
  assert.equal(sessionAccessibleLabel({ ...remote, pinned: true }), 'A session, idle, scripted, on build-1, pinned');
  assert.equal(sessionAccessibleLabel(local), 'A session, idle, scripted');
  const store = new Store();
  store.applySession(remote);
  store.applySession(local);
  assert.deepEqual(store.tree({ filter: 'build-1' }).map((node) => (node.kind === 'session' ? node.session.id : node.kind)), ['remote'], 'the filter matches the host');
});
