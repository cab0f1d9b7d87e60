// Benchmark (not a test) of opening a long stored session in VS Code: the extension's own chat
// code (ChatView, with the `vscode` module stood in for) runs in Node against the real `arbor`
// binary (`lsp --standalone`) over vscode-jsonrpc, the library VS Code's language client is built
// on, and its webview is the chat page (media/chat.js) in headless Chromium, each message between
// them carried as VS Code carries it, serialized. A scripted session of about EVENTS stored events
// is made, the server restarted so the session is read back from the store, then `Arbor: Open
// Chat` is timed until the page has rendered the last seq and shows the last event's text. Beside
// it, from the same run: the extension's connection paging in the same history with no webview,
// and a session of SMALL events opened the same way.
//
// `npm run bench -- [EVENTS [SMALL]]` (defaults 100000 and 1000); ARBOR_BIN names the binary.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrowserContext, Page, chromium } from 'playwright-core';
import type * as vscode from 'vscode';
import type { ChatView as ChatViewType } from '../../src/chatView';
import type { Ctx as CtxType } from '../../src/ctx';
import { Method } from '../../src/protocol';
import { Server, repo, scratch, startServer, until } from '../arbor';
import { install, webviews } from '../vscodeMock';

install();
// Loaded after the stand-in for `vscode` is installed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ChatView } = require('../../src/chatView') as typeof import('../../src/chatView');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Ctx } = require('../../src/ctx') as typeof import('../../src/ctx');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { commands } = require('../../src/commands') as typeof import('../../src/commands');

const EVENTS = Number(process.argv[2] ?? 100_000);
const SMALL = Number(process.argv[3] ?? 1000);
const ROUNDS = 3;
const TURNS = 10;
/// Streamed chunks between two tool calls.
const TOOL_EVERY = 250;
const WORDS = ['The', 'parser', 'reads', 'each', 'line,', 'keeps', 'the', '`offset`', 'and', 'returns', '**early**', 'when', 'a', 'token', 'ends.'];
const extensionRoot = path.resolve(__dirname, '../../..');

interface History {
  script: string;
  /// The user's message of each turn.
  prompts: string[];
  /// The text of the session's last event that shows any.
  lastText: string;
}

/// A scripted session of about `events` stored events, the one the Neovim benchmark makes
/// (editors/nvim/bench/history.lua): `turns` turns, each a user message, then thinking and reply
/// tokens one chunk each (alternating, so the server keeps every chunk as its own event, as
/// `stream-bench replay` does), a tool call every TOOL_EVERY chunks (commands and file writes,
/// every fourth command asking a permission the policy grants) and a last reply token naming the
/// turn.
function history(events: number, turns: number): History {
  // Each tool call stores about three events and each turn about four besides its chunks.
  const chunks = Math.max(2, Math.floor((events / turns - 4) / (1 + 3 / TOOL_EVERY)));
  const lines: string[] = [];
  const prompts: string[] = [];
  let step = 0;
  for (let turn = 1; turn <= turns; turn++) {
    prompts.push(`Go on with part ${turn} of the refactoring.`);
    if (turn > 1) lines.push('turn');
    // An even count ends on thinking, so the turn's last reply token is not joined to a reply
    // chunk before it.
    for (let chunk = 1; chunk <= chunks - (chunks % 2) - 1; chunk++) {
      if (chunk % TOOL_EVERY === 0) {
        step++;
        if (step % 2 === 1) {
          if (step % 8 === 1) lines.push(`ask Run step ${step}`);
          lines.push(`run echo step ${step} checked`);
        } else {
          lines.push(`write notes/step-${step}.md <<END`, `# Step ${step}`, 'Checked the parser.', 'END');
        }
      }
      lines.push(`${chunk % 2 === 1 ? 'think' : 'say'} ${WORDS[(chunk + turn) % WORDS.length]}`);
    }
    lines.push(`say done-${turn}`);
  }
  return { script: lines.join('\n'), prompts, lastText: `done-${turns}` };
}

/// Makes the session of `made` by playing every turn of its script; returns its id.
async function makeSession(server: Server, dir: string, made: History): Promise<string> {
  const permissions = [{ kind: 'execute' as const, pattern: 'echo step *', action: 'allow' as const }];
  // The first turn's message goes with session/new: the server sends it once the agent runs.
  const session = await server.arbor.request(Method.SessionNew, { cwd: dir, agent: 'scripted', prompt: made.prompts[0], config: { script: made.script }, permissions });
  await server.arbor.request(Method.SessionSubscribe, { sessionId: session.id, afterSeq: 0 });
  const ended = () => server.events.filter((event) => event.sessionId === session.id && event.event.kind === 'turn_ended').length;
  for (let turn = 1; turn <= made.prompts.length; turn++) {
    if (turn > 1) await server.arbor.request(Method.SessionPrompt, { sessionId: session.id, text: made.prompts[turn - 1] });
    await until(() => ended() === turn, `turn ${turn}`, 300_000);
  }
  return session.id;
}

/// A webview panel whose page is a tab of headless Chromium: the extension's messages reach the
/// page, and the page's reach the extension, serialized as VS Code carries them.
class PagePanel {
  title = '';
  iconPath: unknown;
  readonly visible = true;
  readonly pageErrors: string[] = [];
  /// The page's load, once the extension has given it its HTML.
  loaded: Promise<void> | undefined;
  private receiver: ((message: unknown) => void) | undefined;
  private disposed: (() => void) | undefined;
  readonly webview: {
    options: object;
    cspSource: string;
    set html(html: string);
    asWebviewUri(uri: vscode.Uri): string;
    onDidReceiveMessage(listener: (message: unknown) => void): { dispose(): void };
    postMessage(message: unknown): Promise<boolean>;
  };

  private constructor(
    readonly page: Page,
    dir: string,
  ) {
    // The HTML setter cannot be an arrow function, so it reaches the panel by name.
    const panel = this;
    this.webview = {
      options: {},
      cspSource: 'file:',
      asWebviewUri: (uri) => pathToFileURL(uri.fsPath).toString(),
      onDidReceiveMessage: (listener) => {
        panel.receiver = listener;
        return { dispose: () => undefined };
      },
      postMessage: async (message) => {
        // As JSON text, parsed by the page: how VS Code carries a message into its webview.
        await page.evaluate((json) => window.postMessage(JSON.parse(json), '*'), JSON.stringify(message));
        return true;
      },
      // Setting the HTML loads the page, as in VS Code, where it then posts `ready`.
      set html(html: string) {
        const file = path.join(dir, 'chat.html');
        fs.writeFileSync(file, html);
        panel.loaded = page.goto(pathToFileURL(file).toString(), { waitUntil: 'domcontentloaded' }).then(() => undefined);
      },
    };
  }

  /// A tab whose page's acquireVsCodeApi posts to this panel, in the window `tabs` (main's).
  static async open(tabs: BrowserContext): Promise<PagePanel> {
    const page = await tabs.newPage();
    const panel = new PagePanel(page, scratch());
    page.on('pageerror', (error) => panel.pageErrors.push(String(error)));
    await page.exposeBinding('__arborPost', (_source, message: unknown) => panel.receiver?.(JSON.parse(JSON.stringify(message))));
    await page.addInitScript(() => {
      const post = (window as unknown as { __arborPost: (message: unknown) => void }).__arborPost;
      (window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({ postMessage: post, getState: () => undefined, setState: () => undefined });
    });
    return panel;
  }

  reveal(): void {}

  onDidDispose(listener: () => void): { dispose(): void } {
    this.disposed = listener;
    return { dispose: () => undefined };
  }

  async close(): Promise<void> {
    this.disposed?.();
    await this.page.close();
  }
}

/// What the page shows at its end: the last seq it says it rendered and the text of its last
/// two blocks as laid out (innerText), so the figure includes the layout.
async function shown(page: Page): Promise<{ lastSeq: string | undefined; text: string }> {
  return page.evaluate(() => {
    const blocks = document.querySelectorAll<HTMLElement>('#log .segment:last-child > *');
    const text = Array.from(blocks).slice(-2).map((block) => block.innerText).join('\n');
    return { lastSeq: document.body.dataset.lastSeq, text };
  });
}

/// Scrolls the log from its top to its end, a segment at a time, a frame each, as a user
/// scrolling through it would have every segment rendered.
async function scrollThrough(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    for (const segment of Array.from(document.querySelectorAll('#log .segment'))) {
      segment.scrollIntoView();
      await frame();
    }
  });
}

interface Opened {
  seconds: number;
  panel: PagePanel;
}

/// Seconds from `Arbor: Open Chat` on the session until the page has rendered its last seq and
/// shows the last reply token and the turn's end. The browser tab is opened before (VS Code's
/// renderer is running too); the page's load is timed.
async function openByCommand(ctx: CtxType, tabs: BrowserContext, sessionId: string, lastSeq: number, made: History): Promise<Opened> {
  const panel = await PagePanel.open(tabs);
  webviews.createPanel = () => panel;
  const started = performance.now();
  await commands['arbor.openSession'](ctx)(sessionId);
  await panel.loaded;
  let seen = await shown(panel.page);
  while (!(seen.lastSeq === String(lastSeq) && seen.text.includes(made.lastText) && seen.text.includes('Turn finished'))) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    seen = await shown(panel.page);
  }
  return { seconds: (performance.now() - started) / 1000, panel };
}

function figures(rounds: number[]): string {
  return `${rounds.map((seconds) => seconds.toFixed(3)).join(' / ')} s`;
}

async function main(): Promise<void> {
  const root = scratch();
  const dir = repo(root, { 'README.md': '# bench\n' });
  const big = history(EVENTS, TURNS);
  const small = history(SMALL, 1);
  let server = await startServer(root);
  const madeAt = performance.now();
  const bigId = await makeSession(server, dir, big);
  const smallId = await makeSession(server, dir, small);
  console.log(`made the sessions in ${((performance.now() - madeAt) / 1000).toFixed(1)} s`);
  // A new server reads both sessions back from its store, once the old one has let it go.
  const exited = new Promise((resolve) => server.process.once('exit', resolve));
  await server.stop();
  await exited;
  server = await startServer(root);
  const bigSeq = (await server.arbor.request(Method.SessionGet, { sessionId: bigId })).lastSeq;
  const smallSeq = (await server.arbor.request(Method.SessionGet, { sessionId: smallId })).lastSeq;

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  // One window for every tab, kept open by a blank tab of its own, as VS Code's window is there
  // before its chat opens: for each new window (a page of its own context, or the one opened once
  // the last tab closed) Chromium starts one of its own WebUI pages, and that took half a second
  // of the machine's two cores while the chat opened.
  const tabs = await browser.newContext();
  await (await tabs.newPage()).goto('about:blank');
  const context = { workspaceState: { get: () => undefined, update: async () => undefined }, extensionUri: { fsPath: extensionRoot, path: extensionRoot, scheme: 'file' } };
  const chat: ChatViewType = new ChatView(context as unknown as vscode.ExtensionContext);
  const ctx: CtxType = new Ctx(server.arbor, {
    showChat: (sessionId) => chat.show(sessionId),
    showCompare: async () => undefined,
    refreshTree: () => undefined,
    startReview: async () => undefined,
    explainServer: async () => undefined,
    chatSession: () => chat.visibleSession(),
  });
  chat.attach(ctx);
  // The Sessions view's list, as the extension loads it when it starts.
  await ctx.refresh();
  const paged: number[] = [];
  const opened: number[] = [];
  const openedSmall: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const pagingStarted = performance.now();
      const events = await server.arbor.history(bigId);
      paged.push((performance.now() - pagingStarted) / 1000);
      assert.equal(events.length, bigSeq, 'the whole history paged in');
      for (const [id, seq, made, into] of [[smallId, smallSeq, small, openedSmall], [bigId, bigSeq, big, opened]] as const) {
        const result = await openByCommand(ctx, tabs, id, seq, made);
        into.push(result.seconds);
        if (id === bigId && round === 0) await checkRendered(result.panel.page, made);
        assert.deepEqual(result.panel.pageErrors, [], 'no errors on the page');
        await result.panel.close();
      }
    }
  } finally {
    await browser.close();
    await server.stop();
  }
  console.log(`vscode: a stored session of ${bigSeq} events opened with Arbor: Open Chat until its webview shows the last event (${ROUNDS} rounds)`);
  console.log(`  baseline  the extension's connection paging in the same ${bigSeq} events, no webview: ${figures(paged)}`);
  console.log(`  baseline  a session of ${smallSeq} events opened the same way: ${figures(openedSmall)}`);
  console.log(`  arbor     ${figures(opened)} (goal < 1 s)`);
}

/// Checks what the whole page shows once scrolled through: each turn's message and last reply
/// token once, in order, and as many turn ends as turns.
async function checkRendered(page: Page, made: History): Promise<void> {
  await scrollThrough(page);
  const users = await page.$$eval('#log .user.message', (nodes) => nodes.map((node) => node.textContent));
  assert.deepEqual(users, made.prompts);
  const ends = await page.$$eval('#log .turn-end', (nodes) => nodes.length);
  assert.equal(ends, made.prompts.length);
  const lastTokens = await page.$$eval('#log .agent.message', (nodes) => nodes.map((node) => node.textContent).filter((text) => text?.startsWith('done-')));
  assert.deepEqual(lastTokens, made.prompts.map((_, index) => `done-${index + 1}`));
}

/// The release build of `arbor`, built if need be, unless ARBOR_BIN names another.
function useReleaseBinary(): void {
  if (process.env.ARBOR_BIN) return;
  execFileSync('cargo', ['build', '--release', '-p', 'arbor-server', '--bin', 'arbor'], { stdio: 'inherit' });
  const metadata = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { encoding: 'utf8' }));
  process.env.ARBOR_BIN = path.join(metadata.target_directory, 'release', 'arbor');
}

useReleaseBinary();
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
