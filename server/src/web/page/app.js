// The Arbor web companion: the same JSON-RPC protocol as the editors, over the daemon's
// WebSocket (authenticated by the HttpOnly login cookie), rendered for a phone first. The method
// names (`Method`, `Notification`) come from protocol.js, generated from the method table and
// loaded before this script.
'use strict';

const view = document.getElementById('view');
const connection = document.getElementById('connection');
const needsYou = document.getElementById('needs-you');
const notifyButton = document.getElementById('notify');

const sessions = new Map();
let socket = null;
let nextId = 1;
const pending = new Map();
let opened = false;
let chat = null; // { id, element, state, host, agentBubble, thoughtBubble, tools, cards }

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function request(method, params) {
  return new Promise((resolve, reject) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      reject(new Error('not connected to Arbor'));
      return;
    }
    const id = nextId++;
    pending.set(id, { resolve, reject });
    socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  });
}

function notify(method, params) {
  socket.send(JSON.stringify({ jsonrpc: '2.0', method, params }));
}

function connect() {
  socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket.addEventListener('open', async () => {
    opened = true;
    connection.textContent = 'connected';
    await request('initialize', { capabilities: {} });
    notify('initialized', {});
    const listed = await request(Method.SessionList, { limit: 200 });
    for (const session of listed.sessions) sessions.set(session.id, session);
    updateNeedsYou(false);
    route();
  });
  socket.addEventListener('message', (message) => receive(JSON.parse(message.data)));
  socket.addEventListener('close', (closed) => {
    for (const { reject } of pending.values()) reject(new Error('the connection closed'));
    pending.clear();
    if (closed.code === 4001) {
      connection.textContent = 'logged out';
      showNotice('The access token was rotated. Run `arbor web` on the computer and open the new link.');
    } else if (!opened) {
      connection.textContent = 'not logged in';
      showNotice('Not logged in. Run `arbor web` on the computer running Arbor and open the link it prints.');
    } else {
      connection.textContent = 'reconnecting…';
      opened = false;
      setTimeout(connect, 2000);
    }
  });
}

function receive(message) {
  if (message.id !== undefined && pending.has(message.id)) {
    const { resolve, reject } = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) reject(new Error(message.error.message));
    else resolve(message.result);
    return;
  }
  if (message.method === Notification.SessionChanged) sessionChanged(message.params);
  else if (message.method === Notification.SessionEvent) sessionEvent(message.params);
  else if (message.method === Notification.TaskChanged && location.hash.startsWith('#/t')) route();
}

function showNotice(text) {
  view.replaceChildren(element('p', { class: 'notice' }, text));
}

function stateOf(session) {
  if (session.status === 'running') {
    if (session.agentState === 'waiting_input') return ['waiting for you', 'waiting'];
    if (session.agentState === 'working') return ['working', 'working'];
    return ['idle', 'idle'];
  }
  if (session.status === 'pending' || session.status === 'creating') return ['starting', 'working'];
  return [`done (${session.status})`, 'done'];
}

// A cost Arbor estimated from token counts is marked "≈".
function costOf(usage) {
  const usd = usage ? usage.costUsd : 0;
  if (!usd) return '$0';
  return `${usage.costEstimated ? '≈ ' : ''}$${usd.toFixed(4)}`;
}

function cost(session) {
  return costOf(session.usage);
}

// Where a session runs: "on build-1" for a session the admission scheduler placed on a
// configured host, '' for one on this machine, which shows nothing new.
function hostOf(session) {
  return session.host ? `on ${session.host}` : '';
}

// The host's line of a session, kept current as a waiting session is placed.
function showHost(node, session) {
  node.textContent = hostOf(session);
  node.hidden = !session.host;
}

function titleOf(session) {
  return session.title || session.firstPrompt || `${session.agent} session ${session.id.slice(0, 8)}`;
}

function updateNeedsYou(alert) {
  const waiting = [...sessions.values()].filter((session) => stateOf(session)[1] === 'waiting');
  needsYou.textContent = String(waiting.length);
  needsYou.hidden = waiting.length === 0;
  document.title = waiting.length ? `(${waiting.length}) Arbor` : 'Arbor';
  notifyButton.hidden = !('Notification' in window) || Notification.permission !== 'default';
  return alert ? waiting : [];
}

function sessionChanged({ session, deleted }) {
  const before = sessions.get(session.id);
  if (deleted) sessions.delete(session.id);
  else sessions.set(session.id, session);
  const wasWaiting = before && stateOf(before)[1] === 'waiting';
  if (!deleted && !wasWaiting && stateOf(session)[1] === 'waiting') {
    if ('Notification' in window && Notification.permission === 'granted') {
      new Notification('Arbor: a session needs you', { body: titleOf(session), tag: session.id });
    }
  }
  updateNeedsYou(false);
  if (location.hash === '' || location.hash === '#/') renderSessions();
  if (chat && chat.id === session.id) {
    chat.state.textContent = stateOf(session)[0];
    showHost(chat.host, session);
  }
}

function renderSessions() {
  const rows = [...sessions.values()].map((session) => {
    const [label, kind] = stateOf(session);
    return element('li', {}, element('a', { href: `#/s/${session.id}`, 'data-session': session.id },
      element('span', { class: 'title' }, titleOf(session)),
      element('span', { class: `state ${kind}` }, label),
      element('span', { class: 'cost' }, cost(session)),
      element('span', { class: 'meta' }, session.agent),
      ...(session.host ? [element('span', { class: 'meta host' }, hostOf(session))] : [])));
  });
  view.replaceChildren(element('h1', {}, 'Sessions'),
    rows.length ? element('ul', { class: 'list' }, ...rows) : element('p', { class: 'notice' }, 'No sessions yet.'));
}

function tabs(id, active) {
  return element('div', { class: 'tabs' },
    element('a', { href: `#/s/${id}`, class: active === 'chat' ? 'active' : '' }, 'Chat'),
    element('a', { href: `#/s/${id}/diff`, class: active === 'diff' ? 'active' : '' }, 'Changes'));
}

// A view is drawn only if the page is still at the address it was started for: a view whose requests
// are still under way when the user (or a task/changed redraw) moves on must not replace the new one.
function showView(address, ...children) {
  if (location.hash !== address) return false;
  view.replaceChildren(...children);
  return true;
}

async function openChat(id) {
  const address = location.hash;
  const session = sessions.get(id) || await request(Method.SessionGet, { sessionId: id });
  sessions.set(id, session);
  const log = element('div', { class: 'chat', id: 'chat' });
  const state = element('span', { class: 'state' }, stateOf(session)[0]);
  const host = element('span', { class: 'meta host' });
  showHost(host, session);
  const text = element('textarea', { name: 'prompt', placeholder: 'Message the agent', rows: '1' });
  const composer = element('form', { class: 'composer', onsubmit: async (submitted) => {
    submitted.preventDefault();
    const prompt = text.value.trim();
    if (!prompt) return;
    try {
      await request(Method.SessionPrompt, { sessionId: id, text: prompt });
      text.value = '';
    } catch (error) {
      log.append(element('p', { class: 'line error' }, `Not sent: ${error.message}`));
    }
  } }, text, element('button', { class: 'primary', type: 'submit' }, 'Send'));
  if (!showView(address, element('h1', {}, titleOf(session)), tabs(id, 'chat'), state, host, log, composer)) return;
  chat = { id, element: log, state, host, agentBubble: null, thoughtBubble: null, tools: new Map(), cards: new Map() };
  await request(Method.SessionSubscribe, { sessionId: id, afterSeq: 0 });
}

function closeChat() {
  if (!chat) return;
  const id = chat.id;
  chat = null;
  request(Method.SessionUnsubscribe, { sessionId: id }).catch(() => {});
}

function appendText(kind, text) {
  const key = kind === 'agent' ? 'agentBubble' : 'thoughtBubble';
  if (!chat[key]) {
    chat[key] = element('div', { class: `message ${kind}` });
    chat.element.append(chat[key]);
  }
  chat[key].textContent += text;
}

function endBubbles() {
  chat.agentBubble = null;
  chat.thoughtBubble = null;
}

function permissionCard(event) {
  const buttons = event.options.map((option) => element('button', {
    type: 'button',
    class: option.kind.startsWith('allow') ? 'allow' : 'reject',
    'data-option': option.optionId,
    onclick: async () => {
      try {
        await request(Method.SessionRespond, { sessionId: chat.id, requestId: event.requestId, optionId: option.optionId });
      } catch (error) {
        card.append(element('p', { class: 'line error' }, error.message));
      }
    },
  }, option.name));
  const card = element('div', { class: 'card', 'data-request': event.requestId },
    element('strong', {}, 'Permission: '), event.title,
    element('div', { class: 'actions' }, ...buttons));
  return card;
}

/// A form for an agent's question, one field per property of its schema.
function questionCard(event) {
  const properties = (event.schema && event.schema.properties) || {};
  const fields = Object.entries(properties).map(([name, property]) => {
    const type = property.type === 'boolean' ? 'checkbox' : property.type === 'number' || property.type === 'integer' ? 'number' : 'text';
    const input = element('input', { name, type, 'aria-label': property.title || name });
    return element('label', { class: 'field' }, `${property.title || name} `, input);
  });
  const answer = async (optionId) => {
    const content = {};
    if (optionId === 'accept') {
      for (const [name, property] of Object.entries(properties)) {
        const input = card.querySelector(`input[name="${CSS.escape(name)}"]`);
        if (property.type === 'boolean') content[name] = input.checked;
        else if (property.type === 'number' || property.type === 'integer') content[name] = Number(input.value);
        else if (property.type === 'array') content[name] = input.value.split(',').map((item) => item.trim()).filter(Boolean);
        else content[name] = input.value;
      }
    }
    try {
      await request(Method.SessionRespond, { sessionId: chat.id, requestId: event.requestId, optionId,
        content: optionId === 'accept' ? content : undefined });
    } catch (error) {
      card.append(element('p', { class: 'line error' }, error.message));
    }
  };
  const card = element('div', { class: 'card', 'data-request': event.requestId },
    element('strong', {}, 'Question: '), event.message, ...fields,
    element('div', { class: 'actions' },
      element('button', { type: 'button', class: 'allow', onclick: () => answer('accept') }, 'Answer'),
      element('button', { type: 'button', class: 'reject', onclick: () => answer('decline') }, 'Decline')));
  return card;
}

function resolveCard(requestId, text) {
  const card = chat.cards.get(requestId);
  if (!card) return;
  card.classList.add('resolved');
  card.querySelector('.actions').replaceChildren(element('span', { class: 'line' }, text));
}

function sessionEvent({ sessionId, event }) {
  if (!chat || chat.id !== sessionId) return;
  const log = chat.element;
  switch (event.kind) {
    case 'user_message':
      endBubbles();
      log.append(element('div', { class: 'message user' }, event.text));
      break;
    case 'agent_message_chunk': appendText('agent', event.text); break;
    case 'agent_thought_chunk': appendText('thought', event.text); break;
    case 'tool_call': {
      endBubbles();
      const tool = element('div', { class: 'tool' }, `${event.title} · ${event.status}`);
      chat.tools.set(event.toolCallId, { node: tool, title: event.title });
      log.append(tool);
      break;
    }
    case 'tool_call_update': {
      const tool = chat.tools.get(event.toolCallId);
      if (tool) {
        if (event.title) tool.title = event.title;
        tool.node.textContent = `${tool.title} · ${event.status || ''}`;
      }
      break;
    }
    case 'permission_request': {
      endBubbles();
      const card = permissionCard(event);
      chat.cards.set(event.requestId, card);
      log.append(card);
      break;
    }
    case 'permission_resolved':
      resolveCard(event.requestId, event.optionId ? `Answered: ${event.optionId} (${event.by || 'withdrawn'})` : 'Withdrawn');
      break;
    case 'question': {
      endBubbles();
      const card = questionCard(event);
      chat.cards.set(event.requestId, card);
      log.append(card);
      break;
    }
    case 'question_answered':
      resolveCard(event.requestId, `Answered: ${event.action}${event.content ? ' ' + JSON.stringify(event.content) : ''}`);
      break;
    case 'turn_ended':
      endBubbles();
      log.append(element('p', { class: 'line' }, `Turn ended: ${event.stopReason}`));
      break;
    case 'error': log.append(element('p', { class: 'line error' }, event.message)); break;
    case 'notice': log.append(element('p', { class: 'line' }, event.message)); break;
    case 'files_changed': log.append(element('p', { class: 'line' }, `Changed: ${event.paths.join(', ')}`)); break;
    default: break;
  }
}

async function openDiff(id) {
  const address = location.hash;
  const session = sessions.get(id) || await request(Method.SessionGet, { sessionId: id });
  const diff = await request(Method.ReviewDiff, { sessionId: id });
  const files = diff.files.map((file) => element('section', { class: 'file', 'data-path': file.path },
    element('h2', {}, `${file.path} (${file.status}, +${file.additions} −${file.deletions})`),
    ...(file.hunks || []).map((hunk) => element('pre', { class: 'hunk' },
      element('span', { class: 'head' }, hunk.header),
      ...hunk.lines.map((line) => element('span', { class: line.kind === 'added' ? 'add' : line.kind === 'removed' ? 'del' : '' },
        `${line.kind === 'added' ? '+' : line.kind === 'removed' ? '-' : ' '}${line.text}`))))));
  showView(address, element('h1', {}, titleOf(session)), tabs(id, 'diff'),
    files.length ? element('div', { id: 'diff' }, ...files) : element('p', { class: 'notice' }, 'No changes.'));
}

async function openTasks() {
  const address = location.hash;
  const listed = await request(Method.TaskList, {});
  const rows = listed.tasks.map((task) => element('li', {}, element('a', { href: `#/t/${task.id}`, 'data-task': task.id },
    element('span', { class: 'title' }, task.title), element('span', { class: 'state' }, task.status))));
  showView(address, element('h1', {}, 'Tasks'),
    rows.length ? element('ul', { class: 'list' }, ...rows) : element('p', { class: 'notice' }, 'No tasks yet.'));
}

async function openTask(id) {
  const address = location.hash;
  const detail = await request(Method.TaskGet, { taskId: id });
  const comparison = await request(Method.TrialCompare, { taskId: id });
  const decided = comparison.rows.some((row) => row.status === 'promoted');
  const rows = comparison.rows.map((row) => element('tr', { 'data-trial': row.trialId },
    element('td', {}, String(row.number)), element('td', {}, row.agent), element('td', {}, row.status),
    element('td', {}, `${row.filesChanged} (+${row.additions} −${row.deletions})`),
    element('td', {}, costOf(row.usage)),
    element('td', {}, row.check ? (row.check.passed ? 'passed' : 'failed') : '—'),
    element('td', {}, decided || row.status !== 'done' ? '' : element('button', { type: 'button', class: 'primary', onclick: async () => {
      if (!confirm(`Promote trial ${row.number}? Its work is merged into ${detail.task.baseBranch} and the other trials are abandoned.`)) return;
      try {
        await request(Method.TrialPromote, { trialId: row.trialId });
        await openTask(id);
      } catch (error) {
        view.append(element('p', { class: 'line error' }, `Not promoted: ${error.message}`));
      }
    } }, 'Promote'))));
  showView(address, element('h1', {}, detail.task.title),
    element('div', { class: 'table-wrap' }, element('table', { id: 'compare' },
      element('thead', {}, element('tr', {}, ...['#', 'Agent', 'Status', 'Files', 'Cost', 'Check', ''].map((name) => element('th', {}, name)))),
      element('tbody', {}, ...rows))));
}

async function route() {
  if (!opened) return;
  const hash = location.hash || '#/';
  const parts = hash.slice(2).split('/');
  if (!(parts[0] === 's' && parts[2] === undefined && chat && chat.id === parts[1])) closeChat();
  try {
    if (parts[0] === 's' && parts[2] === 'diff') await openDiff(parts[1]);
    else if (parts[0] === 's' && parts[1]) { if (!chat) await openChat(parts[1]); }
    else if (parts[0] === 'tasks') await openTasks();
    else if (parts[0] === 't' && parts[1]) await openTask(parts[1]);
    else renderSessions();
  } catch (error) {
    showNotice(error.message);
  }
}

notifyButton.addEventListener('click', async () => {
  await Notification.requestPermission();
  updateNeedsYou(false);
});
window.addEventListener('hashchange', route);
connect();
