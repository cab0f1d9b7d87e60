-- Review of a session's changes: changed files in the quickfix list, hunks shown inline in each
-- file (added lines highlighted, removed lines as virtual lines), keymaps to move between hunks
-- and accept or reject them (or the whole file), and a diff split against the base, whose base
-- side has the same keys (Vim's diff then shows the change, so the inline marks step aside).
-- Everything comes from review/diff, review/file and review/apply; the view refreshes on
-- files_changed. A rejected new file is gone from disk, so its buffers are closed.

local client = require('arbor.client')
local protocol = require('arbor.protocol')

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

--- The review and file a buffer shows, and which side: 'worktree' for a file of a reviewed
--- session's worktree, 'base' for the base text of the diff split.
local function for_buffer(bufnr)
  local base = vim.b[bufnr].arbor_base
  if base and reviews[base.session_id] then
    return reviews[base.session_id], base.path, 'base'
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  for _, review in pairs(reviews) do
    local root = review.session.cwd .. '/'
    if name:sub(1, #root) == root then
      return review, name:sub(#root + 1), 'worktree'
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

--- Decorates a worktree buffer with its file's hunks. Beside its base in diff mode, Vim shows
--- the change itself, so only the signs stay.
function M.decorate(bufnr)
  local review, path, side = for_buffer(bufnr)
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  if not review or side ~= 'worktree' then
    return
  end
  local in_diff = vim.b[bufnr].arbor_diff == true
  local file = file_diff(review, path)
  if not file or not file.hunks or file.hunks == vim.NIL then
    return
  end
  local line_count = vim.api.nvim_buf_line_count(bufnr)
  for _, hunk in ipairs(file.hunks) do
    local accepted = hunk.state == 'accepted'
    local removed = {}
    local function flush_removed(row)
      if #removed > 0 and not in_diff then
        local above = row < line_count
        vim.api.nvim_buf_set_extmark(bufnr, ns, math.min(row, line_count - 1), 0, {
          virt_lines = removed,
          virt_lines_above = above,
        })
      end
      removed = {}
    end
    for _, mark in ipairs(hunk_rows(hunk)) do
      if mark.kind == 'removed' then
        table.insert(removed, { { '- ' .. mark.text, 'DiffDelete' } })
      else
        flush_removed(mark.row)
        if mark.row < line_count then
          vim.api.nvim_buf_set_extmark(bufnr, ns, mark.row, 0, {
            line_hl_group = not in_diff and (accepted and 'DiffChange' or 'DiffAdd') or nil,
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
  client.request(protocol.method.review_diff, { sessionId = session_id }, function(diff)
    review.diff = diff
    quickfix(review)
    redecorate_all()
    if done then done(review) end
  end)
end

-- The chat forwards files_changed for sessions it shows; this covers reviews without a chat.
client.on(protocol.notification.session_event, function(params)
  if params.event.kind == 'files_changed' and not require('arbor.chat').get(params.sessionId) then
    M.on_files_changed(params.sessionId)
  end
end)

--- Starts reviewing a session: quickfix list of its changed files, inline hunks in its files.
function M.open(session_id, done)
  client.request(protocol.method.session_get, { sessionId = session_id }, function(session)
    reviews[session_id] = { session = session, diff = { files = {} } }
    if not require('arbor.chat').get(session_id) and not require('arbor.attention').watching(session_id) then
      client.request(protocol.method.session_subscribe, { sessionId = session_id, afterSeq = session.lastSeq })
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

--- Where a hunk sits on one side of the diff: its first line and line count.
local function hunk_span(hunk, side)
  if side == 'base' then
    return hunk.oldStart, hunk.oldLines
  end
  return hunk.newStart, hunk.newLines
end

--- The hunk under (or nearest after) the cursor in the current buffer.
local function hunk_at_cursor(file, side)
  local row = vim.api.nvim_win_get_cursor(0)[1]
  local hunks = (file.hunks ~= vim.NIL and file.hunks) or {}
  local best
  for _, hunk in ipairs(hunks) do
    local start, count = hunk_span(hunk, side)
    local first, last = start, start + math.max(count, 1) - 1
    if row >= first and row <= last then
      return hunk
    end
    if not best and start >= row then
      best = hunk
    end
  end
  return best or hunks[1]
end

--- Closes every buffer of `path` (a file no longer on disk), keeping its windows open.
local function close_removed(path)
  local bufnr = vim.fn.bufnr('^' .. vim.fn.escape(path, '\\/.*$^~[]') .. '$')
  if bufnr <= 0 or vim.uv.fs_stat(path) then
    return false
  end
  for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
    vim.api.nvim_win_call(win, function()
      local alternate = vim.fn.bufnr('#')
      if alternate > 0 and alternate ~= bufnr and vim.api.nvim_buf_is_valid(alternate) then
        vim.cmd('buffer ' .. alternate)
      else
        vim.cmd('enew')
      end
    end)
  end
  vim.api.nvim_buf_delete(bufnr, { force = true })
  return true
end

--- Applies a review/apply request; `touched` are the files it may have removed.
local function apply(params, touched, done)
  client.request(protocol.method.review_apply, params, function(diff)
    local review = reviews[params.sessionId]
    review.diff = diff
    quickfix(review)
    redecorate_all()
    for _, path in ipairs(touched or {}) do
      if close_removed(worktree_file(review, path)) then
        vim.notify('Arbor: rejected new file ' .. path .. ': it was removed from the worktree and its buffer closed')
      end
    end
    if done then done(diff) end
  end)
end

local function apply_params(review, action, ids, paths)
  return { sessionId = review.session.id, action = action, hunkIds = ids, paths = paths }
end

--- Accepts (`accept` true) or rejects the hunk at the cursor.
function M.hunk_action(accept)
  local bufnr = vim.api.nvim_get_current_buf()
  local review, path, side = for_buffer(bufnr)
  local file = review and file_diff(review, path)
  local hunk = file and hunk_at_cursor(file, side)
  if not hunk then
    vim.notify('Arbor: no hunk here', vim.log.levels.WARN)
    return
  end
  apply(apply_params(review, accept and 'accept' or 'reject', { hunk.id }, nil), { path })
end

--- Accepts or rejects the whole file of the current buffer.
function M.file_action(accept)
  local review, path = for_buffer(vim.api.nvim_get_current_buf())
  if not review then
    vim.notify('Arbor: this buffer is not a file under review', vim.log.levels.WARN)
    return
  end
  M.apply_file(review.session.id, path, accept)
end

--- Accepts or rejects a whole file of a session under review; `done(diff)` after.
function M.apply_file(session_id, path, accept, done)
  apply(apply_params(reviews[session_id], accept and 'accept' or 'reject', nil, { path }), { path }, done)
end

--- Accepts some hunks of a file and rejects others in one go (the vimdiff mode's :w).
function M.apply_hunks(session_id, path, accepted, rejected, done)
  local review = reviews[session_id]
  local function accept_then()
    if #accepted == 0 then
      if done then done() end
      return
    end
    apply(apply_params(review, 'accept', accepted, nil), nil, done)
  end
  if #rejected == 0 then
    accept_then()
    return
  end
  apply(apply_params(review, 'reject', rejected, nil), { path }, accept_then)
end

--- Moves to the next (`forward`) or previous hunk of the current buffer.
function M.jump(forward)
  local review, path, side = for_buffer(vim.api.nvim_get_current_buf())
  local file = review and file_diff(review, path)
  if not file or file.hunks == vim.NIL then
    return
  end
  local row = vim.api.nvim_win_get_cursor(0)[1]
  local target
  for _, hunk in ipairs(file.hunks) do
    local start = side == 'base' and math.max(hunk.oldStart, 1) or first_change(hunk)
    if forward and start > row and (not target or start < target) then target = start end
    if not forward and start < row and (not target or start > target) then target = start end
  end
  if target then
    vim.api.nvim_win_set_cursor(0, { math.min(target, vim.api.nvim_buf_line_count(0)), 0 })
  end
end

--- A scratch buffer holding a file's base text, named `arbor://base/<short id>/<path>`.
function M.base_buffer(review, path, text)
  local name = 'arbor://base/' .. review.session.id:sub(1, 8) .. '/' .. path
  local old = vim.fn.bufnr('^' .. vim.fn.escape(name, '\\/.*$^~[]') .. '$')
  if old > 0 then
    vim.api.nvim_buf_delete(old, { force = true })
  end
  local base = vim.api.nvim_create_buf(false, true)
  local lines = vim.split(text or '', '\n', { plain = true })
  if lines[#lines] == '' then table.remove(lines) end
  vim.api.nvim_buf_set_lines(base, 0, -1, false, lines)
  vim.api.nvim_buf_set_name(base, name)
  vim.bo[base].modifiable = false
  vim.bo[base].bufhidden = 'wipe'
  local filetype = vim.filetype.match({ filename = path })
  if filetype then vim.bo[base].filetype = filetype end
  return base
end

local attach_keymaps

--- Opens a split with the file's base text beside it, in diff mode. The cursor stays in the
--- file; the base side has the review keys too.
function M.diff_split()
  local file_win = vim.api.nvim_get_current_win()
  local file_buf = vim.api.nvim_get_current_buf()
  local review, path, side = for_buffer(file_buf)
  if not review or side ~= 'worktree' then
    vim.notify('Arbor: this buffer is not a file under review', vim.log.levels.WARN)
    return
  end
  client.request(protocol.method.review_file, { sessionId = review.session.id, path = path }, function(file)
    if file.binary then
      vim.notify('Arbor: ' .. path .. ' is binary', vim.log.levels.WARN)
      return
    end
    local base = M.base_buffer(review, path, file.baseText ~= vim.NIL and file.baseText or '')
    vim.b[base].arbor_base = { session_id = review.session.id, path = path }
    attach_keymaps(base)
    vim.b[file_buf].arbor_diff = true
    M.decorate(file_buf)
    vim.api.nvim_win_call(file_win, function() vim.cmd('diffthis') end)
    vim.cmd('leftabove vsplit')
    vim.api.nvim_win_set_buf(0, base)
    vim.cmd('diffthis')
    vim.api.nvim_create_autocmd('BufWipeout', {
      buffer = base,
      once = true,
      callback = function()
        if vim.api.nvim_buf_is_valid(file_buf) then
          vim.b[file_buf].arbor_diff = nil
          vim.schedule(function() if vim.api.nvim_buf_is_valid(file_buf) then M.decorate(file_buf) end end)
        end
      end,
    })
    vim.api.nvim_set_current_win(file_win)
  end)
end

--- The review keys: { config name, description, action }.
function M.keys()
  return {
    { 'next_hunk', 'next hunk', function() M.jump(true) end },
    { 'prev_hunk', 'previous hunk', function() M.jump(false) end },
    { 'accept_hunk', 'accept (stage) the hunk', function() M.hunk_action(true) end },
    { 'reject_hunk', 'reject (revert) the hunk', function() M.hunk_action(false) end },
    { 'accept_file', 'accept the whole file', function() M.file_action(true) end },
    { 'reject_file', 'reject the whole file', function() M.file_action(false) end },
    { 'diff_split', 'the base text beside the file, in diff mode', function() M.diff_split() end },
    { 'vimdiff', 'review the file in vimdiff: :w accepts what you keep, :q rejects', function() require('arbor.vimdiff').open_current() end },
  }
end

attach_keymaps = function(bufnr)
  if vim.b[bufnr].arbor_review_keys then
    return
  end
  vim.b[bufnr].arbor_review_keys = true
  local config = require('arbor').config.keymaps.review
  for _, key in ipairs(M.keys()) do
    vim.keymap.set('n', config[key[1]], key[3], { buffer = bufnr, silent = true, desc = 'Arbor: ' .. key[2] })
  end
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

--- The session whose file (or base text) `bufnr` shows, if it is under review.
function M.session_of_buffer(bufnr)
  local review = for_buffer(bufnr == 0 and vim.api.nvim_get_current_buf() or bufnr)
  return review and review.session.id
end

--- The review and path of `bufnr`, and its side (for the vimdiff mode).
M.for_buffer = for_buffer

--- The extmark namespace of review decorations.
M.namespace = ns

return M
