-- The composer, Markdown in the chat, expandable tool output, fold markers.
local protocol = require('arbor.protocol')
local h = require('helpers')

local T = {}

local function wait_turns(chat, count)
  h.wait(function()
    return #vim.tbl_filter(function(line) return line:find('turn ended', 1, true) ~= nil end, h.lines(chat.bufnr)) >= count
  end, count .. ' turn(s)')
end

local function composer_of(session_id)
  return require('arbor.composer').get(session_id)
end

T['the composer sends a multi-line message, completes slash commands and #buffer, quotes a selection'] = function()
  h.start()
  local repo = h.repo({ ['notes.txt'] = 'first note\nsecond note\n' })
  local session, chat = h.scripted_session(repo, 'commands rebase: rebase onto main | review: the agent reviews itself\nsay one\nturn\nsay two\nturn\nsay three', 'start')
  wait_turns(chat, 1)
  vim.api.nvim_set_current_buf(chat.bufnr)
  vim.api.nvim_feedkeys('i', 'x', false)
  local state = composer_of(session.id)
  assert(state and vim.api.nvim_get_current_buf() == state.bufnr, 'i opens the composer')
  vim.cmd('stopinsert')
  assert(vim.api.nvim_win_get_config(0).relative == '' and vim.fn.win_findbuf(chat.bufnr)[1] ~= nil, 'a split beside the chat')

  -- Completion: slash commands at the start, #buffer anywhere.
  vim.api.nvim_buf_set_lines(state.bufnr, 0, -1, false, { '/re' })
  vim.api.nvim_win_set_cursor(0, { 1, 3 })
  local composer = require('arbor.composer')
  vim.cmd('startinsert!')
  local start = composer.omnifunc(1, '')
  vim.cmd('stopinsert')
  assert(start == 0, 'completion starts at the slash: ' .. tostring(start))
  local words = vim.tbl_map(function(item) return item.word end, composer.omnifunc(0, '/re'))
  assert(vim.deep_equal(words, { '/review', '/rename', '/rebase' }), 'Arbor\'s, then the agent\'s without a clash: ' .. vim.inspect(words))
  local rebase = composer.omnifunc(0, '/reb')[1]
  assert(rebase and rebase.menu == 'rebase onto main', vim.inspect(rebase))
  words = vim.tbl_map(function(item) return item.word end, composer.omnifunc(0, '#b'))
  assert(vim.deep_equal(words, { '#buffer' }), vim.inspect(words))

  -- Two lines, sent with <C-s>: one message.
  vim.api.nvim_buf_set_lines(state.bufnr, 0, -1, false, { 'line one', 'line two' })
  vim.api.nvim_feedkeys(vim.keycode('<C-s>'), 'x', false)
  wait_turns(chat, 2)
  assert(h.has_line(chat.bufnr, 'line one') and h.has_line(chat.bufnr, 'line two'))
  assert(not vim.api.nvim_buf_is_valid(state.bufnr), 'the composer closes once the message is accepted')

  -- A visual selection of a file arrives quoted; #buffer quotes the whole file.
  vim.cmd('edit ' .. repo .. '/notes.txt')
  vim.cmd('2Arbor send')
  state = composer_of(session.id)
  local text = table.concat(h.lines(state.bufnr), '\n')
  assert(text:find('From `' .. vim.fn.fnamemodify(repo .. '/notes.txt', ':~:.') .. ' lines 2-2`:\n```\nsecond note\n```', 1, true), text)
  vim.api.nvim_buf_set_lines(state.bufnr, -1, -1, false, { 'compare with #buffer' })
  vim.cmd('stopinsert')
  vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
  wait_turns(chat, 3)
  local chat_text = table.concat(h.lines(chat.bufnr), '\n')
  assert(chat_text:find('compare with #buffer\n\nFrom `', 1, true) and chat_text:find('first note\nsecond note\n```', 1, true), chat_text)
end

T['a slash command runs here; a refused message stays in the composer'] = function()
  h.start()
  local repo = h.repo()
  local session, chat = h.scripted_session(repo, 'say hi', 'start')
  wait_turns(chat, 1)
  require('arbor').send(session.id)
  local state = composer_of(session.id)
  vim.api.nvim_buf_set_lines(state.bufnr, 0, -1, false, { '/rename Named by a slash command' })
  require('arbor.composer').send(state)
  h.wait(function() return chat.session and chat.session.title == 'Named by a slash command' end, 'the rename')

  local client = require('arbor.client')
  assert(client.request_sync(protocol.method.session_stop, { sessionId = session.id }))
  require('arbor').send(session.id)
  state = composer_of(session.id)
  vim.api.nvim_buf_set_lines(state.bufnr, 0, -1, false, { 'a message for a stopped session' })
  require('arbor.composer').send(state)
  h.wait(function() return h.notified(protocol.method.session_prompt) end, 'the refusal')
  assert(vim.api.nvim_buf_is_valid(state.bufnr) and h.lines(state.bufnr)[1] == 'a message for a stopped session', 'the draft is kept')
end

T['Markdown is highlighted, tool output expands, fold markers say open or closed, ? lists the keys'] = function()
  h.start()
  local repo = h.repo()
  local _, chat = h.scripted_session(repo, 'say **Bold** and `code`\nrun seq 1 30', 'markdown')
  wait_turns(chat, 1)
  local buf = chat.bufnr
  assert(vim.treesitter.highlighter.active[buf] ~= nil, 'treesitter highlights the Markdown')
  local win = vim.fn.win_findbuf(buf)[1]
  assert(vim.wo[win].conceallevel == 2)
  local you
  for index, line in ipairs(h.lines(buf)) do
    if line == '## You' then you = index - 1 end
  end
  local concealed = false
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, require('arbor.chat').namespace, { you, 0 }, { you, -1 }, { details = true })) do
    if mark[4].conceal == '' and mark[3] == 0 and mark[4].end_col == 3 then concealed = true end
  end
  assert(concealed, 'the "## " of the role heading is concealed')

  -- 30 lines of output: 20 shown, the rest one key away.
  local header
  for index, line in ipairs(h.lines(buf)) do
    if line:find('^▾ ✓ Run seq 1 30') then header = index end
  end
  assert(header, vim.inspect(h.lines(buf)))
  assert(h.has_line(buf, '  │ … 10 more lines (<CR> shows them)'), vim.inspect(h.lines(buf)))
  assert(not h.has_line(buf, '  │ 30'))
  vim.api.nvim_win_set_cursor(win, { header, 0 })
  assert(vim.fn.foldclosed(header) == header, 'blocks start closed')
  assert(vim.fn.foldtextresult(header):find('^▸ ✓ Run seq 1 30'), vim.fn.foldtextresult(header))
  vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
  assert(h.has_line(buf, '  │ 30') and not h.has_line(buf, 'more lines'), 'the whole output')
  assert(vim.fn.foldclosed(header) == -1 and h.lines(buf)[header]:find('^▾'), 'an open block shows ▾')
  vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
  assert(not h.has_line(buf, '  │ 30') and h.has_line(buf, 'more lines'), 'collapsed again')

  vim.api.nvim_feedkeys('?', 'x', false)
  local help = vim.api.nvim_get_current_buf()
  assert(vim.api.nvim_win_get_config(0).relative ~= '', 'a float')
  assert(h.has_line(help, 'allow the permission request') and h.has_line(help, 'composer'), vim.inspect(h.lines(help)))
end

return T
