-- The trial comparison of a task, rendered from trial/compare as a table buffer.

local client = require('arbor.client')

local M = {}

local buffers = {} -- bufnr -> { rows = { line -> row } }

local function cost(value)
  return string.format('$%.4f', value or 0)
end

--- The table's lines and which line shows which trial.
function M.lines(result)
  local lines = { string.format('%-5s %-10s %-10s %5s %7s %7s %9s %9s %8s  %s', 'TRIAL', 'STATUS', 'AGENT', 'FILES', '+LINES', '-LINES', 'TOKENS', 'COST', 'TIME', 'CHECK') }
  local by_line = {}
  for _, row in ipairs(result.rows) do
    local check = '-'
    if row.check ~= vim.NIL and row.check then
      check = (row.check.passed and 'pass' or 'FAIL') .. ' (' .. row.check.summary .. ')'
    end
    table.insert(lines, string.format('%-5d %-10s %-10s %5d %7d %7d %9d %9s %7.1fs  %s', row.number, row.status, row.agent, row.filesChanged, row.additions, row.deletions,
      row.usage.inputTokens + row.usage.outputTokens, cost(row.usage.costUsd), row.wallTimeMs / 1000, check))
    by_line[#lines] = row
  end
  if #result.sharedFiles > 0 then
    table.insert(lines, '')
    table.insert(lines, 'Files changed by more than one trial:')
    for _, shared in ipairs(result.sharedFiles) do
      table.insert(lines, '  ' .. shared.path .. '  (trials ' .. table.concat(vim.tbl_map(tostring, shared.trials), ', ') .. ')')
    end
  end
  return lines, by_line
end

--- Opens the comparison of a task's trials.
function M.open(task_id, done)
  client.request('trial/compare', { taskId = task_id }, function(result)
    local bufnr = vim.api.nvim_create_buf(false, true)
    local lines, by_line = M.lines(result)
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
    vim.bo[bufnr].modifiable = false
    vim.api.nvim_buf_set_name(bufnr, 'arbor://compare/' .. task_id .. '/' .. bufnr)
    buffers[bufnr] = { rows = by_line }
    vim.cmd('split')
    vim.api.nvim_win_set_buf(0, bufnr)
    vim.keymap.set('n', 'p', function() require('arbor').promote() end, { buffer = bufnr, silent = true })
    if done then done(bufnr) end
  end)
end

--- The compare row under the cursor.
function M.trial_at_cursor()
  local view = buffers[vim.api.nvim_get_current_buf()]
  return view and view.rows[vim.api.nvim_win_get_cursor(0)[1]]
end

return M
