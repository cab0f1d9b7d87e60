-- The chat buffer: one scratch buffer per session showing its history, then its live events.
-- Streamed chunks are batched into few buffer edits; thinking and tool calls are folded blocks
-- updated in place (tracked with extmarks); permission requests are answered from the buffer.
-- Replies are Markdown, highlighted by treesitter (by Vim's Markdown syntax in a chat that opens
-- longer than MAX_TREESITTER_LINES); the role headings are concealed to a word.

local client = require('arbor.client')
local protocol = require('arbor.protocol')
local window = require('arbor.window')

local M = {}

local ns = vim.api.nvim_create_namespace('arbor_chat')
local chats = {} -- session id -> chat
local FLUSH_MS = 16
--- Events asked for per `session/events` page when a chat opens: the server's largest page.
M.HISTORY_PAGE = 5000
-- Treesitter's Markdown highlighting costs more than the buffer grows (each paragraph is an
-- inline region of its own, visited again on every redraw: 0.4 s a redraw at 250,000 lines), so
-- a chat that opens longer than this keeps Vim's Markdown syntax, which looks only at the lines
-- on screen.
local MAX_TREESITTER_LINES = 20000
local MAX_BLOCK_LINES = 20
local ICONS = { pending = '⏳', in_progress = '⏳', completed = '✓', failed = '✗' }
-- A block's header starts with this marker while open; a closed fold shows FOLDED instead.
local OPEN = '▾ '
local FOLDED = '▸ '
local GUTTER = '  │ '
local THINKING = OPEN .. '💭 Thinking'

---@class arbor.Chat
---@field bufnr integer
---@field session_id string
---@field queue table[] events waiting for the next flush
---@field tail? arbor.ChatTail lines rendered and not yet written
---@field treesitter? boolean whether treesitter highlights the chat (nil until its first write)
local Chat = {}
Chat.__index = Chat

local function split_lines(text)
  return vim.split(text, '\n', { plain = true })
end

local function given(value)
  return value ~= nil and value ~= vim.NIL
end

-- Folds come from `b:arbor_folds`, the fold level of each line as a Vim List that every edit of
-- the chat keeps in step (Chat:refold): a fold expression that calls a function costs a call per
-- line, 0.5 s for a history of 250,000 lines, and a List lookup a fifth of that.
local FOLDEXPR = 'b:arbor_folds[v:lnum - 1]'

--- The fold level of a chat line, as a Vim expression: block headers open a fold, their
--- indented content is inside.
---@param line string
---@return string
local function fold_level(line)
  if line:sub(1, #OPEN) == OPEN then
    return "'>1'"
  elseif line:sub(1, #GUTTER) == GUTTER then
    return '1'
  end
  return '0'
end

--- A closed block reads "▸ <header> (N lines)"; an open one shows its own "▾" header line.
function M.foldtext()
  local header = vim.fn.getline(vim.v.foldstart):sub(#OPEN + 1)
  local count = vim.v.foldend - vim.v.foldstart
  return FOLDED .. header .. string.format('  (%d line%s)', count, count == 1 and '' or 's')
end

--- Makes `b:arbor_folds` say the levels of `lines`, which are about to replace the 0-based rows
--- from `start` up to (not including) `finish`, before the edit, whose fold update reads them.
---@param start integer
---@param finish integer
---@param lines string[]
function Chat:refold(start, finish, lines)
  local levels = {}
  for index, line in ipairs(lines) do
    levels[index] = fold_level(line)
  end
  local list = '[' .. table.concat(levels, ',') .. ']'
  if start == 0 and finish >= vim.api.nvim_buf_line_count(self.bufnr) then
    vim.cmd(string.format("call setbufvar(%d, 'arbor_folds', %s)", self.bufnr, list))
    return
  end
  local folds = string.format("getbufvar(%d, 'arbor_folds')", self.bufnr)
  if finish > start then
    vim.cmd(string.format('call remove(%s, %d, %d)', folds, start, finish - 1))
  end
  vim.cmd(string.format('call extend(%s, %s, %d)', folds, list, start))
end

--- Replaces the 0-based rows from `start` up to (not including) `finish` with `lines`.
---@param start integer
---@param finish integer
---@param lines string[]
function Chat:set_lines(start, finish, lines)
  self:refold(start, finish, lines)
  vim.bo[self.bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(self.bufnr, start, finish, false, lines)
  vim.bo[self.bufnr].modifiable = false
end

-- Rendering goes through a pending tail: the lines a flush appends are kept in Lua, in blocks
-- with their extmarks, and written in one edit when the flush ends (`Chat:commit`). A history of
-- 100,000 events is then one buffer edit and one parse instead of hundreds of thousands, and a
-- block still pending (a tool call, a permission) is updated in its table, not in the buffer.

---@class arbor.ChatMark An extmark to set once its block is written.
---@field line integer the line of the block it is on (1-based)
---@field col integer
---@field opts? vim.api.keyset.set_extmark (a `whole_line` mark's are made when it is written)
---@field whole_line? string a highlight group over the line's whole text, as written
---@field owner? arbor.ChatItem the tool call or permission that keeps the mark's id
---@field key? 'mark'|'highlight' the owner's field for the id (default `mark`, its position)

---@class arbor.ChatBlock Lines appended together, with their extmarks.
---@field lines string[]
---@field marks arbor.ChatMark[]

---@class arbor.ChatItem A tool call or permission request: its block while pending, then its mark.
---@field block? arbor.ChatBlock
---@field mark? integer
---@field highlight? integer the extmark highlighting a waiting permission request

---@class arbor.ChatTail
---@field start integer 0-based row of its first line
---@field count integer its lines
---@field replace boolean it replaces the new buffer's one empty line
---@field blocks arbor.ChatBlock[]

--- Writes the pending tail to the buffer, then its extmarks.
function Chat:commit()
  local tail = self.tail
  if not tail then
    return
  end
  self.tail = nil
  local lines, marks, rows, whole = {}, {}, {}, {}
  for _, block in ipairs(tail.blocks) do
    local row = tail.start + #lines
    for _, mark in ipairs(block.marks) do
      local count = #marks + 1
      marks[count], rows[count] = mark, row + mark.line - 1
      if mark.whole_line then
        whole[count] = { end_col = #block.lines[mark.line], hl_group = mark.whole_line }
      end
    end
    for _, line in ipairs(block.lines) do
      lines[#lines + 1] = line
    end
  end
  self:set_lines(tail.start, tail.replace and 1 or tail.start, lines)
  -- Highlighting starts after the first write, the history, so it parses the buffer once.
  if self.treesitter == nil then
    self.treesitter = #lines <= MAX_TREESITTER_LINES and pcall(vim.treesitter.start, self.bufnr, 'markdown')
  end
  for index, mark in ipairs(marks) do
    local id = vim.api.nvim_buf_set_extmark(self.bufnr, ns, rows[index], mark.col, whole[index] or mark.opts)
    if mark.owner then
      mark.owner[mark.key or 'mark'] = id
      mark.owner.block = nil
    end
  end
end

function Chat:line_count()
  if self.tail then
    return self.tail.start + self.tail.count
  end
  return vim.api.nvim_buf_line_count(self.bufnr)
end

--- Appends whole lines (the buffer's first, empty line is replaced) as a pending block, with
--- its extmarks; returns the block.
---@param lines string[]
---@param marks? arbor.ChatMark[]
---@return arbor.ChatBlock
function Chat:append(lines, marks)
  local tail = self.tail
  if not tail then
    tail = { start = self.empty and 0 or vim.api.nvim_buf_line_count(self.bufnr), count = 0, replace = self.empty, blocks = {} }
    self.tail = tail
    self.empty = false
  end
  local block = { lines = lines, marks = marks or {} }
  tail.blocks[#tail.blocks + 1] = block
  tail.count = tail.count + #lines
  self.streaming = nil
  return block
end

-- The marks of a role heading, by its word: one list for every heading, as marks are read, not
-- changed, when written.
local heading_marks = {} ---@type table<string, arbor.ChatMark[]>

--- Appends a role heading ("## You"), its "## " concealed and the word highlighted.
function Chat:heading(text, group)
  local marks = heading_marks[text]
  if not marks then
    marks = {
      { line = 2, col = 0, opts = { end_col = 3, conceal = '' } },
      { line = 2, col = 3, opts = { end_col = 3 + #text, hl_group = group } },
    }
    heading_marks[text] = marks
  end
  self:append({ '', '## ' .. text, '' }, marks)
end

--- Appends text to the end of the buffer; each new line it starts gets `prefix`.
function Chat:append_text(text, prefix)
  local parts = text:find('\n', 1, true) and split_lines(text) or { text }
  for index = 2, #parts do
    parts[index] = prefix .. parts[index]
  end
  local tail = self.tail
  if tail then
    local lines = tail.blocks[#tail.blocks].lines
    lines[#lines] = lines[#lines] .. parts[1]
    for index = 2, #parts do
      lines[#lines + 1] = parts[index]
    end
    tail.count = tail.count + #parts - 1
    return
  end
  -- A reply that goes on from the last flush: its text is added to the buffer's last line.
  local row = self:line_count() - 1
  local last = vim.api.nvim_buf_get_lines(self.bufnr, row, row + 1, false)[1] or ''
  local col = #last
  local lines = vim.list_extend({ last .. parts[1] }, parts, 2)
  self:refold(row, row + 1, lines)
  vim.bo[self.bufnr].modifiable = true
  vim.api.nvim_buf_set_text(self.bufnr, row, col, row, col, parts)
  vim.bo[self.bufnr].modifiable = false
end

--- The 0-based row of a written item's first line; a pending one is written first.
---@param item arbor.ChatItem
---@return integer
function Chat:item_row(item)
  if item.block then
    self:commit()
  end
  return vim.api.nvim_buf_get_extmark_by_id(self.bufnr, ns, item.mark, {})[1]
end

function Chat:stream(kind, text)
  if self.streaming ~= kind then
    if kind == 'message' then
      self:heading('Agent', 'ArborChatAgent')
    else
      self:append({ THINKING, GUTTER })
    end
    self.streaming = kind
  end
  self:append_text(text, kind == 'thought' and GUTTER or '')
end

--- Lines of `lines` up to the block limit unless `expanded`, with a note of what is left out.
local function limited(lines, expanded, out)
  local shown = expanded and #lines or math.min(#lines, MAX_BLOCK_LINES)
  for index = 1, shown do
    table.insert(out, lines[index])
  end
  if #lines > shown then
    local key = require('arbor').config.keymaps.chat.expand
    table.insert(out, string.format('%s… %d more lines (%s shows them)', GUTTER, #lines - shown, key))
  end
end

local function content_lines(content, expanded)
  local lines = {}
  for _, item in ipairs(content or {}) do
    if item.type == 'text' then
      limited(vim.tbl_map(function(line) return GUTTER .. line end, split_lines(item.text)), expanded, lines)
    elseif item.type == 'diff' then
      local created = not given(item.oldText)
      table.insert(lines, GUTTER .. (created and 'created' or 'edited') .. ' ' .. item.path)
      local new = split_lines(item.newText or '')
      if new[#new] == '' then table.remove(new) end
      limited(vim.tbl_map(function(line) return GUTTER .. '+ ' .. line end, new), expanded, lines)
    elseif item.type == 'terminal' then
      local output = split_lines(item.output or '')
      if output[#output] == '' then table.remove(output) end
      limited(vim.tbl_map(function(line) return GUTTER .. line end, output), expanded, lines)
      if given(item.exitCode) then
        table.insert(lines, GUTTER .. 'exit code ' .. item.exitCode)
      end
    end
  end
  return lines
end

function Chat:tool_header(tool)
  return OPEN .. (ICONS[tool.status] or '•') .. ' ' .. tool.title
end

function Chat:tool_call(event)
  local tool = { title = event.title, status = event.status, count = 0, content = event.content }
  -- Left gravity: replacing the header line in place must not push the mark below it.
  tool.block = self:append({ '', self:tool_header(tool) }, { { line = 2, col = 0, opts = { right_gravity = false }, owner = tool } })
  self.tools[event.toolCallId] = tool
  self:replace_tool_content(tool)
end

function Chat:tool_row(tool)
  return self:item_row(tool)
end

function Chat:replace_tool_content(tool)
  local lines = content_lines(tool.content, tool.expanded)
  local block = tool.block
  if block then
    -- The block is the blank line, the header, then the content.
    for _ = 1, tool.count do
      table.remove(block.lines, 3)
    end
    for index, line in ipairs(lines) do
      table.insert(block.lines, 2 + index, line)
    end
    self.tail.count = self.tail.count + #lines - tool.count
  else
    local row = self:tool_row(tool)
    self:set_lines(row + 1, row + 1 + tool.count, lines)
  end
  tool.count = #lines
  self.streaming = nil
end

function Chat:tool_update(event)
  local tool = self.tools[event.toolCallId]
  if not tool then
    return
  end
  if given(event.status) then tool.status = event.status end
  if given(event.title) then tool.title = event.title end
  if tool.block then
    tool.block.lines[2] = self:tool_header(tool)
  else
    local row = self:tool_row(tool)
    self:set_lines(row, row + 1, { self:tool_header(tool) })
  end
  if given(event.content) then
    tool.content = event.content
    self:replace_tool_content(tool)
  end
end

--- The tool call whose block holds 0-based `row`, if any.
function Chat:tool_at(row)
  for _, tool in pairs(self.tools) do
    local header = self:tool_row(tool)
    if row >= header and row <= header + tool.count then
      return tool, header
    end
  end
end

--- Shows a tool call's whole output (or its first lines again) and opens its fold.
function Chat:toggle_expand()
  local cursor = vim.api.nvim_win_get_cursor(0)
  local tool, header = self:tool_at(cursor[1] - 1)
  if not tool then
    pcall(vim.cmd, 'normal! za')
    return
  end
  tool.expanded = not tool.expanded
  self:replace_tool_content(tool)
  vim.api.nvim_win_set_cursor(0, { header + 1, 0 })
  pcall(vim.cmd, 'normal! zv')
end

function Chat:permission_request(event)
  local names = {}
  local keys = require('arbor').config.keymaps.chat
  local by_kind = { allow_once = keys.allow, allow_always = keys.allow_always, reject_once = keys.reject, reject_always = keys.reject }
  for _, option in ipairs(event.options or {}) do
    table.insert(names, '[' .. (by_kind[option.kind] or '?') .. '] ' .. option.name)
  end
  local permission = { title = event.title, options = event.options }
  permission.block = self:append({ '', '? Permission: ' .. event.title .. '   ' .. table.concat(names, '  ') }, {
    { line = 2, col = 0, opts = { right_gravity = false }, owner = permission },
    { line = 2, col = 0, whole_line = 'ArborPermission', owner = permission, key = 'highlight' },
  })
  self.permissions[event.requestId] = permission
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
  local answer = given(event.optionId) and event.optionId or 'cancelled'
  if event.by == 'policy' then
    answer = policy_answer(event.rule)
  end
  local line = '✓ Permission: ' .. permission.title .. ' → ' .. answer
  -- An answered request is no longer highlighted.
  local block = permission.block
  if block then
    block.lines[2] = line
    block.marks = vim.tbl_filter(function(mark) return mark.key ~= 'highlight' end, block.marks)
  else
    local row = self:item_row(permission)
    vim.api.nvim_buf_del_extmark(self.bufnr, ns, permission.highlight)
    self:set_lines(row, row + 1, { line })
  end
  self.permissions[event.requestId] = nil
end

--- The pending permission request on the cursor's line, else the newest one.
function Chat:permission_at_cursor()
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local newest, newest_row
  for request_id, permission in pairs(self.permissions) do
    local mark_row = self:item_row(permission)
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
  require('arbor.attention').respond(self.session_id, request_id, permission.options, kind)
end

--- The model worth showing: what the agent reports, else what was asked, unless it only
--- repeats the agent's name.
local function shown_model(session)
  local model = given(session.agentModel) and session.agentModel or (given(session.model) and session.model or nil)
  if model == session.agent then
    return nil
  end
  return model
end

--- The header: title, then agent, model, the host it runs on (only when not this machine),
--- status, agent state, cost and extra directories.
function Chat:header()
  local session = self.session or {}
  local model = shown_model(session)
  local host = require('arbor').host_text(session)
  local where = host and (' · ' .. host) or ''
  local state = given(session.agentState) and (' · ' .. session.agentState) or ''
  local cost = require('arbor').cost_text(session.usage)
  local dirs = given(session.additionalDirs) and #session.additionalDirs > 0 and (' · also ' .. table.concat(session.additionalDirs, ', ')) or ''
  local title = given(session.title) and session.title or 'untitled'
  return title, string.format('%s%s%s · %s%s · %s%s', session.agent or '?', model and (' (' .. model .. ')') or '', where, session.status or '?', state, cost, dirs)
end

--- `text` cut to `width` display cells, ending in "…" when cut.
local function fit(text, width)
  if vim.fn.strdisplaywidth(text) <= width then
    return text
  end
  local chars = vim.fn.strchars(text)
  while chars > 0 and vim.fn.strdisplaywidth(vim.fn.strcharpart(text, 0, chars)) > width - 1 do
    chars = chars - 1
  end
  return vim.fn.strcharpart(text, 0, chars) .. '…'
end

--- The winbar for a window `width` cells wide: the title first and highlighted; when the
--- window is narrow the details are cut at their end, and the title only once they are gone.
function Chat:winbar(width)
  local title, details = self:header()
  title = fit(title, width)
  local rest = ''
  local room = width - vim.fn.strdisplaywidth(title) - 3
  if room > 0 then
    rest = ' — ' .. fit(details, room)
  end
  local function escape(text) return (text:gsub('%%', '%%%%')) end
  return '%#ArborWinbarTitle#' .. escape(title) .. '%*' .. escape(rest)
end

--- Sets the winbar of every window showing the chat, each for its own width.
function Chat:refresh_winbars()
  for _, win in ipairs(vim.fn.win_findbuf(self.bufnr)) do
    window.set_local(win, { winbar = self:winbar(vim.api.nvim_win_get_width(win)) })
  end
end

function Chat:refresh_header()
  if not vim.api.nvim_buf_is_valid(self.bufnr) then
    return
  end
  self:refresh_winbars()
  local title = self.session and self.session.title
  window.rename(self.bufnr, window.session_name(self.session_id, given(title) and title or nil))
end

function Chat:render(event)
  local kind = event.kind
  if kind == 'agent_message_chunk' then
    self:stream('message', event.text)
  elseif kind == 'agent_thought_chunk' then
    self:stream('thought', event.text)
  elseif kind == 'user_message' then
    self:heading('You', 'ArborChatUser')
    self:append(split_lines(event.text))
  elseif kind == 'tool_call' then
    self:tool_call(event)
  elseif kind == 'tool_call_update' then
    self:tool_update(event)
  elseif kind == 'plan' then
    local lines = { '', OPEN .. '📋 Plan' }
    for index, entry in ipairs(event.entries or {}) do
      table.insert(lines, string.format('%s%d. %s (%s)', GUTTER, index, entry.content, entry.status))
    end
    self:append(lines)
  elseif kind == 'permission_request' then
    self:permission_request(event)
  elseif kind == 'permission_resolved' then
    self:permission_resolved(event)
  elseif kind == 'turn_ended' then
    self:append({ '', '— turn ended (' .. event.stopReason .. ') —' }, { { line = 2, col = 0, whole_line = 'ArborTurnEnded' } })
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
  elseif kind == 'question' then
    self:append({ '', '? Question: ' .. split_lines(event.message)[1] .. '   (:Arbor answer, :Arbor decline)' }, { { line = 2, col = 0, whole_line = 'ArborPermission' } })
  elseif kind == 'question_answered' then
    local words = { accept = 'answered', decline = 'declined', cancel = 'withdrawn' }
    local parts = {}
    for name, value in pairs(given(event.content) and event.content or {}) do
      table.insert(parts, name .. ' = ' .. (type(value) == 'table' and table.concat(vim.tbl_map(tostring, value), ', ') or tostring(value)))
    end
    table.sort(parts)
    local by = event.by == 'policy' and ' by policy' or ''
    self:append({ '> ' .. (words[event.action] or event.action) .. by .. (#parts > 0 and (': ' .. table.concat(parts, '; ')) or '') })
  elseif kind == 'pr_opened' or kind == 'pr_updated' then
    self.session = self.session or {}
    self.session.pullRequest = event.pullRequest
    self.pr_actions = given(event.actions) and event.actions or {}
    local offer = #self.pr_actions > 0 and '   (:Arbor pr)' or ''
    self:append({ '', '> ' .. split_lines(event.message or '')[1] .. offer })
    self:refresh_header()
  elseif kind == 'available_commands' then
    require('arbor.composer').set_agent_commands(self.session_id, event.commands)
  end
end

--- Windows whose cursor is on the buffer's last line: they follow the end of the stream.
function Chat:following_windows()
  local last = vim.api.nvim_buf_line_count(self.bufnr)
  local following = {}
  for _, win in ipairs(vim.fn.win_findbuf(self.bufnr)) do
    if vim.api.nvim_win_get_cursor(win)[1] >= last then
      table.insert(following, win)
    end
  end
  return following
end

--- Renders the queued events into the pending tail, each run of chunks of one stream joined.
function Chat:render_queue()
  local queue = self.queue
  self.queue = {}
  local index = 1
  while index <= #queue do
    local event = queue[index]
    local next_event = queue[index + 1]
    if (event.kind == 'agent_message_chunk' or event.kind == 'agent_thought_chunk') and next_event and next_event.kind == event.kind then
      local parts = { event.text }
      while queue[index + 1] and queue[index + 1].kind == event.kind do
        index = index + 1
        parts[#parts + 1] = queue[index].text
      end
      self:render({ kind = event.kind, text = table.concat(parts) })
    else
      self:render(event)
    end
    index = index + 1
  end
end

--- Renders every queued event and writes them in one edit; windows at the end follow it.
function Chat:flush()
  self.flush_scheduled = false
  if not vim.api.nvim_buf_is_valid(self.bufnr) then
    return
  end
  local following = self:following_windows()
  self:render_queue()
  self:commit()
  local last = self:line_count()
  for _, win in ipairs(following) do
    if vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_set_cursor(win, { last, 0 })
    end
  end
end

--- Takes the next event of the session: seqs come 1, 2, 3 … with no gap, so one out of turn
--- is dropped; the chat's own subscription (from its last seq) sends it again in order. It is
--- rendered by the next flush, which is scheduled unless the event is `held` (history, rendered
--- in one flush once it is all in).
---@param notification arbor.SessionEventNotification
---@param held? boolean
function Chat:receive(notification, held)
  if notification.seq ~= self.last_seq + 1 then
    return
  end
  self.last_seq = notification.seq
  self.queue[#self.queue + 1] = notification.event
  if not held and not self.flush_scheduled then
    self.flush_scheduled = true
    vim.defer_fn(function()
      self:flush()
    end, FLUSH_MS)
  end
end

--- The keys of a chat buffer, for the `?` help and the documentation.
function M.keys()
  local config = require('arbor').config.keymaps.chat
  return {
    { config.allow, 'allow the permission request under the cursor (or the newest)', function(chat) chat:answer('allow_once') end },
    { config.allow_always, 'allow always', function(chat) chat:answer('allow_always') end },
    { config.reject, 'reject', function(chat) chat:answer('reject_once') end },
    { config.send, 'write a message in the composer', function(chat) require('arbor').send(chat.session_id) end },
    { config.cancel, 'interrupt the turn', function(chat) require('arbor').cancel(chat.session_id) end },
    { config.expand, 'show a tool call\'s whole output (again: its first lines); elsewhere toggle the fold', function(chat) chat:toggle_expand() end },
    { config.review, 'review the session\'s changes', function(chat) require('arbor').review(chat.session_id) end },
    { config.help, 'this help', function() M.help() end },
  }
end

--- The `?` float of the chat's keys.
function M.help()
  local entries = vim.tbl_map(function(key) return { key[1], key[2] } end, M.keys())
  table.insert(entries, { 'za / zR / zM', 'open or close a block / every block' })
  window.help('Arbor chat keys', entries)
end

local function keymaps(chat)
  local opts = { buffer = chat.bufnr, nowait = true, silent = true }
  for _, key in ipairs(M.keys()) do
    vim.keymap.set('n', key[1], function() key[3](chat) end, vim.tbl_extend('force', opts, { desc = 'Arbor: ' .. key[2] }))
  end
end

-- Registered once, when the module loads; listeners outlive reconnections.
client.on(protocol.notification.session_event, function(params)
  local chat = chats[params.sessionId]
  -- Until its history is in, live events (of another subscription) are not the chat's.
  if chat and chat.live then
    chat:receive(params)
  end
end)
client.on(protocol.notification.session_changed, function(params)
  local chat = chats[params.session.id]
  if chat then
    chat.session = params.session
    chat:refresh_header()
  end
end)
-- A resized window gets a winbar cut for its new width.
vim.api.nvim_create_autocmd({ 'WinResized', 'VimResized' }, {
  group = vim.api.nvim_create_augroup('arbor_chat', { clear = true }),
  callback = function()
    for _, chat in pairs(chats) do
      if vim.api.nvim_buf_is_valid(chat.bufnr) then chat:refresh_winbars() end
    end
  end,
})

--- The chat window's options: folded blocks, wrapped lines kept inside their block, Markdown
--- concealed, the header in the winbar.
local function window_options(chat, win)
  window.set_local(win, {
    foldmethod = 'expr',
    foldexpr = FOLDEXPR,
    foldtext = "v:lua.require'arbor.chat'.foldtext()",
    foldlevel = 0,
    fillchars = 'fold: ',
    wrap = true,
    linebreak = true,
    breakindent = true,
    breakindentopt = 'list:-1',
    conceallevel = 2,
    concealcursor = 'nc',
    winbar = chat:winbar(vim.api.nvim_win_get_width(win)),
  })
end

--- Opens (or shows again) the chat of a session: its history, then its live events.
function M.open(session_id, opts)
  opts = opts or {}
  local layout = opts.layout or require('arbor').config.layout
  local chat = chats[session_id]
  if chat and vim.api.nvim_buf_is_valid(chat.bufnr) then
    window.show('chat', chat.bufnr, layout)
    chat:refresh_header()
    require('arbor.attention').seen(session_id)
    return chat
  end
  local bufnr = vim.api.nvim_create_buf(true, true)
  vim.api.nvim_buf_set_name(bufnr, window.session_name(session_id))
  vim.bo[bufnr].filetype = 'markdown'
  -- Wrapped lines of a block continue under its text, past the "  │ " gutter.
  vim.bo[bufnr].formatlistpat = '^\\s*│\\s'
  vim.bo[bufnr].modifiable = false
  vim.b[bufnr].arbor_session = session_id
  vim.b[bufnr].arbor_folds = { 0 }
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
  vim.api.nvim_create_autocmd('BufWinEnter', {
    buffer = bufnr,
    callback = function()
      window_options(chat, vim.api.nvim_get_current_win())
      require('arbor.attention').seen(session_id)
    end,
  })
  local win = window.show('chat', bufnr, layout)
  window_options(chat, win)
  require('arbor.attention').seen(session_id)
  client.request(protocol.method.session_get, { sessionId = session_id }, function(session)
    chat.session = session
    chat:refresh_header()
  end)
  -- History page by page (as large as the server gives), then live from where it ends:
  -- gap-free, each seq once. Each page is rendered while the next one is read, and the whole
  -- history is written in one edit when its last page is in.
  local function page(after)
    client.request(protocol.method.session_events, { sessionId = session_id, afterSeq = after, limit = M.HISTORY_PAGE }, function(result)
      if not vim.api.nvim_buf_is_valid(bufnr) then
        return
      end
      for _, notification in ipairs(result.events) do
        chat:receive(notification, true)
      end
      if result.hasMore then
        -- Asked for before this page is rendered, so the server reads it meanwhile.
        page(chat.last_seq)
        chat:render_queue()
      else
        chat.live = true
        client.request(protocol.method.session_subscribe, { sessionId = session_id, afterSeq = chat.last_seq })
        chat:flush()
      end
    end)
  end
  page(0)
  vim.api.nvim_create_autocmd('BufWipeout', {
    buffer = bufnr,
    once = true,
    callback = function()
      chats[session_id] = nil
      -- Live sessions stay subscribed: their requests still reach the user (arbor.attention).
      if not require('arbor.attention').watching(session_id) then
        client.request(protocol.method.session_unsubscribe, { sessionId = session_id }, nil, function() end)
      end
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

--- True when the session's chat is on screen in the current tab page.
function M.visible(session_id)
  local chat = chats[session_id]
  if not chat or not vim.api.nvim_buf_is_valid(chat.bufnr) then
    return false
  end
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(win) == chat.bufnr then
      return true
    end
  end
  return false
end

--- The extmark namespace of the chat (role headings, permission lines, tool blocks).
M.namespace = ns

return M
