-- The trial comparison of a task, rendered from trial/compare as a table buffer: one buffer per
-- task, redrawn on task/changed, with keys to promote (after a confirmation naming the trial),
-- run the check, open a trial's diff or its chat.

local client = require('arbor.client')
local protocol = require('arbor.protocol')
local window = require('arbor.window')

local M = {}

local views = {} -- task id -> { bufnr, rows = { line -> row }, sessions = { trial id -> session id } }


local function given(value)
  return value ~= nil and value ~= vim.NIL
end

--- The keys of a compare buffer: { config name, description, action(view, row) }.
local function keys()
  return {
    { 'promote', 'promote the trial (asks first)', function(_, row) M.promote(row) end },
    { 'check', 'run the task\'s check command in the trial', function(_, row) M.check(row) end },
    { 'diff', 'review the trial\'s changes', function(view, row) M.with_session(view, row, require('arbor').review) end },
    { 'open', 'open the trial\'s chat', function(view, row) M.with_session(view, row, require('arbor').open_chat) end },
    { 'refresh', 'redraw the table', function(view) M.refresh(view.task_id) end },
  }
end

--- The table's lines and which line shows which trial.
function M.lines(result)
  local config = require('arbor').config.keymaps.compare
  local lines = {
    string.format('%-5s %-10s %-10s %5s %7s %7s %9s %9s %8s  %s', 'TRIAL', 'STATUS', 'AGENT', 'FILES', '+LINES', '-LINES', 'TOKENS', 'COST', 'TIME', 'CHECK'),
  }
  local by_line = {}
  for _, row in ipairs(result.rows) do
    local check = '-'
    if given(row.check) then
      check = (row.check.passed and 'pass' or 'FAIL') .. ' (' .. row.check.summary .. ')'
    end
    table.insert(lines, string.format('%-5d %-10s %-10s %5d %7d %7d %9d %9s %7.1fs  %s', row.number, row.status, row.agent, row.filesChanged, row.additions, row.deletions,
      row.usage.inputTokens + row.usage.outputTokens, require('arbor').cost_text(row.usage), row.wallTimeMs / 1000, check))
    by_line[#lines] = row
  end
  if #result.sharedFiles > 0 then
    table.insert(lines, '')
    table.insert(lines, 'Files changed by more than one trial:')
    for _, shared in ipairs(result.sharedFiles) do
      table.insert(lines, '  ' .. shared.path .. '  (trials ' .. table.concat(vim.tbl_map(tostring, shared.trials), ', ') .. ')')
    end
  end
  table.insert(lines, '')
  table.insert(lines, string.format('%s promote · %s check · %s diff · %s chat · %s keys', config.promote, config.check, config.diff, config.open, config.help))
  return lines, by_line
end

local function render(view, result)
  if not vim.api.nvim_buf_is_valid(view.bufnr) then
    return
  end
  local lines, by_line = M.lines(result)
  view.rows = by_line
  vim.bo[view.bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(view.bufnr, 0, -1, false, lines)
  vim.bo[view.bufnr].modifiable = false
  vim.api.nvim_buf_set_extmark(view.bufnr, vim.api.nvim_create_namespace('arbor_compare'), 0, 0, { end_col = #lines[1], hl_group = 'ArborTableHeader' })
end

--- Fetches the comparison and the trials' sessions again and redraws the task's buffer.
function M.refresh(task_id, done)
  local view = views[task_id]
  if not view then
    return
  end
  client.request(protocol.method.task_get, { taskId = task_id }, function(detail)
    for _, trial in ipairs(detail.trials) do
      local ids = trial.trial.sessionIds
      view.sessions[trial.trial.id] = ids[#ids]
    end
    client.request(protocol.method.trial_compare, { taskId = task_id }, function(result)
      render(view, result)
      if done then done(view.bufnr) end
    end)
  end)
end

-- Registered once, when the module loads; listeners outlive reconnections.
client.on(protocol.notification.task_changed, function(params)
  if views[params.task.id] then
    M.refresh(params.task.id)
  end
end)

local function attach_keys(view)
  local config = require('arbor').config.keymaps.compare
  local opts = { buffer = view.bufnr, silent = true, nowait = true }
  for _, key in ipairs(keys()) do
    vim.keymap.set('n', config[key[1]], function()
      local row = M.trial_at_cursor()
      if not row and key[1] ~= 'refresh' then
        vim.notify('Arbor: put the cursor on a trial\'s row', vim.log.levels.WARN)
        return
      end
      key[3](view, row)
    end, vim.tbl_extend('force', opts, { desc = 'Arbor: ' .. key[2] }))
  end
  vim.keymap.set('n', config.help, function()
    local entries = vim.tbl_map(function(key) return { config[key[1]], key[2] } end, keys())
    table.insert(entries, { config.help, 'this help' })
    window.help('Arbor compare keys', entries)
  end, opts)
end

--- Opens (or shows again) the comparison of a task's trials.
function M.open(task_id, done)
  local view = views[task_id]
  if not (view and vim.api.nvim_buf_is_valid(view.bufnr)) then
    local bufnr = vim.api.nvim_create_buf(false, true)
    vim.bo[bufnr].modifiable = false
    vim.api.nvim_buf_set_name(bufnr, 'arbor://compare ' .. task_id:sub(1, 8))
    view = { bufnr = bufnr, task_id = task_id, rows = {}, sessions = {} }
    views[task_id] = view
    vim.b[bufnr].arbor_task = task_id
    attach_keys(view)
    vim.api.nvim_create_autocmd('BufWipeout', { buffer = bufnr, once = true, callback = function() views[task_id] = nil end })
  end
  window.show('compare', view.bufnr, 'split')
  M.refresh(task_id, done)
end

local function view_of(bufnr)
  local task_id = vim.b[bufnr].arbor_task
  return task_id and views[task_id]
end

--- The compare row under the cursor.
function M.trial_at_cursor()
  local view = view_of(vim.api.nvim_get_current_buf())
  return view and view.rows[vim.api.nvim_win_get_cursor(0)[1]]
end

--- The latest session of the trial under the cursor, if the current buffer is a comparison.
function M.session_at_cursor()
  local view = view_of(vim.api.nvim_get_current_buf())
  local row = view and view.rows[vim.api.nvim_win_get_cursor(0)[1]]
  return row and view.sessions[row.trialId]
end

--- Calls `fn(session id)` with the latest session of the trial in `row`.
function M.with_session(view, row, fn)
  local session_id = view.sessions[row.trialId]
  if session_id then fn(session_id) else vim.notify('Arbor: trial ' .. row.number .. ' has no session yet', vim.log.levels.WARN) end
end

--- Promotes a trial once the user confirms, naming it and what happens to the others.
function M.promote(row)
  local view = view_of(vim.api.nvim_get_current_buf())
  local others = 0
  for _, other in pairs(view and view.rows or {}) do
    if other.trialId ~= row.trialId and other.status ~= 'abandoned' then others = others + 1 end
  end
  local question = string.format('Promote trial %d (%s, %s) into the base branch? %d other trial(s) will be abandoned.',
    row.number, row.agent, given(row.branch) and row.branch or 'no branch', others)
  vim.ui.select({ 'Promote', 'Cancel' }, { prompt = question }, function(choice)
    if choice ~= 'Promote' then return end
    client.request(protocol.method.trial_promote, { trialId = row.trialId }, function(result)
      if result.merge.merged then
        vim.notify(string.format('Arbor: trial %d promoted into %s; %d other trial(s) abandoned', row.number, result.merge.baseBranch, #result.abandoned))
      else
        vim.notify('Arbor: not promoted, conflicts in ' .. table.concat(result.merge.conflicts, ', '), vim.log.levels.WARN)
      end
    end)
  end)
end

--- Runs the task's check command in a trial; the table shows the result when it comes.
function M.check(row)
  vim.notify(string.format('Arbor: checking trial %d…', row.number))
  client.request(protocol.method.trial_check, { trialId = row.trialId }, function(result)
    vim.notify(string.format('Arbor: trial %d check %s: %s', row.number, result.passed and 'passed' or 'FAILED', result.summary),
      result.passed and vim.log.levels.INFO or vim.log.levels.WARN)
    for task_id in pairs(views) do M.refresh(task_id) end
  end)
end

return M
