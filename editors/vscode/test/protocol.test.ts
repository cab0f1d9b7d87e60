// The extension's protocol client against the real arbor binary: a full session, review and merge.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Method, MergeResult, ReviewDiff, Session } from '../src/protocol';
import { git, repo, scratch, startServer, until } from './arbor';

test('a full session, review and merge through the extension client', async () => {
  const root = scratch();
  const dir = repo(root, { 'notes.txt': 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n' });
  const server = await startServer(root);
  try {
    const { arbor } = server;
    const agents = await arbor.request(Method.AgentsList);
    assert.ok(agents.agents.some((agent) => agent.id === 'scripted' && agent.available));
    const script = 'ask Edit notes\nwrite notes.txt <<END\nONE\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nTEN\nEND\nsay Edited both ends.';
    const session = await arbor.request(Method.SessionNew, { cwd: dir, agent: 'scripted', prompt: 'edit the notes', config: { script } });
    await arbor.request(Method.SessionSubscribe, { sessionId: session.id, afterSeq: 0 });
    await until(() => server.events.some((event) => event.event.kind === 'permission_request'), 'the permission request');
    const request = server.events.find((event) => event.event.kind === 'permission_request')!.event as { requestId: string };
    await arbor.request(Method.SessionRespond, { sessionId: session.id, requestId: request.requestId, optionId: 'allow' });
    await until(() => server.events.some((event) => event.event.kind === 'turn_ended'), 'the turn to end');
    const reply = server.events.filter((event) => event.event.kind === 'agent_message_chunk').map((event) => (event.event as { text: string }).text).join('');
    assert.equal(reply, 'Edited both ends.');
    const history = await arbor.history(session.id);
    assert.deepEqual(history.map((event) => event.seq), server.events.map((event) => event.seq).slice(0, history.length), 'history and live stream agree');

    let diff = await arbor.request(Method.ReviewDiff, { sessionId: session.id });
    assert.equal(diff.files.length, 1);
    const hunks = diff.files[0].hunks!;
    assert.equal(hunks.length, 2);
    diff = await arbor.request(Method.ReviewApply, { sessionId: session.id, action: 'reject', hunkIds: [hunks[0].id] });
    diff = await arbor.request(Method.ReviewApply, { sessionId: session.id, action: 'accept', hunkIds: [hunks[1].id] });
    assert.equal(diff.files[0].hunks!.length, 1);
    assert.equal(diff.files[0].hunks![0].state, 'accepted');
    assert.equal(diff.rejected.length, 1);
    const worktree = session.cwd;
    assert.equal(fs.readFileSync(path.join(worktree, 'notes.txt'), 'utf8').split('\n')[0], 'one', 'the rejected hunk was reverted');
    const file = await arbor.request(Method.ReviewFile, { sessionId: session.id, path: 'notes.txt' });
    assert.ok(file.baseText?.endsWith('ten\n') && file.currentText?.endsWith('TEN\n'));

    await arbor.request(Method.ReviewCommit, { sessionId: session.id, message: 'Upper-case the last note' });
    const merged = await arbor.request(Method.SessionMerge, { sessionId: session.id, strategy: 'squash' });
    assert.ok(merged.merged);
    assert.equal(git(dir, 'log', '-1', '--format=%s', 'main'), 'edit the notes', 'the squash commit is titled after the session');
    assert.ok(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8').endsWith('TEN\n'));

    // Server errors reach the client as rejected promises with the server's message.
    await assert.rejects(arbor.request(Method.SessionGet, { sessionId: '00000000-0000-4000-8000-000000000000' }), /no session with id/);
  } finally {
    await server.stop();
  }
});

test('a history of several pages, read with the pages after the first asked for at once, has every event once and in order', async () => {
  const root = scratch();
  const dir = repo(root, { 'README.md': '# pages\n' });
  const server = await startServer(root);
  try {
    const { arbor } = server;
    // Thinking and reply words alternating, so each is a stored event of its own: 12,000 of them.
    const lines: string[] = [];
    for (let index = 0; index < 6000; index++) lines.push(`think t${index}`, `say s${index}`);
    const session = await arbor.request(Method.SessionNew, { cwd: dir, agent: 'scripted', prompt: 'go', config: { script: lines.join('\n') } });
    await arbor.request(Method.SessionSubscribe, { sessionId: session.id, afterSeq: 0 });
    await until(() => server.events.some((event) => event.event.kind === 'turn_ended'), 'the turn to end', 120_000);
    const live = server.events.filter((event) => event.sessionId === session.id);
    const history = await arbor.history(session.id);
    assert.ok(history.length > 12_000, `${history.length} events`);
    // Events after the turn's end (its checkpoint) may be stored by the time the history is read.
    const seen = history.slice(0, live.length);
    assert.deepEqual(seen.map((event) => event.seq), live.map((event) => event.seq), 'each seq once, in order');
    assert.deepEqual(seen.map((event) => event.event), live.map((event) => event.event), 'the events the live stream had');
    const replies = history.filter((event) => event.event.kind === 'agent_message_chunk').map((event) => (event.event as { text: string }).text);
    assert.deepEqual(replies, lines.filter((line) => line.startsWith('say ')).map((line) => line.slice(4)));
  } finally {
    await server.stop();
  }
});
