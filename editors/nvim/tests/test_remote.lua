local h = require('helpers')

local T = {}

--- `arbor daemon --listen 127.0.0.1:0` in its own directories; returns the process and its
--- WebSocket URL once its discovery file names the listener.
local function listening_daemon(dir)
  local bin = assert(os.getenv('ARBOR_BIN'), 'set ARBOR_BIN to the arbor binary')
  local daemon = vim.system({ bin, '--data-dir', dir .. '/data', '--runtime-dir', dir .. '/run',
    '--config', dir .. '/config.json', 'daemon', '--listen', '127.0.0.1:0' })
  local url
  h.wait(function()
    local text = h.read(dir .. '/run/daemon.json')
    local discovery = text and vim.json.decode(text)
    url = discovery and discovery.webUrl
    return url ~= nil
  end, 'the daemon to announce its web listener')
  return daemon, url:gsub('^http', 'ws') .. '/ws'
end

T['connected with --connect to a daemon in another runtime directory, a session streams'] = function()
  local remote = vim.fn.tempname()
  vim.fn.mkdir(remote, 'p')
  local daemon, url = listening_daemon(remote)
  local ok, err = pcall(function()
    local local_dir = vim.fn.tempname()
    require('arbor').setup({
      cmd = { os.getenv('ARBOR_BIN'), '--data-dir', local_dir .. '/data', '--runtime-dir', local_dir .. '/run',
        'lsp', '--connect', url, '--token-file', remote .. '/run/token' },
      layout = 'current',
    })
    assert(require('arbor').ensure(), 'the plugin could not start arbor lsp --connect')
    local repo = h.repo()
    local _, chat = h.scripted_session(repo, 'say Hello over the WebSocket.\nsay Still streaming.', 'stream it')
    h.wait(function() return h.has_line(chat.bufnr, 'Still streaming.') end, 'the reply streamed over --connect')
    assert(h.has_line(chat.bufnr, 'Hello over the WebSocket.'), vim.inspect(h.lines(chat.bufnr)))
    -- The editor's own runtime directory holds no daemon: the session lives in the remote one.
    assert(h.read(local_dir .. '/run/daemon.json') == nil, 'a local daemon was started')
  end)
  daemon:kill(15)
  daemon:wait(10000)
  vim.fn.delete(remote, 'rf')
  assert(ok, err)
end

return T
