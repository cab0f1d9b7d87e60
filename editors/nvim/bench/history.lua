-- Benchmark (not a test) of opening a long stored session in Neovim: the plugin, in this headless
-- Neovim, runs the real `arbor` binary (`lsp --standalone`, as the tests do) in scratch
-- directories; a scripted session of about EVENTS stored events is made, the server restarted so
-- the session is read back from the store, then the session is opened the way a user does
-- (`:Arbor sessions`, the session picked) and timed until its chat buffer shows the last event's
-- text and the screen is redrawn. Beside it, from the same run: the plugin's own connection
-- paging in the same history without rendering it, and a session of SMALL events opened the
-- same way.
--
-- `editors/nvim/bench/run.sh [EVENTS [SMALL]]` (defaults 100000 and 1000).

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
package.path = here .. '/../tests/?.lua;' .. package.path
vim.cmd('runtime plugin/arbor.lua')

local h = require('helpers')
local client = require('arbor.client')
local protocol = require('arbor.protocol')

local EVENTS = tonumber(arg[1]) or 100000
local SMALL = tonumber(arg[2]) or 1000
local ROUNDS = 3
local TURNS = 10
-- Streamed chunks between two tool calls.
local TOOL_EVERY = 250
local TURN_ENDED = '— turn ended (end_turn) —'
local WORDS = { 'The', 'parser', 'reads', 'each', 'line,', 'keeps', 'the', '`offset`', 'and', 'returns', '**early**', 'when', 'a', 'token', 'ends.' }

---@class bench.History
---@field script string the scripted agent's script
---@field prompts string[] the user's message of each turn
---@field last_text string the text of the session's last event that shows any
---@field turns integer

--- A scripted session of about `events` stored events: `turns` turns, each a user message, then
--- thinking and reply tokens one chunk each (alternating, so the server keeps every chunk as its
--- own event, as `stream-bench replay` does), a tool call every TOOL_EVERY chunks (commands and
--- file writes, every fourth command asking a permission the policy grants) and a last reply
--- token naming the turn.
---@param events integer
---@param turns integer
---@return bench.History
local function history(events, turns)
  -- Each tool call stores about three events (the call, its update, a permission or a change
  -- of files) and each turn about four besides its chunks (the user's message, the state
  -- changes, the end).
  local chunks = math.max(2, math.floor((events / turns - 4) / (1 + 3 / TOOL_EVERY)))
  local lines, prompts = {}, {}
  local step = 0
  for turn = 1, turns do
    prompts[turn] = 'Go on with part ' .. turn .. ' of the refactoring.'
    if turn > 1 then table.insert(lines, 'turn') end
    -- An even count ends on thinking, so the turn's last reply token is not joined to a reply
    -- chunk before it.
    for chunk = 1, chunks - chunks % 2 - 1 do
      if chunk % TOOL_EVERY == 0 then
        step = step + 1
        if step % 2 == 1 then
          if step % 8 == 1 then table.insert(lines, 'ask Run step ' .. step) end
          table.insert(lines, 'run echo step ' .. step .. ' checked')
        else
          vim.list_extend(lines, { 'write notes/step-' .. step .. '.md <<END', '# Step ' .. step, 'Checked the parser.', 'END' })
        end
      end
      local word = WORDS[(chunk + turn) % #WORDS + 1]
      table.insert(lines, (chunk % 2 == 1 and 'think ' or 'say ') .. word)
    end
    table.insert(lines, 'say done-' .. turn)
  end
  return { script = table.concat(lines, '\n'), prompts = prompts, last_text = 'done-' .. turns, turns = turns }
end

--- Waits (handling events) until `condition()` holds, checking every millisecond.
---@param condition fun(): boolean
---@param what string
---@param timeout? integer milliseconds
local function wait(condition, what, timeout)
  assert(vim.wait(timeout or 60000, condition, 1), 'timed out waiting for ' .. what)
end

--- Makes the session of `made` by playing every turn of its script, and returns its id and last
--- seq once the last turn has ended.
---@param repo string
---@param made bench.History
---@return string id
---@return integer last_seq
local function make_session(repo, made)
  local ended = 0
  local session_id
  local stop_listening = client.on(protocol.notification.session_event, function(params)
    if params.sessionId == session_id and params.event.kind == 'turn_ended' then ended = ended + 1 end
  end)
  local permissions = { { kind = 'execute', pattern = 'echo step *', action = 'allow' } }
  -- The first turn's message goes with session/new: the server sends it once the agent runs.
  local params = { cwd = repo, agent = 'scripted', prompt = made.prompts[1], config = { script = made.script }, permissions = permissions }
  client.request(protocol.method.session_new, params, function(session)
    session_id = session.id
    client.request(protocol.method.session_subscribe, { sessionId = session.id, afterSeq = 0 })
  end)
  wait(function() return session_id ~= nil end, protocol.method.session_new)
  for turn = 1, made.turns do
    if turn > 1 then client.request(protocol.method.session_prompt, { sessionId = session_id, text = made.prompts[turn] }) end
    wait(function() return ended == turn end, 'turn ' .. turn)
  end
  stop_listening()
  local session = assert(client.request_sync(protocol.method.session_get, { sessionId = session_id }))
  return session_id, session.lastSeq
end

--- Seconds the plugin's connection takes to page in the whole history of `session_id` the way
--- the chat asks for it, decoding every event and rendering none.
---@param session_id string
---@param last_seq integer
---@return number
local function page_in(session_id, last_seq)
  local started = vim.uv.hrtime()
  local received, done = 0, false
  local function page(after)
    client.request(protocol.method.session_events, { sessionId = session_id, afterSeq = after, limit = require('arbor.chat').HISTORY_PAGE }, function(result)
      received = received + #result.events
      if result.hasMore then
        page(result.events[#result.events].seq)
      else
        done = true
      end
    end)
  end
  page(0)
  wait(function() return done end, 'the history')
  assert(received == last_seq, string.format('paged in %d events of %d', received, last_seq))
  return (vim.uv.hrtime() - started) / 1e9
end

--- Seconds from `:Arbor sessions` (the session picked) until the chat buffer ends with the
--- session's last reply token and its turn's end; the chat buffer is returned, still open.
---@param session_id string
---@param made bench.History
---@return number seconds
---@return integer bufnr
local function open_by_command(session_id, made)
  h.on_select(function(items)
    for _, item in ipairs(items) do
      if item.id == session_id then return item end
    end
  end)
  local started = vim.uv.hrtime()
  vim.cmd('Arbor sessions')
  local chat
  wait(function()
    chat = require('arbor.chat').get(session_id)
    if not chat then return false end
    local tail = vim.api.nvim_buf_get_lines(chat.bufnr, -4, -1, false)
    return tail[1] == made.last_text and tail[3] == TURN_ENDED
  end, 'the last event in the chat buffer')
  -- The screen drawn as a user's would be (folds, highlighting), with no UI attached.
  vim.cmd('redraw')
  return (vim.uv.hrtime() - started) / 1e9, chat.bufnr
end

--- Checks what the whole chat buffer shows: each turn's message and last reply token once, in
--- order, and as many turn ends as turns.
---@param bufnr integer
---@param made bench.History
local function check_rendered(bufnr, made)
  local expected, seen, ended = {}, {}, 0
  for turn = 1, made.turns do
    vim.list_extend(expected, { made.prompts[turn], 'done-' .. turn })
  end
  local marks = {}
  for _, line in ipairs(expected) do marks[line] = true end
  for _, line in ipairs(h.lines(bufnr)) do
    if marks[line] then table.insert(seen, line) end
    if line == TURN_ENDED then ended = ended + 1 end
  end
  assert(vim.deep_equal(seen, expected) and ended == made.turns, string.format('the chat shows %s and %d turn ends', vim.inspect(seen), ended))
end

---@param rounds number[]
---@return string
local function figures(rounds)
  return table.concat(vim.tbl_map(function(seconds) return string.format('%.3f', seconds) end, rounds), ' / ') .. ' s'
end

--- Set when the plugin's server process exits.
local server_exited = false

local function main()
  -- As in a user's Neovim (-u NONE leaves it off): the chat falls back to Markdown syntax.
  vim.cmd('syntax on')
  h.reset()
  local start_rpc = vim.lsp.rpc.start
  vim.lsp.rpc.start = function(cmd, dispatchers, opts)
    return start_rpc(cmd, vim.tbl_extend('force', dispatchers, {
      on_exit = function(...)
        server_exited = true
        return dispatchers.on_exit(...)
      end,
    }), opts)
  end
  h.start()
  local repo = h.repo()
  local big, small = history(EVENTS, TURNS), history(SMALL, 1)
  local made_at = vim.uv.hrtime()
  local big_id, big_seq = make_session(repo, big)
  local small_id, small_seq = make_session(repo, small)
  io.write(string.format('made the sessions (%d and %d events) in %.1f s\n', big_seq, small_seq, (vim.uv.hrtime() - made_at) / 1e9))
  -- A new server reads both sessions back from its store, once the old one has let it go.
  client.stop()
  wait(function() return server_exited end, 'the server to exit')
  h.start()
  -- The restart itself stores events (the sessions stopping, then found stopped).
  big_seq = assert(client.request_sync(protocol.method.session_get, { sessionId = big_id })).lastSeq
  local paged, opened, opened_small = {}, {}, {}
  for round = 1, ROUNDS do
    paged[round] = page_in(big_id, big_seq)
    local seconds, bufnr = open_by_command(small_id, small)
    opened_small[round] = seconds
    vim.cmd('bwipeout! ' .. bufnr)
    seconds, bufnr = open_by_command(big_id, big)
    opened[round] = seconds
    check_rendered(bufnr, big)
    vim.cmd('bwipeout! ' .. bufnr)
  end
  io.write(string.format('nvim: a stored session of %d events opened with :Arbor sessions until its chat buffer shows the last event (%d rounds)\n', big_seq, ROUNDS))
  io.write(string.format('  baseline  the plugin\'s connection paging in the same %d events, no rendering: %s\n', big_seq, figures(paged)))
  io.write(string.format('  baseline  a session of %d events opened the same way: %s\n', small_seq, figures(opened_small)))
  io.write(string.format('  arbor     %s (goal < 1 s)\n', figures(opened)))
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  io.write(err .. '\n' .. vim.inspect(vim.list_slice(h.notifications, #h.notifications - 2)) .. '\n')
end
io.flush()
os.exit(ok and 0 or 1)
