// The web companion in headless Chromium (Debian's, driven by playwright-core) against the real
// arbor daemon listening on loopback: log in with the link from `arbor web`, watch a scripted
// session stream, answer its permission request from the page, see its diff, promote a trial, and
// check that a page served from another origin cannot open the daemon's WebSocket even though the
// browser holds the login cookie. Screenshots at phone and desktop widths go to the artifacts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
// The binary cargo built, wherever its target directory is (CARGO_TARGET_DIR included).
const target = process.env.ARBOR_BIN ? undefined : JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: root, encoding: 'utf8' })).target_directory;
const bin = process.env.ARBOR_BIN ?? path.join(target, 'debug', 'arbor');
const artifacts = process.env.ARBOR_ARTIFACTS ?? path.join(target ?? path.join(root, 'target'), 'test-artifacts', 'web-companion');
// The method names the page itself uses, from its generated protocol.js (a classic script).
const { Method } = new Function(`${fs.readFileSync(path.join(root, 'server/src/web/page/protocol.js'), 'utf8')}; return { Method };`)();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'arbor-web-'));
const dirs = ['--data-dir', path.join(scratch, 'data'), '--runtime-dir', path.join(scratch, 'run'),
  '--config', path.join(scratch, 'config.json')];

let daemon;
let browser;
let rpc;
let origin;

/// A JSON-RPC client on the daemon's Unix socket, for setting up what the page will show.
class SocketClient {
  constructor(socketPath) {
    this.socket = net.createConnection(socketPath);
    this.buffer = Buffer.alloc(0);
    this.pending = new Map();
    this.nextId = 1;
    this.socket.on('data', (data) => this.receive(data));
  }

  receive(data) {
    this.buffer = Buffer.concat([this.buffer, data]);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())[1]);
      if (this.buffer.length < end + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString());
      this.buffer = this.buffer.subarray(end + 4 + length);
      const waiting = this.pending.get(message.id);
      if (waiting) {
        this.pending.delete(message.id);
        if (message.error) waiting.reject(new Error(message.error.message));
        else waiting.resolve(message.result);
      }
    }
  }

  request(method, params) {
    const id = this.nextId++;
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    this.socket.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.socket.write(body);
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }
}

/// A page whose waits are generous: on a loaded 2-core machine the daemon's agents run beside
/// the browser.
function patient(page) {
  page.setDefaultTimeout(90_000);
  return page;
}

async function waitFor(what, condition, timeout = 30000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function git(cwd, ...args) {
  execFileSync('git', args, { cwd, env: { ...process.env, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 't@example.invalid',
    GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 't@example.invalid' } });
}

function loginLink() {
  const printed = execFileSync(bin, [...dirs, 'web'], { encoding: 'utf8' });
  return printed.split('\n').find((line) => line.includes('/login?code=')).trim();
}

const repo = path.join(scratch, 'repo');

before(async () => {
  fs.mkdirSync(repo, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README.md'), '# web companion test\n');
  git(repo, 'add', 'README.md');
  git(repo, 'commit', '-q', '-m', 'initial');
  fs.mkdirSync(artifacts, { recursive: true });
  const log = fs.openSync(path.join(scratch, 'daemon.log'), 'w');
  daemon = spawn(bin, [...dirs, 'daemon', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', log] });
  const discovery = path.join(scratch, 'run', 'daemon.json');
  origin = await waitFor('the daemon', () => fs.existsSync(discovery) && JSON.parse(fs.readFileSync(discovery, 'utf8')).webUrl);
  rpc = new SocketClient(path.join(scratch, 'run', 'arbor.sock'));
  await rpc.request('initialize', { capabilities: {} });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  daemon?.kill('SIGTERM');
  await new Promise((resolve) => (daemon && daemon.exitCode === null ? daemon.once('exit', resolve) : resolve()));
  rpc?.socket.destroy();
  if (!process.env.ARBOR_KEEP_TEST_DIRS) fs.rmSync(scratch, { recursive: true, force: true });
});

test('without logging in the page says how to, and opens no connection', async () => {
  const page = patient(await browser.newPage());
  await page.goto(origin);
  await page.locator('.notice', { hasText: 'Not logged in. Run `arbor web`' }).waitFor();
  await page.close();
});

test('log in, watch a session stream, answer its permission, see its diff, promote a trial', async () => {
  const script = [
    'chunk-delay 20',
    'say Hello from the scripted agent, writing your greeting now',
    'ask Create greeting.txt',
    'write greeting.txt <<END',
    'hello from the web',
    'END',
    'elicit Which ticket is this for?',
    'say The greeting is written',
  ].join('\n');
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await context.grantPermissions(['notifications'], { origin });
  const page = patient(await context.newPage());
  await page.goto(loginLink());
  assert.equal(new URL(page.url()).pathname, '/', 'the login link leads to the page');
  const cookies = await context.cookies();
  const login = cookies.find((cookie) => cookie.name === 'arbor_login');
  assert.ok(login && login.httpOnly && login.sameSite === 'Strict', `an HttpOnly SameSite=Strict cookie: ${JSON.stringify(cookies)}`);
  assert.equal(await page.evaluate(() => document.cookie), '', 'the page script cannot read the cookie');
  await page.getByText('connected').waitFor();

  const session = await rpc.request(Method.SessionNew, { cwd: repo, agent: 'scripted', prompt: 'Write a greeting',
    title: 'Greeting', config: { script, sandbox: 'none' } });
  const row = page.locator(`[data-session="${session.id}"]`);
  await row.waitFor();
  await row.click();
  await page.locator('#chat .message.agent').getByText('Hello from the scripted agent').waitFor();
  const card = page.locator('#chat .card');
  await card.waitFor();
  await page.locator('#needs-you', { hasText: '1' }).waitFor();
  assert.equal(await page.title(), '(1) Arbor');
  await page.screenshot({ path: path.join(artifacts, 'phone-permission.png'), fullPage: true });
  await card.getByRole('button', { name: 'Allow', exact: true }).click();
  await page.locator('#chat .card.resolved').waitFor();
  // The script asks a question next: answered in the card's form.
  const question = page.locator('#chat .card', { hasText: 'Question: Which ticket is this for?' });
  await question.waitFor();
  await question.locator('input[name="answer"]').fill('ARB-12');
  await question.getByRole('button', { name: 'Answer' }).click();
  await page.locator('#chat').getByText('ARB-12').last().waitFor();
  await page.locator('#chat').getByText('The greeting is written').waitFor();
  await waitFor('the badge to clear', async () => page.locator('#needs-you').isHidden());
  await page.getByRole('link', { name: 'Changes' }).click();
  await page.locator('#diff [data-path="greeting.txt"]').getByText('+hello from the web').waitFor();
  await page.screenshot({ path: path.join(artifacts, 'phone-diff.png'), fullPage: true });

  const task = await rpc.request(Method.TaskNew, { title: 'Pick the best answer', description: 'Write answer.txt', cwd: repo });
  const trialScript = (text) => `write answer.txt <<END\n${text}\nEND\nsay done`;
  const started = await rpc.request(Method.TrialNew, { taskId: task.id, trials: [
    { agent: 'scripted', config: { script: trialScript('first'), sandbox: 'none' } },
    { agent: 'scripted', config: { script: trialScript('second'), sandbox: 'none' } },
  ] });
  await waitFor('the trials to finish', async () => {
    const detail = await rpc.request(Method.TaskGet, { taskId: task.id });
    return detail.trials.every((trial) => trial.trial.status === 'done');
  });
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, storageState: await context.storageState() });
  const wide = patient(await desktop.newPage());
  await wide.goto(`${origin}/#/t/${task.id}`);
  const first = started.trials[0].trial.id;
  await wide.locator(`#compare [data-trial="${first}"]`).waitFor();
  await wide.screenshot({ path: path.join(artifacts, 'desktop-compare.png'), fullPage: true });
  wide.once('dialog', (dialog) => dialog.accept());
  await wide.locator(`#compare [data-trial="${first}"]`).getByRole('button', { name: 'Promote' }).click();
  await wide.locator(`#compare [data-trial="${first}"]`).getByText('promoted').waitFor();
  const merged = execFileSync('git', ['show', 'main:answer.txt'], { cwd: repo, encoding: 'utf8' });
  assert.equal(merged.trim(), 'first', 'the promoted trial is merged into main');
  await wide.goto(`${origin}/#/s/${session.id}`);
  await wide.locator('#chat').getByText('The greeting is written').waitFor();
  await wide.screenshot({ path: path.join(artifacts, 'desktop-chat.png'), fullPage: true });
  // Moving on while a view's requests are still under way: the task view, started first and
  // finished last, must not replace the chat the page moved on to.
  await wide.evaluate(([taskId, sessionId]) => {
    location.hash = `#/t/${taskId}`;
    setTimeout(() => { location.hash = `#/s/${sessionId}`; }, 0);
  }, [task.id, session.id]);
  await wide.locator('#chat').getByText('The greeting is written').waitFor();
  await wide.waitForTimeout(1000);
  assert.equal(await wide.locator('#compare').count(), 0, 'the late task view did not replace the chat');
  await wide.locator('#chat').getByText('The greeting is written').waitFor();

  // A page on another origin (another port of the same host, so the browser even sends the
  // SameSite=Strict cookie along) tries the WebSocket and is refused.
  const foreign = http.createServer((request, response) => {
    response.setHeader('content-type', 'text/html');
    response.end(`<!doctype html><script>
      const socket = new WebSocket(${JSON.stringify(origin.replace('http', 'ws') + '/ws')});
      socket.onopen = () => { document.title = 'opened'; };
      socket.onclose = (event) => { document.title = 'closed ' + event.code; };
    </script>`);
  });
  await new Promise((resolve) => foreign.listen(0, '127.0.0.1', resolve));
  const attacker = patient(await context.newPage());
  await attacker.goto(`http://127.0.0.1:${foreign.address().port}/`);
  await waitFor('the foreign page to give up', async () => (await attacker.title()).startsWith('closed'));
  assert.equal(await attacker.title(), 'closed 1006', 'the WebSocket never opened');
  foreign.close();
  const log = fs.readFileSync(path.join(scratch, 'daemon.log'), 'utf8');
  assert.match(log, /connections from other web pages are not allowed/);
  await desktop.close();
  await context.close();
});

test('light and dark at phone width', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  const page = patient(await context.newPage());
  await page.goto(loginLink());
  await page.locator('[data-session]').first().waitFor();
  await page.screenshot({ path: path.join(artifacts, 'phone-sessions-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.screenshot({ path: path.join(artifacts, 'phone-sessions-light.png'), fullPage: true });
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, 'rgb(255, 255, 255)');
  await context.close();
});

/// The WebSocket message `text` with `host` set on the Session records `placed` picks, wherever
/// they are in it (a list's sessions, a session/changed notification, a session/get answer).
function placeOnHost(text, host, placed) {
  const walk = (value) => {
    if (!value || typeof value !== 'object') return;
    // A Session record is the only wire type with both of these fields.
    if ('lastSeq' in value && 'isolation' in value && placed(value)) value.host = host;
    Object.values(value).forEach(walk);
  };
  const message = JSON.parse(text);
  walk(message);
  return JSON.stringify(message);
}

test('a session on a host names it in the list and in its view; a local one names none', async () => {
  // The test has no second machine to place a session on: the page's WebSocket goes through
  // Playwright, which gives the session titled "On the build box" `host: "build-1"` in every
  // answer and notification, as a daemon that placed it on that configured host sends them.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  await context.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => ws.send(placeOnHost(message, 'build-1', (session) => session.title === 'On the build box')));
  });
  const remote = await rpc.request(Method.SessionNew, { cwd: repo, agent: 'scripted', prompt: 'Build it', title: 'On the build box',
    config: { script: 'say Built over there', sandbox: 'none' } });
  const local = await rpc.request(Method.SessionNew, { cwd: repo, agent: 'scripted', prompt: 'Build it here', title: 'On this machine',
    config: { script: 'say Built right here', sandbox: 'none' } });
  const page = patient(await context.newPage());
  await page.goto(loginLink());
  const remoteRow = page.locator(`[data-session="${remote.id}"]`);
  await remoteRow.locator('.host').waitFor();
  assert.deepEqual(await remoteRow.locator('.meta').allTextContents(), ['scripted', 'on build-1'], 'the agent, then where it runs');
  const localRow = page.locator(`[data-session="${local.id}"]`);
  assert.deepEqual(await localRow.locator('.meta').allTextContents(), ['scripted'], 'a session on this machine shows what it did before hosts');
  await page.screenshot({ path: path.join(artifacts, 'phone-sessions-host.png'), fullPage: true });

  await remoteRow.click();
  await page.locator('#chat').getByText('Built over there').waitFor();
  const host = page.locator('.state + .host');
  assert.equal(await host.textContent(), 'on build-1');
  assert.ok(await host.isVisible(), 'the host shows beside the state');
  await page.screenshot({ path: path.join(artifacts, 'phone-chat-host.png'), fullPage: true });
  await page.getByRole('link', { name: 'Sessions' }).click();
  await localRow.click();
  await page.locator('#chat').getByText('Built right here').waitFor();
  assert.ok(await page.locator('.state + .host').isHidden(), 'no host for a session on this machine');
  await context.close();
});
