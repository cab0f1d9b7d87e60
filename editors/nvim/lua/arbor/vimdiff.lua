-- The native vimdiff review of one file, in a tab of its own: the base text on the left, the
-- agent's version on the right in an editable buffer. `:w` decides: the changes still there are
-- accepted and the ones you took back (with `do`, or by editing) rejected; text of your own is
-- written to the worktree and the file accepted as it then is. Closing the right window without
-- writing (`:q`) rejects the whole file.

local client = require('arbor.client')
local protocol = require('arbor.protocol')
local review = require('arbor.review')

local M = {}

local function lines_of(text)
  local lines = vim.split(text or '', '\n', { plain = true })
  if lines[#lines] == '' then table.remove(lines) end
  return lines
end

local function signature(removed, added)
  return table.concat(removed, '\n') .. '\0' .. table.concat(added, '\n')
end

--- The runs of changed lines of a server hunk, as signatures.
local function hunk_groups(hunk)
  local groups, removed, added = {}, {}, {}
  local function close_group()
    if #removed + #added > 0 then
      table.insert(groups, signature(removed, added))
      removed, added = {}, {}
    end
  end
  for _, line in ipairs(hunk.lines) do
    if line.kind == 'removed' then
      table.insert(removed, line.text)
    elseif line.kind == 'added' then
      table.insert(added, line.text)
    else
      close_group()
    end
  end
  close_group()
  return groups
end

--- The runs of changed lines between the base and the buffer's text, as a set of signatures.
local function buffer_groups(base_lines, new_lines)
  local joined_base = #base_lines > 0 and (table.concat(base_lines, '\n') .. '\n') or ''
  local joined_new = #new_lines > 0 and (table.concat(new_lines, '\n') .. '\n') or ''
  local set, count = {}, 0
  for _, change in ipairs(vim.diff(joined_base, joined_new, { result_type = 'indices' })) do
    local start_a, count_a, start_b, count_b = change[1], change[2], change[3], change[4]
    set[signature(vim.list_slice(base_lines, start_a, start_a + count_a - 1), vim.list_slice(new_lines, start_b, start_b + count_b - 1))] = true
    count = count + 1
  end
  return set, count
end

--- Which hunks the buffer keeps and which it took back; nil when it holds edits of its own.
function M.decide(hunks, base_lines, new_lines)
  local present, count = buffer_groups(base_lines, new_lines)
  local kept, dropped, matched = {}, {}, 0
  for _, hunk in ipairs(hunks) do
    local groups = hunk_groups(hunk)
    local found = 0
    for _, group in ipairs(groups) do
      if present[group] then found = found + 1 end
    end
    if found == #groups then
      table.insert(kept, hunk.id)
      matched = matched + found
    elseif found == 0 then
      table.insert(dropped, hunk.id)
    else
      return nil
    end
  end
  if matched ~= count then
    return nil
  end
  return kept, dropped
end

local function close_tab(state)
  state.decided = true
  for _, win in ipairs({ state.base_win, state.win }) do
    if vim.api.nvim_win_is_valid(win) and #vim.api.nvim_list_wins() > 1 then
      pcall(vim.api.nvim_win_close, win, true)
    end
  end
end

--- `:w` in the right-hand buffer.
local function write(state)
  local new_lines = vim.api.nvim_buf_get_lines(state.bufnr, 0, -1, false)
  local current_lines = lines_of(state.current)
  local function finished(message)
    vim.bo[state.bufnr].modified = false
    close_tab(state)
    vim.notify('Arbor: ' .. message)
  end
  if vim.deep_equal(new_lines, current_lines) then
    review.apply_file(state.session_id, state.path, true, function() finished('accepted ' .. state.path) end)
    return
  end
  local kept, dropped = M.decide(state.hunks, lines_of(state.base), new_lines)
  if kept then
    review.apply_hunks(state.session_id, state.path, kept, dropped, function()
      finished(string.format('%s: accepted %d hunk(s), rejected %d', state.path, #kept, #dropped))
    end)
    return
  end
  -- Edits of your own: they become the worktree's text, accepted as they are.
  local target = vim.fs.joinpath(state.cwd, state.path)
  local ok, err = pcall(vim.fn.writefile, new_lines, target)
  if not ok then
    vim.notify('Arbor: could not write ' .. target .. ': ' .. tostring(err), vim.log.levels.ERROR)
    return
  end
  review.apply_file(state.session_id, state.path, true, function() finished('wrote your edits to ' .. state.path .. ' and accepted it') end)
end

--- Opens the vimdiff review of `path` in the session under review.
function M.open(session_id, path, done)
  local under_review = review.get(session_id)
  local file_diff
  for _, file in ipairs(under_review.diff.files) do
    if file.path == path then file_diff = file end
  end
  if not file_diff or file_diff.binary or file_diff.hunks == vim.NIL then
    vim.notify('Arbor: ' .. path .. ' has no text changes to review', vim.log.levels.WARN)
    return
  end
  client.request(protocol.method.review_file, { sessionId = session_id, path = path }, function(file)
    local base_text = file.baseText ~= vim.NIL and file.baseText or ''
    local current = file.currentText ~= vim.NIL and file.currentText or ''
    vim.cmd('tabnew')
    local base = review.base_buffer(under_review, path, base_text)
    vim.api.nvim_win_set_buf(0, base)
    local base_win = vim.api.nvim_get_current_win()
    vim.cmd('diffthis')
    vim.cmd('rightbelow vsplit')
    local bufnr = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(bufnr, 'arbor://proposed/' .. session_id:sub(1, 8) .. '/' .. path)
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines_of(current))
    vim.bo[bufnr].buftype = 'acwrite'
    vim.bo[bufnr].bufhidden = 'wipe'
    vim.bo[bufnr].modified = false
    local filetype = vim.filetype.match({ filename = path })
    if filetype then vim.bo[bufnr].filetype = filetype end
    local win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, bufnr)
    vim.cmd('diffthis')
    local state = {
      session_id = session_id, path = path, cwd = under_review.session.cwd, bufnr = bufnr, win = win, base_win = base_win,
      base = base_text, current = current, hunks = file_diff.hunks,
    }
    -- What the keys do comes first; a narrow window shortens the path instead.
    vim.wo[win].winbar = ':w accepts what is kept · :q rejects · %<' .. path:gsub('%%', '%%%%')
    vim.wo[base_win].winbar = 'base'
    vim.api.nvim_create_autocmd('BufWriteCmd', { buffer = bufnr, callback = function() write(state) end })
    vim.api.nvim_create_autocmd('WinClosed', {
      pattern = tostring(win),
      once = true,
      callback = function()
        if state.decided then return end
        state.decided = true
        vim.schedule(function()
          review.apply_file(session_id, path, false, function() vim.notify('Arbor: rejected ' .. path) end)
          if vim.api.nvim_win_is_valid(base_win) and #vim.api.nvim_list_wins() > 1 then
            pcall(vim.api.nvim_win_close, base_win, true)
          end
        end)
      end,
    })
    if done then done(state) end
  end)
end

--- The vimdiff review of the current buffer's file.
function M.open_current()
  local under_review, path = review.for_buffer(vim.api.nvim_get_current_buf())
  if not under_review then
    vim.notify('Arbor: open a file of :Arbor review first', vim.log.levels.WARN)
    return
  end
  M.open(under_review.session.id, path)
end

return M
