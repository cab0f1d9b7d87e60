// The one way the extension talks to the server, whatever carries it: vscode-languageclient's
// LanguageClient in the editor, or a vscode-jsonrpc connection in the protocol tests.

import { Method, Notification, Session, SessionEventNotification, Task } from './protocol';

/// What both LanguageClient and vscode-jsonrpc's MessageConnection offer.
export interface Transport {
  sendRequest<R>(method: string, params?: unknown): Promise<R>;
  onNotification(method: string, handler: (params: any) => void): unknown;
}

export type Listener<T> = (value: T) => void;

/// Why requests cannot be made now: the server is not running (first run, wrong `arbor.path`).
export class NotConnected extends Error {}

/// Typed requests and fan-out of the server's notifications. The transport is attached once the
/// server runs, and may be replaced (a restart after `arbor.path` changes); listeners stay.
export class ArborConnection {
  private readonly eventListeners = new Set<Listener<SessionEventNotification>>();
  private readonly sessionListeners = new Set<Listener<{ session: Session; deleted: boolean }>>();
  private readonly taskListeners = new Set<Listener<{ task: Task }>>();
  private transport: Transport | undefined;
  private notConnected = 'the Arbor server is not running';

  constructor(transport?: Transport) {
    if (transport) this.attach(transport);
  }

  attach(transport: Transport): void {
    this.transport = transport;
    transport.onNotification(Notification.sessionEvent, (params: SessionEventNotification) => this.eventListeners.forEach((listener) => listener(params)));
    transport.onNotification(Notification.sessionChanged, (params: { session: Session; deleted: boolean }) => this.sessionListeners.forEach((listener) => listener(params)));
    transport.onNotification(Notification.taskChanged, (params: { task: Task }) => this.taskListeners.forEach((listener) => listener(params)));
  }

  /// Drops the transport; requests then fail with `reason`.
  detach(reason: string): void {
    this.transport = undefined;
    this.notConnected = reason;
  }

  get connected(): boolean {
    return this.transport !== undefined;
  }

  request<R>(method: string, params?: unknown): Promise<R> {
    const transport = this.transport;
    if (!transport) return Promise.reject(new NotConnected(this.notConnected));
    // Methods without params must get none at all: vscode-jsonrpc would send `[null]`.
    return params === undefined ? transport.sendRequest<R>(method) : transport.sendRequest<R>(method, params);
  }

  onEvent(listener: Listener<SessionEventNotification>): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onSessionChanged(listener: Listener<{ session: Session; deleted: boolean }>): () => void {
    this.sessionListeners.add(listener);
    return () => this.sessionListeners.delete(listener);
  }

  onTaskChanged(listener: Listener<{ task: Task }>): () => void {
    this.taskListeners.add(listener);
    return () => this.taskListeners.delete(listener);
  }

  /// Every event of a session from `afterSeq`, page by page.
  async history(sessionId: string, afterSeq = 0): Promise<SessionEventNotification[]> {
    const events: SessionEventNotification[] = [];
    let after = afterSeq;
    for (;;) {
      const page = await this.request<{ events: SessionEventNotification[]; hasMore: boolean }>(Method.sessionEvents, { sessionId, afterSeq: after, limit: 1000 });
      events.push(...page.events);
      if (page.events.length > 0) after = page.events[page.events.length - 1].seq;
      if (!page.hasMore) return events;
    }
  }
}

/// The message of an error from the server (JSON-RPC errors carry one).
export function errorMessage(error: unknown): string {
  if (error && typeof error === 'object' && 'message' in error) return String((error as { message: unknown }).message);
  return String(error);
}
