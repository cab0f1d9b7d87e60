local h = require('helpers')

local T = {}

local SCRIPT = [[
think Thinking about the task first.
say Hello from the scripted agent.
ask Create out.txt
write out.txt <<END
created after permission
END
say Done now.
usage input=10 output=5 cost=0.25
]]

T['a reply streams into the chat buffer and a permission is answered by keymap'] = function()
  h.start()
  local repo = h.repo()
  local session, chat = h.scripted_session(repo, SCRIPT, 'Please create the file')
  local buf = chat.bufnr
  h.wait(function() return h.has_line(buf, '? Permission: Create out.txt') end, 'permission line')
  assert(h.has_line(buf, '## You'))
  assert(h.has_line(buf, '## Agent'))
  assert(h.has_line(buf, 'Please create the file'))
  assert(h.has_line(buf, 'Hello from the scripted agent.'), vim.inspect(h.lines(buf)))
  assert(h.has_line(buf, '▾ 💭 Thinking'))
  assert(h.has_line(buf, '[a] Allow'))
  -- Answer with the keymap, cursor on the request.
  vim.api.nvim_set_current_buf(buf)
  for index, line in ipairs(h.lines(buf)) do
    if line:find('? Permission', 1, true) then vim.api.nvim_win_set_cursor(0, { index, 0 }) end
  end
  vim.api.nvim_feedkeys('a', 'x', false)
  h.wait(function() return h.read(session.cwd .. '/out.txt') == 'created after permission\n' end, 'the file written after allow')
  h.wait(function() return h.has_line(buf, '— turn ended (end_turn) —') end, 'turn end')
  assert(h.has_line(buf, '✓ Permission: Create out.txt → allow'))
  assert(h.has_line(buf, '▾ ✓ Write out.txt'), vim.inspect(h.lines(buf)))
  assert(h.has_line(buf, '  │ + created after permission'))
  -- Thinking and tool calls are folded blocks.
  local row
  for index, line in ipairs(h.lines(buf)) do
    if line == '▾ ✓ Write out.txt' then row = index end
  end
  assert(vim.fn.foldclosed(row) == row and vim.fn.foldclosed(row + 1) == row, 'the tool call is one closed fold')
  h.wait(function() return select(2, chat:header()):find('$0.2500', 1, true) ~= nil end, 'cost in the header')
  local _, header = chat:header()
  assert(header:find('scripted', 1, true) and header:find('running', 1, true), header)
  assert(vim.wo.winbar:find('scripted', 1, true), 'the winbar shows the header')
end

T['decisions of the permission policy show the rule that decided'] = function()
  h.start()
  local repo = h.repo()
  local script = 'ask Run the tests\nrun echo ok\nask Clean up\nrun rm -rf out\nsay done'
  local permissions = {
    { kind = 'execute', pattern = 'echo ok', action = 'allow' },
    { kind = 'execute', pattern = 'rm -rf *', action = 'deny' },
  }
  local _, chat = h.scripted_session(repo, script, 'go', { permissions = permissions })
  local buf = chat.bufnr
  h.wait(function() return h.has_line(buf, '— turn ended (end_turn) —') end, 'turn end')
  assert(h.has_line(buf, '✓ Permission: Run the tests → allowed by policy (execute: echo ok)'), vim.inspect(h.lines(buf)))
  assert(h.has_line(buf, '✓ Permission: Clean up → denied by policy (execute: rm -rf *)'), vim.inspect(h.lines(buf)))
end

T['reopening a chat replays its history'] = function()
  h.start()
  local repo = h.repo()
  local session, chat = h.scripted_session(repo, 'say First reply.\nturn\nsay Second reply.', 'one')
  h.wait(function() return h.has_line(chat.bufnr, 'First reply.') end, 'first reply')
  require('arbor').send(session.id, 'two')
  h.wait(function() return h.has_line(chat.bufnr, 'Second reply.') end, 'second reply')
  h.wait(function() return #vim.tbl_filter(function(line) return line:find('turn ended', 1, true) end, h.lines(chat.bufnr)) == 2 end, 'two turns')
  local before = h.lines(chat.bufnr)
  vim.cmd('bwipeout! ' .. chat.bufnr)
  local reopened = require('arbor.chat').open(session.id)
  h.wait(function() return #h.lines(reopened.bufnr) == #before end, 'replayed history')
  assert(vim.deep_equal(h.lines(reopened.bufnr), before), 'the replay renders the same buffer')
end

--- The chat's extmarks as comparable strings: place, extent, concealment and highlight.
local function marks(bufnr)
  return vim.tbl_map(function(mark)
    local details = mark[4]
    return string.format('%d:%d-%s:%s conceal=%s hl=%s gravity=%s', mark[2], mark[3], tostring(details.end_row), tostring(details.end_col), tostring(details.conceal), tostring(details.hl_group), tostring(details.right_gravity))
  end, vim.api.nvim_buf_get_extmarks(bufnr, require('arbor.chat').namespace, 0, -1, { details = true }))
end

--- The fold level of each line of the chat, as the window showing it has them.
local function fold_levels(bufnr)
  local win = vim.fn.win_findbuf(bufnr)[1]
  return vim.api.nvim_win_call(win, function()
    local levels = {}
    for lnum = 1, vim.api.nvim_buf_line_count(bufnr) do
      levels[lnum] = vim.fn.foldlevel(lnum)
    end
    return levels
  end)
end

T['a history rendered in one pass shows what the live chat showed event by event'] = function()
  h.start()
  local repo = h.repo()
  -- Chunks 25 ms apart reach the live chat one flush each; the permission waits for the user,
  -- so its request and its answer are rendered apart; the reopened chat renders it all at once.
  local script = table.concat({
    'chunk-delay 25',
    'think First I look at the task.\\nThen at its tests.',
    'say Here is a reply of several chunks, three words each.\\nA second line of it.',
    'think Then a command.',
    'ask Run the check',
    'run sleep 0.1 && echo checked',
    'say After the command: `code` and **bold**.',
    'write out.txt <<END',
    'one',
    'two',
    'END',
    'plan Read | Write',
    'say Done.',
    'turn',
    'think Second turn.',
    'say Second reply.',
  }, '\n')
  local session, chat = h.scripted_session(repo, script, 'Check it')
  h.wait(function() return h.has_line(chat.bufnr, '? Permission: Run the check') end, 'the permission request')
  vim.api.nvim_set_current_buf(chat.bufnr)
  chat:answer('allow_once')
  h.wait(function() return h.has_line(chat.bufnr, 'turn ended') end, 'the first turn')
  require('arbor').send(session.id, 'again')
  h.wait(function() return #vim.tbl_filter(function(line) return line:find('turn ended', 1, true) end, h.lines(chat.bufnr)) == 2 end, 'the second turn')
  local lines, extmarks, folds = h.lines(chat.bufnr), marks(chat.bufnr), fold_levels(chat.bufnr)
  assert(h.has_line(chat.bufnr, '✓ Permission: Run the check → allow'), vim.inspect(lines))
  assert(h.has_line(chat.bufnr, 'Here is a reply of several chunks, three words each.'), vim.inspect(lines))
  -- Blocks are folds from their header to their last indented line; nothing else is folded.
  for lnum, line in ipairs(lines) do
    local in_block = line:find('^▾ ') or line:find('^  │ ')
    assert(folds[lnum] == (in_block and 1 or 0), string.format('line %d (%s) has fold level %d', lnum, line, folds[lnum]))
  end
  vim.cmd('bwipeout! ' .. chat.bufnr)
  local reopened = require('arbor.chat').open(session.id)
  h.wait(function() return #h.lines(reopened.bufnr) == #lines end, 'the replayed history')
  assert(vim.deep_equal(h.lines(reopened.bufnr), lines), 'the same lines: ' .. vim.inspect(h.lines(reopened.bufnr)))
  assert(vim.deep_equal(marks(reopened.bufnr), extmarks), 'the same marks: ' .. vim.inspect({ live = extmarks, replayed = marks(reopened.bufnr) }))
  assert(vim.deep_equal(fold_levels(reopened.bufnr), folds), 'the same folds')
end

T['a chat that opens longer than 20,000 lines is highlighted by the Markdown syntax, a shorter one by treesitter'] = function()
  vim.cmd('syntax on')
  h.start()
  local repo = h.repo()
  -- Thinking and reply words alternating: five lines each pair, 22,500 lines in all.
  local lines = {}
  for index = 1, 4500 do
    vim.list_extend(lines, { 'think thought' .. index, 'say **word' .. index .. '**' })
  end
  local session, chat = h.finished_session(repo, table.concat(lines, '\n'), 'go')
  --- The highlight groups on the first reply word, by who gives them.
  local function groups(bufnr)
    for row, line in ipairs(h.lines(bufnr)) do
      if line == '**word1**' then
        vim.api.nvim_set_current_buf(bufnr)
        vim.cmd('redraw')
        local at = vim.inspect_pos(bufnr, row - 1, 3)
        return #at.treesitter, #at.syntax
      end
    end
  end
  local live_treesitter, live_syntax = groups(chat.bufnr)
  local count = #h.lines(chat.bufnr)
  vim.cmd('bwipeout! ' .. chat.bufnr)
  local reopened = require('arbor.chat').open(session.id)
  h.wait(function() return #h.lines(reopened.bufnr) == count end, 'the replayed history')
  local treesitter, syntax = groups(reopened.bufnr)
  -- `syntax on` also turned on filetype detection, which the other tests run without.
  vim.cmd('syntax off | filetype off')
  assert(count > 20000, count)
  assert(live_treesitter > 0 and live_syntax == 0, string.format('live, from its first lines: treesitter %d, syntax %d', live_treesitter, live_syntax))
  assert(treesitter == 0 and syntax > 0, string.format('reopened: treesitter %d, syntax %d', treesitter, syntax))
end

T['errors from the server are notifications, not stack traces'] = function()
  h.start()
  local messages = {}
  local original = vim.notify
  vim.notify = function(message, level) table.insert(messages, { message = message, level = level }) end
  require('arbor').send('00000000-0000-4000-8000-000000000000', 'hello?')
  h.wait(function() return #messages > 0 end, 'a notification')
  vim.notify = original
  assert(messages[1].message:find('no session with id', 1, true), messages[1].message)
  assert(messages[1].level == vim.log.levels.ERROR)
end

T['5000 streamed chunks end right and the editor stays responsive'] = function()
  h.start()
  local repo = h.repo()
  local words = {}
  for index = 1, 15000 do words[index] = 'w' .. index end
  local session, chat = h.scripted_session(repo, 'say ' .. table.concat(words, ' '), 'stream')
  -- A timer that should fire every 10 ms: the largest gap between firings is how long the
  -- editor was unresponsive.
  local last, worst = vim.uv.hrtime(), 0
  local timer = vim.uv.new_timer()
  timer:start(10, 10, function()
    local now = vim.uv.hrtime()
    worst = math.max(worst, (now - last) / 1e6)
    last = now
  end)
  h.wait(function() return h.has_line(chat.bufnr, 'turn ended') end, 'the end of the stream', 60000)
  timer:stop()
  timer:close()
  local text = table.concat(h.lines(chat.bufnr), '\n')
  local reply = text:match('## Agent\n(.-)\n\n— turn ended')
  assert(reply == table.concat(words, ' '), 'the reply is exactly the 15000 words: ' .. vim.inspect(vim.tbl_map(function(line) return line:sub(1, 60) .. '…' .. line:sub(-30) end, h.lines(chat.bufnr))))
  assert(worst < 1000, string.format('the editor stalled for %.0f ms', worst))
  io.write(string.format('  (largest gap between 10 ms timer ticks while streaming: %.0f ms)\n', worst))
end

return T
