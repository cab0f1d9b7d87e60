-- Needs-you signals: every live session is subscribed, not only the one in a chat, so that a
-- permission request or a finished turn anywhere reaches the user as a notification (when its
-- chat is not on screen), as a `User` autocmd (ArborPermission, ArborPermissionResolved,
-- ArborTurnEnded, ArborSessionChanged), in `:Arbor inbox` and in the statusline component.

local client = require('arbor.client')
local protocol = require('arbor.protocol')

local M = {}

local LIVE = { pending = true, creating = true, running = true }

local sessions = {} -- id -> the latest session record seen
local watched = {} -- id -> { last_seq, since (ms) } for subscribed live sessions
local waiting = {} -- id -> { request id -> { title, options, seq, notified } }
local questions = {} -- id -> { request id -> { message, schema, seq } }
local finished = {} -- id -> { kind, detail }: a turn ended (or input wanted) off screen

local function given(value)
  return value ~= nil and value ~= vim.NIL
end

local function now_ms()
  local seconds, microseconds = vim.uv.gettimeofday()
  return seconds * 1000 + math.floor(microseconds / 1000)
end

local function fire(pattern, data)
  vim.api.nvim_exec_autocmds('User', { pattern = pattern, data = data, modeline = false })
end

local function title_of(session_id)
  local session = sessions[session_id]
  local title = session and given(session.title) and session.title or nil
  return title or ('session ' .. session_id:sub(1, 8))
end

--- The status line may show counts that just changed.
local function changed()
  vim.cmd('redrawstatus!')
end

local function notify_request(session_id, request_id, request)
  request.notified = true
  fire('ArborPermission', { sessionId = session_id, requestId = request_id, title = request.title, options = request.options })
  if not require('arbor.chat').visible(session_id) then
    local keys = require('arbor').config.keymaps.chat
    vim.notify(string.format('Arbor: %s asks: %s — :Arbor allow, :Arbor reject or :Arbor inbox (%s / %s in its chat)',
      title_of(session_id), request.title, keys.allow, keys.reject), vim.log.levels.WARN)
  end
end

--- Requests become the user's business once the session waits for input: a request the
--- policy answers never makes it wait, so it is never announced.
local function announce_waiting(session_id)
  local requests = waiting[session_id] or {}
  if next(requests) == nil and next(questions[session_id] or {}) == nil and not require('arbor.chat').visible(session_id) then
    -- Waiting with no request Arbor knows of: the agent asks something of its own.
    vim.notify(string.format('Arbor: %s is waiting for your input — :Arbor inbox to open it', title_of(session_id)), vim.log.levels.WARN)
    finished[session_id] = { kind = 'waiting', detail = 'for your input' }
  end
  for request_id, request in pairs(requests) do
    if not request.notified then
      notify_request(session_id, request_id, request)
    end
  end
  changed()
end

local function on_event(params)
  local session_id = params.sessionId
  local watch = watched[session_id]
  if not watch or params.seq <= watch.last_seq then
    return
  end
  watch.last_seq = params.seq
  local event = params.event
  if event.kind == 'permission_request' then
    waiting[session_id] = waiting[session_id] or {}
    waiting[session_id][event.requestId] = { title = event.title, options = event.options, seq = params.seq }
  elseif event.kind == 'permission_resolved' then
    local request = (waiting[session_id] or {})[event.requestId]
    if request then
      waiting[session_id][event.requestId] = nil
      if request.notified then
        fire('ArborPermissionResolved', { sessionId = session_id, requestId = event.requestId, optionId = given(event.optionId) and event.optionId or nil, by = given(event.by) and event.by or nil })
      end
      changed()
    end
  elseif event.kind == 'question' then
    questions[session_id] = questions[session_id] or {}
    questions[session_id][event.requestId] = { message = event.message, schema = event.schema, seq = params.seq }
    if (params.at or 0) >= watch.since then
      fire('ArborQuestion', { sessionId = session_id, requestId = event.requestId, message = event.message })
      if not require('arbor.chat').visible(session_id) then
        vim.notify(string.format('Arbor: %s asks: %s — :Arbor answer, :Arbor decline or :Arbor inbox', title_of(session_id), event.message), vim.log.levels.WARN)
      end
    end
    changed()
  elseif event.kind == 'question_answered' then
    if questions[session_id] then
      questions[session_id][event.requestId] = nil
    end
    changed()
  elseif event.kind == 'status_changed' and event.agentState == 'waiting_input' and (params.at or 0) >= watch.since then
    announce_waiting(session_id)
  elseif event.kind == 'turn_ended' and (params.at or 0) >= watch.since then
    fire('ArborTurnEnded', { sessionId = session_id, stopReason = event.stopReason, title = title_of(session_id) })
    if not require('arbor.chat').visible(session_id) then
      finished[session_id] = { kind = 'turn ended', detail = event.stopReason }
      vim.notify(string.format('Arbor: %s finished its turn (%s) — :Arbor inbox to open it', title_of(session_id), event.stopReason))
    end
    changed()
  end
end

--- Pending requests of a session that was already waiting when it was first watched.
local function recover_waiting(session)
  client.request(protocol.method.session_events, { sessionId = session.id, afterSeq = math.max((session.lastSeq or 0) - 1000, 0), limit = 1000 }, function(result)
    local pending = {}
    for _, notification in ipairs(result.events) do
      local event = notification.event
      if event.kind == 'permission_request' then
        pending[event.requestId] = { title = event.title, options = event.options, seq = notification.seq }
      elseif event.kind == 'permission_resolved' then
        pending[event.requestId] = nil
      end
    end
    waiting[session.id] = vim.tbl_extend('keep', waiting[session.id] or {}, pending)
    announce_waiting(session.id)
  end, function() end)
end

local function watch(session)
  if watched[session.id] then
    return
  end
  -- One subscription per session and connection: subscribing again restarts it from the new
  -- seq, so it starts no later than an open chat has rendered, which must see every seq.
  local chat = require('arbor.chat').get(session.id)
  local after = math.min(session.lastSeq or 0, chat and chat.last_seq or math.huge)
  -- Events stamped before the watch began are history: they fill the inbox, but raise nothing.
  watched[session.id] = { last_seq = after, since = now_ms() - 2000 }
  client.request(protocol.method.session_subscribe, { sessionId = session.id, afterSeq = after }, nil, function() end)
  if session.agentState == 'waiting_input' then
    recover_waiting(session)
  end
end

local function forget(session_id)
  watched[session_id] = nil
  waiting[session_id] = nil
end

local function on_session(params)
  local session = params.session
  if params.deleted then
    sessions[session.id] = nil
    finished[session.id] = nil
    forget(session.id)
  else
    sessions[session.id] = session
    if LIVE[session.status] then
      watch(session)
    else
      forget(session.id)
    end
  end
  fire('ArborSessionChanged', { session = session, deleted = params.deleted == true })
  changed()
end

-- Registered once, when the module loads; listeners outlive reconnections.
client.on(protocol.notification.session_event, on_event)
client.on(protocol.notification.session_changed, on_session)

--- Called once connected: watches every live session and everything that changes later.
function M.connected()
  -- A new connection has no subscriptions yet.
  watched = {}
  client.request(protocol.method.session_list, { status = { 'pending', 'creating', 'running' }, includeHidden = true, limit = 1000 }, function(result)
    for _, session in ipairs(result.sessions) do
      sessions[session.id] = session
      watch(session)
    end
    changed()
  end)
end

--- True while the session is subscribed for its requests.
function M.watching(session_id)
  return watched[session_id] ~= nil
end

--- The user looked at the session's chat: its finished turn is no longer news.
function M.seen(session_id)
  if finished[session_id] then
    finished[session_id] = nil
    changed()
  end
end

--- Counts of live sessions: working (including starting), waiting for the user, idle.
function M.counts()
  local counts = { working = 0, waiting = 0, idle = 0 }
  for _, session in pairs(sessions) do
    if LIVE[session.status] then
      if session.agentState == 'waiting_input' then
        counts.waiting = counts.waiting + 1
      elseif session.status == 'running' and session.agentState == 'idle' then
        counts.idle = counts.idle + 1
      else
        counts.working = counts.working + 1
      end
    end
  end
  return counts
end

--- The statusline component: "Arbor 1 working · 2 waiting · 1 idle"; empty with no live session.
function M.status()
  local counts = M.counts()
  local parts = {}
  for _, name in ipairs({ 'working', 'waiting', 'idle' }) do
    if counts[name] > 0 then
      table.insert(parts, counts[name] .. ' ' .. name)
    end
  end
  if #parts == 0 then
    return ''
  end
  return 'Arbor ' .. table.concat(parts, ' · ')
end

--- The entries of a session id -> request id -> entry table as one list, oldest first, each a
--- copy of its entry with `sessionId` and `requestId` added.
local function oldest_first(by_session)
  local list = {}
  for session_id, entries in pairs(by_session) do
    for request_id, entry in pairs(entries) do
      table.insert(list, vim.tbl_extend('force', entry, { sessionId = session_id, requestId = request_id }))
    end
  end
  table.sort(list, function(a, b)
    if a.sessionId ~= b.sessionId then return a.sessionId < b.sessionId end
    return a.seq < b.seq
  end)
  return list
end

--- The one of `list` meant: the current chat's, else the only one, else the one picked (by
--- `columns`); `none` is said when there is nothing.
local function pick_waiting(list, none, prompt, columns, then_do)
  local chat = require('arbor.chat').for_buffer(0)
  local own = chat and vim.tbl_filter(function(item) return item.sessionId == chat.session_id end, list) or {}
  if #own > 0 then
    list = own
  end
  if #list == 0 then
    vim.notify('Arbor: ' .. none, vim.log.levels.INFO)
  elseif #list == 1 then
    then_do(list[1])
  else
    require('arbor.pickers').select(list, { prompt = prompt, columns = columns }, then_do)
  end
end

--- Every permission request waiting for the user, oldest first.
function M.requests()
  return oldest_first(waiting)
end

--- Answers a request with its option of `kind` (allow_once, allow_always, reject_once).
function M.respond(session_id, request_id, options, kind)
  for _, option in ipairs(options or {}) do
    if option.kind == kind then
      client.request(protocol.method.session_respond, { sessionId = session_id, requestId = request_id, optionId = option.optionId })
      return true
    end
  end
  vim.notify('Arbor: this request has no "' .. kind .. '" option', vim.log.levels.WARN)
  return false
end

--- Every question waiting for an answer, oldest first.
function M.questions()
  return oldest_first(questions)
end

--- The form's fields in a stable order: the required ones first, then by name.
local function fields_of(schema)
  local properties = type(schema) == 'table' and type(schema.properties) == 'table' and schema.properties or {}
  local required = {}
  for _, name in ipairs(type(schema) == 'table' and type(schema.required) == 'table' and schema.required or {}) do
    required[name] = true
  end
  local names = vim.tbl_keys(properties)
  table.sort(names, function(a, b)
    if (required[a] or false) ~= (required[b] or false) then return required[a] == true end
    return a < b
  end)
  return vim.tbl_map(function(name) return { name = name, property = properties[name] } end, names)
end

--- A typed value from what was typed for a field of `property`'s type; nil when it does not
--- parse (a number field given a word).
local function value_of(property, text)
  local kind = type(property) == 'table' and property.type or 'string'
  if kind == 'number' or kind == 'integer' then
    local number = tonumber(text)
    return (number and (kind == 'number' or number % 1 == 0)) and number or nil
  elseif kind == 'boolean' then
    local lowered = text:lower()
    if lowered == 'yes' or lowered == 'true' then return true end
    if lowered == 'no' or lowered == 'false' then return false end
    return nil
  elseif kind == 'array' then
    return vim.tbl_filter(function(word) return word ~= '' end, vim.tbl_map(vim.trim, vim.split(text, ',')))
  end
  return text
end

--- Asks for the question's fields one after another (`given` answers a form of one field), then
--- sends the answer.
local function fill(question, given)
  local fields = fields_of(question.schema)
  local content = {}
  local function ask(index)
    local field = fields[index]
    if not field then
      client.request(protocol.method.session_respond, { sessionId = question.sessionId, requestId = question.requestId, optionId = 'accept', content = next(content) == nil and vim.empty_dict() or content })
      return
    end
    if #fields == 1 and given then
      local value = value_of(field.property, given)
      if value == nil then
        vim.notify('Arbor: "' .. given .. '" is not a ' .. tostring(field.property.type), vim.log.levels.WARN)
        return
      end
      content[field.name] = value
      return ask(index + 1)
    end
    local label = (type(field.property) == 'table' and field.property.title) or field.name
    local hint = type(field.property) == 'table' and field.property.type == 'boolean' and ' (yes/no)' or (type(field.property) == 'table' and field.property.type == 'array' and ' (comma separated)' or '')
    vim.ui.input({ prompt = question.message .. ' — ' .. label .. hint .. ': ' }, function(text)
      if text == nil then
        vim.notify('Arbor: the question is still waiting (:Arbor answer, or :Arbor decline)')
        return
      end
      local value = value_of(field.property, text)
      if value == nil then
        vim.notify('Arbor: "' .. text .. '" is not a ' .. tostring(field.property.type), vim.log.levels.WARN)
        return ask(index)
      end
      content[field.name] = value
      ask(index + 1)
    end)
  end
  ask(1)
end

--- The question meant: the chat's own, else the only one, else the one picked.
local function pick_question(then_do)
  pick_waiting(M.questions(), 'no question is waiting', 'Answer which question?', function(question)
    return { title_of(question.sessionId), question.message }
  end, then_do)
end

--- :Arbor answer [text] — answers the waiting question: `text` for a form of one field, else
--- each field asked in turn.
function M.answer_question(text)
  pick_question(function(question) fill(question, text) end)
end

--- :Arbor decline — declines the waiting question.
function M.decline_question()
  pick_question(function(question)
    client.request(protocol.method.session_respond, { sessionId = question.sessionId, requestId = question.requestId, optionId = 'decline' })
  end)
end

local function describe(request)
  return { title_of(request.sessionId), request.title }
end

--- :Arbor allow / :Arbor reject — the request of the chat you are in, else the only one
--- waiting, else the one you pick.
function M.answer(kind)
  pick_waiting(M.requests(), 'no permission request is waiting', 'Answer which request?', describe, function(request)
    M.respond(request.sessionId, request.requestId, request.options, kind)
  end)
end

--- :Arbor inbox — everything waiting for you: permission requests, then finished turns.
function M.inbox()
  local items = {}
  for _, request in ipairs(M.requests()) do
    table.insert(items, { kind = 'permission', request = request, sessionId = request.sessionId, detail = request.title })
  end
  for _, question in ipairs(M.questions()) do
    table.insert(items, { kind = 'question', question = question, sessionId = question.sessionId, detail = question.message })
  end
  for session_id, news in pairs(finished) do
    table.insert(items, { kind = news.kind, sessionId = session_id, detail = news.detail })
  end
  if #items == 0 then
    vim.notify('Arbor: nothing is waiting for you')
    return
  end
  require('arbor.pickers').select(items, {
    prompt = 'Arbor inbox',
    columns = function(item) return { item.kind, title_of(item.sessionId), item.detail } end,
  }, function(item)
    if item.kind == 'question' then
      fill(item.question)
      return
    end
    if item.kind ~= 'permission' then
      require('arbor').open_chat(item.sessionId)
      return
    end
    local choices = {}
    for _, option in ipairs(item.request.options or {}) do
      table.insert(choices, { label = option.name, kind = option.kind })
    end
    table.insert(choices, { label = 'Open the chat' })
    vim.ui.select(choices, { prompt = item.request.title, format_item = function(choice) return choice.label end }, function(choice)
      if not choice then return end
      if choice.kind then
        M.respond(item.sessionId, item.request.requestId, item.request.options, choice.kind)
      else
        require('arbor').open_chat(item.sessionId)
      end
    end)
  end)
end

return M
