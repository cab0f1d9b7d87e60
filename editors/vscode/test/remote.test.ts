// The `arbor.connect` setting: the extension's bridge command reaches a daemon in another runtime
// directory over its authenticated WebSocket, and a session streams through it as through the
// local daemon. vscode is mocked only for the settings; the daemon and the bridge are the real
// binary.

import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Method, Session } from '../src/protocol';
import { Server, arborBin, connect, repo, scratch, until } from './arbor';
import { install, settings } from './vscodeMock';

install();
// Loaded after the mock is installed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bridgeArgs } = require('../src/bridge') as typeof import('../src/bridge');

function dirs(root: string): string[] {
  return ['--data-dir', path.join(root, 'data'), '--runtime-dir', path.join(root, 'run'), '--config', path.join(root, 'config.json')];
}

test('with arbor.connect the bridge reaches a daemon elsewhere and a session streams through it', async () => {
  assert.deepEqual(bridgeArgs(), ['lsp'], 'without the setting: the local daemon');
  const remote = scratch();
  const daemon: ChildProcess = spawn(arborBin(), [...dirs(remote), 'daemon', '--listen', '127.0.0.1:0'], { stdio: 'ignore' });
  const local = scratch();
  let bridge: Server | undefined;
  try {
    const discovery = path.join(remote, 'run', 'daemon.json');
    await until(() => fs.existsSync(discovery) && Boolean(JSON.parse(fs.readFileSync(discovery, 'utf8')).webUrl), 'the daemon announcing its listener');
    const url = (JSON.parse(fs.readFileSync(discovery, 'utf8')).webUrl as string).replace(/^http/, 'ws') + '/ws';
    settings.connect = url;
    settings.tokenFile = path.join(remote, 'run', 'token');
    const args = bridgeArgs();
    assert.deepEqual(args, ['lsp', '--connect', url, '--token-file', settings.tokenFile]);
    bridge = await connect([...dirs(local), ...args]);
    const { arbor, events } = bridge;
    const dir = repo(scratch(), { 'README.md': '# remote\n' });
    const session = await arbor.request(Method.SessionNew, { cwd: dir, agent: 'scripted', prompt: 'go', config: { script: 'say Hello over the WebSocket.\nsay Still streaming.' } });
    await arbor.request(Method.SessionSubscribe, { sessionId: session.id, afterSeq: 0 });
    await until(() => events.some((event) => event.event.kind === 'turn_ended'), 'the turn streamed over --connect');
    const text = events.flatMap(({ event }) => (event.kind === 'agent_message_chunk' ? [event.text] : [])).join('');
    assert.match(text, /Hello over the WebSocket\..*Still streaming\./s);
    const seqs = events.map((event) => event.seq);
    assert.deepEqual(seqs, seqs.map((_, index) => index + 1), 'every event, in order, none missing');
    assert.ok(fs.existsSync(path.join(remote, 'data')) && !fs.existsSync(path.join(local, 'run', 'daemon.json')), 'the session lives in the remote daemon; no local one was started');
  } finally {
    delete settings.connect;
    delete settings.tokenFile;
    await bridge?.stop();
    daemon.kill('SIGTERM');
  }
});
