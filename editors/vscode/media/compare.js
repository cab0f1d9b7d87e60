// The trial comparison webview: one row per trial with bars for lines changed and cost, so the
// differences show at a glance; files changed by several trials below.
(function () {
  'use strict';
  acquireVsCodeApi();
  const root = document.getElementById('compare');

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

  function render(result) {
    const table = document.createElement('table');
    const head = document.createElement('tr');
    ['Trial', 'Status', 'Agent', 'Files', 'Lines changed', 'Tokens', 'Cost', 'Time', 'Check'].forEach((name) => head.appendChild(cell('th', name)));
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
      table.appendChild(tr);
    }
    const parts = [table];
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
    if (data && data.type === 'compare' && data.result && Array.isArray(data.result.rows) && Array.isArray(data.result.sharedFiles)) render(data.result);
  });
})();
