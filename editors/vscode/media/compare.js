// The trial comparison webview: one row per trial with bars for lines changed and cost, so the
// differences show at a glance, and each row's actions (open its diff, run the check, promote);
// files changed by several trials below. It asks for the latest result whenever it loads.
(function () {
  'use strict';
  const vscode = acquireVsCodeApi();
  const root = document.getElementById('compare');

  function action(label, type, row, enabled) {
    const button = cell('button', label, type === 'promote' ? '' : 'secondary');
    button.type = 'button';
    button.disabled = !enabled;
    button.title = label + ' (trial ' + row.number + ')';
    button.addEventListener('click', () => vscode.postMessage({ type: type, trialId: row.trialId }));
    return button;
  }

  function cell(tag, text, className) {
    const node = document.createElement(tag);
    node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function bar(value, max, className) {
    const wrapper = cell('td', '');
    const fill = cell('div', String(value), 'bar ' + className);
    fill.style.width = (max > 0 ? Math.round((value / max) * 100) : 0) + '%';
    wrapper.appendChild(fill);
    return wrapper;
  }

  function render(result, title) {
    const table = document.createElement('table');
    const head = document.createElement('tr');
    ['Trial', 'Status', 'Agent', 'Files', 'Lines changed', 'Tokens', 'Cost', 'Time', 'Check', 'Actions'].forEach((name) => head.appendChild(cell('th', name)));
    table.appendChild(head);
    const maxLines = Math.max(0, ...result.rows.map((row) => row.additions + row.deletions));
    const maxCost = Math.max(0, ...result.rows.map((row) => row.usage.costUsd));
    for (const row of result.rows) {
      const tr = document.createElement('tr');
      tr.dataset.trialId = row.trialId;
      tr.appendChild(cell('td', String(row.number)));
      tr.appendChild(cell('td', row.status, 'status ' + row.status));
      tr.appendChild(cell('td', row.agent + (row.model ? ' (' + row.model + ')' : '')));
      tr.appendChild(cell('td', String(row.filesChanged)));
      const lines = bar(row.additions + row.deletions, maxLines, 'lines');
      lines.title = '+' + row.additions + ' −' + row.deletions;
      tr.appendChild(lines);
      tr.appendChild(cell('td', String(row.usage.inputTokens + row.usage.outputTokens)));
      const cost = bar(row.usage.costUsd, maxCost, 'cost');
      cost.firstChild.textContent = '$' + row.usage.costUsd.toFixed(4);
      tr.appendChild(cost);
      tr.appendChild(cell('td', (row.wallTimeMs / 1000).toFixed(1) + ' s'));
      tr.appendChild(cell('td', row.check ? (row.check.passed ? '✓ ' : '✗ ') + row.check.summary : '—', row.check ? (row.check.passed ? 'pass' : 'fail') : ''));
      const actions = cell('td', '', 'actions');
      const finished = row.status === 'done' || row.status === 'failed';
      actions.appendChild(action('Open diff', 'openDiff', row, true));
      actions.appendChild(action('Run check', 'check', row, finished));
      actions.appendChild(action('Promote', 'promote', row, row.status === 'done'));
      tr.appendChild(actions);
      table.appendChild(tr);
    }
    const parts = [cell('h2', 'Compare: ' + title), table];
    if (result.sharedFiles.length > 0) {
      const list = document.createElement('ul');
      list.className = 'shared';
      for (const shared of result.sharedFiles) list.appendChild(cell('li', shared.path + ' — trials ' + shared.trials.join(', ')));
      parts.push(cell('h3', 'Changed by more than one trial'), list);
    }
    root.replaceChildren(...parts);
  }

  window.addEventListener('message', (message) => {
    const data = message.data;
    if (data && data.type === 'compare' && data.result && Array.isArray(data.result.rows) && Array.isArray(data.result.sharedFiles)) {
      render(data.result, String(data.title || 'task'));
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    }
  });
  vscode.postMessage({ type: 'ready' });
})();
