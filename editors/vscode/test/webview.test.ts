// The chat and comparison webviews in headless Chromium (Debian's, driven by playwright-core),
// with acquireVsCodeApi stubbed, fed an event stream recorded from the real arbor binary, and
// checked on what they render and what they post back.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Browser, Page, chromium } from 'playwright-core';
import { chatEvent, chatUpdates } from '../src/messages';
import { CompareResult, Method, Session, SessionEventNotification } from '../src/protocol';
import { chatHtml, compareHtml } from '../src/webviewHtml';
import { repo, scratch, startServer, until } from './arbor';

const media = path.resolve(__dirname, '../../media');
let browser: Browser;
let recorded: { session: Session; events: SessionEventNotification[]; compare: CompareResult };

async function record(): Promise<typeof recorded> {
  const root = scratch();
  const dir = repo(root, { 'README.md': '# demo\n' });
  const server = await startServer(root);
  try {
    const script = [
      'commands plan: draft a plan first | review: the agent reviews its own work',
      'think I will write a file and run it.',
      'say Here is **the plan**: write `hello.sh`, then run it.',
      'ask Run sh hello.sh',
      'write hello.sh <<END',
      'echo hello from the script',
      'END',
      'run sh hello.sh',
      'usage input=120 output=30 cost=0.0420',
      'say Done.',
    ].join('\n');
    const session = await server.arbor.request(Method.SessionNew, { cwd: dir, agent: 'scripted', prompt: 'Write and run hello.sh', config: { script } });
    await server.arbor.request(Method.SessionSubscribe, { sessionId: session.id, afterSeq: 0 });
    await until(() => server.events.some((event) => event.event.kind === 'permission_request'), 'the permission request');
    const request = server.events.find((event) => event.event.kind === 'permission_request')!.event as { requestId: string };
    await server.arbor.request(Method.SessionRespond, { sessionId: session.id, requestId: request.requestId, optionId: 'allow' });
    await until(() => server.events.some((event) => event.event.kind === 'turn_ended'), 'the turn');
    const task = await server.arbor.request(Method.TaskNew, { title: 'Compare', cwd: dir });
    await server.arbor.request(Method.TrialNew, { taskId: task.id, trials: [
      { agent: 'scripted', config: { script: 'write a.txt <<END\n1\n2\n3\n4\nEND\nusage input=10 output=10 cost=0.2' } },
      { agent: 'scripted', config: { script: 'write b.txt <<END\n1\nEND\nusage input=10 output=10 cost=0.1' } },
    ] });
    await until(async () => (await server.arbor.request(Method.TaskGet, { taskId: task.id })).task.status === 'done', 'the trials');
    const compare = await server.arbor.request(Method.TrialCompare, { taskId: task.id });
    const fresh = await server.arbor.request(Method.SessionGet, { sessionId: session.id });
    return { session: fresh, events: server.events.filter((event) => event.sessionId === session.id), compare };
  } finally {
    await server.stop();
  }
}

async function openPage(kind: 'chat' | 'compare'): Promise<Page> {
  const dir = scratch();
  const assets = {
    cspSource: 'file:',
    scriptUri: pathToFileURL(path.join(media, `${kind}.js`)).toString(),
    styleUri: pathToFileURL(path.join(media, `${kind}.css`)).toString(),
    nonce: 'testnonce',
  };
  const file = path.join(dir, `${kind}.html`);
  fs.writeFileSync(file, kind === 'chat' ? chatHtml(assets) : compareHtml(assets));
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.addInitScript(() => {
    (window as any).__posted = [];
    (window as any).acquireVsCodeApi = () => ({ postMessage: (message: unknown) => (window as any).__posted.push(message), getState: () => undefined, setState: () => undefined });
  });
  await page.goto(pathToFileURL(file).toString());
  (page as any).__errors = errors;
  return page;
}

/// Waits until the page has rendered up to `seq` (polling: the page's CSP forbids the eval that
/// waitForFunction needs, and that is a good thing).
async function rendered(page: Page, seq: number, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await page.evaluate(() => document.body.dataset.lastSeq)) !== String(seq)) {
    if (Date.now() > deadline) throw new Error(`the page did not render up to seq ${seq}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Posts a message as the extension would and waits until the page has handled it: `postMessage`
 *  delivers asynchronously, and a listener added after the page's own runs after it. */
async function post(page: Page, message: unknown): Promise<void> {
  await page.evaluate(
    (data) =>
      new Promise<void>((resolve) => {
        window.addEventListener('message', () => resolve(), { once: true });
        window.postMessage(data, '*');
      }),
    message,
  );
}

/// Posts events as the extension does: runs of consecutive seqs, each event in its short form.
async function postEvents(page: Page, events: SessionEventNotification[]): Promise<void> {
  for (const update of chatUpdates(events.map(chatEvent))) await post(page, update);
}

before(async () => {
  recorded = await record();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
});

test('the chat renders a recorded session and answers its permission request', async () => {
  const page = await openPage('chat');
  assert.deepEqual(await page.evaluate(() => (window as any).__posted), [{ type: 'ready' }], 'the page says it is ready');
  await post(page, { type: 'reset', session: recorded.session });
  const permissionAt = recorded.events.findIndex((event) => event.event.kind === 'permission_request');
  // First everything up to the permission request, as a live client would see it.
  await postEvents(page, recorded.events.slice(0, permissionAt + 1));
  await page.waitForSelector('.permission button');
  await page.click('.permission button.allow_once');
  const posted = await page.evaluate(() => (window as any).__posted);
  const request = recorded.events[permissionAt].event as { requestId: string };
  assert.deepEqual(posted.at(-1), { type: 'respond', requestId: request.requestId, optionId: 'allow' });
  await postEvents(page, recorded.events.slice(permissionAt + 1));
  await rendered(page, recorded.events.at(-1)!.seq);

  assert.equal(await page.textContent('.user'), 'Write and run hello.sh');
  const reply = await page.$$eval('.agent', (nodes) => nodes.map((node) => node.innerHTML));
  assert.equal(reply[0], '<p>Here is <strong>the plan</strong>: write <code>hello.sh</code>, then run it.</p>', 'Markdown rendering');
  assert.equal(await page.textContent('details.thought .body'), 'I will write a file and run it.');
  assert.equal(await page.getAttribute('details.tool:has-text("Write hello.sh")', 'data-status'), 'completed');
  assert.match((await page.textContent('details.tool:has-text("Run sh hello.sh") pre.terminal'))!, /hello from the script/);
  assert.match((await page.textContent('.permission'))!, /Allowed \(Allow\)/, 'the answer in words, not its id');
  assert.equal(await page.textContent('.turn-end'), 'Turn finished', 'not "turn ended (end_turn)"');
  assert.equal(await page.isVisible('#interrupt'), false, 'Interrupt only while the agent works');
  const status = (await page.textContent('#status'))!;
  assert.match(status, /scripted/);
  assert.match(status, /\$0\.0420/);
  assert.deepEqual((page as any).__errors, []);

  // The input box sends; the button interrupts while the agent works.
  await page.fill('#input', 'And now?');
  await page.press('#input', 'Enter');
  await post(page, { type: 'session', session: { ...recorded.session, status: 'running', agentState: 'working' } });
  await page.click('#interrupt');
  const sent = (await page.evaluate(() => (window as any).__posted)).slice(-2);
  assert.deepEqual(sent, [{ type: 'send', id: 1, text: 'And now?' }, { type: 'interrupt' }]);
  // A message the server refuses comes back to the composer.
  await post(page, { type: 'sent', id: 1, ok: false, error: 'the session is gone.' });
  assert.equal(await page.inputValue('#input'), 'And now?');
  assert.match((await page.textContent('#problem'))!, /Not sent: the session is gone\. Your text is kept\./);

  // The composer offers the extension's slash commands and the agent's (from its
  // available_commands event); the extension's own win a clash of names.
  await post(page, { type: 'commands', commands: [{ name: '/review', description: 'review the changes' }, { name: '/stop', description: 'stop the session (resumable)' }] });
  await page.fill('#input', '/');
  await page.dispatchEvent('#input', 'input');
  const hints = await page.$$eval('#hints li', (items) => items.map((item) => item.textContent));
  assert.deepEqual(hints, ['/review — review the changes', '/stop — stop the session (resumable)', '/plan — draft a plan first'], 'both kinds, one /review');
  await page.fill('#input', '/pl');
  await page.dispatchEvent('#input', 'input');
  assert.deepEqual(await page.$$eval('#hints li', (items) => items.map((item) => item.textContent)), ['/plan — draft a plan first']);
  await page.fill('#input', '');
  await page.dispatchEvent('#input', 'input');

  // Unexpected messages are ignored, and a replay does not duplicate anything.
  await post(page, { type: 'eval', code: 'document.body.remove()' });
  await postEvents(page, recorded.events);
  await page.waitForTimeout(50);
  assert.equal((await page.$$('.user')).length, 1);
  // In a run, what is not an event is left out (its seq too), and a chunk may come whole.
  const next = recorded.events.at(-1)!.seq + 1;
  await post(page, { type: 'events', from: next, events: [{ kind: 'agent_message_chunk', text: 'One ' }, 42, ['not', 'a thought'], 'two.'] });
  await rendered(page, next + 3);
  assert.equal(await page.locator('.agent').last().textContent(), 'One two.');
  await page.close();
});

test('a question from the agent is a form in the chat, answered there', async () => {
  const root = scratch();
  const dir = repo(root, { 'README.md': '# demo\n' });
  const server = await startServer(root);
  const page = await openPage('chat');
  try {
    const session = await server.arbor.request(Method.SessionNew, { cwd: dir, agent: 'scripted', prompt: 'Which ticket?', config: { script: 'elicit Which ticket is this for?' } });
    await server.arbor.request(Method.SessionSubscribe, { sessionId: session.id, afterSeq: 0 });
    await until(() => server.events.some((event) => event.event.kind === 'question'), 'the question');
    await post(page, { type: 'reset', session });
    await postEvents(page, server.events.filter((event) => event.sessionId === session.id));
    await page.waitForSelector('.question-form input[name="answer"]');
    assert.match((await page.textContent('.question-form'))!, /Which ticket is this for\?/);
    await page.fill('.question-form input[name="answer"]', 'ARB-12');
    await page.click('.question-form button.allow_once');
    const question = server.events.find((event) => event.event.kind === 'question')!.event as { requestId: string };
    const posted = (await page.evaluate(() => (window as any).__posted)).at(-1);
    assert.deepEqual(posted, { type: 'respond', requestId: question.requestId, optionId: 'accept', content: { answer: 'ARB-12' } });
    // What the extension then asks of the server; the page shows the answer once it is recorded.
    await server.arbor.request(Method.SessionRespond, { sessionId: session.id, requestId: question.requestId, optionId: posted.optionId, content: posted.content });
    await until(() => server.events.some((event) => event.event.kind === 'turn_ended'), 'the turn');
    const events = server.events.filter((event) => event.sessionId === session.id);
    await postEvents(page, events);
    await rendered(page, events.at(-1)!.seq);
    assert.equal(await page.textContent('.question-form .answer'), 'Answered: answer = ARB-12');
    assert.match((await page.$$eval('.agent', (nodes) => nodes.map((node) => node.textContent)).then((texts) => texts.join(' '))), /ARB-12/, 'the agent says the answer');
    assert.deepEqual((page as any).__errors, []);
  } finally {
    await page.close();
    await server.stop();
  }
});

test('the chat shows which rule of the permission policy answered a request', async () => {
  const page = await openPage('chat');
  await post(page, { type: 'reset', session: recorded.session });
  const id = recorded.session.id;
  const options = [{ optionId: 'allow', name: 'Allow', kind: 'allow_once' }, { optionId: 'reject', name: 'Reject', kind: 'reject_once' }];
  const asked = (seq: number, requestId: string, title: string): SessionEventNotification => ({
    sessionId: id, seq, at: 0,
    event: { kind: 'permission_request', requestId, toolCallId: null, title, options: options as any, toolKind: 'execute', subject: title },
  });
  await postEvents(page, [
    asked(1, 'perm-1', 'npm test'),
    { sessionId: id, seq: 2, at: 0, event: { kind: 'permission_resolved', requestId: 'perm-1', optionId: 'allow', by: 'policy',
      rule: { level: 'task', kind: 'execute', pattern: 'npm test', action: 'allow' } } },
    asked(3, 'perm-2', 'rm -rf build'),
    { sessionId: id, seq: 4, at: 0, event: { kind: 'permission_resolved', requestId: 'perm-2', optionId: 'reject', by: 'policy',
      rule: { level: 'config', kind: 'execute', pattern: 'rm -rf *', action: 'deny' } } },
  ]);
  await rendered(page, 4);
  const answers = await page.$$eval('.permission .answer', (nodes) => nodes.map((node) => node.textContent));
  assert.deepEqual(answers, ['Allowed by policy (execute: npm test)', 'Denied by policy (execute: rm -rf *)']);
  assert.equal((await page.$$('.permission button')).length, 0, 'nothing is left to answer');
  await page.close();
});

test('the chat shows pull request events with their actions, and the state in its status line', async () => {
  const page = await openPage('chat');
  const pullRequest = {
    forge: 'github', repository: 'acme/widgets', number: 12, url: 'https://github.com/acme/widgets/pull/12', title: 'T', state: 'merged' as const,
    headBranch: 'arbor/x', baseBranch: 'main', headCommit: 'abc', review: 'approved' as const,
    checks: { state: 'success' as const, total: 2, passed: 2, failed: 0, pending: 0 }, reviewComments: 0, mergeCommit: 'def', syncedAt: 1,
  };
  await post(page, { type: 'reset', session: { ...recorded.session, pullRequest } });
  const id = recorded.session.id;
  await postEvents(page, [
    { sessionId: id, seq: 1, at: 0, event: { kind: 'pr_opened', pullRequest: { ...pullRequest, state: 'open' }, message: 'Opened pull request #12 on acme/widgets' } },
    { sessionId: id, seq: 2, at: 0, event: { kind: 'pr_updated', pullRequest, changes: ['merged'], message: 'Pull request #12 was merged on GitHub',
      actions: [{ id: 'delete_session', label: 'Delete the branch and worktree', method: Method.SessionDelete.method, params: { sessionId: id, deleteBranch: true } }] } },
  ]);
  await rendered(page, 2);
  const notes = await page.$$eval('.pull-request', (nodes) => nodes.map((node) => node.firstChild?.textContent));
  assert.deepEqual(notes, ['Opened pull request #12 on acme/widgets', 'Pull request #12 was merged on GitHub']);
  await page.click('.pull-request >> nth=1 >> button:has-text("Delete the branch and worktree")');
  await page.click('.pull-request >> nth=0 >> button:has-text("Open Pull Request")');
  const posted = (await page.evaluate(() => (window as any).__posted)).slice(-2);
  assert.deepEqual(posted, [{ type: 'pullRequest', action: 'delete_session' }, { type: 'pullRequest', action: 'open' }]);
  assert.match((await page.textContent('#status'))!, /PR #12 merged/);
  assert.match((await page.textContent('#status'))!, /unsandboxed$/, 'a session without a sandbox says so');
  const sandbox = { backend: 'bwrap', network: 'model_api', maxProcesses: 512, maxMemoryMb: 8192, limitsEnforcedBy: 'cgroup', reason: null };
  await post(page, { type: 'session', session: { ...recorded.session, pullRequest, sandbox } });
  await page.waitForFunction(() => document.getElementById('status')!.textContent!.includes('sandbox:'));
  assert.match((await page.textContent('#status'))!, /PR #12 merged · sandbox: bwrap, model API only$/);
  assert.deepEqual((page as any).__errors, []);
  await page.close();
});

test('the chat status line names the host a session runs on, once it is placed there', async () => {
  const page = await openPage('chat');
  // A session waits in the queue on this machine's daemon with no host; the scheduler's placement
  // reaches the page as a session update.
  await post(page, { type: 'reset', session: { ...recorded.session, host: null } });
  const local = (await page.textContent('#status'))!;
  assert.match(local, /^[^—]+ — scripted · /, 'the agent, as before');
  assert.ok(!local.includes(' on '), `a session on this machine names no place: ${local}`);
  await post(page, { type: 'session', session: { ...recorded.session, host: 'build-1' } });
  await page.waitForFunction(() => document.getElementById('status')!.textContent!.includes('on build-1'));
  const remote = (await page.textContent('#status'))!;
  assert.equal(remote, local.replace(' — scripted · ', ' — scripted · on build-1 · '), 'the host right after the agent, the rest unchanged');
  assert.deepEqual((page as any).__errors, []);
  await page.close();
});

/// A turn of about 1,000 blocks whose first tool call, permission request, plan and question are
/// answered or updated only after 450 blocks of thinking and reply, some replies in several
/// chunks, so their updates reach blocks far behind the newest.
function longHistory(sessionId: string): SessionEventNotification[] {
  const kinds: SessionEventNotification['event'][] = [
    { kind: 'user_message', text: 'Refactor the parser' },
    { kind: 'tool_call', toolCallId: 't1', title: 'Run the tests', toolKind: 'execute', status: 'in_progress', content: [], locations: [] },
    { kind: 'plan', entries: [{ content: 'Read', status: 'pending' }, { content: 'Write', status: 'pending' }] },
    { kind: 'permission_request', requestId: 'r1', title: 'Edit parser.rs', options: [{ optionId: 'allow', name: 'Allow', kind: 'allow_once' }, { optionId: 'reject', name: 'Reject', kind: 'reject_once' }] },
    { kind: 'question', requestId: 'q1', message: 'Which branch?', schema: { type: 'object', properties: { answer: { type: 'string' } } } },
  ];
  const chunks = (count: number, from: number) => {
    for (let index = from; index < from + count; index++) {
      kinds.push({ kind: 'agent_thought_chunk', text: `thought ${index}` });
      kinds.push({ kind: 'agent_message_chunk', text: `Reply **${index}**` });
      if (index % 3 === 0) kinds.push({ kind: 'agent_message_chunk', text: ` goes on with \`code\`\n\nand a paragraph` });
    }
  };
  chunks(225, 0);
  kinds.push(
    { kind: 'tool_call_update', toolCallId: 't1', status: 'completed', content: [{ type: 'text', text: 'all 12 tests passed' }] },
    { kind: 'permission_resolved', requestId: 'r1', optionId: 'allow' },
    { kind: 'plan', entries: [{ content: 'Read', status: 'completed' }, { content: 'Write', status: 'in_progress' }] },
    { kind: 'question_answered', requestId: 'q1', action: 'accept', content: { answer: 'main' } },
  );
  chunks(250, 225);
  kinds.push({ kind: 'agent_thought_chunk', text: 'Done.' }, { kind: 'agent_message_chunk', text: 'The last words.' }, { kind: 'turn_ended', stopReason: 'end_turn' });
  return kinds.map((event, index) => ({ sessionId, seq: index + 1, at: 0, event }) as SessionEventNotification);
}

test('a long history shows its newest blocks at once and the older ones when scrolled to, as it would have event by event', async () => {
  const events = longHistory(recorded.session.id);
  const last = events.at(-1)!.seq;
  // As the extension opens it: a reset that says the history follows, its pages, then `loaded`.
  const whole = await openPage('chat');
  const resetAt = Date.now();
  await post(whole, { type: 'reset', session: recorded.session, loading: true });
  for (let start = 0; start < events.length; start += 300) await postEvents(whole, events.slice(start, start + 300));
  await whole.waitForTimeout(50);
  // Until it is in, the history is only filed (the page paints a loading history once a second).
  if (Date.now() - resetAt < 800) {
    assert.deepEqual(await whole.evaluate(() => [document.body.dataset.lastSeq, document.querySelectorAll('#log .agent').length]), [undefined, 0], 'nothing is painted while the history loads');
  }
  await post(whole, { type: 'loaded' });
  assert.equal(await whole.evaluate(() => document.body.dataset.lastSeq), String(last), 'painted as soon as it is in');
  assert.equal(await whole.textContent('#log .turn-end'), 'Turn finished');
  assert.equal(await whole.locator('#log .agent').last().textContent(), 'The last words.');
  assert.equal(await whole.$$eval('#log .user', (nodes) => nodes.length), 0, 'the first blocks wait until they come near the screen');
  // Scrolled through to the top, every block is there.
  await whole.evaluate(async () => {
    const segments = Array.from(document.querySelectorAll('#log .segment')).reverse();
    for (const segment of segments) {
      segment.scrollIntoView();
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    }
  });
  assert.equal(await whole.textContent('#log .user'), 'Refactor the parser');
  assert.equal(await whole.getAttribute('details.tool:has-text("Run the tests")', 'data-status'), 'completed');
  assert.equal(await whole.textContent('details.tool:has-text("Run the tests") pre.text'), 'all 12 tests passed');
  assert.equal(await whole.textContent('.permission .answer'), 'Allowed (Allow)');
  assert.equal(await whole.textContent('details.plan summary'), 'Plan (1/2 done)');
  assert.equal(await whole.textContent('.question-form .answer'), 'Answered: answer = main');

  // The same events a few at a time, each batch rendered before the next, as they come live.
  const live = await openPage('chat');
  await post(live, { type: 'reset', session: recorded.session });
  for (let start = 0; start < events.length; start += 7) {
    await postEvents(live, events.slice(start, start + 7));
    await rendered(live, Math.min(start + 7, events.length));
  }
  // Block by block, each in its segment.
  const blocks = (page: Page) => page.$$eval('#log .segment', (segments) => segments.map((segment) => Array.from(segment.children, (block) => block.outerHTML)));
  assert.deepEqual(await blocks(whole), await blocks(live), 'the same blocks, in the same segments');

  // A history slow to come is painted as far as it got, before it is in, and goes on from there.
  const slow = await openPage('chat');
  await post(slow, { type: 'reset', session: recorded.session, loading: true });
  await postEvents(slow, events.slice(0, 500));
  await rendered(slow, 500, 5000);
  assert.equal(await slow.evaluate(() => document.getElementById('log')!.scrollTop > 0), true, 'at the end of what came');
  await postEvents(slow, events.slice(500));
  await post(slow, { type: 'loaded' });
  await rendered(slow, last);
  await slow.evaluate(async () => {
    const segments = Array.from(document.querySelectorAll('#log .segment')).reverse();
    for (const segment of segments) {
      segment.scrollIntoView();
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    }
  });
  assert.deepEqual(await blocks(slow), await blocks(live), 'the same blocks as it would have event by event');
  assert.deepEqual([(whole as any).__errors, (live as any).__errors, (slow as any).__errors], [[], [], []]);
  await whole.close();
  await live.close();
  await slow.close();
});

test('5,000 streamed chunks render in full without stalling the page', async () => {
  const page = await openPage('chat');
  await post(page, { type: 'reset', session: recorded.session });
  const chunks: SessionEventNotification[] = [];
  let expected = '';
  for (let index = 1; index <= 5000; index++) {
    const text = `w${index} `;
    expected += text;
    chunks.push({ sessionId: recorded.session.id, seq: index, at: 0, event: { kind: 'agent_message_chunk', text } });
  }
  const started = Date.now();
  // Posted as they would arrive: one message per notification.
  await page.evaluate((all) => {
    for (const update of all) window.postMessage(update, '*');
  }, chunks.map((chunk) => chatUpdates([chatEvent(chunk)])[0]));
  await rendered(page, 5000);
  const elapsed = Date.now() - started;
  const text = (await page.textContent('.agent')) ?? '';
  assert.ok(text.trim() === expected.trim(), `the rendered reply has ${text.length} characters, not ${expected.length}`);
  assert.ok(elapsed < 10000, `rendering took ${elapsed} ms`);
  console.log(`  5000 chunks rendered in ${elapsed} ms`);
  await page.close();
});

test('the comparison shows one row per trial with bars for lines and cost', async () => {
  const page = await openPage('compare');
  await post(page, { type: 'compare', result: recorded.compare });
  await page.waitForSelector('tr[data-trial-id]');
  const rows = await page.$$eval('tr[data-trial-id]', (nodes) =>
    nodes.map((node) => ({
      cells: Array.from(node.children).map((cell) => cell.textContent),
      bars: Array.from(node.querySelectorAll('.bar')).map((bar) => (bar as HTMLElement).style.width),
    })),
  );
  assert.equal(rows.length, 2);
  assert.equal(rows[0].cells[0], '1');
  assert.equal(rows[0].cells[2], 'scripted');
  assert.deepEqual(rows[0].bars, ['100%', '100%'], 'trial 1 changed the most lines and cost the most');
  assert.deepEqual(rows[1].bars, ['25%', '50%']);
  assert.equal(rows[1].cells[6], '$0.1000');
  await page.close();
});
