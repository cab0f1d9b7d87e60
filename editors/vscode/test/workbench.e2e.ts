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
import { APP_LINES, World, artifacts, startWorld } from './workbench/setup';

const STEP = { timeout: 120_000 };
let world: World;
let wb: Workbench;
let client: Server;
/// What the steps learn as they go.
const seen: { demo?: Session; edit?: Session; taskTitle: string } = { taskTitle: 'Greeting in two trials' };

async function sessions(): Promise<Session[]> {
  return (await client.arbor.request(Method.SessionList, { limit: 100, includeHidden: true })).sessions;
}

async function chatFrame(): Promise<Frame> {
  return wb.frameWith('#composer');
}

async function chatText(frame: Frame): Promise<string> {
  return ((await frame.locator('#log').textContent()) ?? '').replace(/\s+/g, ' ');
}

/// Each failed step and the first line of its error, printed again after the suite so a
/// truncated log still shows them.
const failures: string[] = [];

/// A step of the suite: on failure the workbench as it was is kept as a screenshot too, and any
/// menu the step left open is closed so the next step starts from a usable workbench.
function step(name: string, body: () => Promise<void>): void {
  test(name, STEP, async () => {
    try {
      await body();
    } catch (error) {
      failures.push(`${name}: ${String(error instanceof Error ? error.message : error).split('\n')[0]}`);
      await wb?.shot('failed').catch(() => undefined);
      await wb?.closeMenus().catch(() => undefined);
      throw error;
    }
  });
}

before(async () => {
  world = await startWorld({ 'arbor.path': 'arbor-not-installed' });
  wb = world.workbench;
  client = await connectDaemon(world.arborEnv);
});

after(async () => {
  await client?.stop();
  await world?.stop();
  console.log(`screenshots: ${artifacts}`);
  for (const failure of failures) console.log(`failed step: ${failure}`);
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
  const session = await client.arbor.request(Method.SessionNew, { cwd: world.workspace, agent: 'scripted', prompt: title, config: { script } });
  await client.arbor.request(Method.SessionConfigure, { sessionId: session.id, title });
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
  // Next and previous change move the cursor from change to change (line 2, then line 14).
  await wb.page.locator('.monaco-diff-editor .editor.modified .view-line', { hasText: 'one' }).first().click();
  const cursorLine = async () => Number((await wb.statusBar(/Ln \d+/)).match(/Ln (\d+)/)?.[1] ?? 0);
  await wb.command('Arbor: Next Change');
  await wb.until(async () => (await cursorLine()) === 2, 'the cursor on the first change');
  await wb.command('Arbor: Next Change');
  await wb.until(async () => (await cursorLine()) === 14, 'the cursor on the second change');
  await wb.command('Arbor: Previous Change');
  await wb.until(async () => (await cursorLine()) === 2, 'the cursor back on the first change');
  await lens('Accept Change').first().click();
  await wb.page.locator('.codelens-decoration', { hasText: '✓ Accepted' }).first().waitFor();
  await lens('Reject Change').last().click();
  await wb.until(() => fs.readFileSync(path.join(session.cwd, 'src/app.txt'), 'utf8').includes('fourteen'), 'the rejected change reverted on disk');
  const staged = git(session.cwd, 'diff', '--cached');
  assert.match(staged, /\+TWO/, 'the accepted change is staged');
  assert.doesNotMatch(staged, /FOURTEEN/, 'the rejected one is not');
  assert.match(fs.readFileSync(path.join(session.cwd, 'src/app.txt'), 'utf8'), /TWO/, 'the accepted change stays');
  // The rejected change's lenses go; the accepted one's stay.
  await wb.until(async () => (await lens(/Accept Change|Reject Change/).count()) === 0 && (await lens('✓ Accepted · Undo').count()) === 1, 'only the accepted change has lenses');
  await wb.shot('review-after-accept-reject');
  // An accept can be undone from its lens: unstaged again, still in the worktree, acceptable again.
  await lens('✓ Accepted · Undo').first().click();
  await wb.until(() => git(session.cwd, 'diff', '--cached') === '', 'the accept undone: nothing staged');
  assert.match(fs.readFileSync(path.join(session.cwd, 'src/app.txt'), 'utf8'), /TWO/, 'the worktree keeps the change');
  await wb.until(async () => (await lens('Accept Change').count()) === 1 && (await lens('✓ Accepted').count()) === 0, 'one change to accept again, none accepted');
  await wb.shot('review-accept-undone');
  await lens('Accept Change').first().click();
  await wb.until(() => /\+TWO/.test(git(session.cwd, 'diff', '--cached')), 'accepted again');
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
  // Leave the main checkout clean for the promotion below.
  fs.rmSync(expected);
  await wb.clearToasts();
});

step('a task from a worktree file: two trials, their permissions from toasts, a live comparison, check and promote', async () => {
  // Make a file of a session's worktree the active editor: the modified side of its diff.
  await wb.sessionRows('Edit app.txt').first().click();
  await wb.until(async () => /Edit app\.txt/.test((await (await chatFrame()).locator('#status').textContent()) ?? ''), 'the chat on "Edit app.txt"');
  await wb.command('Arbor: Review Changes');
  const modified = wb.page.locator('.monaco-diff-editor .editor.modified .view-line', { hasText: 'TWO' }).first();
  await modified.waitFor({ timeout: 30_000 });
  await modified.click();
  await wb.command('Arbor: New Task');
  await wb.type(seen.taskTitle);
  await wb.type('Add a greeting script');
  await wb.type('sh check.sh');
  await wb.clickToast(`created the task "${seen.taskTitle}"`, 'New Trials');
  await wb.pickMany(['Scripted agent']);
  await wb.pick('2');
  await wb.toast(/started 2 trials/).waitFor();
  // The comparison opens while the trials work, and follows them.
  await wb.command('Arbor: Compare Trials');
  await wb.pick(seen.taskTitle);
  const compare = await wb.frameWith('#compare table');
  await wb.until(async () => (await compare.locator('tr[data-trial-id]').count()) === 2, 'two rows');
  const updatesBefore = Number(await compare.locator('body').getAttribute('data-updates'));
  // Both trials stop at the demo's question; each asks through a toast.
  for (let answered = 0; answered < 2; answered++) {
    const toast = wb.toast(/asks: Run the check script/);
    await toast.waitFor({ timeout: 60_000 });
    if (answered === 0) await wb.shot('trials-asking');
    await toast.locator('.monaco-button', { hasText: 'Allow' }).click();
    await wb.page.waitForTimeout(300);
  }
  await wb.until(async () => (await compare.locator('tr[data-trial-id] .status.done').count()) === 2, 'both trials done in the comparison', 60_000);
  assert.ok(Number(await compare.locator('body').getAttribute('data-updates')) > updatesBefore, 'the comparison updated live');
  // Running Compare again reveals the same tab.
  await wb.command('Arbor: Compare Trials');
  await wb.pick(seen.taskTitle);
  await wb.page.waitForTimeout(500);
  assert.equal(await wb.page.locator('.tab', { hasText: `Compare: ${seen.taskTitle}` }).count(), 1, 'one tab per task');
  // Hidden, then shown: still there.
  await wb.page.locator('.tab', { hasText: 'Arbor: Edit app.txt' }).first().click();
  await wb.page.locator('.tab', { hasText: `Compare: ${seen.taskTitle}` }).first().click();
  const shown = await wb.frameWith('#compare table');
  assert.equal(await shown.locator('tr[data-trial-id]').count(), 2, 'the rows survive being hidden');
  await wb.shot('compare-live');
  // VS Code shows three toasts at most; the trials' "finished" toasts would leave no room for the
  // check's progress and result.
  await wb.clearToasts();
  await shown.locator('tr[data-trial-id]').first().locator('button', { hasText: 'Run check' }).click();
  // Either outcome ends the wait, so that a failed check fails the step with its summary.
  const outcome = wb.toast(/the check of trial 1 \(scripted\) (passed|failed)/);
  await outcome.waitFor({ timeout: 60_000 }).catch(async (error) => {
    throw new Error(`${error}; toasts on screen: ${JSON.stringify(await wb.toasts())}`);
  });
  assert.match(await outcome.innerText(), /the check of trial 1 \(scripted\) passed/);
  await wb.until(async () => /✓/.test((await shown.locator('tr[data-trial-id]').first().textContent()) ?? ''), 'the check result in the row');
  await shown.locator('tr[data-trial-id]').nth(1).locator('button', { hasText: 'Promote' }).click();
  const question = await wb.dialog('Promote');
  assert.match(question, /Promote trial 2 \(scripted\) of "Greeting in two trials"\? Its branch is merged into main/);
  await wb.toast(/promoted trial 2 \(scripted\) into main; 1 other trial abandoned/).waitFor({ timeout: 30_000 });
  assert.ok(fs.existsSync(path.join(world.workspace, 'check.sh')), "the promoted trial's files are on main");
  await wb.shot('promoted');
  await wb.clearToasts();
});

step('the palette offers what applies: no argument-only commands, a Check command', async () => {
  assert.ok(!(await wb.paletteRows('Arbor: Open Chat')).includes('Arbor: Open Chat'), 'Open Chat needs a session from the view');
  await wb.page.locator('.tab', { hasText: `Compare: ${seen.taskTitle}` }).first().click();
  assert.ok(!(await wb.paletteRows('Arbor: Accept Change')).includes('Arbor: Accept Change'), 'Accept Change only in a reviewed file');
  assert.ok((await wb.paletteRows('Arbor: Check Trial')).some((row) => /Check Trial/.test(row)), 'Check Trial is in the palette');
});

step('the Sessions view: title-bar actions, menus that follow the state, Pin then Unpin', async () => {
  for (const action of ['New Session', 'New Task', 'Filter Sessions', 'Refresh', 'Show Hidden Sessions']) {
    assert.ok(await wb.page.locator(`.part.sidebar .actions-container [aria-label^="${action}"]`).count(), `the title bar has ${action}`);
  }
  const row = wb.sessionRows('Edit app.txt').first();
  let menu = await wb.contextMenu(row);
  assert.ok(menu.includes('Stop') && !menu.includes('Resume'), `a live session offers Stop, not Resume: ${menu.join(', ')}`);
  assert.ok(menu.includes('Pin') && !menu.includes('Unpin'), 'Pin before pinning');
  await wb.menuItem('Pin');
  await wb.until(async () => /pinned/.test((await row.getAttribute('aria-label')) ?? ''), 'the row saying it is pinned');
  menu = await wb.contextMenu(row);
  assert.ok(menu.includes('Unpin') && !menu.includes('Pin'), `Unpin once pinned: ${menu.join(', ')}`);
  await wb.menuItem('Stop');
  await wb.until(async () => /stopped/.test((await row.getAttribute('aria-label')) ?? ''), 'the row saying it stopped');
  menu = await wb.contextMenu(row);
  assert.ok(menu.includes('Resume') && !menu.includes('Stop'), `a stopped session offers Resume: ${menu.join(', ')}`);
  await wb.shot('sessions-menu');
  await wb.closeMenus();
});

step('after a reload the chat reopens on the last session', async () => {
  await wb.sessionRows('Edit app.txt').first().click();
  await wb.reload();
  const frame = await wb.frameWith('#composer', 60_000);
  await wb.until(async () => /Edit app\.txt/.test((await frame.locator('#status').textContent()) ?? ''), 'the chat restored on "Edit app.txt"', 30_000);
  await wb.until(async () => /Turn finished/.test(await chatText(frame)), 'its history replayed');
  await wb.shot('reloaded');
});

step('the composer: slash commands are offered and run, a selection arrives as context', async () => {
  const frame = await chatFrame();
  const input = frame.locator('#input');
  await input.fill('/re');
  await wb.until(async () => /\/review — review the changes/.test((await frame.locator('#hints').textContent()) ?? ''), 'the slash commands offered');
  assert.doesNotMatch((await frame.locator('#hints').textContent()) ?? '', /\/commit/, 'only those matching what was typed');
  await wb.shot('composer-slash-commands');
  await input.fill('/review');
  await input.press('Enter');
  // /review runs the command on the chat's session: its changes open in the diff editor.
  const modified = wb.page.locator('.monaco-diff-editor .editor.modified .view-line', { hasText: 'TWO' }).first();
  await modified.waitFor({ timeout: 30_000 });
  assert.equal(await input.inputValue(), '', 'a slash command is not sent as a message');
  await modified.click();
  await wb.page.keyboard.press('Home');
  await wb.page.keyboard.press('Shift+End');
  await wb.command('Arbor: Add Selection to Chat');
  // The whole line 2 is selected; earlier steps may have typed on it, so only its start is known.
  await wb.until(async () => /#L2-2\n```\nTWO[^\n]*\n```/.test(await input.inputValue()), 'the selection quoted in the composer');
  await wb.shot('composer-selection-context');
  await input.fill('');
});

step('deleting the open session says so in the chat and keeps what was typed', async () => {
  const frame = await chatFrame();
  await frame.locator('#input').fill('A thought not yet sent');
  const row = wb.sessionRows('Edit app.txt').first();
  await wb.contextMenu(row);
  await wb.menuItem('Delete');
  assert.match(await wb.dialog('Delete'), /Delete the session "Edit app\.txt"\?/);
  await wb.toast(/deleted "Edit app\.txt"; its work is on arbor\//).waitFor();
  await wb.until(async () => /This session was deleted/.test((await frame.locator('#problem').textContent()) ?? ''), 'the chat saying the session is gone');
  assert.equal(await frame.locator('#input').inputValue(), 'A thought not yet sent', 'the text is kept');
  assert.ok(await frame.locator('#send').isDisabled(), 'nothing can be sent to a deleted session');
  await wb.shot('deleted-session-chat');
  await wb.clearToasts();
});

step('the chat follows the colour theme: light and high contrast', async () => {
  // As a user switches themes: the palette's colour theme picker, by the theme's label.
  const setTheme = async (label: string) => {
    await wb.command('Preferences: Color Theme');
    await wb.pick(label);
    await wb.closeQuickInput();
  };
  const frame = await chatFrame();
  /// The page's colours: the body's background and text, and the composer's border.
  const colours = () => frame.evaluate(() => {
    const body = getComputedStyle(document.body);
    const input = getComputedStyle(document.getElementById('input')!);
    return { background: body.backgroundColor, text: body.color, border: input.borderTopColor, contrastBorder: body.getPropertyValue('--vscode-contrastBorder').trim() };
  });
  const luminance = (colour: string) => {
    const [r, g, b] = (colour.match(/\d+/g) ?? ['0', '0', '0']).slice(0, 3).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  const dark = await colours();
  assert.ok(luminance(dark.background) < 0.3 && luminance(dark.text) > 0.6, `dark: ${JSON.stringify(dark)}`);
  try {
    await setTheme('Light Modern');
    await wb.until(async () => luminance((await colours()).background) > 0.8, 'the chat turning light', 30_000);
    const light = await colours();
    assert.ok(luminance(light.text) < 0.4, `light text is dark: ${JSON.stringify(light)}`);
    await wb.shot('chat-light-theme');
    await setTheme('Dark High Contrast');
    await wb.until(async () => (await colours()).contrastBorder !== '' && luminance((await colours()).background) < 0.05, 'the chat in high contrast', 30_000);
    const contrast = await colours();
    assert.ok(luminance(contrast.text) > 0.9, `high-contrast text is white: ${JSON.stringify(contrast)}`);
    assert.ok(luminance(contrast.border) > 0.3, `the composer has a visible border in high contrast: ${JSON.stringify(contrast)}`);
    await wb.shot('chat-high-contrast-theme');
  } finally {
    await setTheme('Dark Modern');
  }
  await wb.until(async () => luminance((await colours()).background) < 0.3, 'the chat dark again', 30_000);
});

step('5,000 chunks stream into the chat without freezing it', async () => {
  const words = Array.from({ length: 15_000 }, (_, index) => `w${index + 1}`).join(' ');
  const session = await startElsewhere('Long reply', `say Ready.\nturn\nchunk-delay 0\nsay ${words}`);
  const row = wb.sessionRows('Long reply').first();
  await row.waitFor();
  await wb.until(async () => /idle/.test((await row.getAttribute('aria-label')) ?? ''), 'the first turn', 30_000);
  await row.click();
  const frame = await chatFrame();
  await wb.until(async () => /Ready\./.test(await chatText(frame)), 'the chat on "Long reply"');
  // The page records when each render lands and the longest gap between animation frames.
  await frame.evaluate(() => {
    const record = { renders: [] as [number, number][], longestFrame: 0 };
    (window as unknown as { arborProbe: typeof record }).arborProbe = record;
    new MutationObserver(() => record.renders.push([Number(document.body.dataset.lastSeq), Date.now()])).observe(document.body, { attributes: true, attributeFilter: ['data-last-seq'] });
    let last = performance.now();
    const tick = (now: number) => {
      record.longestFrame = Math.max(record.longestFrame, now - last);
      last = now;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await frame.locator('#input').fill('Go on');
  await frame.locator('#input').press('Enter');
  let history: SessionEventNotification[] = [];
  let asked = 0;
  await wb.until(async () => {
    history = await client.arbor.history(session.id);
    asked = history.find((event) => event.event.kind === 'user_message' && event.event.text === 'Go on')?.seq ?? Infinity;
    return history.some((event) => event.seq > asked && event.event.kind === 'turn_ended');
  }, 'the server to send the whole reply', 120_000);
  const chunks = history.filter((event) => event.event.kind === 'agent_message_chunk' && event.seq > asked);
  const lastChunk = chunks[chunks.length - 1];
  await wb.until(async () => Number(await frame.locator('body').getAttribute('data-last-seq')) >= lastChunk.seq, 'the page to render the last chunk', 60_000);
  const probe = await frame.evaluate(() => (window as unknown as { arborProbe: { renders: [number, number][]; longestFrame: number } }).arborProbe);
  const renderedAt = probe.renders.find(([seq]) => seq >= lastChunk.seq)![1];
  const text = (await frame.locator('.agent').last().textContent()) ?? '';
  // The agent writes 5,000 chunks as fast as it can; the server joins the chunks of one message
  // that it reads back to back (issue 16's event path), so the chat gets up to 5,000 events.
  assert.ok(chunks.length <= 5000, `no chunk was split or repeated (${chunks.length} events)`);
  const sent = chunks.map((chunk) => (chunk.event as { text: string }).text).join('');
  assert.equal(sent.trim().split(/\s+/).join(' '), words, 'the server sent every word once, in order');
  assert.equal(text.trim().split(/\s+/).slice(-15_000).join(' '), words, 'the whole reply is on the page');
  const serverMs = lastChunk.at - chunks[0].at;
  const pageMs = renderedAt - chunks[0].at;
  console.log(`5,000 chunks in ${chunks.length} events: the server sent them over ${serverMs} ms; the page showed the last ${renderedAt - lastChunk.at} ms after it was sent (${pageMs} ms after the first); longest frame ${Math.round(probe.longestFrame)} ms`);
  // One webview message per chunk left the page 57 s behind a reply sent in 4.5 s; batched, it
  // follows within 1–10 s on a 2-core machine, 21 s seen at a load average of 12. The bounds
  // catch the unbatched regression, not a slow machine; the figures above are the measurement.
  assert.ok(probe.longestFrame < 3000, `the page never froze (longest frame ${Math.round(probe.longestFrame)} ms)`);
  assert.ok(renderedAt - lastChunk.at < 40_000, `the page kept up with the stream (${renderedAt - lastChunk.at} ms behind)`);
  await wb.shot('5000-chunks');
});
