-- Helpers for the Neovim tests: scratch git repositories, the plugin started against the real
-- `arbor` binary (standalone, with scratch data and runtime directories), and waiting.

local protocol = require('arbor.protocol')
local M = {}

local scratch

--- Fails the test with `message` unless `condition` becomes true within `timeout` ms.
function M.wait(condition, message, timeout)
  local ok = vim.wait(timeout or 20000, function()
    local good, result = pcall(condition)
    return good and result
  end, 10)
  assert(ok, 'timed out: ' .. (message or 'condition'))
end

function M.run(cmd, cwd)
  local result = vim.system(cmd, { cwd = cwd, text = true, env = {
    GIT_AUTHOR_NAME = 'Test', GIT_AUTHOR_EMAIL = 'test@example.invalid',
    GIT_COMMITTER_NAME = 'Test', GIT_COMMITTER_EMAIL = 'test@example.invalid',
  } }):wait()
  assert(result.code == 0, table.concat(cmd, ' ') .. ' failed: ' .. (result.stderr or ''))
  return vim.trim(result.stdout or '')
end

--- A git repository with `files` (path -> text) committed on main.
function M.repo(files)
  local dir = scratch .. '/repo'
  vim.fn.mkdir(dir, 'p')
  M.run({ 'git', 'init', '-q', '-b', 'main' }, dir)
  files = files or { ['README.md'] = '# test\n' }
  for path, text in pairs(files) do
    vim.fn.mkdir(vim.fs.dirname(dir .. '/' .. path), 'p')
    local handle = assert(io.open(dir .. '/' .. path, 'w'))
    handle:write(text)
    handle:close()
  end
  M.run({ 'git', 'add', '-A' }, dir)
  M.run({ 'git', 'commit', '-q', '-m', 'initial' }, dir)
  return dir
end

function M.read(path)
  local handle = io.open(path, 'r')
  if not handle then return nil end
  local text = handle:read('*a')
  handle:close()
  return text
end

--- The plugin, set up to run the real binary in scratch directories.
function M.start(opts)
  local bin = assert(os.getenv('ARBOR_BIN'), 'set ARBOR_BIN to the arbor binary')
  require('arbor').setup(vim.tbl_deep_extend('force', {
    cmd = { bin, '--data-dir', scratch .. '/data', '--runtime-dir', scratch .. '/run', '--config', scratch .. '/config.json', 'lsp', '--standalone' },
    layout = 'current',
  }, opts or {}))
  assert(require('arbor').ensure(), 'the plugin could not start arbor')
end

--- Lines of a buffer.
function M.lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

--- True when some line of `bufnr` contains `text`.
function M.has_line(bufnr, text)
  for _, line in ipairs(M.lines(bufnr)) do
    if line:find(text, 1, true) then return true end
  end
  return false
end

--- Starts a scripted session in `repo` and waits for its chat buffer; `extra` adds session/new
--- params (such as permission rules).
function M.scripted_session(repo, script, prompt, extra)
  local session
  local params = vim.tbl_extend('force', { cwd = repo, agent = 'scripted', prompt = prompt, config = { script = script } }, extra or {})
  require('arbor').new_session(params, function(created)
    session = created
  end)
  M.wait(function() return session ~= nil end, protocol.method.session_new)
  local chat = require('arbor.chat').get(session.id)
  return session, chat
end

--- Messages given to vim.notify since the last reset: { message, level }.
M.notifications = {}

--- True when a notification containing `text` was given.
function M.notified(text)
  for _, entry in ipairs(M.notifications) do
    if entry.message:find(text, 1, true) then return entry end
  end
end

--- Answers the next vim.ui.select with `choose(items, opts)` (an item, or nil to dismiss);
--- returns a table that records the prompt and the shown lines.
function M.on_select(choose)
  local seen = {}
  vim.ui.select = function(items, opts, on_choice)
    seen.prompt = opts.prompt
    seen.lines = vim.tbl_map(opts.format_item or tostring, items)
    seen.items = items
    on_choice(choose(items, opts))
  end
  return seen
end

--- Answers the next vim.ui.input with `answer(opts)`; returns a table recording its opts.
function M.on_input(answer)
  local seen = {}
  vim.ui.input = function(opts, on_confirm)
    seen.opts = opts
    on_confirm(answer(opts))
  end
  return seen
end

--- Windows of the current tab page that are not floating.
function M.split_windows()
  return vim.tbl_filter(function(win) return vim.api.nvim_win_get_config(win).relative == '' end, vim.api.nvim_tabpage_list_wins(0))
end

--- The scratch directory of this test (outside every repository).
function M.scratch()
  return scratch
end

local original_select, original_input = vim.ui.select, vim.ui.input
local original_rpc_start = vim.lsp.rpc.start

--- Makes the server's Session records for which `placed(session)` is true carry `host`, in
--- every answer and notification the plugin receives, as a daemon that placed those sessions on
--- that configured host sends them: no test here has a second machine to run one on. Call it
--- before `M.start`; `M.reset` undoes it.
---@param host string
---@param placed fun(session: arbor.Session): boolean
function M.place_on_host(host, placed)
  local function place(value)
    if type(value) ~= 'table' then
      return value
    end
    -- A Session record is the only wire type with both of these fields.
    if value.lastSeq ~= nil and value.isolation ~= nil and placed(value) then
      value.host = host
    end
    for _, child in pairs(value) do
      place(child)
    end
    return value
  end
  vim.lsp.rpc.start = function(cmd, dispatchers, opts)
    local rpc = original_rpc_start(cmd, vim.tbl_extend('force', dispatchers, {
      notification = function(method, params) return dispatchers.notification(method, place(params)) end,
    }), opts)
    local request = rpc.request
    rpc.request = function(method, params, callback, ...)
      return request(method, params, function(err, result) return callback(err, place(result)) end, ...)
    end
    return rpc
  end
end

--- A scripted session whose first turn has ended, with its chat.
function M.finished_session(repo, script, prompt, extra)
  local session, chat = M.scripted_session(repo, script, prompt, extra)
  M.wait(function() return M.has_line(chat.bufnr, 'turn ended') end, 'the first turn')
  return session, chat
end

--- Fresh scratch directories (in `dir` when given), a stopped server and no buffers, windows
--- or tabs from the last test; notifications recorded instead of printed.
function M.reset(dir)
  require('arbor.client').stop()
  vim.wait(200, function() return not require('arbor.client').is_running() end)
  vim.ui.select, vim.ui.input = original_select, original_input
  vim.lsp.rpc.start = original_rpc_start
  M.notifications = {}
  vim.notify = function(message, level) table.insert(M.notifications, { message = message, level = level }) end
  vim.cmd('silent! tabonly!')
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    vim.wo[win].winfixbuf = false
  end
  vim.cmd('silent! only!')
  vim.cmd('silent! %bwipeout!')
  vim.fn.setqflist({}, 'r')
  scratch = dir or vim.fn.tempname()
  vim.fn.mkdir(scratch, 'p')
end

return M
