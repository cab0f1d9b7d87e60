// Entry point: starts `arbor lsp` through vscode-languageclient, wires the views, the commands,
// the review and the status bar. All state comes from the server.

import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { ChatView } from './chatView';
import { registerCommands } from './commands';
import { showCompare } from './compareView';
import { ArborConnection } from './connection';
import { Ctx } from './ctx';
import { Review } from './review';
import { SessionsTree } from './sessionsTree';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Arbor');
  const binary = vscode.workspace.getConfiguration('arbor').get<string>('path') || 'arbor';
  const serverOptions: ServerOptions = { command: binary, args: ['lsp'] };
  const clientOptions: LanguageClientOptions = { documentSelector: [], outputChannel: output };
  client = new LanguageClient('arbor', 'Arbor', serverOptions, clientOptions);
  await client.start();

  const chat = new ChatView(context.extensionUri);
  let tree: SessionsTree | undefined;
  let review: Review | undefined;
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  status.command = 'arbor.sessions.focus';
  const ctx: Ctx = new Ctx(new ArborConnection(client), {
    showChat: (sessionId) => chat.show(sessionId),
    showCompare: (taskId) => showCompare(ctx, context.extensionUri, taskId),
    refreshTree: () => {
      tree?.refresh();
      status.text = ctx.store.statusText();
      status.show();
    },
    startReview: (session) => review!.start(session),
  });
  tree = new SessionsTree(ctx.store);
  review = new Review(ctx);
  chat.attach(ctx);
  context.subscriptions.push(
    output,
    status,
    vscode.window.registerTreeDataProvider('arbor.sessions', tree),
    vscode.window.registerWebviewViewProvider('arbor.chat', chat, { webviewOptions: { retainContextWhenHidden: true } }),
    ...review.register(),
    ...registerCommands(ctx),
  );
  await ctx.refresh();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
