// The trial comparison panel: trial/compare as a table with bars for lines changed and cost.

import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { CompareResult, Method } from './protocol';
import { compareHtml, nonce } from './webviewHtml';

export async function showCompare(ctx: Ctx, extensionUri: vscode.Uri, taskId: string): Promise<void> {
  const result = await ctx.request<CompareResult>(Method.trialCompare, { taskId });
  if (!result) return;
  const media = vscode.Uri.joinPath(extensionUri, 'media');
  const title = ctx.store.tasks.get(taskId)?.title ?? 'task';
  const panel = vscode.window.createWebviewPanel('arbor.compare', `Compare: ${title}`, vscode.ViewColumn.Active, {
    enableScripts: true,
    localResourceRoots: [media],
  });
  panel.webview.html = compareHtml({
    cspSource: panel.webview.cspSource,
    scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'compare.js')).toString(),
    styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'compare.css')).toString(),
    nonce: nonce(),
  });
  await panel.webview.postMessage({ type: 'compare', result });
}
