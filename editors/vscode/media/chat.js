// The chat webview: renders a session's events (replayed history, then live), streams the
// agent's reply as Markdown, keeps thinking and tool calls in collapsible blocks updated in
// place, and sends the user's messages, interrupts and permission answers to the extension.
(function () {
  'use strict';
  const vscode = acquireVsCodeApi();
  const log = document.getElementById('log');
  const statusLine = document.getElementById('status');
  const composer = document.getElementById('composer');
  const input = document.getElementById('input');
  const interrupt = document.getElementById('interrupt');

  let session = null;
  let lastSeq = 0;
  let tools = new Map();
  let permissions = new Map();
  let streaming = null; // { kind, element, text }
  let pending = [];
  let scheduled = false;
  const ICONS = { pending: '⏳', in_progress: '⏳', completed: '✓', failed: '✗' };

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  function inline(text) {
    return escapeHtml(text)
      .replace(/`([^`]+)`/g, '<code>$1</code>')
      .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
      .replace(/\n/g, '<br>');
  }

  // A small, safe Markdown subset: fenced code, inline code, bold, paragraphs.
  function markdown(text) {
    const parts = text.split(/```/);
    return parts
      .map((part, index) => {
        if (index % 2 === 1) {
          const newline = part.indexOf('\n');
          const code = newline >= 0 ? part.slice(newline + 1) : part;
          return '<pre><code>' + escapeHtml(code) + '</code></pre>';
        }
        return part
          .split(/\n{2,}/)
          .filter((paragraph) => paragraph.trim() !== '')
          .map((paragraph) => '<p>' + inline(paragraph) + '</p>')
          .join('');
      })
      .join('');
  }

  // How a decision of the permission policy reads: "allowed by policy (execute: npm test)".
  function policyAnswer(rule) {
    const verb = rule && rule.action === 'deny' ? 'denied' : 'allowed';
    if (!rule || rule.level === 'mode') return `${verb} by policy (bypass_permissions)`;
    const what = [rule.kind, rule.pattern].filter((part) => part != null).join(': ') || 'every action';
    return `${verb} by policy (${what})`;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function add(node) {
    paintStreaming();
    log.appendChild(node);
    streaming = null;
    return node;
  }

  function renderStatus() {
    if (!session) {
      statusLine.textContent = 'No session';
      return;
    }
    const model = session.model ? ' (' + session.model + ')' : '';
    const state = session.agentState ? ' · ' + session.agentState.replace('_', ' ') : '';
    const usage = session.usage || { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    statusLine.textContent =
      (session.title || 'Untitled session') + ' — ' + session.agent + model + ' · ' + session.status + state +
      ' · ' + usage.inputTokens + ' in / ' + usage.outputTokens + ' out · $' + usage.costUsd.toFixed(4);
    statusLine.dataset.status = session.status;
  }

  function contentNodes(content) {
    const nodes = [];
    for (const item of content || []) {
      if (item.type === 'text') nodes.push(element('pre', 'text', item.text));
      else if (item.type === 'diff') {
        const diff = element('div', 'diff');
        diff.appendChild(element('div', 'path', (item.oldText === null ? 'created ' : 'edited ') + item.path));
        diff.appendChild(element('pre', 'added', item.newText));
        nodes.push(diff);
      } else if (item.type === 'terminal') {
        const terminal = element('pre', 'terminal', item.output);
        if (item.exitCode !== null && item.exitCode !== undefined) terminal.dataset.exitCode = String(item.exitCode);
        nodes.push(terminal);
      }
    }
    return nodes;
  }

  function stream(kind, text) {
    if (!streaming || streaming.kind !== kind) {
      paintStreaming();
      const node = kind === 'message' ? element('div', 'agent message') : element('details', 'thought');
      if (kind === 'thought') {
        node.appendChild(element('summary', null, 'Thinking'));
        node.appendChild(element('div', 'body'));
      }
      add(node);
      streaming = { kind: kind, element: node, text: '' };
    }
    streaming.text += text;
    streaming.dirty = true;
  }

  function paintStreaming() {
    if (streaming && streaming.dirty) {
      if (streaming.kind === 'message') streaming.element.innerHTML = markdown(streaming.text);
      else streaming.element.querySelector('.body').textContent = streaming.text;
      streaming.dirty = false;
    }
  }

  function render(event) {
    switch (event.kind) {
      case 'agent_message_chunk':
        return stream('message', event.text);
      case 'agent_thought_chunk':
        return stream('thought', event.text);
    }
    paintStreaming();
    switch (event.kind) {
      case 'user_message':
        add(element('div', 'user message', event.text));
        break;
      case 'tool_call': {
        const details = element('details', 'tool');
        details.dataset.toolCallId = event.toolCallId;
        const summary = element('summary');
        const icon = element('span', 'icon', ICONS[event.status] || '•');
        summary.appendChild(icon);
        summary.appendChild(element('span', 'title', event.title));
        details.appendChild(summary);
        const body = element('div', 'body');
        contentNodes(event.content).forEach((node) => body.appendChild(node));
        details.appendChild(body);
        details.dataset.status = event.status;
        tools.set(event.toolCallId, { details: details, icon: icon, title: summary.querySelector('.title'), body: body });
        add(details);
        break;
      }
      case 'tool_call_update': {
        const tool = tools.get(event.toolCallId);
        if (!tool) break;
        if (event.status) {
          tool.icon.textContent = ICONS[event.status] || '•';
          tool.details.dataset.status = event.status;
        }
        if (event.title) tool.title.textContent = event.title;
        if (event.content) {
          tool.body.replaceChildren(...contentNodes(event.content));
        }
        break;
      }
      case 'plan': {
        const plan = element('details', 'plan');
        plan.appendChild(element('summary', null, 'Plan'));
        const list = element('ol');
        for (const entry of event.entries) list.appendChild(element('li', entry.status, entry.content));
        plan.appendChild(list);
        add(plan);
        break;
      }
      case 'permission_request': {
        const box = element('div', 'permission');
        box.dataset.requestId = event.requestId;
        box.appendChild(element('span', 'question', event.title));
        const buttons = element('span', 'choices');
        for (const option of event.options) {
          const button = element('button', option.kind, option.name);
          button.dataset.optionId = option.optionId;
          button.addEventListener('click', () => {
            vscode.postMessage({ type: 'respond', requestId: event.requestId, optionId: option.optionId });
            buttons.querySelectorAll('button').forEach((b) => (b.disabled = true));
          });
          buttons.appendChild(button);
        }
        box.appendChild(buttons);
        permissions.set(event.requestId, box);
        add(box);
        break;
      }
      case 'permission_resolved': {
        const box = permissions.get(event.requestId);
        if (box) {
          const answer = event.by === 'policy' ? policyAnswer(event.rule) : event.optionId || 'cancelled';
          box.querySelector('.choices').replaceChildren(element('span', 'answer', '→ ' + answer));
          box.classList.add('resolved');
          permissions.delete(event.requestId);
        }
        break;
      }
      case 'status_changed':
        if (session) {
          session.status = event.status;
          session.agentState = event.agentState;
          renderStatus();
        }
        break;
      case 'usage':
        if (session) {
          session.usage = event.total;
          renderStatus();
        }
        break;
      case 'turn_ended':
        add(element('div', 'turn-end', 'turn ended (' + event.stopReason + ')'));
        break;
      case 'error':
        add(element('div', 'error', event.message));
        break;
      case 'notice':
      case 'external_change':
        add(element('div', 'notice', event.message));
        break;
    }
  }

  function flush() {
    scheduled = false;
    const batch = pending;
    pending = [];
    const following = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    for (const notification of batch) {
      if (notification.seq <= lastSeq) continue;
      lastSeq = notification.seq;
      render(notification.event);
    }
    paintStreaming();
    if (following) log.scrollTop = log.scrollHeight;
    document.body.dataset.lastSeq = String(lastSeq);
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, 16);
    }
  }

  function reset(newSession) {
    session = newSession;
    lastSeq = 0;
    tools = new Map();
    permissions = new Map();
    streaming = null;
    pending = [];
    log.replaceChildren();
    renderStatus();
  }

  // Messages from the extension are checked before use: the page renders only what it expects.
  window.addEventListener('message', (message) => {
    const data = message.data;
    if (!data || typeof data !== 'object') return;
    if (data.type === 'reset' && (data.session === null || typeof data.session === 'object')) reset(data.session);
    else if (data.type === 'events' && Array.isArray(data.events)) {
      for (const event of data.events) {
        if (event && typeof event.seq === 'number' && event.event && typeof event.event.kind === 'string') pending.push(event);
      }
      schedule();
    } else if (data.type === 'session' && data.session && typeof data.session === 'object') {
      session = data.session;
      renderStatus();
    }
  });

  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value;
    if (text.trim() === '') return;
    vscode.postMessage({ type: 'send', text: text });
    input.value = '';
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  interrupt.addEventListener('click', () => vscode.postMessage({ type: 'interrupt' }));

  vscode.postMessage({ type: 'ready' });
})();
