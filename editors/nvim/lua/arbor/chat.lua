-- The chat buffer: one scratch buffer per session showing its history, then its live events.
-- Streamed chunks are batched into few buffer edits; thinking and tool calls are folded blocks
-- updated in place (tracked with extmarks); permission requests are answered from the buffer.

local client = require('arbor.client')

local M = {}

local ns = vim.api.nvim_create_namespace('arbor_chat')
local chats = {} -- session id -> chat
local FLUSH_MS = 16
local MAX_BLOCK_LINES = 40
local ICONS = { pending = '⏳', in_progress = '⏳', completed = '✓', failed = '✗' }

local Chat = {}
Chat.__index = Chat

local function split_lines(text)
  return vim.split(text, '\n', { plain = true })
end

--- The fold level of a chat line: block headers open a fold, their indented content is inside.
function M.foldexpr(lnum)
  local line = vim.fn.getline(lnum)
  if line:match('^▸ ') then
    return '>1'
  elseif line:match('^  │') then
    return '1'
  end
  return '0'
end

function Chat:set_lines(start, finish, lines)
  vim.bo[self.bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(self.bufnr, start, finish, false, lines)
  vim.bo[self.bufnr].modifiable = false
end

function Chat:line_count()
  return vim.api.nvim_buf_line_count(self.bufnr)
end

--- Appends whole lines (the buffer's first, empty line is replaced).
function Chat:append(lines)
  if self.empty then
    self.empty = false
    self:set_lines(0, -1, lines)
  else
    self:set_lines(-1, -1, lines)
  end
  self.streaming = nil
end

--- Appends text to the end of the buffer; each new line it starts gets `prefix`.
function Chat:append_text(text, prefix)
  local parts = split_lines(text)
  for index = 2, #parts do
    parts[index] = prefix .. parts[index]
  end
  local row = self:line_count() - 1
  local col = #(vim.api.nvim_buf_get_lines(self.bufnr, row, row + 1, false)[1] or '')
  vim.bo[self.bufnr].modifiable = true
  vim.api.nvim_buf_set_text(self.bufnr, row, col, row, col, parts)
  vim.bo[self.bufnr].modifiable = false
end

function Chat:stream(kind, text)
  if self.streaming ~= kind then
    if kind == 'message' then
      self:append({ '', '**Agent:**', '' })
    else
      self:append({ '▸ 💭 Thinking', '  │ ' })
    end
    self.streaming = kind
  end
  self:append_text(text, kind == 'thought' and '  │ ' or '')
end

local function content_lines(content)
  local lines = {}
  local function add(text)
    for _, line in ipairs(split_lines(text)) do
      table.insert(lines, '  │ ' .. line)
    end
  end
  for _, item in ipairs(content or {}) do
    if item.type == 'text' then
      add(item.text)
    elseif item.type == 'diff' then
      local created = item.oldText == nil or item.oldText == vim.NIL
      local verb = created and 'created' or 'edited'
      table.insert(lines, '  │ ' .. verb .. ' ' .. item.path)
      local new = split_lines(item.newText or '')
      for index = 1, math.min(#new, MAX_BLOCK_LINES) do
        table.insert(lines, '  │ + ' .. new[index])
      end
    elseif item.type == 'terminal' then
      local output = split_lines(item.output or '')
      if output[#output] == '' then table.remove(output) end
      for index = 1, math.min(#output, MAX_BLOCK_LINES) do
        table.insert(lines, '  │ ' .. output[index])
      end
      if #output > MAX_BLOCK_LINES then
        table.insert(lines, '  │ … ' .. (#output - MAX_BLOCK_LINES) .. ' more lines')
      end
      if item.exitCode ~= nil and item.exitCode ~= vim.NIL then
        table.insert(lines, '  │ exit code ' .. item.exitCode)
      end
    end
  end
  return lines
end

function Chat:tool_header(tool)
  return '▸ ' .. (ICONS[tool.status] or '•') .. ' ' .. tool.title
end

function Chat:tool_call(event)
  local tool = { title = event.title, status = event.status, count = 0 }
  self:append({ '' })
  local row = self:line_count()
  self:append({ self:tool_header(tool) })
  tool.mark = vim.api.nvim_buf_set_extmark(self.bufnr, ns, row, 0, {})
  self.tools[event.toolCallId] = tool
  self:replace_tool_content(tool, content_lines(event.content))
end

function Chat:replace_tool_content(tool, lines)
  local row = vim.api.nvim_buf_get_extmark_by_id(self.bufnr, ns, tool.mark, {})[1]
  self:set_lines(row + 1, row + 1 + tool.count, lines)
  tool.count = #lines
  self.streaming = nil
end

function Chat:tool_update(event)
  local tool = self.tools[event.toolCallId]
  if not tool then
    return
  end
  if event.status ~= nil and event.status ~= vim.NIL then tool.status = event.status end
  if event.title ~= nil and event.title ~= vim.NIL then tool.title = event.title end
  local row = vim.api.nvim_buf_get_extmark_by_id(self.bufnr, ns, tool.mark, {})[1]
  self:set_lines(row, row + 1, { self:tool_header(tool) })
  if event.content ~= nil and event.content ~= vim.NIL then
    self:replace_tool_content(tool, content_lines(event.content))
  end
end

function Chat:permission_request(event)
  local names = {}
  local keys = { allow_once = 'a', allow_always = 'A', reject_once = 'r', reject_always = 'R' }
  for _, option in ipairs(event.options or {}) do
    table.insert(names, '[' .. (keys[option.kind] or '?') .. '] ' .. option.name)
  end
  self:append({ '', '? Permission: ' .. event.title .. '   ' .. table.concat(names, '  ') })
  local row = self:line_count() - 1
  local mark = vim.api.nvim_buf_set_extmark(self.bufnr, ns, row, 0, {})
  self.permissions[event.requestId] = { mark = mark, title = event.title, options = event.options }
end

local function given(value)
  return value ~= nil and value ~= vim.NIL
end

--- How a decision of the permission policy reads: "allowed by policy (execute: npm test)".
local function policy_answer(rule)
  local verb = (given(rule) and rule.action == 'deny') and 'denied' or 'allowed'
  local what
  if not given(rule) or rule.level == 'mode' then
    what = 'bypass_permissions'
  else
    local parts = {}
    if given(rule.kind) then table.insert(parts, rule.kind) end
    if given(rule.pattern) then table.insert(parts, rule.pattern) end
    what = #parts > 0 and table.concat(parts, ': ') or 'every action'
  end
  return verb .. ' by policy (' .. what .. ')'
end

function Chat:permission_resolved(event)
  local permission = self.permissions[event.requestId]
  if not permission then
    return
  end
  local row = vim.api.nvim_buf_get_extmark_by_id(self.bufnr, ns, permission.mark, {})[1]
  local answer = given(event.optionId) and event.optionId or 'cancelled'
  if event.by == 'policy' then
    answer = policy_answer(event.rule)
  end
  self:set_lines(row, row + 1, { '✓ Permission: ' .. permission.title .. ' → ' .. answer })
  self.permissions[event.requestId] = nil
end

--- The pending permission request on the cursor's line, else the newest one.
function Chat:permission_at_cursor()
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local newest, newest_row
  for request_id, permission in pairs(self.permissions) do
    local mark_row = vim.api.nvim_buf_get_extmark_by_id(self.bufnr, ns, permission.mark, {})[1]
    if mark_row == row then
      return request_id, permission
    end
    if not newest_row or mark_row > newest_row then
      newest, newest_row = request_id, mark_row
    end
  end
  return newest, newest and self.permissions[newest]
end

--- Answers the permission request at the cursor with the option of `kind`.
function Chat:answer(kind)
  local request_id, permission = self:permission_at_cursor()
  if not request_id then
    vim.notify('Arbor: no permission request is waiting', vim.log.levels.WARN)
    return
  end
  for _, option in ipairs(permission.options or {}) do
    if option.kind == kind then
      client.request('session/respond', { sessionId = self.session_id, requestId = request_id, optionId = option.optionId })
      return
    end
  end
  vim.notify('Arbor: this request has no such option', vim.log.levels.WARN)
end

--- The header line: agent, model, status, agent state and cost.
function Chat:header()
  local session = self.session or {}
  local state = (session.agentState ~= nil and session.agentState ~= vim.NIL) and (' · ' .. session.agentState) or ''
  local model = (session.model ~= nil and session.model ~= vim.NIL) and (' (' .. session.model .. ')') or ''
  local cost = string.format('$%.4f', vim.tbl_get(session, 'usage', 'costUsd') or 0)
  local title = (session.title ~= nil and session.title ~= vim.NIL) and session.title or 'untitled'
  return string.format('Arbor: %s — %s%s · %s%s · %s', title, session.agent or '?', model, session.status or '?', state, cost)
end

function Chat:refresh_header()
  local header = self:header():gsub('%%', '%%%%')
  for _, win in ipairs(vim.fn.win_findbuf(self.bufnr)) do
    vim.wo[win].winbar = header
  end
end

function Chat:render(event)
  local kind = event.kind
  if kind == 'agent_message_chunk' then
    self:stream('message', event.text)
  elseif kind == 'agent_thought_chunk' then
    self:stream('thought', event.text)
  elseif kind == 'user_message' then
    self:append({ '', '## You', '' })
    self:append(split_lines(event.text))
  elseif kind == 'tool_call' then
    self:tool_call(event)
  elseif kind == 'tool_call_update' then
    self:tool_update(event)
  elseif kind == 'plan' then
    local lines = { '', '▸ 📋 Plan' }
    for index, entry in ipairs(event.entries or {}) do
      table.insert(lines, string.format('  │ %d. %s (%s)', index, entry.content, entry.status))
    end
    self:append(lines)
  elseif kind == 'permission_request' then
    self:permission_request(event)
  elseif kind == 'permission_resolved' then
    self:permission_resolved(event)
  elseif kind == 'turn_ended' then
    self:append({ '', '— turn ended (' .. event.stopReason .. ') —' })
  elseif kind == 'error' then
    self:append({ '', '> ⚠ ' .. split_lines(event.message)[1] })
  elseif kind == 'notice' or kind == 'external_change' then
    self:append({ '', '> ' .. split_lines(event.message)[1] })
  elseif kind == 'usage' then
    self.session = self.session or {}
    self.session.usage = event.total
    self:refresh_header()
  elseif kind == 'status_changed' then
    self.session = self.session or {}
    self.session.status = event.status
    self.session.agentState = event.agentState
    self:refresh_header()
  elseif kind == 'files_changed' then
    require('arbor.review').on_files_changed(self.session_id)
  end
end

--- Windows whose cursor is on the last line: they follow the end of the stream.
function Chat:following_windows()
  local last = self:line_count()
  local following = {}
  for _, win in ipairs(vim.fn.win_findbuf(self.bufnr)) do
    if vim.api.nvim_win_get_cursor(win)[1] >= last then
      table.insert(following, win)
    end
  end
  return following
end

--- Renders every queued event in one pass, merging runs of chunks into one edit each.
function Chat:flush()
  self.flush_scheduled = false
  if not vim.api.nvim_buf_is_valid(self.bufnr) then
    return
  end
  local queue = self.queue
  self.queue = {}
  local following = self:following_windows()
  local index = 1
  while index <= #queue do
    local event = queue[index]
    if event.kind == 'agent_message_chunk' or event.kind == 'agent_thought_chunk' then
      local parts = { event.text }
      while queue[index + 1] and queue[index + 1].kind == event.kind do
        index = index + 1
        table.insert(parts, queue[index].text)
      end
      self:render({ kind = event.kind, text = table.concat(parts) })
    else
      self:render(event)
    end
    index = index + 1
  end
  local last = self:line_count()
  for _, win in ipairs(following) do
    if vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_set_cursor(win, { last, 0 })
    end
  end
end

function Chat:receive(notification)
  if notification.seq <= self.last_seq then
    return
  end
  self.last_seq = notification.seq
  table.insert(self.queue, notification.event)
  if not self.flush_scheduled then
    self.flush_scheduled = true
    vim.defer_fn(function()
      self:flush()
    end, FLUSH_MS)
  end
end

local function keymaps(chat)
  local opts = { buffer = chat.bufnr, nowait = true, silent = true }
  local config = require('arbor').config.keymaps.chat
  vim.keymap.set('n', config.allow, function() chat:answer('allow_once') end, opts)
  vim.keymap.set('n', config.allow_always, function() chat:answer('allow_always') end, opts)
  vim.keymap.set('n', config.reject, function() chat:answer('reject_once') end, opts)
  vim.keymap.set('n', config.send, function() require('arbor').send(chat.session_id) end, opts)
  vim.keymap.set('n', config.cancel, function() require('arbor').cancel(chat.session_id) end, opts)
end

local listening = false
local function listen()
  if listening then
    return
  end
  listening = true
  client.on('session/event', function(params)
    local chat = chats[params.sessionId]
    if chat then
      chat:receive(params)
    end
  end)
  client.on('session/changed', function(params)
    local chat = chats[params.session.id]
    if chat then
      chat.session = params.session
      chat:refresh_header()
    end
  end)
end

local function show(bufnr, layout)
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(win) == bufnr then
      vim.api.nvim_set_current_win(win)
      return
    end
  end
  if layout == 'split' then
    vim.cmd('split')
  elseif layout == 'tab' then
    vim.cmd('tabnew')
  elseif layout ~= 'current' then
    vim.cmd('vsplit')
  end
  vim.api.nvim_win_set_buf(0, bufnr)
  local win = vim.api.nvim_get_current_win()
  vim.wo[win].foldmethod = 'expr'
  vim.wo[win].foldexpr = "v:lua.require'arbor.chat'.foldexpr(v:lnum)"
  vim.wo[win].foldlevel = 0
  vim.wo[win].wrap = true
end

--- Opens (or shows again) the chat of a session: its history, then its live events.
function M.open(session_id, opts)
  opts = opts or {}
  listen()
  local chat = chats[session_id]
  if chat and vim.api.nvim_buf_is_valid(chat.bufnr) then
    show(chat.bufnr, opts.layout or require('arbor').config.layout)
    chat:refresh_header()
    return chat
  end
  local bufnr = vim.api.nvim_create_buf(true, true)
  vim.api.nvim_buf_set_name(bufnr, 'arbor://chat/' .. session_id)
  vim.bo[bufnr].filetype = 'markdown'
  vim.bo[bufnr].modifiable = false
  vim.b[bufnr].arbor_session = session_id
  chat = setmetatable({
    bufnr = bufnr,
    session_id = session_id,
    queue = {},
    tools = {},
    permissions = {},
    last_seq = 0,
    empty = true,
  }, Chat)
  chats[session_id] = chat
  keymaps(chat)
  show(bufnr, opts.layout or require('arbor').config.layout)
  client.request('session/get', { sessionId = session_id }, function(session)
    chat.session = session
    chat:refresh_header()
  end)
  -- History page by page, then live from where it ends: gap-free, each seq once.
  local function page(after)
    client.request('session/events', { sessionId = session_id, afterSeq = after, limit = 1000 }, function(result)
      for _, notification in ipairs(result.events) do
        chat:receive(notification)
      end
      if result.hasMore then
        page(chat.last_seq)
      else
        client.request('session/subscribe', { sessionId = session_id, afterSeq = chat.last_seq })
      end
    end)
  end
  page(0)
  vim.api.nvim_create_autocmd('BufWipeout', {
    buffer = bufnr,
    once = true,
    callback = function()
      chats[session_id] = nil
      client.request('session/unsubscribe', { sessionId = session_id }, nil, function() end)
    end,
  })
  return chat
end

--- The chat shown in `bufnr` (default: the current buffer), if any.
function M.for_buffer(bufnr)
  local session_id = vim.b[bufnr or 0].arbor_session
  return session_id and chats[session_id]
end

--- The chat of a session, if open.
function M.get(session_id)
  return chats[session_id]
end

return M
