// The extension inside real VS Code (code-server), driven in headless Chromium as a new user
// would: first run with the binary missing, then New Session with the scripted agent, the chat,
// permissions from the toast and from the chat, review in the diff editor, commit, merge, export,
// a task with two trials, compare, promote, the Sessions view's menus, a reload, and 5,000 chunks
// streamed into the chat. One code-server for the whole suite, steps in order; each step leaves a
// screenshot in test-artifacts/workbench/. Assertions are on what the user sees (the DOM's text,
// notifications) and on the files and branches on disk.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Frame } from 'playwright-core';
import { Method, Session, SessionEventNotification } from '../src/protocol';
import { Server, arborBin, connectDaemon, git } from './arbor';
import { Workbench } from './workbench/driver';
import { APP_LINES, World, artifacts, settingsFile, startWorld } from './workbench/setup';

const STEP = { timeout: 120_000 };
let world: World;
let wb: Workbench;
let client: Server;
/// What the steps learn as they go.
const seen: { demo?: Session; edit?: Session; taskTitle: string } = { taskTitle: 'Greeting in two trials' };

function setSettings(change: Record<string, unknown>): void {
  const file = settingsFile(world);
  const settings = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, JSON.stringify({ ...settings, ...change }, null, 2));
}

async function sessions(): Promise<Session[]> {
  return (await client.arbor.request<{ sessions: Session[] }>(Method.sessionList, { limit: 100, includeHidden: true })).sessions;
}

async function chatFrame(): Promise<Frame> {
  return wb.frameWith('#composer');
}

async function chatText(frame: Frame): Promise<string> {
  return ((await frame.locator('#log').textContent()) ?? '').replace(/\s+/g, ' ');
}

/// A step of the suite: on failure the workbench as it was is kept as a screenshot too.
function step(name: string, body: () => Promise<void>): void {
  test(name, STEP, async () => {
    try {
      await body();
    } catch (error) {
      await wb?.shot('failed').catch(() => undefined);
      throw error;
    }
  });
}

before(async () => {
  world = await startWorld({ 'arbor.path': 'arbor-not-installed' });
  wb = world.workbench;
});

after(async () => {
  await client?.stop();
  await world?.stop();
  console.log(`screenshots: ${artifacts}`);
});

step('first run without the binary: one clear message with the way out, commands that say what is wrong, a welcome view', async () => {
  await wb.clickToast(/arbor-not-installed.*was not found/, 'Open Setting');
  // The button opens the Settings editor on arbor.path.
  await wb.page.locator('.settings-editor').waitFor();
  const setting = wb.page.locator('.setting-item-contents', { hasText: 'The arbor binary:' }).first();
  await setting.waitFor();
  await wb.shot('first-run-setting');
  await wb.escape();
  await wb.page.locator('.monaco-modal-editor-block').waitFor({ state: 'hidden' }).catch(() => undefined);
  await wb.page.locator('.activitybar [aria-label^="Arbor"]').first().click();
  const welcome = wb.page.locator('.welcome-view-content', { hasText: 'could not be started' });
  await welcome.waitFor();
  assert.ok(await welcome.locator('a, .monaco-button', { hasText: 'Open arbor.path Setting' }).count(), 'the welcome view points at the setting');
  await wb.command('Arbor: New Session');
  await wb.toast(/arbor-not-installed.*was not found/).waitFor();
  assert.ok(!(await wb.toasts()).some((text) => /not found$|command 'arbor/.test(text) && text.includes("command '")), 'no "command not found"');
  await wb.shot('first-run-welcome');
  await wb.clearToasts();
  // Fixing the setting in the Settings editor starts the server: the view says what to do next.
  await wb.command('Preferences: Open User Settings');
  await wb.page.locator('.settings-editor .suggest-input-container textarea, .settings-editor .search-container input').first().waitFor();
  await wb.page.keyboard.type('arbor.path');
  const input = wb.page.locator('.setting-item-contents', { hasText: 'The arbor binary:' }).first().locator('input');
  await input.fill(arborBin());
  await input.press('Tab');
  await wb.page.waitForTimeout(1000);
  await wb.escape();
  await wb.page.locator('.monaco-modal-editor-block').waitFor({ state: 'hidden' }).catch(() => undefined);
  await wb.page.locator('.welcome-view-content', { hasText: 'No sessions yet' }).waitFor({ timeout: 30_000 });
  await wb.command('Arbor: Send Message');
  await wb.toast('there is no session to send to').waitFor();
  await wb.shot('empty-state');
  await wb.clearToasts();
  client = await connectDaemon(world.arborEnv);
});

step('New Session with the scripted agent streams into a chat tab; the permission is answered from the toast', async () => {
  await wb.command('Arbor: New Session');
  await wb.pick('Scripted agent');
  await wb.type('Add a greeting script');
  const frame = await chatFrame();
  // The demo script asks before it runs its check: the toast offers Allow / Reject / Open.
  const toast = wb.toast(/asks: Run the check script/);
  await toast.waitFor({ timeout: 30_000 });
  for (const button of ['Allow', 'Reject', 'Open']) assert.ok(await toast.locator('.monaco-button', { hasText: button }).count(), `the toast offers ${button}`);
  // The Arbor view's badge and the status bar say one session waits.
  await wb.until(async () => (await wb.page.locator('.activitybar .badge-content').allInnerTexts()).includes('1'), 'the badge on the Arbor view');
  await wb.until(async () => /1 waiting/.test(await wb.statusBar(/waiting/)), 'the status bar saying one session waits');
  await wb.shot('permission-toast');
  await wb.clickToast(/asks: Run the check script/, 'Allow');
  await wb.until(async () => /Turn finished/.test(await chatText(frame)), 'the end of the turn in the chat', 30_000);
  const text = await chatText(frame);
  assert.match(text, /Allowed \(Allow\)/, 'the answer in words');
  assert.doesNotMatch(text, /→ allow|turn ended \(end_turn\)/, 'no internal ids');
  assert.match(text, /Plan \(3\/3 done\)|Plan/, 'the plan');
  assert.match(text, /greeting ok/, 'the check ran and its output is shown');
  // Tool diffs show added lines with +, and an Open diff button.
  assert.ok(await frame.locator('.diff .line.added').count(), 'diff lines marked as added');
  assert.ok(await frame.locator('button.open-diff').count(), 'Open diff');
  // Themed: the composer and buttons take the dark theme's colours, not the browser's defaults.
  const colours = await frame.evaluate(() => ({
    input: getComputedStyle(document.getElementById('input')!).backgroundColor,
    button: getComputedStyle(document.getElementById('send')!).backgroundColor,
    body: getComputedStyle(document.body).backgroundColor,
  }));
  assert.notEqual(colours.input, 'rgb(255, 255, 255)', `the textarea is themed (${colours.input})`);
  assert.notEqual(colours.button, 'rgb(239, 239, 239)', `the button is themed (${colours.button})`);
  // Room to read: an editor tab, not a strip under the Sessions tree.
  const width = await frame.evaluate(() => document.body.clientWidth);
  assert.ok(width > 400, `the chat is ${width} px wide`);
  await wb.shot('chat-after-turn');
  seen.demo = (await sessions()).find((session) => session.title !== null || session.agent === 'scripted');
  assert.ok(seen.demo, 'the session exists');
});

/// A session started by another client (the CLI, another editor): its chat is not on screen.
async function startElsewhere(title: string, script: string): Promise<Session> {
  const session = await client.arbor.request<Session>(Method.sessionNew, { cwd: world.workspace, agent: 'scripted', prompt: title, config: { script } });
  await client.arbor.request(Method.sessionConfigure, { sessionId: session.id, title });
  return session;
}

step('a session whose chat is not on screen still asks through a toast; answered from its chat', async () => {
  const edited = APP_LINES.map((line) => (line === 'two' || line === 'fourteen' ? line.toUpperCase() : line)).join('\n');
  seen.edit = await startElsewhere('Edit app.txt', [
    'plan Read app.txt | Edit app.txt',
    'plan Read app.txt | Edit app.txt',
    'ask Edit src/app.txt',
    `write src/app.txt <<END\n${edited}\nEND`,
    // `\n` in a say line is a line break for the scripted agent.
    'say Edited **two** lines:\\n\\n- line 2\\n- line 14\\n\\n```sh\\ncat src/app.txt\\n```',
  ].join('\n'));
  await wb.toast(/"Edit app\.txt" asks: Edit src\/app\.txt/).waitFor({ timeout: 30_000 });
  await wb.shot('toast-for-unseen-session');
  // Open it from the Sessions view: its row names it and says it waits.
  const row = wb.sessionRows('Edit app.txt').first();
  await row.waitFor();
  assert.match((await row.getAttribute('aria-label')) ?? '', /Edit app\.txt, waiting for you/, 'the accessible name has the title and the state');
  await row.click();
  const frame = await chatFrame();
  await wb.until(async () => /Edit app\.txt/.test((await frame.locator('#status').textContent()) ?? ''), 'the chat on the new session');
  await frame.locator('.permission button.allow_once').click();
  await wb.until(async () => /Turn finished/.test(await chatText(frame)), 'the end of the turn', 30_000);
  const html = await frame.locator('.agent').last().innerHTML();
  assert.match(html, /<strong>two<\/strong>/, 'Markdown bold');
  assert.match(html, /<ul><li>line 2<\/li><li>line 14<\/li><\/ul>/, 'Markdown lists');
  assert.match(html, /<pre class="code" data-language="sh"><code>cat src\/app\.txt/, 'a code block');
  assert.equal(await frame.locator('details.plan').count(), 1, 'the plan is one block, updated in place');
  const diff = (await frame.locator('.diff').last().textContent()) ?? '';
  assert.match(diff, /- two/, 'the removed line');
  assert.match(diff, /\+ TWO/, 'the added line');
  await wb.shot('chat-markdown-and-diff');
  // Open diff shows the edit in VS Code's diff editor.
  await frame.locator('details.tool', { hasText: 'src/app.txt' }).last().locator('summary').click();
  await frame.locator('.diff button.open-diff').last().click();
  await wb.page.locator('.monaco-diff-editor').first().waitFor();
  await wb.shot('tool-diff-in-diff-editor');
});

/// The lenses VS Code shows now (in diff editors too), by their text.
function lens(text: string | RegExp) {
  return wb.page.locator('.codelens-decoration a', { hasText: text });
}

step('review in the diff editor: accept one change, reject another, on the changed lines', async () => {
  const session = seen.edit!;
  await wb.command('Arbor: Review Changes');
  // The chat shows this session, so the command acts on it.
  await wb.page.locator('.multi-diff-editor, .monaco-diff-editor').first().waitFor();
  await lens('Accept Change').first().waitFor({ timeout: 30_000 });
  await wb.shot('review-lenses-in-diff');
  assert.equal(await lens('Accept Change').count(), 2, 'one Accept per change');
  assert.ok(await lens(/Accept File/).count(), 'and one for the whole file');
  // Each change's lens sits on its changed line: the line after it is the added text.
  const modified = (await wb.page.locator('.multi-diff-editor, .multiDiffEditor').first().innerText()).replace(/\s+/g, ' ');
  assert.doesNotMatch(modified, /app\.txt\S* R\b|[0-9a-f]{8}-[0-9a-f]{4}-/, 'a modified file is not shown as renamed from a path with the session id');
  const firstLensLine = await wb.page.locator('.monaco-diff-editor .editor.modified .view-lines .view-line', { hasText: 'TWO' }).count();
  assert.ok(firstLensLine > 0, 'the changed line is shown beside the lens');
  await lens('Accept Change').first().click();
  await wb.page.locator('.codelens-decoration', { hasText: '✓ Accepted' }).first().waitFor();
  await lens('Reject Change').last().click();
  await wb.until(() => fs.readFileSync(path.join(session.cwd, 'src/app.txt'), 'utf8').includes('fourteen'), 'the rejected change reverted on disk');
  const staged = git(session.cwd, 'diff', '--cached');
  assert.match(staged, /\+TWO/, 'the accepted change is staged');
  assert.doesNotMatch(staged, /FOURTEEN/, 'the rejected one is not');
  assert.match(fs.readFileSync(path.join(session.cwd, 'src/app.txt'), 'utf8'), /TWO/, 'the accepted change stays');
  await wb.shot('review-after-accept-reject');
});

step('review of new files: shown as added; rejecting one closes its editor and says so; commit and merge name what they act on', async () => {
  const session = seen.demo!;
  // Commands act on the session whose chat is open: open the demo's from the Sessions view.
  await wb.sessionRows('Add a greeting script').first().click();
  await wb.until(async () => /Add a greeting script/.test((await (await chatFrame()).locator('#status').textContent()) ?? ''), 'the chat on the demo session');
  await wb.command('Arbor: Review Changes');
  const multi = wb.page.locator('.multi-diff-editor, .multiDiffEditor').first();
  await multi.waitFor();
  await lens(/Accept File \(greeting\.sh\)/).first().waitFor({ timeout: 30_000 });
  const headers = (await multi.innerText()).replace(/\s+/g, ' ');
  assert.doesNotMatch(headers, /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}/, 'no base path with the session id (shown as a rename)');
  assert.match(headers, /check\.sh\S* A\b/, 'a new file is shown as added');
  await wb.shot('review-new-files');
  await lens(/Accept File \(greeting\.sh\)/).first().click();
  await lens(/Reject File \(delete it\)/).first().waitFor();
  // check.sh is the other new file.
  const reject = wb.page.locator('.codelens-decoration', { hasText: 'check.sh' }).locator('a', { hasText: 'Reject File' });
  await (await reject.count() ? reject.first() : lens(/Reject File \(delete it\)/).last()).click();
  await wb.toast(/rejected the new file check\.sh; it was removed/).waitFor();
  assert.ok(!fs.existsSync(path.join(session.cwd, 'check.sh')), 'check.sh is gone from the worktree');
  await wb.shot('rejected-new-file');
  await wb.clearToasts();

  await wb.command('Arbor: Commit');
  await wb.type('Add a greeting script');
  await wb.toast(/committed [0-9a-f]{12} on arbor\//).waitFor();
  await wb.command('Arbor: Merge');
  const message = await wb.dialog('Merge');
  assert.match(message, /Merge arbor\/\S+ of "Add a greeting script" into main\?/);
  await wb.toast(/merged arbor\/\S+ into main/).waitFor();
  assert.match(git(world.workspace, 'log', '--oneline', 'main'), /Add a greeting script/);
  assert.ok(fs.existsSync(path.join(world.workspace, 'greeting.sh')), 'the merged file is in the workspace');
  assert.ok(!fs.existsSync(path.join(world.workspace, 'check.sh')), 'the rejected file is not');
  await wb.shot('merged');
  await wb.clearToasts();
});

step('export defaults to a named file beside the repository, outside the worktree, and says where it went', async () => {
  await wb.command('Arbor: Export');
  const expected = path.join(world.workspace, 'arbor-add-a-greeting-script.md');
  // The simple file dialog fills its path in steps: wait for the file name.
  let value = '';
  await wb.until(async () => (value = (await wb.inputState()).value).endsWith('.md'), 'a file name in the save dialog', 5000).catch(() => undefined);
  assert.equal(value, expected, 'the save dialog proposes a named file in the repository folder');
  assert.ok(!value.startsWith(seen.demo!.cwd), 'not inside the session worktree');
  await wb.shot('export-dialog');
  await wb.type(value);
  await wb.toast(/exported "Add a greeting script" to .*arbor-add-a-greeting-script\.md/).waitFor();
  assert.match(fs.readFileSync(expected, 'utf8'), /Add a greeting script/);
  await wb.clearToasts();
});
