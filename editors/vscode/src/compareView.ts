// The trial comparisons: one editor tab per task (running Compare again reveals it), live on
// `task/changed`, kept when hidden (the page asks for the latest result whenever it loads), with
// actions per row: open the trial's diff, run the task's check, promote (confirmed by name).

import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { parseCompareRequest } from './messages';
import { CompareResult, Method } from './protocol';
import { compareHtml, nonce } from './webviewHtml';

interface Comparison {
  panel: vscode.WebviewPanel;
  result: CompareResult | undefined;
  ready: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class CompareViews {
  private readonly open = new Map<string, Comparison>();
  private ctx!: Ctx;

  constructor(private readonly extensionUri: vscode.Uri) {}

  attach(ctx: Ctx): void {
    this.ctx = ctx;
    ctx.connection.onTaskChanged(({ task }) => this.schedule(task.id));
    ctx.connection.onSessionChanged(({ session }) => {
      if (session.taskId) this.schedule(session.taskId);
    });
  }

  async show(ctx: Ctx, taskId: string): Promise<void> {
    const existing = this.open.get(taskId);
    if (existing) {
      existing.panel.reveal();
      await this.update(taskId);
      return;
    }
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const panel = vscode.window.createWebviewPanel('arbor.compare', `Compare: ${ctx.store.tasks.get(taskId)?.title ?? 'task'}`, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [media],
      retainContextWhenHidden: true,
    });
    const comparison: Comparison = { panel, result: undefined, ready: false, timer: undefined };
    this.open.set(taskId, comparison);
    panel.onDidDispose(() => {
      clearTimeout(comparison.timer);
      this.open.delete(taskId);
    });
    panel.webview.onDidReceiveMessage((message) => this.receive(taskId, message));
    panel.webview.html = compareHtml({
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'compare.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'compare.css')).toString(),
      nonce: nonce(),
    });
    await this.update(taskId);
  }

  /// Coalesces a burst of changes (every chunk of usage moves a task) into one fetch.
  private schedule(taskId: string): void {
    const comparison = this.open.get(taskId);
    if (!comparison || comparison.timer) return;
    comparison.timer = setTimeout(() => {
      comparison.timer = undefined;
      void this.update(taskId);
    }, 250);
  }

  private async update(taskId: string): Promise<void> {
    const comparison = this.open.get(taskId);
    if (!comparison) return;
    const result = await this.ctx.request(Method.TrialCompare, { taskId });
    if (!result) return;
    comparison.result = result;
    this.post(taskId);
  }

  private post(taskId: string): void {
    const comparison = this.open.get(taskId);
    if (!comparison?.ready || !comparison.result) return;
    const title = this.ctx.store.tasks.get(taskId)?.title ?? 'task';
    void comparison.panel.webview.postMessage({ type: 'compare', result: comparison.result, title });
  }

  private async receive(taskId: string, message: unknown): Promise<void> {
    const request = parseCompareRequest(message);
    const comparison = this.open.get(taskId);
    if (!request || !comparison) return;
    if (request.type === 'ready') {
      comparison.ready = true;
      this.post(taskId);
      return;
    }
    const row = comparison.result?.rows.find((candidate) => candidate.trialId === request.trialId);
    if (!row) return;
    if (request.type === 'openDiff') {
      const sessionId = this.ctx.store.trials.get(taskId)?.find((trial) => trial.trialId === row.trialId)?.sessionIds.at(-1);
      if (sessionId) await vscode.commands.executeCommand('arbor.reviewChanges', sessionId);
    } else if (request.type === 'check') {
      await vscode.commands.executeCommand('arbor.checkTrial', { trialId: row.trialId });
    } else {
      await vscode.commands.executeCommand('arbor.promoteTrial', { trialId: row.trialId });
    }
    await this.update(taskId);
  }
}
