// The chat panel (a webview view): shows one session at a time, history then live, and carries
// the user's messages, interrupts and permission answers back to the server.

import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { ChatUpdate, isChatUpdate, parseChatRequest } from './messages';
import { Method, Session, SessionEventNotification } from './protocol';
import { chatHtml, nonce } from './webviewHtml';

export class ChatView implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;
  private sessionId: string | undefined;
  private ready = false;
  private ctx!: Ctx;

  constructor(private readonly extensionUri: vscode.Uri) {}

  attach(ctx: Ctx): void {
    this.ctx = ctx;
    ctx.connection.onEvent((notification: SessionEventNotification) => {
      if (notification.sessionId === this.sessionId) this.post({ type: 'events', events: [notification] });
    });
    ctx.connection.onSessionChanged(({ session }) => {
      if (session.id === this.sessionId) this.post({ type: 'session', session });
    });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    view.webview.html = chatHtml({
      cspSource: view.webview.cspSource,
      scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.js')).toString(),
      styleUri: view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css')).toString(),
      nonce: nonce(),
    });
    view.webview.onDidReceiveMessage((message) => this.receive(message));
    view.onDidDispose(() => {
      this.view = undefined;
      this.ready = false;
    });
  }

  private post(update: ChatUpdate): void {
    if (this.view && this.ready && isChatUpdate(update)) void this.view.webview.postMessage(update);
  }

  private async receive(message: unknown): Promise<void> {
    const request = parseChatRequest(message);
    if (!request) return;
    const sessionId = this.sessionId;
    switch (request.type) {
      case 'ready':
        this.ready = true;
        if (sessionId) await this.load(sessionId);
        break;
      case 'send':
        if (sessionId) await this.ctx.request(Method.sessionPrompt, { sessionId, text: request.text });
        break;
      case 'interrupt':
        if (sessionId) await this.ctx.request(Method.sessionCancel, { sessionId });
        break;
      case 'respond':
        if (sessionId) await this.ctx.request(Method.sessionRespond, { sessionId, requestId: request.requestId, optionId: request.optionId });
        break;
    }
  }

  /// Replays a session's history into the page, then keeps it live.
  private async load(sessionId: string): Promise<void> {
    const session = await this.ctx.request<Session>(Method.sessionGet, { sessionId });
    this.post({ type: 'reset', session: session ?? null });
    const events = await this.ctx.connection.history(sessionId);
    this.post({ type: 'events', events });
    const last = events.length ? events[events.length - 1].seq : 0;
    await this.ctx.request(Method.sessionSubscribe, { sessionId, afterSeq: last });
  }

  async show(sessionId: string): Promise<void> {
    if (this.sessionId && this.sessionId !== sessionId) {
      await this.ctx.request(Method.sessionUnsubscribe, { sessionId: this.sessionId });
    }
    this.sessionId = sessionId;
    await vscode.commands.executeCommand('arbor.chat.focus');
    if (this.ready) await this.load(sessionId);
  }
}
