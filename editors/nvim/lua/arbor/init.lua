-- Arbor for Neovim: run coding agents as sessions on their own git worktrees, watch them in a
-- chat buffer, review their changes inline and land them. A thin client: all state lives in the
-- Arbor server (`arbor lsp`).

local client = require('arbor.client')
local protocol = require('arbor.protocol')

local M = {}

--- Defaults; `setup()` merges the user's options over them.
M.config = {
  -- The server command; `arbor lsp` starts (or reuses) the Arbor daemon.
  cmd = { 'arbor', 'lsp' },
  -- Where the chat window opens: 'vsplit', 'split', 'float', 'tab' or 'current'. One chat
  -- window per tab page is reused for every session.
  layout = 'vsplit',
  -- The composer: 'split' (under the chat window) or 'float', and its height in lines.
  composer = { layout = 'split', height = 8 },
  -- Where :Arbor export proposes to write (outside any repository).
  export_dir = vim.fs.joinpath(vim.fn.stdpath('data'), 'arbor', 'exports'),
  keymaps = {
    chat = { allow = 'a', allow_always = 'A', reject = 'r', send = 'i', cancel = '<C-c>', expand = '<CR>', review = 'gr', help = '?' },
    composer = { send = '<C-s>', close = 'q', help = '?' },
    review = {
      next_hunk = ']h',
      prev_hunk = '[h',
      accept_hunk = '<leader>aa',
      reject_hunk = '<leader>ar',
      accept_file = '<leader>aA',
      reject_file = '<leader>aR',
      diff_split = '<leader>ad',
      vimdiff = '<leader>av',
    },
    compare = { promote = 'p', check = 'c', diff = 'd', open = '<CR>', refresh = 'R', help = '?' },
  },
}

local function given(value)
  return value ~= nil and value ~= vim.NIL
end

--- The session the user means: the current chat's, else the last one used.
local last_session
--- The last file buffer the user was in: what `#buffer` quotes from the composer.
local last_file

function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', M.config, opts or {})
  require('arbor.window').define_highlights()
  local group = vim.api.nvim_create_augroup('arbor', { clear = true })
  vim.api.nvim_create_autocmd('ColorScheme', { group = group, callback = require('arbor.window').define_highlights })
  vim.api.nvim_create_autocmd('BufEnter', {
    group = group,
    callback = function(args)
      if vim.bo[args.buf].buftype == '' then last_file = args.buf end
    end,
  })
  require('arbor.review').setup()
end

--- The last file buffer entered, if it still exists.
function M.last_file_buffer()
  return last_file and vim.api.nvim_buf_is_valid(last_file) and last_file or nil
end

--- Connects to the server if needed. Returns true when connected.
function M.ensure()
  if client.is_running() then
    return true
  end
  local ok, err = client.start(M.config.cmd, { cwd = vim.fn.getcwd() })
  if not ok then
    vim.notify('Arbor: ' .. err .. ' (:checkhealth arbor shows what is missing)', vim.log.levels.ERROR)
    return false
  end
  require('arbor.attention').connected()
  return true
end

--- The session of the current buffer: a chat, a compare row, a file under review; else the
--- last one used.
local function current_session()
  local chat = require('arbor.chat').for_buffer(0)
  local id = (chat and chat.session_id) or require('arbor.compare').session_at_cursor() or require('arbor.review').session_of_buffer(0) or last_session
  if not id then
    vim.notify('Arbor: no session here; open one with :Arbor sessions or start one with :Arbor new', vim.log.levels.WARN)
  end
  return id
end

local function with_session(session_id, fn)
  if not M.ensure() then return end
  local id = session_id or current_session()
  if id then fn(id) end
end

--- Calls `fn` with `given`, or with what the user types when `given` is nil; empty text does
--- nothing, so dismissing the input box cancels.
local function given_or_asked(given, input_opts, fn)
  local function act(text)
    if text and text ~= '' then fn(text) end
  end
  if given ~= nil then act(given) else vim.ui.input(input_opts, act) end
end

--- Starts a session and opens its chat. `opts`: agent, prompt, model, title, cwd, config,
--- isolation, profile, workflow, permissions. `done(session)` runs once it exists.
function M.new_session(opts, done)
  if not M.ensure() then return end
  local params = vim.tbl_extend('force', { cwd = vim.fn.getcwd() }, opts)
  client.request(protocol.method.session_new, params, function(session)
    last_session = session.id
    require('arbor.chat').open(session.id)
    if done then done(session) end
  end)
end

--- The composer's first lines for a visual selection: the selection, quoted with its place.
local function quoted(selection)
  if not selection then return nil end
  local lines = require('arbor.composer').quote(selection.bufnr, selection.lines, selection.first, selection.last)
  table.insert(lines, '')
  return lines
end

--- :Arbor new — pick an agent and model, then write the first message in the composer (a
--- visual selection arrives quoted in it).
function M.new(selection)
  if not M.ensure() then return end
  client.request(protocol.method.agents_list, nil, function(result)
    local agents = vim.tbl_filter(function(agent) return agent.available end, result.agents)
    local function ask_prompt(agent, model)
      require('arbor.composer').open({
        key = 'new',
        title = 'New ' .. agent.name .. ' session',
        lines = quoted(selection),
        on_send = function(prompt, accepted)
          M.new_session({ agent = agent.id, model = model, prompt = prompt }, accepted)
        end,
      })
    end
    require('arbor.pickers').select(agents, {
      prompt = 'Agent',
      columns = function(agent) return { agent.name, given(agent.version) and agent.version or '' } end,
    }, function(agent)
      if #agent.models > 1 then
        vim.ui.select(agent.models, { prompt = 'Model' }, function(model) ask_prompt(agent, model) end)
      else
        ask_prompt(agent, agent.models[1])
      end
    end)
  end)
end

--- Sends `text`, or opens the composer for the session (with `selection` quoted in it).
function M.send(session_id, text, selection)
  with_session(session_id, function(id)
    if text then
      client.request(protocol.method.session_prompt, { sessionId = id, text = text })
      return
    end
    local chat = require('arbor.chat').get(id)
    local title = chat and chat.session and given(chat.session.title) and chat.session.title or id:sub(1, 8)
    require('arbor.composer').open({
      key = id,
      session_id = id,
      title = 'Message to ' .. title,
      lines = quoted(selection),
      on_send = function(message, accepted)
        client.request(protocol.method.session_prompt, { sessionId = id, text = message }, function() accepted() end)
      end,
    })
  end)
end

--- Opens a session's chat (and makes it the current session).
function M.open_chat(session_id)
  last_session = session_id
  require('arbor.chat').open(session_id)
end

function M.cancel(session_id)
  with_session(session_id, function(id) client.request(protocol.method.session_cancel, { sessionId = id }) end)
end

function M.stop(session_id)
  with_session(session_id, function(id) client.request(protocol.method.session_stop, { sessionId = id }) end)
end

function M.resume(session_id)
  with_session(session_id, function(id)
    client.request(protocol.method.session_resume, { sessionId = id }, function()
      require('arbor.chat').open(id)
    end)
  end)
end

local function open_new(session)
  M.open_chat(session.id)
end

function M.fork(session_id)
  with_session(session_id, function(id) client.request(protocol.method.session_fork, { sessionId = id }, open_new) end)
end

function M.clone(session_id)
  with_session(session_id, function(id) client.request(protocol.method.session_clone, { sessionId = id }, open_new) end)
end

function M.rename(session_id, title)
  with_session(session_id, function(id)
    given_or_asked(title, { prompt = 'Title: ' }, function(new_title)
      client.request(protocol.method.session_configure, { sessionId = id, title = new_title })
    end)
  end)
end

local function toggle(session_id, field)
  with_session(session_id, function(id)
    client.request(protocol.method.session_get, { sessionId = id }, function(session)
      client.request(protocol.method.session_configure, { sessionId = id, [field] = not session[field] }, function(updated)
        local unpinned = given(updated.unpinned) and #updated.unpinned or 0
        -- The server unpins the oldest pins beyond its maxPinnedSessions.
        local made_room = unpinned > 0 and string.format(' (%d older pin%s unpinned to make room)', unpinned, unpinned == 1 and '' or 's') or ''
        vim.notify(string.format('Arbor: %s %s%s', field, updated[field] and 'on' or 'off', made_room))
      end)
    end)
  end)
end

--- Moves the session one place `up` or `down` among the pinned sessions (session/pinOrder).
local function move_pin(session_id, direction)
  with_session(session_id, function(id)
    client.request(protocol.method.session_list, { limit = 1000, includeHidden = true }, function(result)
      local order = {}
      for _, session in ipairs(result.sessions) do
        if session.pinned then table.insert(order, session.id) end
      end
      local at
      for index, pinned in ipairs(order) do
        if pinned == id then at = index end
      end
      if not at then
        vim.notify('Arbor: the session is not pinned; :Arbor pin pins it', vim.log.levels.WARN)
        return
      end
      local to = direction == 'up' and at - 1 or at + 1
      if to < 1 or to > #order then
        vim.notify('Arbor: the session is already the ' .. (direction == 'up' and 'first' or 'last') .. ' pin')
        return
      end
      order[at], order[to] = order[to], order[at]
      client.request(protocol.method.session_pin_order, { pinnedOrder = order }, function()
        vim.notify(string.format('Arbor: pin %d of %d', to, #order))
      end)
    end)
  end)
end

--- :Arbor pin toggles; :Arbor pin up / down moves the session among the pins.
function M.pin(session_id, direction)
  if direction == 'up' or direction == 'down' then
    move_pin(session_id, direction)
  elseif direction and direction ~= '' then
    vim.notify('Arbor: :Arbor pin takes up or down (or nothing, to toggle)', vim.log.levels.ERROR)
  else
    toggle(session_id, 'pinned')
  end
end

--- Where a session runs, for the sessions picker and the chat's header: "on build-1" for a
--- session the admission scheduler placed on a configured host; nil for one on this machine,
--- so that users without hosts see nothing new.
---@param session arbor.Session
---@return string|nil
function M.host_text(session)
  if given(session.host) then
    return 'on ' .. session.host
  end
  return nil
end

--- A cost in dollars, marked "≈" when Arbor estimated it from token counts.
function M.cost_text(usage)
  usage = usage or {}
  return string.format('%s$%.4f', usage.costEstimated == true and '≈ ' or '', usage.costUsd or 0)
end
function M.hide(session_id) toggle(session_id, 'hidden') end

--- Archives the session: its leftovers are committed and its worktree removed; branch,
--- checkpoints and history stay, and :Arbor resume brings the worktree back.
function M.archive(session_id)
  with_session(session_id, function(id)
    client.request(protocol.method.session_archive, { sessionId = id }, function(result)
      local branch = result.session.branch ~= vim.NIL and result.session.branch or 'its branch'
      vim.notify('Arbor: session archived; its work is on ' .. branch .. ' (:Arbor resume brings the worktree back)')
    end)
  end)
end

function M.delete(session_id)
  with_session(session_id, function(id)
    vim.ui.select({ 'Delete (keep the branch)', 'Cancel' }, { prompt = 'Delete this session?' }, function(choice)
      if choice ~= 'Delete (keep the branch)' then return end
      client.request(protocol.method.session_delete, { sessionId = id }, function(result)
        local kept = result.keptBranch ~= vim.NIL and result.keptBranch or nil
        vim.notify('Arbor: session deleted' .. (kept and ('; its work is on ' .. kept) or ''))
      end)
    end)
  end)
end

--- Writes an export's `result` to `target`, asking first when the file exists. A PDF arrives
--- base64-encoded and is written as its bytes.
local function write_export(target, result)
  local content = result.content
  if result.encoding == 'base64' then content = vim.base64.decode(content) end
  local function write()
    vim.fn.mkdir(vim.fs.dirname(target), 'p')
    -- Written byte for byte: writefile() would turn a PDF's NUL bytes into line ends.
    local file, err = io.open(target, 'wb')
    local ok = file ~= nil
    if file then
      ok, err = file:write(content)
      file:close()
    end
    if ok then
      vim.notify('Arbor: exported to ' .. target)
    else
      vim.notify('Arbor: could not write ' .. target .. ': ' .. tostring(err), vim.log.levels.ERROR)
    end
  end
  if vim.uv.fs_stat(target) then
    vim.ui.select({ 'Overwrite', 'Cancel' }, { prompt = target .. ' exists. Overwrite it?' }, function(choice)
      if choice == 'Overwrite' then write() else vim.notify('Arbor: export cancelled; ' .. target .. ' was left as it was') end
    end)
  else
    write()
  end
end

--- Exports the session to a file: Markdown, or HTML / JSON / PDF by the file's extension. Without a
--- path, asks, proposing the server's file name in `export_dir` (outside the repository).
function M.export(session_id, path)
  with_session(session_id, function(id)
    local function export(target)
      target = vim.fn.fnamemodify(vim.fn.expand(target), ':p')
      local extension = target:match('%.(%w+)$')
      local known = { html = true, json = true, pdf = true }
      local format = known[extension] and extension or 'markdown'
      client.request(protocol.method.session_export, { sessionId = id, format = format }, function(result)
        write_export(target, result)
      end)
    end
    if path then
      export(path)
      return
    end
    client.request(protocol.method.session_export, { sessionId = id, format = 'markdown' }, function(result)
      local proposed = vim.fs.joinpath(M.config.export_dir, result.fileName)
      vim.ui.input({ prompt = 'Export to: ', default = proposed, completion = 'file' }, function(target)
        if target and target ~= '' then export(target) end
      end)
    end)
  end)
end

--- A session's state in one word: its status, or its agent's state while it runs.
local function state_of(session)
  if session.status == 'running' and given(session.agentState) then
    return session.agentState
  end
  return session.status
end

--- :Arbor sessions — a picker with state, agent (and the host it runs on, when not this
--- machine), title, branch and cost, in aligned columns.
function M.sessions()
  if not M.ensure() then return end
  client.request(protocol.method.session_list, { limit = 200 }, function(result)
    require('arbor.pickers').select(result.sessions, {
      prompt = 'Arbor sessions',
      columns = function(session)
        -- The host shares the agent's cell, so a list of local sessions keeps its columns.
        local host = M.host_text(session)
        return {
          session.pinned and '*' or ' ',
          state_of(session),
          host and (session.agent .. ' ' .. host) or session.agent,
          given(session.title) and session.title or '(untitled)',
          given(session.branch) and session.branch or '-',
          M.cost_text(session.usage),
          M.pull_request_text(session.pullRequest),
        }
      end,
    }, open_new)
  end)
end

--- Sets one setting of the session through session/configure and says what it now is.
local function configure(id, field, value, label)
  client.request(protocol.method.session_configure, { sessionId = id, [field] = value }, function()
    vim.notify('Arbor: ' .. label .. ' ' .. value)
  end)
end

--- Picks one of `choices` (or takes `given`) and calls `fn` with it.
local function given_or_picked(given, choices, prompt, fn)
  if given then
    fn(given)
  else
    vim.ui.select(choices, { prompt = prompt }, function(choice)
      if choice then fn(choice) end
    end)
  end
end

--- Sets the session's permission mode (picked when `mode` is nil).
function M.mode(session_id, mode)
  with_session(session_id, function(id)
    given_or_picked(mode, { 'ask', 'accept_edits', 'bypass_permissions' }, 'Permission mode', function(choice)
      configure(id, 'permissionMode', choice, 'permission mode')
    end)
  end)
end

--- Sets the session's model (picked from the models its agent reports when `model` is nil).
function M.model(session_id, model)
  with_session(session_id, function(id)
    local function apply(choice) configure(id, 'model', choice, 'model') end
    if model then
      apply(model)
      return
    end
    client.request(protocol.method.session_get, { sessionId = id }, function(session)
      client.request(protocol.method.agents_list, nil, function(result)
        local models = {}
        for _, agent in ipairs(result.agents) do
          if agent.id == session.agent then models = agent.models end
        end
        if #models == 0 then
          given_or_asked(nil, { prompt = 'Model for ' .. session.agent .. ': ' }, apply)
        else
          given_or_picked(nil, models, 'Model for ' .. session.agent, apply)
        end
      end)
    end)
  end)
end

function M.review(session_id)
  with_session(session_id, function(id) require('arbor.review').open(id) end)
end

--- The native vimdiff review of the current file (or of a file of the session, picked).
function M.vimdiff()
  if not M.ensure() then return end
  require('arbor.vimdiff').open_current()
end

--- The statusline component (see arbor.attention.status).
function M.status()
  return require('arbor.attention').status()
end

function M.commit(session_id, message)
  with_session(session_id, function(id)
    client.request(protocol.method.review_commit, { sessionId = id, message = message }, function(result)
      vim.notify('Arbor: committed ' .. result.commit:sub(1, 12) .. ' (' .. result.filesChanged .. ' files)')
    end)
  end)
end

--- Merges the session's branch into its base: `strategy` 'merge' or 'squash' (asked when nil).
--- How a session's pull request reads in a list: "PR #12 open, approved, checks 2/2" (GitLab's
--- merge request: "MR !12 …"); '' when it has none.
---@param pr table?
function M.pull_request_text(pr)
  if not given(pr) then
    return ''
  end
  local parts = { pr.state }
  if given(pr.review) and pr.review ~= 'none' then
    table.insert(parts, (tostring(pr.review):gsub('_', ' ')))
  end
  if type(pr.checks) == 'table' and (pr.checks.total or 0) > 0 then
    table.insert(parts, string.format('checks %d/%d', pr.checks.passed or 0, pr.checks.total))
  end
  local reference = pr.forge == 'gitlab' and 'MR !' or 'PR #'
  return string.format('%s%d %s', reference, pr.number, table.concat(parts, ', '))
end

--- :Arbor pr — the session's pull request: open it in the browser, or run what its latest update
--- offers (delete after a merge, send the review to the agent); without one, push and open one.
function M.pr(session_id)
  with_session(session_id, function(id)
    client.request(protocol.method.session_get, { sessionId = id }, function(session)
      local choices = {}
      local pr = session.pullRequest
      if given(pr) then
        table.insert(choices, { label = 'Open ' .. pr.url .. ' (' .. M.pull_request_text(pr) .. ')', run = function() vim.ui.open(pr.url) end })
        local chat = require('arbor.chat').get(id)
        for _, action in ipairs(chat and chat.pr_actions or {}) do
          table.insert(choices, { label = action.label, run = function()
            client.request(action.method, action.params, function() vim.notify('Arbor: ' .. action.label .. ' — done') end)
          end })
        end
        table.insert(choices, { label = 'Push the branch again', run = function()
          client.request(protocol.method.session_push, { sessionId = id }, function() vim.notify('Arbor: pushed ' .. (session.branch or 'the branch')) end)
        end })
      else
        for _, draft in ipairs({ false, true }) do
          table.insert(choices, { label = draft and 'Push and open a draft pull request' or 'Push and open a pull request', run = function()
            client.request(protocol.method.session_push, { sessionId = id }, function()
              client.request(protocol.method.session_pr, { sessionId = id, draft = draft }, function(opened)
                local name = opened.forge == 'gitlab' and 'merge request !' or 'pull request #'
                vim.notify('Arbor: opened ' .. name .. opened.number .. ': ' .. opened.url)
              end)
            end)
          end })
        end
      end
      vim.ui.select(choices, { prompt = 'Pull request of ' .. (given(session.title) and session.title or id), format_item = function(choice) return choice.label end }, function(choice)
        if choice then choice.run() end
      end)
    end)
  end)
end

function M.merge(session_id, strategy)
  with_session(session_id, function(id)
    local function merge(choice)
      if not choice or choice == 'cancel' then return end
      client.request(protocol.method.session_merge, { sessionId = id, strategy = choice }, function(result)
        if result.merged then
          vim.notify('Arbor: merged into ' .. result.baseBranch .. ' as ' .. result.commit:sub(1, 12))
        else
          vim.notify('Arbor: not merged, conflicts in ' .. table.concat(result.conflicts, ', '), vim.log.levels.WARN)
        end
      end)
    end
    if strategy then
      merge(strategy)
    else
      vim.ui.select({ 'merge', 'squash', 'cancel' }, { prompt = 'Merge into the base branch how?' }, merge)
    end
  end)
end

local function pick_task(done)
  client.request(protocol.method.task_list, vim.empty_dict(), function(result)
    require('arbor.pickers').select(result.tasks, {
      prompt = 'Task',
      columns = function(task) return { task.status, task.title } end,
    }, done)
  end)
end

function M.task_new()
  if not M.ensure() then return end
  vim.ui.input({ prompt = 'Task title: ' }, function(title)
    if not title or title == '' then return end
    vim.ui.input({ prompt = 'Description: ' }, function(description)
      vim.ui.input({ prompt = 'Check command (optional): ' }, function(check)
        local params = { title = title, cwd = vim.fn.getcwd(), description = description, checkCommand = check ~= '' and check or nil }
        client.request(protocol.method.task_new, params, function(task)
          vim.notify('Arbor: created task ' .. task.title)
        end)
      end)
    end)
  end)
end

function M.task_list()
  if not M.ensure() then return end
  pick_task(function(task) require('arbor.compare').open(task.id) end)
end

function M.trial_new()
  if not M.ensure() then return end
  pick_task(function(task)
    client.request(protocol.method.agents_list, nil, function(result)
      local agents = vim.tbl_filter(function(agent) return agent.available end, result.agents)
      vim.ui.select(agents, { prompt = 'Agent for the trial', format_item = function(agent) return agent.name end }, function(agent)
        if not agent then return end
        client.request(protocol.method.trial_new, { taskId = task.id, trials = { { agent = agent.id } } }, function(started)
          for _, trial in ipairs(started.trials) do
            open_new(trial.sessions[1])
          end
        end)
      end)
    end)
  end)
end

function M.compare(task_id)
  if not M.ensure() then return end
  if task_id then
    require('arbor.compare').open(task_id)
  else
    pick_task(function(task) require('arbor.compare').open(task.id) end)
  end
end

--- Promotes the trial under the cursor of the compare buffer, after a confirmation naming it.
function M.promote()
  if not M.ensure() then return end
  local row = require('arbor.compare').trial_at_cursor()
  if row then
    require('arbor.compare').promote(row)
  else
    vim.notify('Arbor: open :Arbor compare and put the cursor on a trial', vim.log.levels.WARN)
  end
end

--- The subcommands of :Arbor, by name. `args`: rest (the text after the name), selection (the
--- visual selection: bufnr, first, last, lines), session (the session meant, else the current).
M.commands = {
  new = function(args) M.new(args.selection) end,
  send = function(args) M.send(args.session, args.rest ~= '' and args.rest or nil, args.selection) end,
  allow = function(args) require('arbor.attention').answer(args.rest == 'always' and 'allow_always' or 'allow_once') end,
  reject = function() require('arbor.attention').answer('reject_once') end,
  answer = function(args) require('arbor.attention').answer_question(args.rest ~= '' and args.rest or nil) end,
  decline = function() require('arbor.attention').decline_question() end,
  inbox = function() if M.ensure() then require('arbor.attention').inbox() end end,
  mode = function(args) M.mode(args.session, args.rest ~= '' and args.rest or nil) end,
  model = function(args) M.model(args.session, args.rest ~= '' and args.rest or nil) end,
  diff = function() M.vimdiff() end,
  cancel = function(args) M.cancel(args.session) end,
  stop = function(args) M.stop(args.session) end,
  resume = function(args) M.resume(args.session) end,
  fork = function(args) M.fork(args.session) end,
  clone = function(args) M.clone(args.session) end,
  rename = function(args) M.rename(args.session, args.rest ~= '' and args.rest or nil) end,
  pin = function(args) M.pin(args.session, args.rest) end,
  hide = function(args) M.hide(args.session) end,
  archive = function(args) M.archive(args.session) end,
  delete = function(args) M.delete(args.session) end,
  export = function(args) M.export(args.session, args.rest ~= '' and args.rest or nil) end,
  sessions = function() M.sessions() end,
  task = function(args)
    if args.rest == 'new' then M.task_new() else M.task_list() end
  end,
  trial = function() M.trial_new() end,
  compare = function() M.compare() end,
  promote = function() M.promote() end,
  review = function(args) M.review(args.session) end,
  commit = function(args) M.commit(args.session, args.rest ~= '' and args.rest or nil) end,
  merge = function(args) M.merge(args.session, args.rest ~= '' and args.rest or nil) end,
  pr = function(args) M.pr(args.session) end,
}

--- What each subcommand does, for the picker `:Arbor` alone opens.
M.descriptions = {
  new = 'start a session: agent, model, first message',
  send = 'write a message to the current session',
  allow = 'allow the waiting permission request',
  reject = 'reject the waiting permission request',
  answer = 'answer the agent\'s waiting question',
  decline = 'decline the agent\'s waiting question',
  inbox = 'everything waiting for you',
  mode = 'change the permission mode',
  model = 'change the model',
  diff = 'review the current file in vimdiff',
  cancel = 'interrupt the turn',
  stop = 'stop the session (resumable)',
  resume = 'start a stopped session again',
  fork = 'new session from the latest checkpoint',
  clone = 'new session with the same settings',
  rename = 'set the title',
  pin = 'toggle pinned; up / down moves it among the pins',
  hide = 'toggle hidden',
  archive = 'archive the session: remove its worktree, keep its branch and history',
  delete = 'delete the session (its branch is kept)',
  export = 'write the conversation to a file',
  sessions = 'pick a session',
  task = 'create or list tasks',
  trial = 'start a trial of a task',
  compare = 'compare a task\'s trials',
  promote = 'promote the trial under the cursor',
  review = 'review the session\'s changes',
  commit = 'commit the worktree on the session branch',
  merge = 'merge the branch into its base',
  pr = 'the pull request: open it, push, or act on its latest update',
}

--- Runs a subcommand by name for `session_id` (the composer's slash commands come here).
function M.run_command(name, rest, session_id)
  M.commands[name]({ rest = rest or '', session = session_id })
end

--- `:Arbor` alone: a picker of the subcommands.
function M.pick_command(selection)
  local names = vim.tbl_keys(M.commands)
  table.sort(names)
  require('arbor.pickers').select(names, {
    prompt = 'Arbor',
    columns = function(name) return { name, M.descriptions[name] or '' } end,
  }, function(name)
    M.commands[name]({ rest = '', selection = selection })
  end)
end

return M
