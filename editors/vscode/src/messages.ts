// Messages between the extension and its webviews, validated both ways: a webview is untrusted
// input, and the extension must not post anything the page cannot handle.

import { SessionEventNotification, Session, CompareResult } from './protocol';

/// From the chat webview to the extension.
export type ChatRequest =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  | { type: 'interrupt' }
  | { type: 'respond'; requestId: string; optionId: string };

/// From the extension to the chat webview.
export type ChatUpdate =
  | { type: 'reset'; session: Session | null }
  | { type: 'events'; events: SessionEventNotification[] }
  | { type: 'session'; session: Session };

/// From the extension to the comparison webview.
export type CompareUpdate = { type: 'compare'; result: CompareResult };

const MAX_TEXT = 100_000;

const isString = (value: unknown, max = MAX_TEXT): value is string => typeof value === 'string' && value.length <= max;

/// The request, if `message` is a well-formed one; otherwise null.
export function parseChatRequest(message: unknown): ChatRequest | null {
  if (!message || typeof message !== 'object') return null;
  const candidate = message as Record<string, unknown>;
  switch (candidate.type) {
    case 'ready':
    case 'interrupt':
      return { type: candidate.type };
    case 'send':
      return isString(candidate.text) && candidate.text.trim() !== '' ? { type: 'send', text: candidate.text } : null;
    case 'respond':
      return isString(candidate.requestId, 200) && isString(candidate.optionId, 200)
        ? { type: 'respond', requestId: candidate.requestId, optionId: candidate.optionId }
        : null;
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
      return Array.isArray(candidate.events) && candidate.events.every((event) => event && typeof event === 'object' && typeof (event as SessionEventNotification).seq === 'number');
    case 'session':
      return !!candidate.session && typeof candidate.session === 'object';
    default:
      return false;
  }
}
