-- One reused chat window, the winbar and buffer names, wrapping.
local h = require('helpers')

local T = {}

local function wait_turn(chat)
  h.wait(function() return h.has_line(chat.bufnr, 'turn ended') end, 'the turn')
end

T['one chat window is reused, its buffer fixed, and the quickfix never replaces it'] = function()
  h.start({ layout = 'vsplit' })
  local repo = h.repo({ ['a.txt'] = 'one\n' })
  local first, first_chat = h.scripted_session(repo, 'write a.txt <<END\ntwo\nEND', 'first')
  wait_turn(first_chat)
  local chat_win = vim.api.nvim_get_current_win()
  assert(#h.split_windows() == 2, 'the chat opened beside the editing window')
  assert(vim.wo[chat_win].winfixbuf, 'the chat window keeps its buffer')
  local _, second_chat = h.scripted_session(repo, 'say second', 'second')
  wait_turn(second_chat)
  require('arbor').open_chat(first.id)
  require('arbor').open_chat(second_chat.session_id)
  assert(#h.split_windows() == 2, 'still two windows, not one more per chat: ' .. #h.split_windows())
  assert(vim.api.nvim_win_get_buf(chat_win) == second_chat.bufnr, 'the same window shows the other chat')

  -- The review's quickfix list opens files in another window than the chat.
  local reviewed
  require('arbor.review').open(first.id, function() reviewed = true end)
  h.wait(function() return reviewed end, 'review')
  vim.api.nvim_set_current_win(chat_win)
  vim.cmd('cfirst')
  assert(vim.api.nvim_win_get_buf(chat_win) == second_chat.bufnr, 'the chat window still shows the chat')
  assert(vim.api.nvim_buf_get_name(0) == first.cwd .. '/a.txt', vim.api.nvim_buf_get_name(0))

  -- The composer opens under the chat window, whose fixed buffer its split inherits.
  vim.api.nvim_set_current_win(chat_win)
  vim.api.nvim_feedkeys('i', 'x', false)
  vim.cmd('stopinsert')
  local composer = require('arbor.composer').get(second_chat.session_id)
  assert(composer and vim.api.nvim_get_current_buf() == composer.bufnr, 'the composer is open: ' .. vim.inspect(h.notifications))
  assert(vim.api.nvim_win_get_buf(chat_win) == second_chat.bufnr, 'the chat window keeps the chat')
end

T['the float and tab layouts'] = function()
  h.start({ layout = 'float' })
  local repo = h.repo()
  local _, chat = h.scripted_session(repo, 'say in a float', 'float')
  local win = vim.fn.win_findbuf(chat.bufnr)[1]
  assert(vim.api.nvim_win_get_config(win).relative == 'editor', 'the chat is a float')
  require('arbor').config.layout = 'tab'
  local _, other = h.scripted_session(repo, 'say in the float too', 'again')
  assert(vim.api.nvim_win_get_buf(win) == other.bufnr, 'the float of this tab page is reused')
  vim.api.nvim_win_close(win, true)
  require('arbor').open_chat(chat.session_id)
  assert(#vim.api.nvim_list_tabpages() == 2, 'the tab layout opened a tab page')
  -- From the first tab page, the next chat goes to that tab page, not a third one.
  vim.cmd('tabfirst')
  require('arbor').open_chat(other.session_id)
  assert(#vim.api.nvim_list_tabpages() == 2, 'tab pages pile up: ' .. #vim.api.nvim_list_tabpages())
  assert(vim.api.nvim_get_current_buf() == other.bufnr and vim.api.nvim_get_current_tabpage() ~= vim.api.nvim_list_tabpages()[1])
end

T['the winbar starts with the title, the model is not the agent again, the buffer is named'] = function()
  h.start()
  local repo = h.repo()
  local session, chat = h.scripted_session(repo, 'say hello', 'winbar')
  wait_turn(chat)
  vim.cmd('Arbor rename Fix the login flow')
  h.wait(function() return chat.session and chat.session.title == 'Fix the login flow' end, 'the title')
  local winbar = vim.wo.winbar
  assert(winbar:find('^%%#ArborWinbarTitle#Fix the login flow%%%* — scripted · running'), winbar)
  -- In a narrow window the details are cut at their end; the title stays whole until they are
  -- gone (test_terminal.lua sees it on a real screen).
  assert(chat:winbar(30) == '%#ArborWinbarTitle#Fix the login flow%* — scripted…', chat:winbar(30))
  assert(chat:winbar(12) == '%#ArborWinbarTitle#Fix the log…%*', chat:winbar(12))
  assert(not winbar:find('(scripted)', 1, true), 'the agent repeated as its model: ' .. winbar)
  assert(vim.api.nvim_buf_get_name(chat.bufnr) == 'arbor://' .. session.id:sub(1, 8) .. ' Fix the login flow', vim.api.nvim_buf_get_name(chat.bufnr))
  assert(#vim.tbl_filter(function(buf) return vim.api.nvim_buf_get_name(buf):find('arbor://', 1, true) ~= nil end, vim.api.nvim_list_bufs()) == 1,
    'no buffer is left behind under the old name')
end

T['wrapped lines break at words and stay inside their block'] = function()
  h.start()
  local repo = h.repo()
  local _, chat = h.scripted_session(repo, 'think ' .. string.rep('a long thought ', 20), 'wrap')
  wait_turn(chat)
  local win = vim.fn.win_findbuf(chat.bufnr)[1]
  assert(vim.wo[win].wrap and vim.wo[win].linebreak and vim.wo[win].breakindent, 'wrap, linebreak and breakindent')
  assert(vim.wo[win].breakindentopt:find('list:-1', 1, true), vim.wo[win].breakindentopt)
  -- The gutter of a block is what 'breakindentopt' list:-1 indents wrapped lines by.
  local thought
  for _, line in ipairs(h.lines(chat.bufnr)) do
    if line:find('a long thought', 1, true) then thought = line end
  end
  assert(vim.fn.matchend(thought, vim.bo[chat.bufnr].formatlistpat) == #'  │ ', thought)
end

return T
