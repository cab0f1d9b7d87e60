// A small stand-in for the `vscode` module, enough for the extension's logic to run in Node:
// dialogs answer from queues the test fills, and what the code shows is recorded.

import Module from 'node:module';
import * as path from 'node:path';

export const answers = { quickPick: [] as unknown[], inputBox: [] as (string | undefined)[], warning: [] as (string | undefined)[], info: [] as (string | undefined)[], saveDialog: [] as unknown[] };
export const shown = { errors: [] as string[], info: [] as string[], warnings: [] as string[], details: [] as string[] };
export const settings: Record<string, unknown> = { permissionMode: 'ask' };
export const written: { path: string; text: string }[] = [];
export const opened: string[] = [];
/// Makes the webview panels the code creates; a test that shows one sets it.
export const webviews: { createPanel?: (viewType: string, title: string) => unknown } = {};

class EventEmitter<T> {
  private listeners: ((value: T) => void)[] = [];
  event = (listener: (value: T) => void) => {
    this.listeners.push(listener);
    return { dispose: () => undefined };
  };
  fire(value: T) {
    this.listeners.forEach((listener) => listener(value));
  }
}

const vscode = {
  EventEmitter,
  window: {
    activeTextEditor: undefined,
    showQuickPick: async (items: any[], options?: { canPickMany?: boolean }) => {
      const answer = answers.quickPick.shift();
      if (typeof answer === 'function') return answer(items, options);
      return answer;
    },
    showInputBox: async () => answers.inputBox.shift(),
    showWarningMessage: async (message: string) => {
      shown.warnings.push(message);
      return answers.warning.shift();
    },
    showErrorMessage: async (message: string) => {
      shown.errors.push(message);
      return undefined;
    },
    showInformationMessage: async (message: string, ...rest: unknown[]) => {
      shown.info.push(message);
      const options = rest[0] as { detail?: string } | undefined;
      if (typeof options === 'object' && options?.detail) shown.details.push(options.detail);
      return answers.info.shift();
    },
    showSaveDialog: async () => answers.saveDialog.shift(),
    createWebviewPanel: (viewType: string, title: string) => {
      if (!webviews.createPanel) throw new Error('this test shows no webview panels');
      return webviews.createPanel(viewType, title);
    },
  },
  ViewColumn: { Beside: -2 },
  workspace: {
    workspaceFolders: [{ uri: { fsPath: '/home/user/project' } }],
    getWorkspaceFolder: () => undefined,
    getConfiguration: () => ({ get: (key: string) => settings[key] }),
    fs: { writeFile: async (uri: { fsPath: string }, data: Uint8Array) => written.push({ path: uri.fsPath, text: Buffer.from(data).toString() }) },
  },
  commands: { registerCommand: () => ({ dispose: () => undefined }), executeCommand: async () => undefined },
  env: { openExternal: async (uri: { toString(): string }) => opened.push(uri.toString()) > 0 },
  Uri: {
    file: (fsPath: string) => ({ fsPath, path: fsPath, scheme: 'file' }),
    joinPath: (base: { fsPath: string }, ...parts: string[]) => {
      const fsPath = path.join(base.fsPath, ...parts);
      return { fsPath, path: fsPath, scheme: 'file' };
    },
    parse: (value: string) => ({ toString: () => value }),
  },
};

/// Makes `require('vscode')` return the stand-in.
export function install(): void {
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = loader._load;
  loader._load = function (request: string, ...rest: unknown[]) {
    if (request === 'vscode') return vscode;
    return original.call(this, request, ...rest);
  };
}
