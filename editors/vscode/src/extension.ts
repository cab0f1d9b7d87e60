// Entry point: registers the views and commands first (so they say what is wrong rather than
// "command not found" when the server cannot start), then starts `arbor lsp` and wires the chat,
// the review, the comparisons and the needs-you signals. All state comes from the server.

import * as vscode from 'vscode';
import { Attention } from './attention';
import { ChatView } from './chatView';
import { registerCommands } from './commands';
import { CompareViews } from './compareView';
import { ArborConnection } from './connection';
import { Ctx } from './ctx';
import { Review } from './review';
import { ServerLauncher } from './server';
import { SessionsTree } from './sessionsTree';

let launcher: ServerLauncher | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Arbor');
  const connection = new ArborConnection();
  launcher = new ServerLauncher(connection, output);
  const server = launcher;
  const chat = new ChatView(context);
  const compare = new CompareViews(context.extensionUri);
  let tree: SessionsTree | undefined;
  let review: Review | undefined;
  let attention: Attention | undefined;
  const ctx: Ctx = new Ctx(connection, {
    showChat: (sessionId) => chat.show(sessionId),
    showCompare: (taskId) => compare.show(ctx, taskId),
    refreshTree: () => {
      tree?.refresh();
      attention?.refresh();
    },
    startReview: (session) => review!.start(session),
    explainServer: () => server.explain(),
    chatSession: () => chat.visibleSession(),
  });
  tree = new SessionsTree(ctx);
  review = new Review(ctx);
  attention = new Attention(ctx, tree.view);
  chat.attach(ctx);
  compare.attach(ctx);
  context.subscriptions.push(
    output,
    server,
    tree,
    attention,
    ...chat.register(),
    ...review.register(),
    ...registerCommands(ctx),
    vscode.commands.registerCommand('arbor.showSetup', () => server.explain()),
    vscode.workspace.onDidChangeConfiguration(async (change) => {
      const bridge = ['arbor.path', 'arbor.connect', 'arbor.tokenFile', 'arbor.caCert'].some((setting) => change.affectsConfiguration(setting));
      if (bridge && (await server.start())) await ctx.refresh();
    }),
  );
  if (await server.start()) await ctx.refresh();
  else tree.refresh();
}

export async function deactivate(): Promise<void> {
  await launcher?.dispose();
}
