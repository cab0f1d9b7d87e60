// The HTML of the webviews: a strict Content Security Policy (nothing but our own script and
// style, with a fresh nonce), no inline handlers. Shared by the extension and the browser tests.

export interface WebviewAssets {
  /// The webview's CSP source (`webview.cspSource`), or a file: origin in tests.
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce: string;
}

export function nonce(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let text = '';
  for (let index = 0; index < 32; index++) text += alphabet.charAt(Math.floor(Math.random() * alphabet.length));
  return text;
}

function page(title: string, body: string, assets: WebviewAssets): string {
  const csp = [
    "default-src 'none'",
    `style-src ${assets.cspSource}`,
    `script-src 'nonce-${assets.nonce}'`,
    `img-src ${assets.cspSource} data:`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${assets.styleUri}">
<title>${title}</title>
</head>
<body>
${body}
<script nonce="${assets.nonce}" src="${assets.scriptUri}"></script>
</body>
</html>`;
}

export function chatHtml(assets: WebviewAssets): string {
  return page(
    'Arbor chat',
    `<header id="status" aria-live="polite">No session</header>
<main id="log" role="log" aria-label="Conversation"></main>
<form id="composer">
  <div id="problem" role="alert" hidden></div>
  <ul id="hints" hidden></ul>
  <textarea id="input" rows="3" aria-label="Message" placeholder="Message the agent: Enter sends, Shift+Enter for a new line, / for commands, @ for a file"></textarea>
  <div class="buttons"><button id="send" type="submit">Send</button><button id="interrupt" type="button" class="secondary" hidden>Interrupt</button></div>
</form>`,
    assets,
  );
}

export function compareHtml(assets: WebviewAssets): string {
  return page('Arbor: compare trials', `<main id="compare"><p>Loading…</p></main>`, assets);
}
