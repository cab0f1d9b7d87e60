-- :checkhealth arbor — the binary, its version, the protocol version, the agents, the daemon.

local M = {}

local SUPPORTED_PROTOCOL = 1

function M.check()
  vim.health.start('arbor')
  local config = require('arbor').config
  local binary = config.cmd[1]
  if vim.fn.executable(binary) == 1 then
    local version = vim.fn.system({ binary, '--version' }):gsub('%s+$', '')
    vim.health.ok('binary found: ' .. vim.fn.exepath(binary) .. ' (' .. version .. ')')
  else
    vim.health.error('`' .. binary .. '` is not executable', { 'install it with `cargo install --path server`, or set cmd in setup()' })
    return
  end
  local started = require('arbor').ensure()
  if not started then
    vim.health.error('could not reach the Arbor server with `' .. table.concat(config.cmd, ' ') .. '`')
    return
  end
  vim.health.ok('server reachable')
  local capabilities = require('arbor.client').capabilities() or {}
  if capabilities.protocolVersion == SUPPORTED_PROTOCOL then
    vim.health.ok('protocol version ' .. capabilities.protocolVersion .. ' (server ' .. (capabilities.serverVersion or '?') .. ')')
  else
    vim.health.error('the server speaks protocol ' .. tostring(capabilities.protocolVersion) .. ', this plugin ' .. SUPPORTED_PROTOCOL)
  end
  for _, agent in ipairs(capabilities.agents or {}) do
    if agent.available then
      vim.health.ok('agent ' .. agent.id .. ' available' .. ((agent.version ~= vim.NIL and agent.version) and (' (' .. agent.version .. ')') or ''))
    else
      vim.health.warn('agent ' .. agent.id .. ' not available', { agent.installHint ~= vim.NIL and agent.installHint or nil })
    end
  end
end

return M
