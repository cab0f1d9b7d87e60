-- A session whose chat is not on screen still reaches the user.
local h = require('helpers')

local T = {}

local ASKING = 'ask Create out.txt\nwrite out.txt <<END\nallowed\nEND\nsay Done.'

local function hide_chat()
  vim.cmd('enew')
end

T['a permission request off screen notifies, fires User autocmds, counts in status() and is answered by :Arbor allow'] = function()
  h.start()
  local repo = h.repo()
  local events = {}
  for _, pattern in ipairs({ 'ArborPermission', 'ArborPermissionResolved', 'ArborTurnEnded' }) do
    vim.api.nvim_create_autocmd('User', { pattern = pattern, callback = function(args) table.insert(events, { pattern = pattern, data = args.data }) end })
  end
  local session = h.scripted_session(repo, ASKING, 'go')
  hide_chat()
  h.wait(function() return h.notified('asks: Create out.txt') end, 'a notification for the request')
  local note = h.notified('asks: Create out.txt')
  assert(note.message:find(':Arbor allow', 1, true) and note.message:find(':Arbor inbox', 1, true), note.message)
  assert(events[1].pattern == 'ArborPermission' and events[1].data.sessionId == session.id and events[1].data.title == 'Create out.txt', vim.inspect(events))
  h.wait(function() return require('arbor').status() == 'Arbor 1 waiting' end, 'the statusline component: ' .. require('arbor').status())

  vim.cmd('Arbor allow')
  h.wait(function() return h.read(session.cwd .. '/out.txt') == 'allowed\n' end, 'the file written after :Arbor allow')
  h.wait(function() return h.notified('finished its turn (end_turn)') end, 'a notification for the finished turn')
  h.wait(function() return require('arbor').status() == 'Arbor 1 idle' end, 'idle in the statusline component')
  local patterns = vim.tbl_map(function(event) return event.pattern end, events)
  assert(vim.deep_equal(patterns, { 'ArborPermission', 'ArborPermissionResolved', 'ArborTurnEnded' }), vim.inspect(patterns))

  -- The finished turn waits in the inbox until its chat is opened from there.
  local seen = h.on_select(function(items) return items[1] end)
  vim.cmd('Arbor inbox')
  assert(seen.lines[1]:find('turn ended', 1, true), vim.inspect(seen.lines))
  h.wait(function() return require('arbor.chat').visible(session.id) end, 'the chat opened from the inbox')
  h.notifications = {}
  vim.cmd('Arbor inbox')
  assert(h.notified('nothing is waiting for you'))
end

T['requests the policy answers raise nothing; :Arbor reject picks among several waiting'] = function()
  h.start()
  local repo = h.repo()
  local raised = 0
  vim.api.nvim_create_autocmd('User', { pattern = 'ArborPermission', callback = function() raised = raised + 1 end })
  local script = 'ask Run echo\nrun echo ok\nsay allowed by the rule'
  local _, chat = h.scripted_session(repo, script, 'go', { permissions = { { kind = 'execute', pattern = 'echo ok', action = 'allow' } } })
  hide_chat()
  h.wait(function() return h.has_line(chat.bufnr, 'turn ended') end, 'the turn')
  assert(raised == 0 and not h.notified('asks:'), 'a request the policy answered was announced')

  local first = h.scripted_session(repo, 'ask First\nwrite one.txt <<END\n1\nEND', 'one')
  local second, second_chat = h.scripted_session(repo, 'ask Second\nwrite two.txt <<END\n2\nEND', 'two')
  hide_chat()
  h.wait(function() return #require('arbor.attention').requests() == 2 end, 'two requests waiting')
  local seen = h.on_select(function(items)
    for _, item in ipairs(items) do
      if item.sessionId == second.id then return item end
    end
  end)
  vim.cmd('Arbor reject')
  assert(seen.prompt == 'Answer which request?' and #seen.lines == 2, vim.inspect(seen))
  h.wait(function() return #require('arbor.attention').requests() == 1 end, 'one left')
  assert(require('arbor.attention').requests()[1].sessionId == first.id)
  h.wait(function() return h.notified('two finished its turn') end, 'the rejected session finished its turn')
  assert(h.read(second.cwd .. '/two.txt') == nil, 'the rejected write did not happen')

  -- Showing that chat by hand takes its finished turn out of the inbox.
  vim.cmd('buffer ' .. second_chat.bufnr)
  local inbox = h.on_select(function() return nil end)
  vim.cmd('Arbor inbox')
  for _, line in ipairs(inbox.lines) do
    assert(not line:find('two', 1, true), 'the chat was seen, yet its turn is still news: ' .. vim.inspect(inbox.lines))
  end
  assert(inbox.lines[1]:find('permission  one', 1, true), vim.inspect(inbox.lines))
  -- From a chat with nothing waiting, :Arbor allow answers the one request waiting elsewhere.
  vim.cmd('buffer ' .. chat.bufnr)
  vim.cmd('Arbor allow')
  h.wait(function() return h.read(first.cwd .. '/one.txt') == '1\n' end, 'the other session\'s request allowed')
end

T['an agent\'s question: off screen it notifies and fires ArborQuestion; :Arbor answer asks each field and sends it; the chat shows the answer'] = function()
  h.start()
  local repo = h.repo()
  local asked = {}
  vim.api.nvim_create_autocmd('User', { pattern = 'ArborQuestion', callback = function(args) table.insert(asked, args.data) end })
  local session, chat = h.scripted_session(repo, 'elicit Which ticket is this for?\nelicit And the reviewer?', 'go')
  hide_chat()
  h.wait(function() return h.notified('asks: Which ticket is this for?') end, 'a notification for the question')
  assert(h.notified('asks: Which ticket is this for?').message:find(':Arbor answer', 1, true))
  assert(asked[1] and asked[1].sessionId == session.id, vim.inspect(asked))
  h.wait(function() return require('arbor').status():find('1 waiting', 1, true) ~= nil end, 'waiting in the statusline component: ' .. require('arbor').status())

  -- Typed at the prompt: each field of the form is asked for.
  local input = h.on_input(function() return 'ARB-12' end)
  vim.cmd('Arbor answer')
  assert(input.opts.prompt:find('Which ticket is this for?', 1, true), vim.inspect(input.opts))
  h.wait(function() return h.has_line(chat.bufnr, '> answered: answer = ARB-12') end, 'the answer in the chat')
  -- Given on the command line for a form of one field.
  h.wait(function() return #require('arbor.attention').questions() == 1 and require('arbor.attention').questions()[1].message == 'And the reviewer?' end, 'the second question')
  assert(h.has_line(chat.bufnr, '? Question: Which ticket is this for?   (:Arbor answer, :Arbor decline)'))
  vim.cmd('Arbor answer Ada')
  h.wait(function() return h.has_line(chat.bufnr, '> answered: answer = Ada') end, 'the second answer in the chat')
  h.wait(function()
    local text = table.concat(h.lines(chat.bufnr), '\n')
    return text:find('ARB-12', text:find('answered: answer = ARB-12', 1, true) + 30, true) ~= nil and #require('arbor.attention').questions() == 0
  end, 'the agent saying the answer, nothing left waiting')
  h.notifications = {}
  vim.cmd('Arbor answer')
  assert(h.notified('no question is waiting'))
end

return T
