// Messages between the extension and its webviews, validated both ways: a webview is untrusted
// input, and the extension must not post anything the page cannot handle.

import { SessionEvent, SessionEventNotification, Session, CompareResult } from './protocol';

/// From the chat webview to the extension.
export type ChatRequest =
  | { type: 'ready' }
  | { type: 'send'; id: number; text: string }
  | { type: 'interrupt' }
  | { type: 'respond'; requestId: string; optionId: string; content?: Record<string, unknown> }
  | { type: 'openDiff'; path: string; oldText: string | null; newText: string }
  | { type: 'pickFile' }
  | { type: 'pullRequest'; action: PullRequestAction };

/// What the chat's pull request buttons do: open it in the browser, or one of the actions the
/// server suggests in a `pr_updated` event.
export type PullRequestAction = 'open' | 'delete_session' | 'send_review';
const PULL_REQUEST_ACTIONS: PullRequestAction[] = ['open', 'delete_session', 'send_review'];

/// An event as the chat extension keeps it for the webview: its seq and what happened, without
/// the session id and time the page does not use.
export type ChatEvent = Pick<SessionEventNotification, 'seq' | 'event'>;

/// What the chat webview gets of each event.
export function chatEvent({ seq, event }: SessionEventNotification): ChatEvent {
  return { seq, event };
}

/// An event as it is posted to the chat webview, in a run of events whose seqs follow each other
/// (so each event's seq is the run's first plus its place): a reply chunk is its text, a thinking
/// chunk a one-element array of its text, any other event the event itself. A history is nearly
/// all chunks, and each as `{"seq":…,"event":{"kind":"agent_thought_chunk","text":"…"}}` was
/// six times the bytes of its text; a webview message costs VS Code (and the page) by its size.
export type WireEvent = string | [string] | SessionEvent;

function wireEvent(event: SessionEvent): WireEvent {
  // Only a chunk that carries nothing but its text has the short form, so none is lost.
  if ((event.kind === 'agent_message_chunk' || event.kind === 'agent_thought_chunk') && typeof event.text === 'string' && Object.keys(event).length === 2) {
    return event.kind === 'agent_message_chunk' ? event.text : [event.text];
  }
  return event;
}

/// The events as messages to the chat webview: one per run of consecutive seqs, in order.
export function chatUpdates(events: ChatEvent[]): ChatUpdate[] {
  const updates: ChatUpdate[] = [];
  let run: { type: 'events'; from: number; events: WireEvent[] } | undefined;
  for (const { seq, event } of events) {
    if (!run || seq !== run.from + run.events.length) {
      run = { type: 'events', from: seq, events: [] };
      updates.push(run);
    }
    run.events.push(wireEvent(event));
  }
  return updates;
}

const isWireEvent = (event: unknown): event is WireEvent =>
  typeof event === 'string' ||
  (Array.isArray(event) ? event.length === 1 && typeof event[0] === 'string' : !!event && typeof event === 'object' && typeof (event as { kind: unknown }).kind === 'string');

/// From the extension to the chat webview.
export type ChatUpdate =
  /// The page starts over on a session; with `loading`, its history follows, then `loaded`.
  | { type: 'reset'; session: Session | null; loading?: boolean }
  | { type: 'loaded' }
  | { type: 'events'; from: number; events: WireEvent[] }
  | { type: 'session'; session: Session }
  | { type: 'deleted' }
  | { type: 'sent'; id: number; ok: boolean; error?: string }
  | { type: 'insert'; text: string }
  | { type: 'commands'; commands: { name: string; description: string }[] };

/// From the extension to the comparison webview.
export type CompareUpdate = { type: 'compare'; result: CompareResult; title: string };

/// From the comparison webview to the extension: the page is ready, or a row's action.
export type CompareRequest = { type: 'ready' } | { type: 'openDiff' | 'check' | 'promote'; trialId: string };

const MAX_TEXT = 100_000;
/// Tool diffs carry whole files.
const MAX_FILE = 10_000_000;

const isString = (value: unknown, max = MAX_TEXT): value is string => typeof value === 'string' && value.length <= max;

/// The request, if `message` is a well-formed one; otherwise null.
export function parseChatRequest(message: unknown): ChatRequest | null {
  if (!message || typeof message !== 'object') return null;
  const candidate = message as Record<string, unknown>;
  switch (candidate.type) {
    case 'ready':
    case 'interrupt':
    case 'pickFile':
      return { type: candidate.type };
    case 'send':
      return isString(candidate.text) && candidate.text.trim() !== '' && Number.isInteger(candidate.id) ? { type: 'send', id: candidate.id as number, text: candidate.text } : null;
    case 'openDiff':
      return isString(candidate.path, 4096) && (candidate.oldText === null || isString(candidate.oldText, MAX_FILE)) && isString(candidate.newText, MAX_FILE)
        ? { type: 'openDiff', path: candidate.path, oldText: candidate.oldText as string | null, newText: candidate.newText }
        : null;
    case 'pullRequest':
      return PULL_REQUEST_ACTIONS.includes(candidate.action as PullRequestAction) ? { type: 'pullRequest', action: candidate.action as PullRequestAction } : null;
    case 'respond': {
      if (!isString(candidate.requestId, 200) || !isString(candidate.optionId, 200)) return null;
      // A question's answer: a plain object of values, checked again by the server.
      const content = candidate.content;
      if (content === undefined) return { type: 'respond', requestId: candidate.requestId, optionId: candidate.optionId };
      const plain = typeof content === 'object' && content !== null && !Array.isArray(content) && JSON.stringify(content).length <= 64 * 1024;
      return plain ? { type: 'respond', requestId: candidate.requestId, optionId: candidate.optionId, content: content as Record<string, unknown> } : null;
    }
    default:
      return null;
  }
}

/// Whether an update is one the chat page understands (checked before posting).
export function isChatUpdate(update: unknown): update is ChatUpdate {
  if (!update || typeof update !== 'object') return false;
  const candidate = update as Record<string, unknown>;
  switch (candidate.type) {
    case 'reset':
      return candidate.session === null || typeof candidate.session === 'object';
    case 'events':
      return Number.isInteger(candidate.from) && Array.isArray(candidate.events) && candidate.events.every(isWireEvent);
    case 'session':
      return !!candidate.session && typeof candidate.session === 'object';
    case 'deleted':
    case 'loaded':
      return true;
    case 'sent':
      return Number.isInteger(candidate.id) && typeof candidate.ok === 'boolean';
    case 'insert':
      return typeof candidate.text === 'string';
    case 'commands':
      return Array.isArray(candidate.commands);
    default:
      return false;
  }
}

/// The request, if `message` from the comparison page is a well-formed one; otherwise null.
export function parseCompareRequest(message: unknown): CompareRequest | null {
  if (!message || typeof message !== 'object') return null;
  const candidate = message as Record<string, unknown>;
  if (candidate.type === 'ready') return { type: 'ready' };
  if ((candidate.type === 'openDiff' || candidate.type === 'check' || candidate.type === 'promote') && isString(candidate.trialId, 200)) return { type: candidate.type, trialId: candidate.trialId };
  return null;
}
