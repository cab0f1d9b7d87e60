-- Where a session runs: a session on a configured host says "on NAME" in the sessions picker and
-- the chat's winbar; a session on this machine shows nothing new.

local h = require('helpers')

local T = {}

T['a session on a host says "on build-1" in the sessions picker and the winbar, a local one does not'] = function()
  h.place_on_host('build-1', function(session) return session.title == 'Remote work' end)
  h.start()
  local repo = h.repo()
  local _, remote = h.finished_session(repo, 'say hello from afar', 'remote', { title = 'Remote work' })
  h.wait(function() return remote.session and remote.session.host == 'build-1' end, 'the host in the chat\'s record')
  local win = vim.fn.win_findbuf(remote.bufnr)[1]
  h.wait(function() return vim.wo[win].winbar:find(' — scripted · on build-1 · running', 1, true) ~= nil end, 'the host in the winbar')
  assert(vim.wo[win].winbar:find('^%%#ArborWinbarTitle#Remote work%%%* — scripted · on build%-1 · running · idle · %$0%.0000$'), vim.wo[win].winbar)

  local _, here = h.finished_session(repo, 'say hello from here', 'local', { title = 'Local work' })
  win = vim.fn.win_findbuf(here.bufnr)[1]
  h.wait(function() return here.session and here.session.status == 'running' end, 'the local session running')
  assert(vim.wo[win].winbar:find('^%%#ArborWinbarTitle#Local work%%%* — scripted · running · idle · %$0%.0000$'), vim.wo[win].winbar)

  local seen = h.on_select(function() return nil end)
  vim.cmd('Arbor sessions')
  h.wait(function() return seen.lines ~= nil end, 'the sessions picker')
  local remote_line, local_line
  for _, line in ipairs(seen.lines) do
    if line:find('Remote work', 1, true) then remote_line = line end
    if line:find('Local work', 1, true) then local_line = line end
  end
  assert(remote_line and local_line, vim.inspect(seen.lines))
  -- The host shares the agent's cell: the local row's cell is only padded, and the titles of
  -- both rows start in the same column.
  assert(remote_line:find('^   idle  scripted on build%-1  Remote work  arbor/'), remote_line)
  assert(local_line:find('^   idle  scripted' .. string.rep(' ', 13) .. 'Local work   arbor/'), local_line)
  assert(not local_line:find(' on ', 1, true), local_line)
end

return T
