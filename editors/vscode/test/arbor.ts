// Test helpers: a scratch git repository and the real `arbor` binary spoken to through
// vscode-jsonrpc (the library vscode-languageclient is built on), wrapped in the extension's own
// ArborConnection.

import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection, MessageConnection } from 'vscode-jsonrpc/node';
import { ArborConnection } from '../src/connection';
import { SessionEventNotification } from '../src/protocol';

export function arborBin(): string {
  if (process.env.ARBOR_BIN) return process.env.ARBOR_BIN;
  const metadata = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { encoding: 'utf8' }));
  return path.join(metadata.target_directory, 'debug', 'arbor');
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 't@example.invalid' },
  }).trim();
}

export function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'arbor-vscode-'));
}

/// A repository with `files` committed on main.
export function repo(root: string, files: Record<string, string>): string {
  const dir = path.join(root, 'repo');
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  return dir;
}

export interface Server {
  process: ChildProcess;
  rpc: MessageConnection;
  arbor: ArborConnection;
  events: SessionEventNotification[];
  stop(): Promise<void>;
}

/// `arbor lsp --standalone` in scratch directories, initialized.
export async function startServer(root: string): Promise<Server> {
  return connect(['--data-dir', path.join(root, 'data'), '--runtime-dir', path.join(root, 'run'), '--config', path.join(root, 'config.json'), 'lsp', '--standalone'], process.env);
}

/// Another client of the daemon an editor uses (`arbor lsp` with the editor's ARBOR_* variables).
export async function connectDaemon(env: Record<string, string>): Promise<Server> {
  return connect(['lsp'], { ...process.env, ...env });
}

/// The arbor binary run with `args` (an `lsp` bridge), spoken to over its stdio, initialized.
export async function connect(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  const child = spawn(arborBin(), args, { stdio: ['pipe', 'pipe', 'inherit'], env });
  const rpc = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  rpc.listen();
  const arbor = new ArborConnection(rpc);
  const events: SessionEventNotification[] = [];
  arbor.onEvent((event) => events.push(event));
  await rpc.sendRequest('initialize', { processId: process.pid, capabilities: {}, rootUri: null });
  await rpc.sendNotification('initialized', {});
  return {
    process: child,
    rpc,
    arbor,
    events,
    async stop() {
      try {
        await rpc.sendRequest('shutdown');
        await rpc.sendNotification('exit');
      } catch {
        // Already gone.
      }
      rpc.dispose();
      child.kill();
    },
  };
}

/// Waits until `condition` holds.
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
