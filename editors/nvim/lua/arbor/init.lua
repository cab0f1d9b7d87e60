-- Arbor for Neovim: run coding agents as sessions on their own git worktrees, watch them in a
-- chat buffer, review their changes inline and land them. A thin client: all state lives in the
-- Arbor server (`arbor lsp`).

local client = require('arbor.client')

local M = {}

--- Defaults; `setup()` merges the user's options over them.
M.config = {
  -- The server command; `arbor lsp` starts (or reuses) the Arbor daemon.
  cmd = { 'arbor', 'lsp' },
  -- Where chats open: 'vsplit', 'split', 'tab' or 'current'.
  layout = 'vsplit',
  -- Agent used by :Arbor new when only one is wanted without asking.
  default_agent = nil,
  keymaps = {
    chat = { allow = 'a', allow_always = 'A', reject = 'r', send = 'i', cancel = '<C-c>' },
    review = {
      next_hunk = ']h',
      prev_hunk = '[h',
      accept_hunk = '<leader>aa',
      reject_hunk = '<leader>ar',
      accept_file = '<leader>aA',
      reject_file = '<leader>aR',
      diff_split = '<leader>ad',
    },
  },
}

--- The session the user means: the current chat's, else the last one used.
local last_session

function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', M.config, opts or {})
  require('arbor.review').setup()
end

--- Connects to the server if needed. Returns true when connected.
function M.ensure()
  if client.is_running() then
    return true
  end
  local ok, err = client.start(M.config.cmd, { cwd = vim.fn.getcwd() })
  if not ok then
    vim.notify('Arbor: ' .. err, vim.log.levels.ERROR)
  end
  return ok
end

local function current_session()
  local chat = require('arbor.chat').for_buffer(0)
  local id = (chat and chat.session_id) or last_session
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
  client.request('session/new', params, function(session)
    last_session = session.id
    require('arbor.chat').open(session.id)
    if done then done(session) end
  end)
end

--- :Arbor new — pick an agent and model, then a prompt (or use the visual selection).
function M.new(selection)
  if not M.ensure() then return end
  client.request('agents/list', nil, function(result)
    local agents = vim.tbl_filter(function(agent) return agent.available end, result.agents)
    local function ask_prompt(agent, model)
      local given = selection ~= '' and selection or nil
      given_or_asked(given, { prompt = 'Prompt for ' .. agent.name .. ': ' }, function(prompt)
        M.new_session({ agent = agent.id, model = model, prompt = prompt })
      end)
    end
    vim.ui.select(agents, {
      prompt = 'Agent',
      format_item = function(agent) return agent.name .. (agent.version ~= vim.NIL and agent.version and (' ' .. agent.version) or '') end,
    }, function(agent)
      if not agent then return end
      if #agent.models > 1 then
        vim.ui.select(agent.models, { prompt = 'Model' }, function(model) ask_prompt(agent, model) end)
      else
        ask_prompt(agent, agent.models[1])
      end
    end)
  end)
end

--- Sends a message (asked for when `text` is nil).
function M.send(session_id, text)
  with_session(session_id, function(id)
    given_or_asked(text, { prompt = 'Message: ' }, function(message)
      client.request('session/prompt', { sessionId = id, text = message })
    end)
  end)
end

function M.cancel(session_id)
  with_session(session_id, function(id) client.request('session/cancel', { sessionId = id }) end)
end

function M.stop(session_id)
  with_session(session_id, function(id) client.request('session/stop', { sessionId = id }) end)
end

function M.resume(session_id)
  with_session(session_id, function(id)
    client.request('session/resume', { sessionId = id }, function()
      require('arbor.chat').open(id)
    end)
  end)
end

local function open_new(session)
  last_session = session.id
  require('arbor.chat').open(session.id)
end

function M.fork(session_id)
  with_session(session_id, function(id) client.request('session/fork', { sessionId = id }, open_new) end)
end

function M.clone(session_id)
  with_session(session_id, function(id) client.request('session/clone', { sessionId = id }, open_new) end)
end

function M.rename(session_id, title)
  with_session(session_id, function(id)
    given_or_asked(title, { prompt = 'Title: ' }, function(new_title)
      client.request('session/configure', { sessionId = id, title = new_title })
    end)
  end)
end

local function toggle(session_id, field)
  with_session(session_id, function(id)
    client.request('session/get', { sessionId = id }, function(session)
      client.request('session/configure', { sessionId = id, [field] = not session[field] }, function(updated)
        vim.notify(string.format('Arbor: %s %s', field, updated[field] and 'on' or 'off'))
      end)
    end)
  end)
end

function M.pin(session_id) toggle(session_id, 'pinned') end
function M.hide(session_id) toggle(session_id, 'hidden') end

function M.delete(session_id)
  with_session(session_id, function(id)
    vim.ui.select({ 'Delete (keep the branch)', 'Cancel' }, { prompt = 'Delete this session?' }, function(choice)
      if choice ~= 'Delete (keep the branch)' then return end
      client.request('session/delete', { sessionId = id }, function(result)
        local kept = result.keptBranch ~= vim.NIL and result.keptBranch or nil
        vim.notify('Arbor: session deleted' .. (kept and ('; its work is on ' .. kept) or ''))
      end)
    end)
  end)
end

--- Exports the session to a file: Markdown, or HTML / JSON by the file's extension.
function M.export(session_id, path)
  with_session(session_id, function(id)
    given_or_asked(path, { prompt = 'Export to: ', default = 'arbor-session.md' }, function(target)
      local extension = target:match('%.(%w+)$')
      local format = (extension == 'html' or extension == 'json') and extension or 'markdown'
      client.request('session/export', { sessionId = id, format = format }, function(result)
        vim.fn.writefile(vim.split(result.content, '\n', { plain = true }), vim.fn.expand(target))
        vim.notify('Arbor: exported to ' .. target)
      end)
    end)
  end)
end

--- :Arbor sessions — a picker with status, agent, title, branch and cost.
function M.sessions()
  if not M.ensure() then return end
  client.request('session/list', { limit = 200 }, function(result)
    vim.ui.select(result.sessions, {
      prompt = 'Arbor sessions',
      format_item = function(session)
        local title = session.title ~= vim.NIL and session.title or '(untitled)'
        local branch = session.branch ~= vim.NIL and session.branch or '-'
        return string.format('%s%-9s %-8s %-40s %s  $%.4f', session.pinned and '* ' or '', session.status, session.agent, title, branch, session.usage.costUsd)
      end,
    }, function(session)
      if session then open_new(session) end
    end)
  end)
end

function M.review(session_id)
  with_session(session_id, function(id) require('arbor.review').open(id) end)
end

function M.commit(session_id, message)
  with_session(session_id, function(id)
    client.request('review/commit', { sessionId = id, message = message }, function(result)
      vim.notify('Arbor: committed ' .. result.commit:sub(1, 12) .. ' (' .. result.filesChanged .. ' files)')
    end)
  end)
end

--- Merges the session's branch into its base: `strategy` 'merge' or 'squash' (asked when nil).
function M.merge(session_id, strategy)
  with_session(session_id, function(id)
    local function merge(choice)
      if not choice or choice == 'cancel' then return end
      client.request('session/merge', { sessionId = id, strategy = choice }, function(result)
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
  client.request('task/list', vim.empty_dict(), function(result)
    vim.ui.select(result.tasks, {
      prompt = 'Task',
      format_item = function(task) return task.status .. '  ' .. task.title end,
    }, function(task) if task then done(task) end end)
  end)
end

function M.task_new()
  if not M.ensure() then return end
  vim.ui.input({ prompt = 'Task title: ' }, function(title)
    if not title or title == '' then return end
    vim.ui.input({ prompt = 'Description: ' }, function(description)
      vim.ui.input({ prompt = 'Check command (optional): ' }, function(check)
        local params = { title = title, cwd = vim.fn.getcwd(), description = description, checkCommand = check ~= '' and check or nil }
        client.request('task/new', params, function(task)
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
    client.request('agents/list', nil, function(result)
      local agents = vim.tbl_filter(function(agent) return agent.available end, result.agents)
      vim.ui.select(agents, { prompt = 'Agent for the trial', format_item = function(agent) return agent.name end }, function(agent)
        if not agent then return end
        client.request('trial/new', { taskId = task.id, trials = { { agent = agent.id } } }, function(started)
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

function M.promote(trial_id)
  if not M.ensure() then return end
  local function promote(id)
    client.request('trial/promote', { trialId = id }, function(result)
      if result.merge.merged then
        vim.notify('Arbor: promoted into ' .. result.merge.baseBranch .. '; ' .. #result.abandoned .. ' other trials abandoned')
      else
        vim.notify('Arbor: not promoted, conflicts in ' .. table.concat(result.merge.conflicts, ', '), vim.log.levels.WARN)
      end
    end)
  end
  if trial_id then
    promote(trial_id)
  else
    local row = require('arbor.compare').trial_at_cursor()
    if row then promote(row.trialId) else vim.notify('Arbor: open :Arbor compare and put the cursor on a trial', vim.log.levels.WARN) end
  end
end

--- The subcommands of :Arbor, by name.
M.commands = {
  new = function(args) M.new(args.selection) end,
  send = function(args) M.send(nil, args.rest ~= '' and args.rest or nil) end,
  cancel = function() M.cancel() end,
  stop = function() M.stop() end,
  resume = function() M.resume() end,
  fork = function() M.fork() end,
  clone = function() M.clone() end,
  rename = function(args) M.rename(nil, args.rest ~= '' and args.rest or nil) end,
  pin = function() M.pin() end,
  hide = function() M.hide() end,
  delete = function() M.delete() end,
  export = function(args) M.export(nil, args.rest ~= '' and args.rest or nil) end,
  sessions = function() M.sessions() end,
  task = function(args)
    if args.rest == 'new' then M.task_new() else M.task_list() end
  end,
  trial = function() M.trial_new() end,
  compare = function() M.compare() end,
  promote = function() M.promote() end,
  review = function() M.review() end,
  commit = function(args) M.commit(nil, args.rest ~= '' and args.rest or nil) end,
  merge = function(args) M.merge(nil, args.rest ~= '' and args.rest or nil) end,
}

return M
