-- The connection to the Arbor server: `arbor lsp` spawned through vim.lsp.rpc (LSP framing,
-- no plugin dependencies), the LSP handshake, requests with errors shown by vim.notify, and a
-- small dispatcher for server notifications.

local M = {}

local state = {
  rpc = nil,
  capabilities = nil,
  listeners = {}, -- method -> { id -> fn }
  next_listener = 0,
}

local function notify_error(message)
  vim.schedule(function()
    vim.notify('Arbor: ' .. message, vim.log.levels.ERROR)
  end)
end

local function dispatch(method, params)
  for _, listener in pairs(state.listeners[method] or {}) do
    local ok, err = pcall(listener, params)
    if not ok then
      notify_error('a listener for ' .. method .. ' failed: ' .. tostring(err))
    end
  end
end

--- Subscribes `fn` to a server notification; returns a function that unsubscribes.
---@param method string a name from `require('arbor.protocol').notification`
---@param fn fun(params: table)
function M.on(method, fn)
  state.next_listener = state.next_listener + 1
  local id = state.next_listener
  state.listeners[method] = state.listeners[method] or {}
  state.listeners[method][id] = fn
  return function()
    state.listeners[method][id] = nil
  end
end

--- True while a server is connected.
function M.is_running()
  return state.rpc ~= nil and not state.rpc.is_closing()
end

--- What the server said about itself in its initialize result (capabilities.experimental.arbor).
function M.capabilities()
  return state.capabilities
end

--- Starts `cmd` and completes the LSP handshake. Returns true, or false and a message.
function M.start(cmd, opts)
  if M.is_running() then
    return true
  end
  opts = opts or {}
  -- Callbacks of an earlier connection (which may end after a new one started) must not
  -- touch the new one.
  local this
  local dispatchers = {
    notification = function(method, params)
      if vim.in_fast_event() then
        vim.schedule(function()
          dispatch(method, params)
        end)
      else
        dispatch(method, params)
      end
    end,
    server_request = function(_, _)
      return nil, vim.lsp.rpc.rpc_response_error(vim.lsp.protocol.ErrorCodes.MethodNotFound)
    end,
    on_exit = function(code, _)
      if state.rpc ~= this then
        return
      end
      state.rpc = nil
      if code ~= 0 then
        notify_error('the server exited with code ' .. tostring(code))
      end
    end,
    on_error = function(_, err)
      notify_error('connection error: ' .. vim.inspect(err))
    end,
  }
  local ok, rpc = pcall(vim.lsp.rpc.start, cmd, dispatchers, { cwd = opts.cwd, env = opts.env })
  if not ok or not rpc then
    return false, 'could not start ' .. table.concat(cmd, ' ') .. ': ' .. tostring(rpc)
  end
  this = rpc
  state.rpc = rpc
  local result, err = M.request_sync('initialize', {
    processId = vim.fn.getpid(),
    clientInfo = { name = 'arbor.nvim' },
    capabilities = vim.empty_dict(),
    rootUri = vim.NIL,
  }, opts.timeout or 15000)
  if err then
    M.stop()
    return false, err
  end
  state.capabilities = vim.tbl_get(result or {}, 'capabilities', 'experimental', 'arbor')
  rpc.notify('initialized', vim.empty_dict())
  return true
end

--- Ends the connection politely (the server's sessions keep running).
function M.stop()
  if state.rpc then
    local rpc = state.rpc
    state.rpc = nil
    pcall(rpc.request, 'shutdown', nil, function()
      pcall(rpc.notify, 'exit', nil)
    end)
    vim.defer_fn(function()
      if not rpc.is_closing() then
        rpc.terminate()
      end
    end, 500)
  end
end

local function message_of(err)
  if type(err) == 'table' then
    return err.message or vim.inspect(err)
  end
  return tostring(err)
end

--- Sends a request; `callback(result)` runs only on success. Errors are shown with
--- vim.notify (or given to `on_error` when set), never raised.
---@param method string a name from `require('arbor.protocol').method`, whose comment names its params and result types
---@param params table|nil
---@param callback? fun(result: any)
---@param on_error? fun(message: string)
function M.request(method, params, callback, on_error)
  if not M.is_running() then
    local message = 'not connected to the Arbor server; any :Arbor command connects, and :checkhealth arbor says why it cannot'
    if on_error then on_error(message) else notify_error(message) end
    return
  end
  local sent = state.rpc.request(method, params or vim.NIL, function(err, result)
    vim.schedule(function()
      if err then
        local message = method .. ': ' .. message_of(err)
        if on_error then on_error(message) else notify_error(message) end
      elseif callback then
        callback(result)
      end
    end)
  end)
  if not sent then
    notify_error(method .. ': the request could not be sent')
  end
end

--- Sends a request and waits for its answer. Returns result, or nil and a message.
---@param method string a name from `require('arbor.protocol').method`
---@param params table|nil
---@param timeout? integer milliseconds
function M.request_sync(method, params, timeout)
  if not state.rpc then
    return nil, 'not connected to the Arbor server'
  end
  local done, result, failure = false, nil, nil
  state.rpc.request(method, params or vim.NIL, function(err, res)
    done, result = true, res
    if err then failure = method .. ': ' .. message_of(err) end
  end)
  if not vim.wait(timeout or 10000, function() return done end, 10) then
    return nil, method .. ': no answer within ' .. tostring(timeout or 10000) .. ' ms'
  end
  return result, failure
end

return M
