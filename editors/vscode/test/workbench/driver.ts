// Drives the VS Code workbench in headless Chromium as a user would: the command palette, quick
// picks and input boxes, notifications, dialogs, tree rows and the webviews' nested frames. Every
// wait has a timeout, and each step leaves a screenshot behind.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Browser, Frame, Locator, Page, chromium } from 'playwright-core';

const STEP_TIMEOUT = 20_000;

export class Workbench {
  private shots = 0;

  private constructor(
    readonly browser: Browser,
    readonly page: Page,
    private readonly artifacts: string,
  ) {}

  static async open(url: string, folder: string, artifacts: string): Promise<Workbench> {
    fs.mkdirSync(artifacts, { recursive: true });
    // Nothing leaves the machine: names resolve only to 127.0.0.1 and every other request is
    // aborted.
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
      timeout: STEP_TIMEOUT,
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await context.route('**/*', (route) => {
      const host = new URL(route.request().url()).hostname;
      return host === '127.0.0.1' ? route.continue() : route.abort();
    });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT);
    const workbench = new Workbench(browser, page, artifacts);
    await workbench.load(url, folder);
    return workbench;
  }

  async load(url: string, folder: string): Promise<void> {
    await this.page.goto(`${url}/?folder=${encodeURIComponent(folder)}`, { timeout: 60_000 });
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await this.page.locator('.activitybar').waitFor();
  }

  async reload(): Promise<void> {
    await this.page.reload({ timeout: 60_000 });
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  }

  async close(): Promise<void> {
    await this.browser.close();
  }

  /// A numbered screenshot of the whole workbench, kept as a test artifact.
  async shot(name: string): Promise<string> {
    this.shots++;
    const file = path.join(this.artifacts, `${String(this.shots).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file, timeout: STEP_TIMEOUT });
    return file;
  }

  private get quickInput(): Locator {
    return this.page.locator('.quick-input-widget');
  }

  /// Opens the command palette, also when a webview has the focus (its keys may not reach the
  /// workbench): focus goes back to the workbench first, and F1 is pressed again if needed.
  private async openPalette(): Promise<Locator> {
    await this.closeQuickInput();
    const box = this.quickInput.locator('input');
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await this.page.keyboard.press('F1');
      if (await box.waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false)) return box;
    }
    throw new Error('the command palette did not open');
  }

  /// Runs a command from the palette by its title ("Arbor: New Session").
  async command(title: string): Promise<void> {
    const box = await this.openPalette();
    await box.fill(`>${title}`);
    // Enter runs the focused row, which lags the filter under load, and is not always the one
    // named (a longer title can rank first): wait for it, else move down to it.
    await this.quickInput.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
    const focused = this.quickInput.locator('.quick-input-list .monaco-list-row.focused', { hasText: title }).first();
    const isFocused = () => focused.waitFor({ timeout: 1_000 }).then(() => true, () => false);
    for (let moves = 0; moves < 10 && !(await isFocused()); moves++) await box.press('ArrowDown');
    await focused.waitFor({ timeout: 1_000 });
    await box.press('Enter');
    await this.quickInput.locator('.quick-input-list .monaco-list-row.focused', { hasText: title }).waitFor({ state: 'detached', timeout: 5_000 }).catch(() => undefined);
  }

  /// The palette's rows for `query`, to check what it offers (then closed).
  async paletteRows(query: string): Promise<string[]> {
    const box = await this.openPalette();
    await box.fill(`>${query}`);
    await this.page.waitForTimeout(300);
    const rows = (await this.quickInput.locator('.quick-input-list .monaco-list-row .label-name').allInnerTexts()).map((row) => row.replace(/\s+/g, ' ').trim());
    await this.closeQuickInput();
    return rows;
  }

  async closeQuickInput(): Promise<void> {
    if (await this.quickInput.isVisible()) {
      await this.page.keyboard.press('Escape');
      await this.quickInput.waitFor({ state: 'hidden' });
    }
  }

  /// Picks the row whose label contains `label` in the open quick pick (filtered first, since
  /// the list shows only the rows that fit).
  async pick(label: string): Promise<void> {
    const box = this.quickInput.locator('.quick-input-box input');
    await box.waitFor({ state: 'visible' });
    await box.fill(label);
    const row = this.quickInput.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
    await row.waitFor();
    await row.click();
  }

  /// Ticks the rows (a multi-select quick pick) then confirms.
  async pickMany(labels: string[]): Promise<void> {
    for (const label of labels) {
      const row = this.quickInput.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
      await row.waitFor();
      // In a multi-select pick a click on the row ticks it.
      await row.click();
    }
    await this.quickInput.locator('input.input, .quick-input-box input').first().press('Enter');
  }

  /// What the open input box shows (its value and prompt).
  async inputState(): Promise<{ value: string; prompt: string }> {
    const box = this.quickInput.locator('.quick-input-box input');
    await box.waitFor({ state: 'visible' });
    // The palette's own text may linger until the command's input replaces it.
    await this.until(async () => !(await box.inputValue()).startsWith('>'), 'the input box of the command');
    return { value: await box.inputValue(), prompt: await this.quickInput.locator('.quick-input-message').innerText().catch(() => '') };
  }

  /// Types into the open input box (replacing its value) and presses Enter.
  async type(text: string): Promise<void> {
    const box = this.quickInput.locator('.quick-input-box input');
    await box.waitFor({ state: 'visible' });
    await box.fill(text);
    await box.press('Enter');
  }

  /// A notification toast whose message matches; its buttons can then be clicked.
  toast(message: string | RegExp): Locator {
    return this.page.locator('.notifications-toasts .notification-toast', { hasText: message }).first();
  }

  /// Clicks a notification's button: on its toast, or in the notification center when the toast
  /// has already been tucked away (VS Code does that to toasts shown while the page loads).
  async clickToast(message: string | RegExp, button: string): Promise<void> {
    let notification = this.toast(message);
    if (!(await notification.waitFor({ timeout: 40_000 }).then(() => true, () => false))) {
      await this.command('Notifications: Show Notifications');
      notification = this.page.locator('.notifications-center .notification-list-item', { hasText: message }).first();
      await notification.waitFor();
    }
    await notification.locator('.monaco-button', { hasText: button }).first().click();
  }

  /// Every toast message on screen now.
  async toasts(): Promise<string[]> {
    return this.page.locator('.notifications-toasts .notification-toast .notification-list-item-message').allInnerTexts();
  }

  async clearToasts(): Promise<void> {
    await this.command('Notifications: Clear All Notifications');
  }

  /// The modal dialog's message; then clicks `button`.
  async dialog(button: string): Promise<string> {
    const box = this.page.locator('.monaco-dialog-box');
    await box.waitFor();
    const message = (await box.locator('.dialog-message-row, .dialog-message-container').first().innerText()).replace(/\s+/g, ' ');
    await box.locator('.monaco-button', { hasText: button }).first().click();
    await box.waitFor({ state: 'hidden' });
    return message;
  }

  /// The first frame (webviews sit two iframes deep) where `selector` exists.
  async frameWith(selector: string, timeoutMs = STEP_TIMEOUT): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const frame of this.page.frames()) {
        if (await frame.locator(selector).count().catch(() => 0)) return frame;
      }
      if (Date.now() > deadline) throw new Error(`no webview shows ${selector}`);
      await this.page.waitForTimeout(100);
    }
  }

  /// The Arbor Sessions view's tree rows.
  sessionRows(hasText?: string | RegExp): Locator {
    return this.page.locator('.pane', { has: this.page.locator('.pane-header', { hasText: /Sessions/i }) }).locator('.monaco-list-row', hasText ? { hasText } : {});
  }

  /// The status bar entry whose text matches, or ''.
  async statusBar(text: RegExp): Promise<string> {
    const entry = this.page.locator('.statusbar-item', { hasText: text }).first();
    return (await entry.count()) ? entry.innerText() : '';
  }

  /// The context menu on screen.
  private openMenu(): Locator {
    return this.page.locator('.context-view .monaco-menu').last();
  }

  /// Opens a row's context menu and returns its entries (the menu stays open). A menu left open
  /// by an earlier step is closed first, so the right-click reaches the row.
  async contextMenu(row: Locator): Promise<string[]> {
    await this.closeMenus();
    await row.click({ button: 'right' });
    const menu = this.openMenu();
    await menu.waitFor();
    return (await menu.locator('.action-label').allInnerTexts()).map((text) => text.trim()).filter(Boolean);
  }

  /// Chooses the open menu's entry named `label` with the keyboard, as a user can: a pointer
  /// click can land on the menu's backdrop when the workbench re-lays itself out under load.
  async menuItem(label: string): Promise<void> {
    const menu = this.openMenu();
    await menu.waitFor();
    const entries = await menu.locator('.action-item:not(.disabled) .action-label').allInnerTexts();
    for (let moves = 0; moves <= entries.length; moves++) {
      await this.page.keyboard.press('ArrowDown');
      const focused = menu.locator('.action-item.focused .action-label').first();
      if (((await focused.innerText().catch(() => '')) ?? '').trim() === label) {
        await this.page.keyboard.press('Enter');
        await menu.waitFor({ state: 'hidden' });
        return;
      }
    }
    throw new Error(`the menu has no "${label}" among: ${entries.map((entry) => entry.trim()).join(', ')}`);
  }

  /// Closes any context menu still open.
  async closeMenus(): Promise<void> {
    for (let tries = 0; tries < 3 && (await this.openMenu().isVisible().catch(() => false)); tries++) {
      await this.escape();
      await this.openMenu().waitFor({ state: 'hidden', timeout: 2_000 }).catch(() => undefined);
    }
  }

  async escape(): Promise<void> {
    await this.page.keyboard.press('Escape');
  }

  /// Polls `condition` until it holds or the timeout passes (its message then names `what`).
  async until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = STEP_TIMEOUT): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await this.page.waitForTimeout(100);
    }
  }
}
