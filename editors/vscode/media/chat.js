// The chat webview: renders a session's events (replayed history, then live), streams the
// agent's reply as Markdown, keeps thinking, tool calls and the plan in blocks updated in place,
// and sends the user's messages, interrupts and permission answers to the extension. A message
// stays in the composer until the extension says it was sent.
//
// The log is a list of segments of at most SEGMENT_BLOCKS blocks, each with its own rendering
// state (its streaming block, tool calls, permission requests, questions and plan). A segment
// keeps the events that make and change its blocks, and renders them when it first comes near
// the screen; until then it is an empty box of about its height. The newest segment is always
// rendered, so live events show at once, and a history of 100,000 events costs the page the
// few segments on screen, not a quarter of a million elements.
(function () {
  'use strict';
  const vscode = acquireVsCodeApi();
  const log = document.getElementById('log');
  const statusLine = document.getElementById('status');
  const composer = document.getElementById('composer');
  const input = document.getElementById('input');
  const send = document.getElementById('send');
  const interrupt = document.getElementById('interrupt');
  const problem = document.getElementById('problem');
  const hints = document.getElementById('hints');

  let session = null;
  let deleted = false;
  let lastSeq = 0;
  /// The log's segments, oldest first: { element, blocks, events (null once rendered), tools,
  /// permissions, questions (waiting for an answer), plan, streaming ({ kind, element, text,
  /// dirty }) }.
  let segments = [];
  /// The segment of each tool call, permission request and question, by id; the segment of the
  /// turn's plan; the stream (message or thought) the newest segment's last block continues.
  let toolSegments = new Map();
  let permissionSegments = new Map();
  let questionSegments = new Map();
  let planSegment = null;
  let openStream = null;
  /// Runs of events not yet taken: { from, events } as posted (messages.ts), an event in its short
  /// form, or null where it was not one.
  let pending = [];
  /// The flush's timer, while one is due.
  let scheduled = null;
  /// Whether the log was at its end when the events not yet painted began to come (null: at the
  /// next flush, it is looked at).
  let following = null;
  /// While a history is loading (between a reset that says so and `loaded`), the events are
  /// filed into their segments and the log is painted only once they are in, or LOADING_PAINT_MS
  /// after it last was, so a slow load still shows how far it got: painting the newest blocks of
  /// each page of a long history, and laying out the log for each, was most of what opening it
  /// cost the page.
  let loading = false;
  let loadingPaintAt = 0;
  /// Whether the segments are watched for coming near the screen: not while a history loads
  /// until it is first painted (the first segments, near the top of a log not yet scrolled to its
  /// end, would be rendered for nothing).
  let observing = true;
  const LOADING_PAINT_MS = 1000;
  let nextSendId = 1;
  let slashCommands = [];
  /// The slash commands the session's agent offers (its latest `available_commands` event); sent
  /// to the agent as typed.
  let agentCommands = [];
  /// Messages sent and not yet confirmed, by id: their text comes back to the composer on failure.
  const unconfirmed = new Map();
  const SEGMENT_BLOCKS = 200;
  /// A block's height before it is rendered, in pixels, for the scroll bar.
  const ESTIMATED_BLOCK_PX = 28;
  const ICONS = { pending: '○', in_progress: '◐', completed: '✓', failed: '✗' };
  const STATUS_WORDS = { pending: 'pending', in_progress: 'running', completed: 'done', failed: 'failed' };
  const STOP_WORDS = {
    end_turn: 'Turn finished',
    cancelled: 'Turn interrupted',
    max_tokens: 'Turn stopped: the reply reached the token limit',
    refusal: 'The agent refused to continue',
    max_turn_requests: 'Turn stopped: too many requests in one turn',
    error: 'Turn failed',
    timeout: 'Turn stopped: it ran out of time',
  };

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  function inline(text) {
    return escapeHtml(text)
      .replace(/`([^`]+)`/g, '<code>$1</code>')
      .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
      .replace(/(^|[\s(])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
  }

  // A paragraph's lines as Markdown blocks: headings, bullet and numbered lists, text.
  function blocks(paragraph) {
    const lines = paragraph.split('\n');
    let html = '';
    let list = null;
    let text = [];
    const flushText = () => {
      if (text.length) html += '<p>' + text.map(inline).join('<br>') + '</p>';
      text = [];
    };
    const closeList = () => {
      if (list) html += '</' + list + '>';
      list = null;
    };
    for (const line of lines) {
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
      const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      if (heading) {
        flushText();
        closeList();
        const level = Math.min(heading[1].length + 2, 6);
        html += '<h' + level + '>' + inline(heading[2]) + '</h' + level + '>';
      } else if (bullet || numbered) {
        flushText();
        const kind = bullet ? 'ul' : 'ol';
        if (list !== kind) {
          closeList();
          html += '<' + kind + '>';
          list = kind;
        }
        html += '<li>' + inline((bullet || numbered)[1]) + '</li>';
      } else {
        closeList();
        text.push(line);
      }
    }
    flushText();
    closeList();
    return html;
  }

  // A small, safe Markdown subset: fenced code, inline code, bold, italics, headings, lists,
  // paragraphs. Everything is escaped first.
  function markdown(text) {
    const parts = text.split(/```/);
    return parts
      .map((part, index) => {
        if (index % 2 === 1) {
          const newline = part.indexOf('\n');
          const language = newline >= 0 ? part.slice(0, newline).trim() : '';
          const code = newline >= 0 ? part.slice(newline + 1) : part;
          return '<pre class="code"' + (language ? ' data-language="' + escapeHtml(language) + '"' : '') + '><code>' + escapeHtml(code) + '</code></pre>';
        }
        return part
          .split(/\n{2,}/)
          .filter((paragraph) => paragraph.trim() !== '')
          .map(blocks)
          .join('');
      })
      .join('');
  }

  // How a decision of the permission policy reads: "Allowed by policy (execute: npm test)".
  function policyAnswer(rule) {
    const verb = rule && rule.action === 'deny' ? 'Denied' : 'Allowed';
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

  function add(segment, node) {
    paintStreaming(segment, true);
    segment.element.appendChild(node);
    segment.streaming = null;
    return node;
  }

  // Renders a segment's kept events once it comes near the screen (or is the newest).
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting) renderSegment(entry.target.segment);
      }
    },
    { root: log, rootMargin: '2000px 0px' },
  );

  function newSegment() {
    // The segment before is full: one waiting gets its height, a rendered one its last paint.
    const previous = segments[segments.length - 1];
    if (previous && previous.events) previous.element.style.height = previous.blocks * ESTIMATED_BLOCK_PX + 'px';
    else if (previous) paintStreaming(previous, true);
    const segment = { element: element('div', 'segment'), blocks: 0, events: [], tools: new Map(), permissions: new Map(), questions: new Map(), plan: null, streaming: null };
    segment.element.segment = segment;
    log.appendChild(segment.element);
    segments.push(segment);
    if (observing) observer.observe(segment.element);
    return segment;
  }

  function renderSegment(segment) {
    const events = segment.events;
    if (!events) return;
    segment.events = null;
    observer.unobserve(segment.element);
    segment.element.removeAttribute('style');
    for (const event of events) render(segment, expand(event));
    paintStreaming(segment, segment !== segments[segments.length - 1]);
  }

  /// The segment a new block goes in: the newest, or a new one when it is full.
  function blockSegment() {
    let segment = segments[segments.length - 1];
    if (!segment || segment.blocks >= SEGMENT_BLOCKS) segment = newSegment();
    segment.blocks++;
    openStream = null;
    return segment;
  }

  /// The segment whose blocks an event makes or changes, or null for one that shows no block
  /// (or changes one that is not there), as render would place it.
  function segmentOf(event) {
    switch (kindOf(event)) {
      case 'agent_message_chunk':
      case 'agent_thought_chunk': {
        const kind = kindOf(event) === 'agent_message_chunk' ? 'message' : 'thought';
        if (openStream === kind) return segments[segments.length - 1];
        const segment = blockSegment();
        openStream = kind;
        return segment;
      }
      case 'tool_call': {
        const segment = blockSegment();
        toolSegments.set(event.toolCallId, segment);
        return segment;
      }
      case 'tool_call_update':
        return toolSegments.get(event.toolCallId) || null;
      case 'plan':
        if (!planSegment) planSegment = blockSegment();
        return planSegment;
      case 'permission_request': {
        const segment = blockSegment();
        permissionSegments.set(event.requestId, segment);
        return segment;
      }
      case 'permission_resolved': {
        const segment = permissionSegments.get(event.requestId) || null;
        permissionSegments.delete(event.requestId);
        return segment;
      }
      case 'question': {
        const segment = blockSegment();
        questionSegments.set(event.requestId, segment);
        return segment;
      }
      case 'question_answered': {
        const segment = questionSegments.get(event.requestId) || null;
        questionSegments.delete(event.requestId);
        return segment;
      }
      case 'turn_ended': {
        const segment = blockSegment();
        planSegment = null;
        return segment;
      }
      case 'user_message':
      case 'error':
      case 'notice':
      case 'external_change':
      case 'pr_opened':
      case 'pr_updated':
        return blockSegment();
      default:
        return null;
    }
  }

  function stateWords() {
    if (deleted) return 'deleted';
    if (session.status !== 'running') return session.status;
    if (session.agentState === 'waiting_input') return 'waiting for you';
    return session.agentState === 'working' ? 'working' : 'idle';
  }

  // The session's confinement for the status line; the Sessions view's tooltip has the limits.
  function sandboxLabel(sandbox) {
    if (!sandbox || sandbox.backend === 'none') return 'unsandboxed';
    const network = { off: 'no network', model_api: 'model API only', on: 'full network' }[sandbox.network] || sandbox.network;
    return 'sandbox: ' + sandbox.backend + ', ' + network;
  }

  function renderStatus() {
    const working = !!session && !deleted && session.status === 'running' && (session.agentState === 'working' || session.agentState === 'waiting_input');
    interrupt.hidden = !working;
    input.disabled = deleted;
    send.disabled = deleted;
    if (!session) {
      statusLine.textContent = 'No session: start one with Arbor: New Session';
      delete statusLine.dataset.state;
      return;
    }
    const model = session.model ? ' (' + session.model + ')' : '';
    // Where the agent runs, only for a session placed on a configured host: a local one shows
    // nothing, as before hosts.
    const host = session.host ? ' · on ' + session.host : '';
    const usage = session.usage || { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    // A cost Arbor estimated from token counts is marked "≈".
    const cost = (usage.costEstimated ? '≈ $' : '$') + usage.costUsd.toFixed(4);
    const dirs = session.additionalDirs && session.additionalDirs.length ? ' · also ' + session.additionalDirs.join(', ') : '';
    statusLine.textContent =
      (session.title || 'Untitled session') + ' — ' + session.agent + model + host + ' · ' + stateWords() +
      ' · ' + usage.inputTokens + ' in / ' + usage.outputTokens + ' out · ' + cost + dirs +
      (session.pullRequest ? ' · PR #' + session.pullRequest.number + ' ' + session.pullRequest.state : '') +
      ' · ' + sandboxLabel(session.sandbox);
    statusLine.dataset.state = stateWords();
  }

  // The lines of a change, with what both sides share at the start and end as context: enough to
  // read an edit at a glance; "Open diff" shows it in VS Code's diff editor.
  function diffLines(oldText, newText) {
    const before = oldText === null || oldText === '' ? [] : oldText.replace(/\n$/, '').split('\n');
    const after = newText === '' ? [] : newText.replace(/\n$/, '').split('\n');
    let start = 0;
    while (start < before.length && start < after.length && before[start] === after[start]) start++;
    let end = 0;
    while (end < before.length - start && end < after.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
    const lines = [];
    for (const line of before.slice(Math.max(0, start - 2), start)) lines.push([' ', line]);
    for (const line of before.slice(start, before.length - end)) lines.push(['-', line]);
    for (const line of after.slice(start, after.length - end)) lines.push(['+', line]);
    for (const line of after.slice(after.length - end, after.length - end + 2)) lines.push([' ', line]);
    return lines;
  }

  function diffNode(item) {
    const diff = element('div', 'diff');
    const head = element('div', 'path');
    const lines = diffLines(item.oldText, item.newText);
    const added = lines.filter((line) => line[0] === '+').length;
    const removed = lines.filter((line) => line[0] === '-').length;
    head.appendChild(element('span', null, (item.oldText === null ? 'Created ' : 'Edited ') + item.path + ' '));
    head.appendChild(element('span', 'stat added', '+' + added));
    head.appendChild(element('span', 'stat removed', ' −' + removed));
    const open = element('button', 'link open-diff', 'Open diff');
    open.type = 'button';
    open.addEventListener('click', () => vscode.postMessage({ type: 'openDiff', path: item.path, oldText: item.oldText, newText: item.newText }));
    head.appendChild(open);
    diff.appendChild(head);
    const body = element('pre', 'lines');
    for (const [sign, text] of lines.slice(0, 400)) {
      const kind = sign === '+' ? 'added' : sign === '-' ? 'removed' : 'context';
      body.appendChild(element('span', 'line ' + kind, (sign === ' ' ? '  ' : sign + ' ') + text + '\n'));
    }
    if (lines.length > 400) body.appendChild(element('span', 'line context', '… ' + (lines.length - 400) + ' more lines (Open diff shows all)\n'));
    diff.appendChild(body);
    return diff;
  }

  function contentNodes(content) {
    const nodes = [];
    for (const item of content || []) {
      if (item.type === 'text') nodes.push(element('pre', 'text', item.text));
      else if (item.type === 'diff') nodes.push(diffNode(item));
      else if (item.type === 'terminal') {
        const terminal = element('pre', 'terminal', item.output);
        if (item.exitCode !== null && item.exitCode !== undefined) terminal.dataset.exitCode = String(item.exitCode);
        nodes.push(terminal);
      }
    }
    return nodes;
  }

  function stream(segment, kind, text) {
    if (!segment.streaming || segment.streaming.kind !== kind) {
      const node = kind === 'message' ? element('div', 'agent message') : element('details', 'thought');
      if (kind === 'thought') {
        node.appendChild(element('summary', null, 'Thinking'));
        node.appendChild(element('div', 'body'));
      }
      add(segment, node);
      segment.streaming = { kind: kind, element: node, text: '' };
    }
    segment.streaming.text += text;
    segment.streaming.dirty = true;
  }

  // Repaints a segment's streaming block. A long reply is re-rendered whole on each paint, so
  // paints are spaced by eight times what the last one cost: the page stays responsive however
  // long the reply grows, and the final text is always painted (a later flush is scheduled).
  function paintStreaming(segment, force) {
    const streaming = segment.streaming;
    if (!streaming || !streaming.dirty) return;
    const now = performance.now();
    if (!force && now < (streaming.nextPaint || 0)) {
      schedule();
      return;
    }
    if (streaming.kind === 'message') streaming.element.innerHTML = markdown(streaming.text);
    else streaming.element.querySelector('.body').textContent = streaming.text;
    streaming.dirty = false;
    streaming.nextPaint = performance.now() + (performance.now() - now) * 8;
  }

  function setToolStatus(tool, status) {
    tool.icon.textContent = ICONS[status] || '•';
    tool.state.textContent = STATUS_WORDS[status] || status;
    tool.details.dataset.status = status;
    // A finished tool call folds away unless it failed; a running one stays open.
    if (status === 'completed') tool.details.open = false;
    if (status === 'failed') tool.details.open = true;
  }

  // The plan is one block, updated in place: each plan event replaces the entries.
  function renderPlan(segment, entries) {
    let plan = segment.plan;
    if (!plan) {
      plan = segment.plan = element('details', 'plan');
      plan.open = true;
      plan.appendChild(element('summary', null, 'Plan'));
      plan.appendChild(element('ol'));
      add(segment, plan);
    }
    const done = entries.filter((entry) => entry.status === 'completed').length;
    plan.querySelector('summary').textContent = 'Plan (' + done + '/' + entries.length + ' done)';
    plan.querySelector('ol').replaceChildren(
      ...entries.map((entry) => {
        const item = element('li', entry.status);
        item.appendChild(element('span', 'icon', ICONS[entry.status] || '•'));
        item.appendChild(element('span', null, ' ' + entry.content));
        return item;
      }),
    );
  }

  // An answer in words: "Allowed (Allow)", "Rejected (Reject)", "Cancelled", or the policy's.
  function answerWords(box, event) {
    if (event.by === 'policy') return policyAnswer(event.rule);
    if (event.optionId === null || event.optionId === undefined) return 'Cancelled';
    const option = (box.options || []).find((candidate) => candidate.optionId === event.optionId);
    const name = option ? option.name : event.optionId;
    return (option && option.kind.startsWith('reject') ? 'Rejected' : 'Allowed') + ' (' + name + ')';
  }

  /// A question's form: one field per property of its schema (text, number, a checkbox, or a
  /// list of words separated by commas), with Answer and Decline.
  function questionForm(segment, event) {
    const form = element('form', 'permission question-form');
    form.dataset.requestId = event.requestId;
    form.appendChild(element('span', 'question', event.message));
    const fields = element('div', 'fields');
    const schema = event.schema && typeof event.schema === 'object' ? event.schema : {};
    const properties = schema.properties && typeof schema.properties === 'object' ? schema.properties : {};
    const required = Array.isArray(schema.required) ? schema.required : [];
    const inputs = [];
    for (const [name, property] of Object.entries(properties)) {
      const type = property && property.type;
      const label = element('label', 'field', (property && property.title) || name);
      const input = element('input');
      input.name = name;
      input.type = type === 'boolean' ? 'checkbox' : type === 'number' || type === 'integer' ? 'number' : 'text';
      if (type === 'integer') input.step = '1';
      if (type === 'array') input.placeholder = 'words separated by commas';
      input.required = required.includes(name) && type !== 'boolean';
      label.appendChild(input);
      fields.appendChild(label);
      inputs.push({ name, type, input });
    }
    form.appendChild(fields);
    const choices = element('span', 'choices');
    const answer = element('button', 'allow_once', 'Answer');
    answer.type = 'submit';
    const decline = element('button', 'reject_once', 'Decline');
    decline.type = 'button';
    const done = () => choices.querySelectorAll('button').forEach((button) => (button.disabled = true));
    decline.addEventListener('click', () => {
      vscode.postMessage({ type: 'respond', requestId: event.requestId, optionId: 'decline' });
      done();
    });
    form.addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      const content = {};
      for (const { name, type, input } of inputs) {
        if (type === 'boolean') content[name] = input.checked;
        else if (input.value === '') continue;
        else if (type === 'number' || type === 'integer') content[name] = Number(input.value);
        else if (type === 'array') content[name] = input.value.split(',').map((word) => word.trim()).filter(Boolean);
        else content[name] = input.value;
      }
      vscode.postMessage({ type: 'respond', requestId: event.requestId, optionId: 'accept', content });
      done();
    });
    choices.append(answer, decline);
    form.appendChild(choices);
    segment.questions.set(event.requestId, form);
    return form;
  }

  /// Renders an event of the log into its segment.
  function render(segment, event) {
    switch (event.kind) {
      case 'agent_message_chunk':
        return stream(segment, 'message', event.text);
      case 'agent_thought_chunk':
        return stream(segment, 'thought', event.text);
    }
    paintStreaming(segment, true);
    const tools = segment.tools;
    const permissions = segment.permissions;
    const questions = segment.questions;
    switch (event.kind) {
      case 'user_message':
        add(segment, element('div', 'user message', event.text));
        break;
      case 'tool_call': {
        const details = element('details', 'tool');
        details.open = event.status !== 'completed';
        details.dataset.toolCallId = event.toolCallId;
        const summary = element('summary');
        const icon = element('span', 'icon', ICONS[event.status] || '•');
        summary.appendChild(icon);
        summary.appendChild(element('span', 'title', event.title));
        const state = element('span', 'state');
        summary.appendChild(state);
        details.appendChild(summary);
        const body = element('div', 'body');
        contentNodes(event.content).forEach((node) => body.appendChild(node));
        details.appendChild(body);
        const tool = { details: details, icon: icon, state: state, title: summary.querySelector('.title'), body: body };
        setToolStatus(tool, event.status);
        tools.set(event.toolCallId, tool);
        add(segment, details);
        break;
      }
      case 'tool_call_update': {
        const tool = tools.get(event.toolCallId);
        if (!tool) break;
        if (event.title) tool.title.textContent = event.title;
        if (event.content) tool.body.replaceChildren(...contentNodes(event.content));
        if (event.status) setToolStatus(tool, event.status);
        break;
      }
      case 'plan':
        renderPlan(segment, event.entries || []);
        break;
      case 'permission_request': {
        const box = element('div', 'permission');
        box.dataset.requestId = event.requestId;
        box.options = event.options;
        box.appendChild(element('span', 'question', event.title));
        const buttons = element('span', 'choices');
        for (const option of event.options) {
          const button = element('button', option.kind, option.name);
          button.type = 'button';
          button.dataset.optionId = option.optionId;
          button.addEventListener('click', () => {
            vscode.postMessage({ type: 'respond', requestId: event.requestId, optionId: option.optionId });
            buttons.querySelectorAll('button').forEach((b) => (b.disabled = true));
          });
          buttons.appendChild(button);
        }
        box.appendChild(buttons);
        permissions.set(event.requestId, box);
        add(segment, box);
        break;
      }
      case 'question':
        add(segment, questionForm(segment, event));
        break;
      case 'question_answered': {
        const form = questions.get(event.requestId);
        if (form) {
          const words = event.action === 'accept'
            ? 'Answered: ' + Object.entries(event.content || {}).map(([name, value]) => name + ' = ' + (Array.isArray(value) ? value.join(', ') : String(value))).join('; ')
            : event.action === 'decline' ? 'Declined' : 'Withdrawn';
          form.querySelector('.fields').replaceChildren();
          form.querySelector('.choices').replaceChildren(element('span', 'answer', words + (event.by === 'policy' ? ' by the permission policy' : '')));
          form.classList.add('resolved');
          questions.delete(event.requestId);
        }
        break;
      }
      case 'permission_resolved': {
        const box = permissions.get(event.requestId);
        if (box) {
          box.querySelector('.choices').replaceChildren(element('span', 'answer', answerWords(box, event)));
          box.classList.add('resolved');
          permissions.delete(event.requestId);
        }
        break;
      }
      case 'turn_ended':
        add(segment, element('div', 'turn-end ' + event.stopReason, STOP_WORDS[event.stopReason] || 'Turn ended: ' + event.stopReason.replace(/_/g, ' ')));
        segment.plan = null;
        break;
      case 'error':
        add(segment, element('div', 'error', event.message));
        break;
      case 'notice':
      case 'external_change':
        add(segment, element('div', 'notice', event.message));
        break;
      case 'pr_opened':
      case 'pr_updated': {
        const box = element('div', 'notice pull-request', event.message);
        const buttons = element('span', 'choices');
        const actions = [{ id: 'open', label: 'Open Pull Request' }].concat(event.actions || []);
        for (const action of actions) {
          const button = element('button', 'pr-action', action.label);
          button.type = 'button';
          button.addEventListener('click', () => vscode.postMessage({ type: 'pullRequest', action: action.id }));
          buttons.appendChild(button);
        }
        box.appendChild(buttons);
        add(segment, box);
        break;
      }
    }
  }

  /// An event's kind, from its short form (messages.ts): a reply chunk is its text, a thinking
  /// chunk a one-element array of its text, any other event itself.
  function kindOf(item) {
    return typeof item === 'string' ? 'agent_message_chunk' : Array.isArray(item) ? 'agent_thought_chunk' : item.kind;
  }

  /// An event from its short form; kept segments keep the short form, and only the events of the
  /// segments rendered are expanded.
  function expand(item) {
    if (typeof item === 'string') return { kind: 'agent_message_chunk', text: item };
    if (Array.isArray(item)) return { kind: 'agent_thought_chunk', text: item[0] };
    return item;
  }

  /// Whether a posted item is an event in its short form, or an event.
  function isEvent(item) {
    if (typeof item === 'string') return true;
    if (Array.isArray(item)) return item.length === 1 && typeof item[0] === 'string';
    return !!item && typeof item === 'object' && typeof item.kind === 'string';
  }

  /// Takes an event (in its short form): the status line's and the composer's at once, the log's
  /// into its segment (rendered now if the segment is, kept for it otherwise).
  function take(item) {
    // The events handled here are never in the short form.
    const event = item;
    switch (kindOf(item)) {
      case 'status_changed':
        if (session) {
          session.status = event.status;
          session.agentState = event.agentState;
          renderStatus();
        }
        return;
      case 'usage':
        if (session) {
          session.usage = event.total;
          renderStatus();
        }
        return;
      case 'available_commands':
        agentCommands = (Array.isArray(event.commands) ? event.commands : [])
          .filter((command) => command && typeof command.name === 'string')
          .map((command) => ({ name: '/' + command.name, description: String(command.description || '') + (command.hint ? ' (' + command.hint + ')' : '') }));
        renderHints();
        return;
    }
    const segment = segmentOf(item);
    if (!segment) return;
    if (segment.events) segment.events.push(item);
    else render(segment, expand(item));
  }

  function flush() {
    clearTimeout(scheduled);
    scheduled = null;
    const batch = pending;
    pending = [];
    if (following === null) following = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    for (const run of batch) {
      const events = run.events;
      for (let index = 0; index < events.length; index++) {
        const seq = run.from + index;
        if (events[index] === null || seq <= lastSeq) continue;
        lastSeq = seq;
        take(events[index]);
      }
    }
    if (loading) {
      const wait = loadingPaintAt - performance.now();
      if (wait > 0) {
        schedule(wait);
        return;
      }
      loadingPaintAt = performance.now() + LOADING_PAINT_MS;
    }
    const newest = segments[segments.length - 1];
    if (newest) {
      renderSegment(newest);
      paintStreaming(newest);
    }
    if (following) log.scrollTop = log.scrollHeight;
    following = null;
    if (!observing) {
      observing = true;
      for (const segment of segments) if (segment.events) observer.observe(segment.element);
    }
    // The page says what it shows: while a paint waits, the last seq waits with it.
    if (!(newest && newest.streaming && newest.streaming.dirty)) document.body.dataset.lastSeq = String(lastSeq);
  }

  function schedule(delay) {
    if (scheduled === null) scheduled = setTimeout(flush, delay === undefined ? 16 : delay);
  }

  function reset(newSession, history) {
    session = newSession;
    loading = history;
    observing = !history;
    loadingPaintAt = performance.now() + LOADING_PAINT_MS;
    following = null;
    deleted = false;
    lastSeq = 0;
    segments = [];
    toolSegments = new Map();
    permissionSegments = new Map();
    questionSegments = new Map();
    planSegment = null;
    openStream = null;
    observer.disconnect();
    pending = [];
    agentCommands = [];
    log.replaceChildren();
    problem.hidden = true;
    renderStatus();
    saveState();
  }

  function showProblem(text) {
    problem.textContent = text;
    problem.hidden = !text;
  }

  function saveState() {
    vscode.setState({ draft: input.value });
  }

  function renderHints() {
    const text = input.value;
    const offered = slashCommands.concat(agentCommands.filter((command) => !slashCommands.some((own) => own.name === command.name)));
    const matches = text.startsWith('/') && !text.includes(' ') ? offered.filter((command) => command.name.startsWith(text)) : [];
    hints.replaceChildren(...matches.map((command) => element('li', null, command.name + ' — ' + command.description)));
    hints.hidden = matches.length === 0;
  }

  function insert(text) {
    const at = input.selectionStart ?? input.value.length;
    // An "@" just typed is replaced by the file picked for it.
    const start = input.value[at - 1] === '@' && text.startsWith('@') ? at - 1 : at;
    input.value = input.value.slice(0, start) + text + input.value.slice(at);
    input.focus();
    input.selectionStart = input.selectionEnd = start + text.length;
    saveState();
  }

  // Messages from the extension are checked before use: the page renders only what it expects.
  window.addEventListener('message', (message) => {
    const data = message.data;
    if (!data || typeof data !== 'object') return;
    if (data.type === 'reset' && (data.session === null || typeof data.session === 'object')) reset(data.session, data.loading === true);
    else if (data.type === 'loaded') {
      // The history is in: painted at once.
      loading = false;
      flush();
    }
    else if (data.type === 'events' && Number.isInteger(data.from) && Array.isArray(data.events)) {
      // A run of events, the first at seq `from`, each in its short form (messages.ts).
      const events = data.events;
      for (let index = 0; index < events.length; index++) if (!isEvent(events[index])) events[index] = null;
      pending.push({ from: data.from, events: events });
      schedule();
    } else if (data.type === 'session' && data.session && typeof data.session === 'object') {
      session = data.session;
      renderStatus();
    } else if (data.type === 'deleted') {
      deleted = true;
      renderStatus();
      showProblem('This session was deleted. Its branch is kept; open another session to go on.');
    } else if (data.type === 'sent' && typeof data.id === 'number') {
      const text = unconfirmed.get(data.id);
      unconfirmed.delete(data.id);
      if (data.ok) {
        showProblem('');
      } else {
        // The text comes back, ahead of anything typed since.
        if (text !== undefined && !input.value.startsWith(text)) input.value = text + (input.value ? '\n' + input.value : '');
        showProblem('Not sent: ' + (data.error || 'the server refused the message') + ' Your text is kept.');
        saveState();
      }
    } else if (data.type === 'insert' && typeof data.text === 'string') {
      insert(data.text);
    } else if (data.type === 'commands' && Array.isArray(data.commands)) {
      slashCommands = data.commands.filter((command) => command && typeof command.name === 'string');
    }
  });

  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value;
    if (text.trim() === '' || deleted) return;
    const id = nextSendId++;
    unconfirmed.set(id, text);
    vscode.postMessage({ type: 'send', id: id, text: text });
    input.value = '';
    renderHints();
    saveState();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener('input', (event) => {
    saveState();
    renderHints();
    const at = input.selectionStart;
    const before = input.value[at - 2];
    if (event.data === '@' && (at === 1 || before === ' ' || before === '\n')) vscode.postMessage({ type: 'pickFile' });
  });
  interrupt.addEventListener('click', () => vscode.postMessage({ type: 'interrupt' }));

  const saved = vscode.getState();
  if (saved && typeof saved.draft === 'string') input.value = saved.draft;
  renderStatus();
  vscode.postMessage({ type: 'ready' });
})();
