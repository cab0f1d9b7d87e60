-- :checkhealth arbor — the binary, its version, the protocol version, the agents, the daemon.

local protocol = require('arbor.protocol')
local M = {}

function M.check()
  vim.health.start('arbor')
  local config = require('arbor').config
  local binary = config.cmd[1]
  if vim.fn.executable(binary) == 1 then
    local version = vim.fn.system({ binary, '--version' }):gsub('%s+$', '')
    vim.health.ok('binary found: ' .. vim.fn.exepath(binary) .. ' (' .. version .. ')')
  else
    vim.health.error('`' .. binary .. '` is not executable', {
      'from the root of a checkout of the Arbor repository, run `cargo install --path server` (it installs `arbor` into ~/.cargo/bin)',
      'or set cmd in require(\'arbor\').setup() to the binary\'s full path',
    })
    return
  end
  local started = require('arbor').ensure()
  if not started then
    vim.health.error('could not reach the Arbor server with `' .. table.concat(config.cmd, ' ') .. '`')
    return
  end
  vim.health.ok('server reachable')
  local capabilities = require('arbor.client').capabilities() or {}
  if capabilities.protocolVersion == protocol.PROTOCOL_VERSION then
    vim.health.ok('protocol version ' .. capabilities.protocolVersion .. ' (server ' .. (capabilities.serverVersion or '?') .. ')')
  else
    vim.health.error('the server speaks protocol ' .. tostring(capabilities.protocolVersion) .. ', this plugin ' .. protocol.PROTOCOL_VERSION)
  end
  M.sandbox()
  for _, agent in ipairs(capabilities.agents or {}) do
    if agent.available then
      vim.health.ok('agent ' .. agent.id .. ' available' .. ((agent.version ~= vim.NIL and agent.version) and (' (' .. agent.version .. ')') or ''))
    else
      vim.health.warn('agent ' .. agent.id .. ' not available', { agent.installHint ~= vim.NIL and agent.installHint or nil })
    end
  end
end

--- The sandbox backends the server found on this machine (from agents/list).
function M.sandbox()
  local result, err = require('arbor.client').request_sync(protocol.method.agents_list, nil, 5000)
  if not result then
    vim.health.warn('agents/list failed: ' .. tostring(err))
    return
  end
  local sandbox = result.sandbox
  if not sandbox then
    vim.health.info('this server does not report sandbox backends')
    return
  end
  if sandbox.auto ~= nil and sandbox.auto ~= vim.NIL then
    vim.health.ok('sandbox: `auto` uses ' .. sandbox.auto .. '; limits enforced by ' .. tostring(sandbox.limits))
  else
    vim.health.warn('sandbox: no backend works here; agents run unconfined' .. ((sandbox.reason ~= nil and sandbox.reason ~= vim.NIL) and (' (' .. sandbox.reason .. ')') or ''))
  end
  for _, backend in ipairs(sandbox.backends or {}) do
    local line = 'sandbox backend ' .. backend.backend .. ': ' .. backend.detail
    if backend.available then vim.health.ok(line) else vim.health.info(line) end
  end
end

return M
