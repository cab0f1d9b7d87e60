// The one way the extension talks to the server, whatever carries it: vscode-languageclient's
// LanguageClient in the editor, or a vscode-jsonrpc connection in the protocol tests.

import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import { EventsResult, Method, Notification, SessionChangedNotification, SessionEventNotification, TaskChangedNotification } from './protocol';

/// What both LanguageClient and vscode-jsonrpc's MessageConnection offer, typed by the generated
/// descriptors of protocol.ts.
export interface Transport {
  sendRequest<R>(type: RequestType0<R, void>): Promise<R>;
  sendRequest<P, R>(type: RequestType<P, R, void>, params: P): Promise<R>;
  onNotification<P>(type: NotificationType<P>, handler: (params: P) => void): unknown;
}

/// A request of the protocol: one of protocol.ts's `Method` descriptors.
export type Request<P, R> = RequestType0<R, void> | RequestType<P, R, void>;

export type Listener<T> = (value: T) => void;

/// Events asked for per `session/events` page when a history is read: the server's largest page.
const HISTORY_PAGE = 5000;
/// Pages of a history asked for ahead of the one being used.
const PAGES_AHEAD = 3;

/// Why requests cannot be made now: the server is not running (first run, wrong `arbor.path`).
export class NotConnected extends Error {}

/// Typed requests and fan-out of the server's notifications. The transport is attached once the
/// server runs, and may be replaced (a restart after `arbor.path` changes); listeners stay.
export class ArborConnection {
  private readonly eventListeners = new Set<Listener<SessionEventNotification>>();
  private readonly sessionListeners = new Set<Listener<SessionChangedNotification>>();
  private readonly taskListeners = new Set<Listener<TaskChangedNotification>>();
  private transport: Transport | undefined;
  private notConnected = 'the Arbor server is not running';

  constructor(transport?: Transport) {
    if (transport) this.attach(transport);
  }

  attach(transport: Transport): void {
    this.transport = transport;
    transport.onNotification(Notification.SessionEvent, (params) => this.eventListeners.forEach((listener) => listener(params)));
    transport.onNotification(Notification.SessionChanged, (params) => this.sessionListeners.forEach((listener) => listener(params)));
    transport.onNotification(Notification.TaskChanged, (params) => this.taskListeners.forEach((listener) => listener(params)));
  }

  /// Drops the transport; requests then fail with `reason`.
  detach(reason: string): void {
    this.transport = undefined;
    this.notConnected = reason;
  }

  get connected(): boolean {
    return this.transport !== undefined;
  }

  /// Sends a request; a method without params (a `RequestType0`) is sent without any.
  request<R>(type: RequestType0<R, void>): Promise<R>;
  request<P, R>(type: RequestType<P, R, void>, params: P): Promise<R>;
  request<P, R>(type: Request<P, R>, params?: P): Promise<R> {
    const transport = this.transport;
    if (!transport) return Promise.reject(new NotConnected(this.notConnected));
    return type instanceof RequestType0 ? transport.sendRequest(type) : transport.sendRequest(type, params as P);
  }

  onEvent(listener: Listener<SessionEventNotification>): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onSessionChanged(listener: Listener<SessionChangedNotification>): () => void {
    this.sessionListeners.add(listener);
    return () => this.sessionListeners.delete(listener);
  }

  onTaskChanged(listener: Listener<TaskChangedNotification>): () => void {
    this.taskListeners.add(listener);
    return () => this.taskListeners.delete(listener);
  }

  /// The events of a session from `afterSeq`, a page at a time, in order, so a caller can use
  /// one while the next are read. Seqs are gap-free, so where each page starts is known: the
  /// pages up to `knownLastSeq` (what the caller knows of the session's last seq), then up to the
  /// last seq the first page gives, are asked for PAGES_AHEAD at a time ahead of the one in use,
  /// and the server reads them while the earlier ones are used; any stored since follow page by
  /// page. All of them at once made the server answer them in any order, and the first one, the
  /// one needed first, came after most of the others.
  async *pages(sessionId: string, afterSeq = 0, knownLastSeq = 0): AsyncGenerator<SessionEventNotification[]> {
    const ask = (after: number) => this.request(Method.SessionEvents, { sessionId, afterSeq: after, limit: HISTORY_PAGE });
    const requests = [ask(afterSeq)];
    let lastSeq = knownLastSeq;
    const askAhead = (index: number) => {
      for (let after = afterSeq + HISTORY_PAGE * requests.length; requests.length <= index + PAGES_AHEAD && after < lastSeq; after += HISTORY_PAGE) requests.push(ask(after));
    };
    askAhead(0);
    let last = afterSeq;
    let more = false;
    for (let index = 0; index < requests.length; index++) {
      const page = await requests[index];
      if (index === 0 && page.hasMore) lastSeq = Math.max(lastSeq, page.lastSeq);
      askAhead(index + 1);
      // Each seq once, even were pages to overlap.
      const events = page.events.filter((event) => event.seq > last);
      if (events.length > 0) last = events[events.length - 1].seq;
      more = page.hasMore;
      yield events;
    }
    if (more) yield* this.pages(sessionId, last);
  }

  /// Every event of a session from `afterSeq`.
  async history(sessionId: string, afterSeq = 0): Promise<SessionEventNotification[]> {
    const events: SessionEventNotification[] = [];
    for await (const page of this.pages(sessionId, afterSeq)) events.push(...page);
    return events;
  }
}

/// The message of an error from the server (JSON-RPC errors carry one).
export function errorMessage(error: unknown): string {
  if (error && typeof error === 'object' && 'message' in error) return String((error as { message: unknown }).message);
  return String(error);
}
