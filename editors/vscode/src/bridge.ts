// The command line of the bridge the language client starts: `arbor lsp`, to the local daemon
// or, with the `arbor.connect` setting, to a daemon on another machine.

import * as vscode from 'vscode';

/// The bridge's arguments: `lsp`, and with `arbor.connect` a daemon elsewhere reached over its
/// authenticated WebSocket (`arbor lsp --connect wss://host:port`, the token read from
/// `arbor.tokenFile` or the daemon's own token file).
export function bridgeArgs(): string[] {
  const config = vscode.workspace.getConfiguration('arbor');
  const connect = (config.get<string>('connect') ?? '').trim();
  if (!connect) return ['lsp'];
  const tokenFile = (config.get<string>('tokenFile') ?? '').trim();
  const caCert = (config.get<string>('caCert') ?? '').trim();
  return ['lsp', '--connect', connect, ...(tokenFile ? ['--token-file', tokenFile] : []), ...(caCert ? ['--ca-cert', caCert] : [])];
}
