// Real VS Code for the workbench tests: the pinned code-server that scripts/install-code-server
// caches, run offline in its own directories with the freshly packaged extension installed, and
// ended with its whole process group (its file watcher outlives the main process otherwise).

import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface CodeServer {
  url: string;
  /// The server's log (stdout and stderr), for a failure's report.
  logFile: string;
  stop(): Promise<void>;
}

export interface CodeServerOptions {
  /// The code-server launcher (`.ci-cache/code-server/bin/code-server`).
  binary: string;
  /// A scratch directory for code-server's configuration, user data and extensions.
  home: string;
  vsix: string;
  workspace: string;
  /// User settings, beside the ones that keep VS Code quiet and offline.
  settings: Record<string, unknown>;
  /// Extra environment for the extension host (it inherits code-server's).
  env: Record<string, string>;
}

const QUIET_SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'chat.disableAIFeatures': true,
  'git.openRepositoryInParentFolders': 'never',
  'window.commandCenter': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function environment(options: CodeServerOptions): NodeJS.ProcessEnv {
  // Every code-server call writes under XDG directories: keep them all in the scratch home. The
  // marketplace is turned off so nothing is fetched.
  return {
    ...process.env,
    ...options.env,
    HOME: options.home,
    XDG_CONFIG_HOME: path.join(options.home, 'config'),
    XDG_DATA_HOME: path.join(options.home, 'data'),
    XDG_CACHE_HOME: path.join(options.home, 'cache'),
    EXTENSIONS_GALLERY: '{}',
  };
}

function directories(options: CodeServerOptions): string[] {
  return [
    '--config', path.join(options.home, 'config.yaml'),
    '--user-data-dir', path.join(options.home, 'user-data'),
    '--extensions-dir', path.join(options.home, 'extensions'),
  ];
}

async function healthy(url: string, deadline: number, child: ChildProcess, logFile: string): Promise<void> {
  for (;;) {
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}; see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`code-server did not answer /healthz in time; see ${logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const env = environment(options);
  const settingsFile = path.join(options.home, 'user-data', 'User', 'settings.json');
  fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
  fs.writeFileSync(settingsFile, JSON.stringify({ ...QUIET_SETTINGS, ...options.settings }, null, 2));
  fs.writeFileSync(path.join(options.home, 'config.yaml'), 'auth: none\ncert: false\n');
  execFileSync(options.binary, [...directories(options), '--install-extension', options.vsix, '--force'], { env, stdio: 'pipe', timeout: 120_000 });

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = path.join(options.home, 'code-server.log');
  const log = fs.openSync(logFile, 'a');
  // Its own process group (detached), so that stop() ends the watcher and the extension host too.
  const child = spawn(
    options.binary,
    [
      ...directories(options),
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      options.workspace,
    ],
    { env, detached: true, stdio: ['ignore', log, log] },
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    // The group's other members (the file watcher) may outlive the main process: end them all.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  try {
    await healthy(url, Date.now() + 30_000, child, logFile);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, logFile, stop };
}
