// Starting `arbor lsp`: finds the binary first, so that a missing or too old one gives one clear
// message with the way out (the `arbor.path` setting, the install command) instead of the
// language client's "couldn't create connection to server". Restarts when `arbor.path` changes.

import { execFile } from 'node:child_process';
import * as vscode from 'vscode';
import { bridgeArgs } from './bridge';
import { CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, RevealOutputChannelOn, ServerOptions } from 'vscode-languageclient/node';
import { ArborConnection } from './connection';
import { PROTOCOL_VERSION } from './protocol';

export const INSTALL_COMMAND = 'cargo install --path server';

/// What the extension knows of its server, as the `arbor.server` context key (views' welcome
/// content follows it).
export type ServerState = 'starting' | 'ready' | 'missing' | 'outdated';

type Probe = { ok: true; version: string } | { ok: false; state: 'missing' | 'outdated'; reason: string };

function binaryPath(): string {
  return vscode.workspace.getConfiguration('arbor').get<string>('path') || 'arbor';
}

/// Runs `arbor --version`: missing when it cannot run at all.
function probe(binary: string): Promise<Probe> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], { timeout: 10_000 }, (error, stdout) => {
      if (error) {
        const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `"${binary}" was not found` : `"${binary} --version" failed: ${error.message}`;
        resolve({ ok: false, state: 'missing', reason });
        return;
      }
      const version = /(\d+\.\d+\.\d+)/.exec(stdout)?.[1];
      resolve(version ? { ok: true, version } : { ok: false, state: 'missing', reason: `"${binary}" is not the arbor binary (it printed "${stdout.trim().slice(0, 80)}")` });
    });
  });
}

export class ServerLauncher implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private problem: string | undefined;
  private readonly stateChanged = new vscode.EventEmitter<ServerState>();
  readonly onDidChangeState = this.stateChanged.event;
  state: ServerState = 'starting';

  constructor(
    private readonly connection: ArborConnection,
    private readonly output: vscode.OutputChannel,
  ) {}

  /// Starts the server; on failure shows the first-run message and leaves the state saying why.
  async start(): Promise<boolean> {
    await this.stopClient();
    this.setState('starting');
    const binary = binaryPath();
    const found = await probe(binary);
    if (!found.ok) return this.fail(found.state, found.reason);
    const serverOptions: ServerOptions = { command: binary, args: bridgeArgs() };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationFailedHandler: () => false,
      errorHandler: { error: () => ({ action: ErrorAction.Continue }), closed: () => ({ action: CloseAction.DoNotRestart, handled: true }) },
    };
    const client = new LanguageClient('arbor', 'Arbor', serverOptions, clientOptions);
    try {
      await client.start();
    } catch (error) {
      await client.dispose().catch(() => undefined);
      return this.fail('missing', `"${binary} lsp" did not start: ${error instanceof Error ? error.message : String(error)}`);
    }
    const protocol = client.initializeResult?.capabilities.experimental?.arbor?.protocolVersion;
    if (typeof protocol !== 'number' || protocol < PROTOCOL_VERSION) {
      await client.dispose().catch(() => undefined);
      return this.fail('outdated', `arbor ${found.version} speaks protocol ${protocol ?? 'unknown'}; this extension needs protocol ${PROTOCOL_VERSION}`);
    }
    this.client = client;
    this.connection.attach(client);
    this.problem = undefined;
    this.setState('ready');
    return true;
  }

  /// Shows what is wrong and the way out; used by every command while the server is not running.
  async explain(): Promise<void> {
    const reason = this.problem ?? 'the Arbor server is still starting';
    const openSetting = 'Open Setting';
    const showInstall = 'Show Install Command';
    const answer = await vscode.window.showErrorMessage(`Arbor: ${reason}. Set arbor.path to the arbor binary, or install it.`, openSetting, showInstall);
    if (answer === openSetting) await vscode.commands.executeCommand('workbench.action.openSettings', 'arbor.path');
    if (answer === showInstall) {
      const copy = 'Copy';
      const picked = await vscode.window.showInformationMessage(`Install arbor from a checkout of its repository: ${INSTALL_COMMAND}`, copy);
      if (picked === copy) await vscode.env.clipboard.writeText(INSTALL_COMMAND);
    }
  }

  private async fail(state: 'missing' | 'outdated', reason: string): Promise<false> {
    this.problem = reason;
    this.connection.detach(reason);
    this.output.appendLine(`Arbor: ${reason}`);
    this.setState(state);
    void this.explain();
    return false;
  }

  private setState(state: ServerState): void {
    this.state = state;
    void vscode.commands.executeCommand('setContext', 'arbor.server', state);
    this.stateChanged.fire(state);
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connection.detach('the Arbor server is restarting');
    if (client) await client.stop().catch(() => undefined);
  }

  async dispose(): Promise<void> {
    await this.stopClient();
  }
}
