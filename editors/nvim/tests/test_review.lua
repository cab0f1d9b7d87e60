local h = require('helpers')
local protocol = require('arbor.protocol')

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
  local session, chat = h.finished_session(repo, script, 'edit the file')

  local reviewed
  require('arbor.review').open(session.id, function(review) reviewed = review end)
  h.wait(function() return reviewed ~= nil end, protocol.method.review_diff)
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

--- A finished scripted session under review; returns the session.
local function reviewed_session(files, script)
  local repo = h.repo(files)
  local session, chat = h.finished_session(repo, script, 'edit')
  local opened
  require('arbor.review').open(session.id, function() opened = true end)
  h.wait(function() return opened end, 'review')
  return session
end

local function base_window()
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win)):find('arbor://base/', 1, true) then return win end
  end
end

T['the diff split keeps the cursor in the file, maps the keys in the base and shows removed lines once'] = function()
  h.start()
  local session = reviewed_session({ ['a.txt'] = numbered({}) }, 'write a.txt <<END\n' .. numbered({ [3] = 'three', [20] = 'twenty' }) .. 'END')
  vim.cmd('edit ' .. session.cwd .. '/a.txt')
  local file_buf = vim.api.nvim_get_current_buf()
  local function virtual_lines()
    local count = 0
    for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(file_buf, require('arbor.review').namespace, 0, -1, { details = true })) do
      if mark[4].virt_lines then count = count + #mark[4].virt_lines end
    end
    return count
  end
  assert(virtual_lines() == 2, 'removed lines shown inline before the split')
  vim.api.nvim_feedkeys(vim.keycode('<leader>ad'), 'x', false)
  h.wait(base_window, 'the base split')
  local base = vim.api.nvim_win_get_buf(base_window())
  assert(vim.api.nvim_buf_get_lines(base, 2, 3, false)[1] == 'line 3')
  assert(vim.wo[base_window()].diff and vim.wo.diff, 'both sides in diff mode')
  assert(vim.api.nvim_get_current_buf() == file_buf, 'the cursor stays in the worktree file')
  assert(virtual_lines() == 0, 'Vim\'s diff shows the removed lines; the virtual lines are gone')
  -- The review keys work in the base buffer too: reject the hunk at its line 20.
  vim.api.nvim_set_current_win(base_window())
  vim.api.nvim_win_set_cursor(0, { 20, 0 })
  vim.api.nvim_feedkeys(vim.keycode('<leader>ar'), 'x', false)
  h.wait(function() return h.read(session.cwd .. '/a.txt') == numbered({ [3] = 'three' }) end, 'the hunk rejected from the base side')
  assert(not h.notified('E21'), 'no error')
  vim.api.nvim_win_close(base_window(), true)
  h.wait(function() return virtual_lines() == 1 end, 'inline removed lines back once the split is gone')
end

T['rejecting a new file closes its buffer with a message'] = function()
  h.start()
  local session = reviewed_session({ ['a.txt'] = 'a\n' }, 'write new.txt <<END\nbrand new\nEND')
  vim.cmd('edit ' .. session.cwd .. '/new.txt')
  local buf = vim.api.nvim_get_current_buf()
  assert(h.lines(buf)[1] == 'brand new')
  vim.api.nvim_feedkeys(vim.keycode('<leader>aR'), 'x', false)
  h.wait(function() return not vim.api.nvim_buf_is_valid(buf) end, 'the buffer of the removed file closed')
  assert(h.read(session.cwd .. '/new.txt') == nil, 'the new file is gone')
  assert(h.notified('rejected new file new.txt'), vim.inspect(h.notifications))
end

T['vimdiff review: :w accepts the hunks kept and rejects the ones taken back'] = function()
  h.start()
  local session = reviewed_session({ ['a.txt'] = numbered({}) }, 'write a.txt <<END\n' .. numbered({ [3] = 'three', [20] = 'twenty' }) .. 'END')
  vim.cmd('edit ' .. session.cwd .. '/a.txt')
  local state
  require('arbor.vimdiff').open(session.id, 'a.txt', function(opened) state = opened end)
  h.wait(function() return state ~= nil end, 'the vimdiff tab')
  assert(#vim.api.nvim_list_tabpages() == 2 and vim.wo[state.win].diff and vim.wo[state.base_win].diff, 'a tab with both sides in diff mode')
  assert(vim.api.nvim_get_current_buf() == state.bufnr)
  -- Take the change at line 20 back from the base, keep the one at line 3, and write.
  vim.api.nvim_win_set_cursor(0, { 20, 0 })
  vim.cmd('diffget')
  vim.cmd('write')
  h.wait(function() return h.notified('accepted 1 hunk(s), rejected 1') end, 'the decision')
  assert(h.read(session.cwd .. '/a.txt') == numbered({ [3] = 'three' }), 'the rejected hunk reverted on disk')
  assert(h.run({ 'git', 'diff', '--cached' }, session.cwd):find('+three', 1, true), 'the kept hunk staged')
  assert(#vim.api.nvim_list_tabpages() == 1, 'the vimdiff tab closed')
end

T['vimdiff review: :q rejects the file'] = function()
  h.start()
  local session = reviewed_session({ ['a.txt'] = 'old\n' }, 'write a.txt <<END\nnew\nEND')
  local state
  require('arbor.vimdiff').open(session.id, 'a.txt', function(opened) state = opened end)
  h.wait(function() return state ~= nil end, 'the vimdiff tab')
  vim.cmd('quit')
  h.wait(function() return h.read(session.cwd .. '/a.txt') == 'old\n' end, 'the file rejected')
  h.wait(function() return #vim.api.nvim_list_tabpages() == 1 end, 'the tab closed')
end

T['the review refreshes when the session changes files'] = function()
  h.start()
  local repo = h.repo({ ['a.txt'] = 'one\n' })
  local session, chat = h.finished_session(repo, 'write a.txt <<END\ntwo\nEND\nturn\nwrite b.txt <<END\nnew file\nEND', 'first')
  vim.cmd('bwipeout! ' .. chat.bufnr)
  local opened
  require('arbor.review').open(session.id, function() opened = true end)
  h.wait(function() return opened and #vim.fn.getqflist() == 1 end, 'one file under review')
  require('arbor').send(session.id, 'second')
  h.wait(function() return #vim.fn.getqflist() == 2 end, 'the quickfix list follows files_changed')
end

return T
