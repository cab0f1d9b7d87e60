-- The composer: a Markdown buffer for multi-line messages, in a split under the chat (or a
-- float), sent with <C-s> or <CR> in normal mode. `/` completes the slash commands (Arbor's
-- own run here; any other is sent for the agent to read), `#buffer` is replaced by the text of
-- the buffer the composer was opened from, and a visual selection arrives as a quoted block.
-- The draft stays until the server accepts it, so a refused message is never lost.

local window = require('arbor.window')

local M = {}

local drafts = {} -- key -> composer state (one per session, or per pending new session)

--- Whether `word` (such as `/review`) is one of Arbor's own slash commands.
local function own_command_named(word)
  for _, item in ipairs(M.slash_commands) do
    if item.word == word then
      return true
    end
  end
  return false
end

--- Arbor's own slash commands: each runs the `:Arbor` subcommand of the same name.
M.slash_commands = {
  { word = '/review', info = 'review the session\'s changes' },
  { word = '/commit', info = 'commit the worktree on the session branch' },
  { word = '/merge', info = 'merge the branch into its base' },
  { word = '/export', info = 'export the conversation' },
  { word = '/cancel', info = 'interrupt the turn' },
  { word = '/stop', info = 'stop the session (resumable)' },
  { word = '/fork', info = 'fork the session from its latest checkpoint' },
  { word = '/clone', info = 'a new session with the same settings' },
  { word = '/mode', info = 'change the permission mode' },
  { word = '/model', info = 'change the model' },
  { word = '/rename', info = 'set the title' },
}

--- The slash commands each session's agent offers (its latest `available_commands` event), by
--- session id; sent to the agent as typed.
local agent_commands = {}

--- Records the commands `session_id`'s agent offers now.
---@param session_id string
---@param commands { name: string, description: string, hint: string? }[]
function M.set_agent_commands(session_id, commands)
  local items = {}
  for _, command in ipairs(commands or {}) do
    if type(command.name) == 'string' then
      local info = command.description or ''
      if type(command.hint) == 'string' and command.hint ~= '' then
        info = info .. ' (' .. command.hint .. ')'
      end
      table.insert(items, { word = '/' .. command.name, info = info })
    end
  end
  agent_commands[session_id] = items
end

--- Arbor's slash commands, then the agent's that do not clash with them.
local function slash_candidates(session_id)
  local candidates = vim.list_slice(M.slash_commands)
  for _, item in ipairs(agent_commands[session_id] or {}) do
    if not own_command_named(item.word) then
      table.insert(candidates, item)
    end
  end
  return candidates
end

local CONTEXT_WORDS = {
  { word = '#buffer', info = 'the text of the buffer the composer was opened from' },
}

--- The composer state of the current buffer, if it is one.
local function current()
  for _, state in pairs(drafts) do
    if state.bufnr == vim.api.nvim_get_current_buf() then
      return state
    end
  end
end

--- 'omnifunc' of the composer: slash commands at the start of the message, #words anywhere.
function M.omnifunc(findstart, base)
  if findstart == 1 then
    local line = vim.api.nvim_get_current_line():sub(1, vim.fn.col('.') - 1)
    local start = line:find('[/#][%w_-]*$')
    return start and (start - 1) or -3
  end
  local state = current()
  local candidates = base:sub(1, 1) == '/' and slash_candidates(state and state.session_id) or CONTEXT_WORDS
  local matches = {}
  for _, item in ipairs(candidates) do
    if item.word:sub(1, #base) == base then
      table.insert(matches, { word = item.word, menu = item.info })
    end
  end
  return matches
end

--- A fenced block of `lines` from `bufnr`, named by its path relative to the working directory.
function M.quote(bufnr, lines, first, last)
  local name = vim.api.nvim_buf_get_name(bufnr)
  name = name ~= '' and vim.fn.fnamemodify(name, ':~:.') or '[No Name]'
  local where = first and string.format('%s lines %d-%d', name, first, last) or name
  local out = { 'From `' .. where .. '`:', '```' .. (vim.bo[bufnr].filetype or '') }
  vim.list_extend(out, lines)
  table.insert(out, '```')
  return out
end

--- The message as sent: `#buffer` becomes the origin buffer's text, quoted below the message.
local function expand(state, text)
  if not text:find('#buffer', 1, true) then
    return text
  end
  local origin = state.origin
  if not origin or not vim.api.nvim_buf_is_valid(origin) then
    return text
  end
  local lines = vim.api.nvim_buf_get_lines(origin, 0, -1, false)
  return text .. '\n\n' .. table.concat(M.quote(origin, lines), '\n')
end

--- Arbor's own slash command the message is, with its argument; nil for anything else.
local function own_command(text)
  local name, rest = vim.trim(text):match('^/(%S+)%s*(.*)$')
  if not name then
    return nil
  end
  if own_command_named('/' .. name) then
    return name, rest
  end
end

local function close(state)
  if state.win and vim.api.nvim_win_is_valid(state.win) then
    pcall(vim.api.nvim_win_close, state.win, true)
  end
  state.win = nil
end

--- Sends the composer's text; the buffer is emptied and closed only once it was accepted.
function M.send(state)
  state = state or current()
  if not state then
    return
  end
  local text = table.concat(vim.api.nvim_buf_get_lines(state.bufnr, 0, -1, false), '\n')
  if vim.trim(text) == '' then
    vim.notify('Arbor: the message is empty', vim.log.levels.WARN)
    return
  end
  local name, rest = own_command(text)
  if name and state.session_id then
    drafts[state.key] = nil
    close(state)
    vim.api.nvim_buf_delete(state.bufnr, { force = true })
    require('arbor').run_command(name, rest, state.session_id)
    return
  end
  state.on_send(expand(state, text), function()
    drafts[state.key] = nil
    close(state)
    if vim.api.nvim_buf_is_valid(state.bufnr) then
      vim.api.nvim_buf_delete(state.bufnr, { force = true })
    end
  end)
end

--- The composer's keys, for `?` and the documentation.
function M.keys()
  local keys = require('arbor').config.keymaps.composer
  return {
    { keys.send, 'send the message (normal and insert mode)' },
    { '<CR>', 'send the message (normal mode)' },
    { keys.close, 'close the composer; the draft is kept' },
    { '/', 'complete a slash command at the start of the message (<C-x><C-o>)' },
    { '#', 'complete #buffer: the text of the buffer you came from' },
    { keys.help, 'this help' },
  }
end

local function keymaps(state)
  local keys = require('arbor').config.keymaps.composer
  local opts = { buffer = state.bufnr, silent = true, nowait = true }
  local function send() M.send(state) end
  vim.keymap.set({ 'n', 'i' }, keys.send, send, opts)
  vim.keymap.set('n', '<CR>', send, opts)
  vim.keymap.set('n', keys.close, function() close(state) end, opts)
  vim.keymap.set('n', keys.help, function()
    window.help('Arbor composer keys', M.keys())
  end, opts)
end

--- Opens completion as soon as a slash command or a #word starts.
local function autocomplete(state)
  vim.api.nvim_create_autocmd('InsertCharPre', {
    buffer = state.bufnr,
    callback = function()
      local char = vim.v.char
      local before = vim.api.nvim_get_current_line():sub(1, vim.fn.col('.') - 1)
      if (char == '/' and before == '' and vim.fn.line('.') == 1) or (char == '#' and (before == '' or before:match('%s$'))) then
        vim.schedule(function()
          if vim.api.nvim_get_current_buf() == state.bufnr and vim.fn.mode() == 'i' then
            vim.api.nvim_feedkeys(vim.keycode('<C-x><C-o>'), 'n', false)
          end
        end)
      end
    end,
  })
end

local function open_window(state)
  local layout = require('arbor').config.composer.layout
  local chat = state.session_id and require('arbor.chat').get(state.session_id)
  local chat_win = chat and vim.fn.win_findbuf(chat.bufnr)[1]
  if layout == 'split' and chat_win and vim.api.nvim_win_get_config(chat_win).relative == '' then
    vim.api.nvim_set_current_win(chat_win)
    vim.cmd('belowright ' .. require('arbor').config.composer.height .. 'split')
    state.win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(state.win, state.bufnr)
  else
    local width = math.max(math.floor(vim.o.columns * 0.6), 40)
    local height = require('arbor').config.composer.height
    state.win = vim.api.nvim_open_win(state.bufnr, true, {
      relative = 'editor',
      width = width,
      height = height,
      row = math.floor((vim.o.lines - height) / 2),
      col = math.floor((vim.o.columns - width) / 2),
      border = 'rounded',
      title = ' ' .. state.title .. ' ',
    })
  end
  window.set_local(state.win, { wrap = true, linebreak = true, winfixbuf = true, winbar = state.title .. '  (' .. require('arbor').config.keymaps.composer.send .. ' sends, ? keys)' })
end

--- Opens the composer. `opts`: key (one draft per key), session_id (for slash commands), title,
--- lines (initial text, such as a quoted selection), on_send(text, accepted) (call `accepted()`
--- once the server took it). Returns the composer's buffer.
function M.open(opts)
  local origin = vim.api.nvim_get_current_buf()
  local state = drafts[opts.key]
  if state and vim.api.nvim_buf_is_valid(state.bufnr) then
    state.on_send = opts.on_send
    if opts.lines then
      vim.api.nvim_buf_set_lines(state.bufnr, -1, -1, false, opts.lines)
    end
  else
    local bufnr = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(bufnr, 'arbor://compose ' .. opts.title)
    vim.bo[bufnr].filetype = 'markdown'
    vim.bo[bufnr].bufhidden = 'hide'
    vim.bo[bufnr].omnifunc = "v:lua.require'arbor.composer'.omnifunc"
    state = { key = opts.key, bufnr = bufnr, session_id = opts.session_id, title = opts.title, on_send = opts.on_send }
    drafts[opts.key] = state
    if opts.lines then
      vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, vim.list_extend(vim.deepcopy(opts.lines), { '' }))
    end
    keymaps(state)
    autocomplete(state)
  end
  -- #buffer means the file you were in; from a chat or another Arbor buffer, the last one.
  if vim.bo[origin].buftype == '' then
    state.origin = origin
  else
    state.origin = state.origin or require('arbor').last_file_buffer()
  end
  if not (state.win and vim.api.nvim_win_is_valid(state.win)) then
    open_window(state)
  else
    vim.api.nvim_set_current_win(state.win)
  end
  local last = vim.api.nvim_buf_line_count(state.bufnr)
  vim.api.nvim_win_set_cursor(state.win, { last, 0 })
  vim.cmd('startinsert!')
  return state.bufnr
end

--- The composer state of `key`, if one is open (for tests).
function M.get(key)
  return drafts[key]
end

return M
