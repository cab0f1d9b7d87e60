local h = require('helpers')

local T = {}

local function numbered(changes)
  local lines = {}
  for index = 1, 30 do
    lines[index] = changes[index] or ('line ' .. index)
  end
  return table.concat(lines, '\n') .. '\n'
end

T['review: quickfix, inline hunks, reject one, accept another, commit and merge'] = function()
  h.start()
  local repo = h.repo({ ['file.txt'] = numbered({}) })
  local changed = numbered({ [2] = 'line two (agent)', [25] = 'line twenty-five (agent)' })
  local script = 'write file.txt <<END\n' .. changed .. 'END\nsay Edited two places.'
  local session, chat = h.scripted_session(repo, script, 'edit the file')
  h.wait(function() return h.has_line(chat.bufnr, 'turn ended') end, 'the turn')

  local reviewed
  require('arbor.review').open(session.id, function(review) reviewed = review end)
  h.wait(function() return reviewed ~= nil end, 'review/diff')
  local items = vim.fn.getqflist()
  assert(#items == 1, 'one changed file in the quickfix list')
  assert(vim.api.nvim_buf_get_name(items[1].bufnr) == session.cwd .. '/file.txt')
  assert(items[1].text:find('modified +2 -2, 2 pending', 1, true), items[1].text)

  -- Open the file: hunks are shown inline.
  vim.cmd('cfirst')
  local buf = vim.api.nvim_get_current_buf()
  local marks = vim.api.nvim_buf_get_extmarks(buf, require('arbor.review').namespace, 0, -1, { details = true })
  local added, removed = 0, 0
  for _, mark in ipairs(marks) do
    if mark[4].line_hl_group == 'DiffAdd' then added = added + 1 end
    if mark[4].virt_lines then removed = removed + #mark[4].virt_lines end
  end
  assert(added == 2 and removed == 2, string.format('added %d, removed %d', added, removed))
  assert(vim.api.nvim_win_get_cursor(0)[1] == 2, 'the quickfix entry points at the first hunk')

  -- Reject the first hunk, then jump to the next and accept it.
  vim.api.nvim_feedkeys(vim.keycode('<leader>ar'), 'x', false)
  h.wait(function() return h.read(session.cwd .. '/file.txt') == numbered({ [25] = 'line twenty-five (agent)' }) end, 'the first hunk reverted on disk')
  h.wait(function() return vim.api.nvim_buf_get_lines(buf, 1, 2, false)[1] == 'line 2' end, 'the buffer reloaded')
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  vim.api.nvim_feedkeys(vim.keycode(']h'), 'x', false)
  assert(vim.api.nvim_win_get_cursor(0)[1] == 25, 'next hunk')
  vim.api.nvim_feedkeys(vim.keycode('<leader>aa'), 'x', false)
  h.wait(function() return h.run({ 'git', 'diff', '--cached' }, session.cwd):find('+line twenty-five (agent)', 1, true) ~= nil end, 'the second hunk staged')
  h.wait(function()
    local review = require('arbor.review').get(session.id)
    return review.diff.files[1].hunks[1].state == 'accepted' and #review.diff.rejected == 1
  end, 'the diff shows the accepted hunk and the rejected one')
  h.wait(function()
    for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, require('arbor.review').namespace, 0, -1, { details = true })) do
      if mark[4].line_hl_group == 'DiffChange' then return true end
    end
  end, 'the accepted hunk is marked as such')

  -- Commit, then merge into main.
  require('arbor').commit(session.id, 'Land the reviewed change')
  h.wait(function() return h.run({ 'git', 'log', '-1', '--format=%s', session.branch }, repo) == 'Land the reviewed change' end, 'the commit')
  require('arbor').merge(session.id, 'merge')
  h.wait(function() return h.read(repo .. '/file.txt') == numbered({ [25] = 'line twenty-five (agent)' }) end, 'merged into main')
end

T['the diff split shows the base beside the file'] = function()
  h.start()
  local repo = h.repo({ ['a.txt'] = 'old\n' })
  local session, chat = h.scripted_session(repo, 'write a.txt <<END\nnew\nEND', 'edit')
  h.wait(function() return h.has_line(chat.bufnr, 'turn ended') end, 'the turn')
  local opened
  require('arbor.review').open(session.id, function() opened = true end)
  h.wait(function() return opened end, 'review')
  vim.cmd('edit ' .. session.cwd .. '/a.txt')
  require('arbor.review').diff_split()
  h.wait(function() return vim.api.nvim_buf_get_name(0):find('arbor://base/', 1, true) ~= nil end, 'the base split')
  assert(vim.api.nvim_buf_get_lines(0, 0, -1, false)[1] == 'old')
  assert(vim.wo.diff, 'diff mode')
end

T['the review refreshes when the session changes files'] = function()
  h.start()
  local repo = h.repo({ ['a.txt'] = 'one\n' })
  local session, chat = h.scripted_session(repo, 'write a.txt <<END\ntwo\nEND\nturn\nwrite b.txt <<END\nnew file\nEND', 'first')
  h.wait(function() return h.has_line(chat.bufnr, 'turn ended') end, 'the first turn')
  vim.cmd('bwipeout! ' .. chat.bufnr)
  local opened
  require('arbor.review').open(session.id, function() opened = true end)
  h.wait(function() return opened and #vim.fn.getqflist() == 1 end, 'one file under review')
  require('arbor').send(session.id, 'second')
  h.wait(function() return #vim.fn.getqflist() == 2 end, 'the quickfix list follows files_changed')
end

return T
