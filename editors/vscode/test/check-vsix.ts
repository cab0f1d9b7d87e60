// After `vsce package`: the .vsix holds the manifest, the compiled extension, the webview
// assets and the runtime dependencies, and none of the tests or sources.

import { execFileSync } from 'node:child_process';

const vsix = process.argv[2];
const listing = execFileSync('python3', ['-m', 'zipfile', '-l', vsix], { encoding: 'utf8' });
const required = ['extension/package.json', 'extension/out/src/extension.js', 'extension/media/chat.js', 'extension/media/compare.js', 'extension/node_modules/vscode-languageclient/package.json', 'extension/node_modules/vscode-jsonrpc/package.json'];
const missing = required.filter((entry) => !listing.includes(entry));
const unwanted = ['extension/out/test/', 'extension/src/', 'extension/node_modules/playwright-core/'].filter((entry) => listing.includes(entry));
if (missing.length > 0 || unwanted.length > 0) {
  console.error(`${vsix}: missing ${JSON.stringify(missing)}, unwanted ${JSON.stringify(unwanted)}`);
  process.exit(1);
}
console.log(`${vsix}: manifest, extension, webviews, vscode-languageclient and vscode-jsonrpc packaged`);
