// The world of the workbench tests: a git repository as the workspace, Arbor's directories, the
// packaged extension installed into code-server, the browser on the workbench, and a client of
// the same daemon for what a test prepares or checks behind the user's back.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { arborBin, git, repo, scratch } from '../arbor';
import { CodeServer, startCodeServer } from './codeServer';
import { Workbench } from './driver';

/// The workspace's src/app.txt: far enough apart, two edited lines make two changes.
export const APP_LINES = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen'];

export interface World {
  root: string;
  workspace: string;
  arborEnv: Record<string, string>;
  server: CodeServer;
  workbench: Workbench;
  stop(): Promise<void>;
}

const extensionRoot = path.resolve(__dirname, '../../..');

/// Where screenshots go: a gitignored directory beside the extension (or $ARBOR_TEST_ARTIFACTS).
export const artifacts = process.env.ARBOR_TEST_ARTIFACTS ?? path.join(extensionRoot, 'test-artifacts', 'workbench');

function codeServerBinary(): string {
  const binary = process.env.CODE_SERVER ?? path.resolve(extensionRoot, '../../.ci-cache/code-server/bin/code-server');
  if (!fs.existsSync(binary)) throw new Error(`${binary} is missing: run scripts/install-code-server`);
  return binary;
}

/// Ends the daemon `arbor lsp` started for the extension (its pid is in the discovery file).
function stopDaemon(runtimeDir: string): void {
  try {
    const { pid } = JSON.parse(fs.readFileSync(path.join(runtimeDir, 'daemon.json'), 'utf8')) as { pid: number };
    process.kill(pid, 'SIGTERM');
  } catch {
    // No daemon was started.
  }
}

export async function startWorld(settings: Record<string, unknown> = {}): Promise<World> {
  const root = scratch();
  const workspace = repo(root, { 'README.md': '# demo\n', 'src/app.txt': APP_LINES.join('\n') + '\n' });
  git(workspace, 'config', 'user.name', 'Test');
  git(workspace, 'config', 'user.email', 't@example.invalid');
  const arborEnv = {
    ARBOR_DATA_DIR: path.join(root, 'arbor-data'),
    ARBOR_RUNTIME_DIR: path.join(root, 'arbor-run'),
    ARBOR_CONFIG: path.join(root, 'arbor-config.json'),
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 't@example.invalid',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 't@example.invalid',
  };
  fs.writeFileSync(arborEnv.ARBOR_CONFIG, '{}\n');
  fs.rmSync(artifacts, { recursive: true, force: true });
  const server = await startCodeServer({
    binary: codeServerBinary(),
    home: path.join(root, 'code-server'),
    vsix: path.join(extensionRoot, 'out', 'arbor.vsix'),
    workspace,
    settings: { 'arbor.path': arborBin(), 'workbench.colorTheme': 'Default Dark Modern', ...settings },
    env: arborEnv,
  });
  let workbench: Workbench;
  try {
    workbench = await Workbench.open(server.url, workspace, artifacts);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return {
    root,
    workspace,
    arborEnv,
    server,
    workbench,
    async stop() {
      await workbench.close().catch(() => undefined);
      await server.stop();
      stopDaemon(arborEnv.ARBOR_RUNTIME_DIR);
    },
  };
}
