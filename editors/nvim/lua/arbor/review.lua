-- Review of a session's changes: changed files in the quickfix list, hunks shown inline in each
-- file (added lines highlighted, removed lines as virtual lines), keymaps to move between hunks
-- and accept or reject them (or the whole file), and a diff split against the base. Everything
-- comes from review/diff, review/file and review/apply; the view refreshes on files_changed.

local client = require('arbor.client')

local M = {}

local ns = vim.api.nvim_create_namespace('arbor_review')
local reviews = {} -- session id -> { session, diff }

local function worktree_file(review, path)
  return vim.fs.joinpath(review.session.cwd, path)
end

local function file_diff(review, path)
  for _, file in ipairs(review.diff.files) do
    if file.path == path then
      return file
    end
  end
end

--- The review and file a buffer shows, if it is a file of a reviewed session's worktree.
local function for_buffer(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  for _, review in pairs(reviews) do
    local root = review.session.cwd .. '/'
    if name:sub(1, #root) == root then
      return review, name:sub(#root + 1)
    end
  end
end

--- The worktree line of a hunk's first change (past its leading context).
local function first_change(hunk)
  local row = math.max(hunk.newStart, 1)
  for _, line in ipairs(hunk.lines) do
    if line.kind ~= 'context' then
      return row
    end
    row = row + 1
  end
  return math.max(hunk.newStart, 1)
end

--- Lines in the worktree of each hunk line: added lines get a row, removed lines attach to
--- the row they would precede.
local function hunk_rows(hunk)
  local row = math.max(hunk.newStart, 1)
  local marks = {}
  for _, line in ipairs(hunk.lines) do
    if line.kind == 'added' then
      table.insert(marks, { kind = 'added', row = row - 1 })
      row = row + 1
    elseif line.kind == 'removed' then
      table.insert(marks, { kind = 'removed', row = row - 1, text = line.text })
    else
      row = row + 1
    end
  end
  return marks
end

--- Decorates a buffer with its file's hunks.
function M.decorate(bufnr)
  local review, path = for_buffer(bufnr)
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  if not review then
    return
  end
  local file = file_diff(review, path)
  if not file or not file.hunks or file.hunks == vim.NIL then
    return
  end
  local line_count = vim.api.nvim_buf_line_count(bufnr)
  for _, hunk in ipairs(file.hunks) do
    local accepted = hunk.state == 'accepted'
    local removed = {}
    local function flush_removed(row)
      if #removed > 0 then
        local above = row < line_count
        vim.api.nvim_buf_set_extmark(bufnr, ns, math.min(row, line_count - 1), 0, {
          virt_lines = removed,
          virt_lines_above = above,
        })
        removed = {}
      end
    end
    for _, mark in ipairs(hunk_rows(hunk)) do
      if mark.kind == 'removed' then
        table.insert(removed, { { '- ' .. mark.text, 'DiffDelete' } })
      else
        flush_removed(mark.row)
        if mark.row < line_count then
          vim.api.nvim_buf_set_extmark(bufnr, ns, mark.row, 0, {
            line_hl_group = accepted and 'DiffChange' or 'DiffAdd',
            sign_text = accepted and '✓' or '+',
          })
        end
      end
    end
    flush_removed(math.max(hunk.newStart - 1 + hunk.newLines, 0))
  end
end

local function quickfix(review)
  local items = {}
  for _, file in ipairs(review.diff.files) do
    local first = (file.hunks and file.hunks ~= vim.NIL and file.hunks[1]) and first_change(file.hunks[1]) or 1
    local pending = 0
    for _, hunk in ipairs((file.hunks ~= vim.NIL and file.hunks) or {}) do
      if hunk.state ~= 'accepted' then pending = pending + 1 end
    end
    table.insert(items, {
      filename = worktree_file(review, file.path),
      lnum = math.max(first, 1),
      text = string.format('%s +%d -%d%s, %d pending', file.status, file.additions, file.deletions, file.binary and ' (binary)' or '', pending),
    })
  end
  vim.fn.setqflist({}, 'r', { title = 'Arbor review: ' .. (review.session.title or review.session.id), items = items })
end

local function redecorate_all()
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and for_buffer(bufnr) then
      -- The worktree changed on disk: show it, then decorate.
      vim.api.nvim_buf_call(bufnr, function()
        vim.cmd('silent! checktime')
      end)
      M.decorate(bufnr)
    end
  end
end

--- Fetches the session's diff and refreshes the quickfix list and decorations.
function M.refresh(session_id, done)
  local review = reviews[session_id]
  if not review then
    return
  end
  client.request('review/diff', { sessionId = session_id }, function(diff)
    review.diff = diff
    quickfix(review)
    redecorate_all()
    if done then done(review) end
  end)
end

local listening = false
local function listen()
  if listening then
    return
  end
  listening = true
  -- The chat forwards files_changed for sessions it shows; this covers reviews without a chat.
  client.on('session/event', function(params)
    if params.event.kind == 'files_changed' and not require('arbor.chat').get(params.sessionId) then
      M.on_files_changed(params.sessionId)
    end
  end)
end

--- Starts reviewing a session: quickfix list of its changed files, inline hunks in its files.
function M.open(session_id, done)
  listen()
  client.request('session/get', { sessionId = session_id }, function(session)
    reviews[session_id] = { session = session, diff = { files = {} } }
    if not require('arbor.chat').get(session_id) then
      client.request('session/subscribe', { sessionId = session_id, afterSeq = session.lastSeq })
    end
    M.refresh(session_id, function(review)
      vim.cmd('copen')
      if done then done(review) end
    end)
  end)
end

--- Called when a session reports changed files.
function M.on_files_changed(session_id)
  if reviews[session_id] then
    M.refresh(session_id)
  end
end

--- The hunk under (or nearest after) the cursor in the current buffer.
local function hunk_at_cursor(file)
  local row = vim.api.nvim_win_get_cursor(0)[1]
  local best
  for _, hunk in ipairs((file.hunks ~= vim.NIL and file.hunks) or {}) do
    local first, last = hunk.newStart, hunk.newStart + math.max(hunk.newLines, 1) - 1
    if row >= first and row <= last then
      return hunk
    end
    if not best and hunk.newStart >= row then
      best = hunk
    end
  end
  return best or (file.hunks ~= vim.NIL and file.hunks or {})[1]
end

local function apply(params, bufnr)
  client.request('review/apply', params, function(diff)
    local review = reviews[params.sessionId]
    review.diff = diff
    quickfix(review)
    redecorate_all()
    if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
      M.decorate(bufnr)
    end
  end)
end

--- Accepts (`accept` true) or rejects the hunk at the cursor.
function M.hunk_action(accept)
  local bufnr = vim.api.nvim_get_current_buf()
  local review, path = for_buffer(bufnr)
  local file = review and file_diff(review, path)
  local hunk = file and hunk_at_cursor(file)
  if not hunk then
    vim.notify('Arbor: no hunk here', vim.log.levels.WARN)
    return
  end
  apply({ sessionId = review.session.id, action = accept and 'accept' or 'reject', hunkIds = { hunk.id } }, bufnr)
end

--- Accepts or rejects the whole file of the current buffer.
function M.file_action(accept)
  local bufnr = vim.api.nvim_get_current_buf()
  local review, path = for_buffer(bufnr)
  if not review then
    vim.notify('Arbor: this buffer is not a file under review', vim.log.levels.WARN)
    return
  end
  apply({ sessionId = review.session.id, action = accept and 'accept' or 'reject', paths = { path } }, bufnr)
end

--- Moves to the next (`forward`) or previous hunk of the current buffer.
function M.jump(forward)
  local review, path = for_buffer(vim.api.nvim_get_current_buf())
  local file = review and file_diff(review, path)
  if not file or file.hunks == vim.NIL then
    return
  end
  local row = vim.api.nvim_win_get_cursor(0)[1]
  local target
  for _, hunk in ipairs(file.hunks) do
    local start = first_change(hunk)
    if forward and start > row and (not target or start < target) then target = start end
    if not forward and start < row and (not target or start > target) then target = start end
  end
  if target then
    vim.api.nvim_win_set_cursor(0, { math.min(target, vim.api.nvim_buf_line_count(0)), 0 })
  end
end

--- Opens a split with the file's base text beside it, in diff mode.
function M.diff_split()
  local review, path = for_buffer(vim.api.nvim_get_current_buf())
  if not review then
    vim.notify('Arbor: this buffer is not a file under review', vim.log.levels.WARN)
    return
  end
  client.request('review/file', { sessionId = review.session.id, path = path }, function(file)
    if file.binary then
      vim.notify('Arbor: ' .. path .. ' is binary', vim.log.levels.WARN)
      return
    end
    local base = vim.api.nvim_create_buf(false, true)
    local text = (file.baseText ~= vim.NIL and file.baseText) or ''
    local lines = vim.split(text, '\n', { plain = true })
    if lines[#lines] == '' then table.remove(lines) end
    vim.api.nvim_buf_set_lines(base, 0, -1, false, lines)
    vim.api.nvim_buf_set_name(base, 'arbor://base/' .. review.session.id .. '/' .. path)
    vim.bo[base].modifiable = false
    vim.cmd('diffthis')
    vim.cmd('leftabove vsplit')
    vim.api.nvim_win_set_buf(0, base)
    vim.cmd('diffthis')
  end)
end

local function attach_keymaps(bufnr)
  if vim.b[bufnr].arbor_review_keys then
    return
  end
  vim.b[bufnr].arbor_review_keys = true
  local keys = require('arbor').config.keymaps.review
  local opts = { buffer = bufnr, silent = true }
  vim.keymap.set('n', keys.next_hunk, function() M.jump(true) end, opts)
  vim.keymap.set('n', keys.prev_hunk, function() M.jump(false) end, opts)
  vim.keymap.set('n', keys.accept_hunk, function() M.hunk_action(true) end, opts)
  vim.keymap.set('n', keys.reject_hunk, function() M.hunk_action(false) end, opts)
  vim.keymap.set('n', keys.accept_file, function() M.file_action(true) end, opts)
  vim.keymap.set('n', keys.reject_file, function() M.file_action(false) end, opts)
  vim.keymap.set('n', keys.diff_split, M.diff_split, opts)
end

--- Sets up the autocommand that decorates worktree files as they are opened.
function M.setup()
  local group = vim.api.nvim_create_augroup('arbor_review', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufEnter' }, {
    group = group,
    callback = function(args)
      if for_buffer(args.buf) then
        attach_keymaps(args.buf)
        M.decorate(args.buf)
      end
    end,
  })
end

--- The review of a session, if one is open (for tests and status lines).
function M.get(session_id)
  return reviews[session_id]
end

--- The extmark namespace of review decorations.
M.namespace = ns

return M
