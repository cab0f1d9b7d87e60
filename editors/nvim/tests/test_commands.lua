local h = require('helpers')

local T = {}

T[':Arbor completes its subcommands'] = function()
  local all = vim.fn.getcompletion('Arbor ', 'cmdline')
  for _, name in ipairs({ 'new', 'send', 'cancel', 'stop', 'resume', 'fork', 'clone', 'rename', 'pin', 'hide', 'delete', 'export',
    'sessions', 'task', 'trial', 'compare', 'promote', 'review', 'commit', 'merge' }) do
    assert(vim.tbl_contains(all, name), 'missing ' .. name)
  end
  assert(vim.deep_equal(vim.fn.getcompletion('Arbor re', 'cmdline'), { 'rename', 'resume', 'review' }))
  assert(vim.deep_equal(vim.fn.getcompletion('Arbor task ', 'cmdline'), { 'new', 'list' }))
end

T[':help arbor opens the help file'] = function()
  local doc = vim.fn.fnamemodify(vim.api.nvim_get_runtime_file('doc/arbor.txt', false)[1], ':h')
  vim.cmd('helptags ' .. vim.fn.fnameescape(doc))
  vim.cmd('help arbor-review')
  assert(vim.bo.buftype == 'help' and vim.api.nvim_get_current_line():find('*arbor-review*', 1, true), vim.api.nvim_get_current_line())
end

T[':checkhealth arbor reports the binary, protocol and agents'] = function()
  h.start()
  require('arbor').config.cmd[1] = os.getenv('ARBOR_BIN')
  vim.cmd('checkhealth arbor')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  assert(text:find('binary found', 1, true), text)
  assert(text:find('protocol version 1', 1, true), text)
  assert(text:find('agent scripted available', 1, true), text)
end

T['rename, pin, export and the sessions picker'] = function()
  h.start()
  local repo = h.repo()
  local session, chat = h.scripted_session(repo, 'say exported text', 'export me')
  h.wait(function() return h.has_line(chat.bufnr, 'turn ended') end, 'the turn')
  vim.api.nvim_set_current_buf(chat.bufnr)
  vim.cmd('Arbor rename My renamed session')
  h.wait(function() return chat:header():find('My renamed session', 1, true) ~= nil end, 'the new title in the header')
  vim.cmd('Arbor pin')
  h.wait(function() return chat.session.pinned == true end, 'pinned')
  local path = vim.fn.tempname() .. '.md'
  vim.cmd('Arbor export ' .. path)
  h.wait(function() return (h.read(path) or ''):find('exported text', 1, true) ~= nil end, 'the export file')
  local original = vim.ui.select
  local shown
  vim.ui.select = function(items, opts, on_choice)
    shown = vim.tbl_map(opts.format_item, items)
    on_choice(nil)
  end
  vim.cmd('Arbor sessions')
  h.wait(function() return shown ~= nil end, 'the picker')
  vim.ui.select = original
  assert(shown[1]:find('My renamed session', 1, true) and shown[1]:find('running', 1, true) and shown[1]:find(session.branch, 1, true), shown[1])
end

T['the compare view renders trial/compare and promotes from it'] = function()
  h.start()
  local repo = h.repo()
  local client = require('arbor.client')
  local task, err = client.request_sync('task/new', { title = 'Pick one', cwd = repo, description = 'write something' })
  assert(task, err)
  local trials = client.request_sync('trial/new', { taskId = task.id, trials = {
    { agent = 'scripted', config = { script = 'write one.txt <<END\n1\nEND\nusage input=5 output=5 cost=0.5' } },
    { agent = 'scripted', config = { script = 'write two.txt <<END\n2\n2\nEND' } },
  } })
  h.wait(function()
    local detail = client.request_sync('task/get', { taskId = task.id })
    return detail.task.status == 'done'
  end, 'trials done')
  local bufnr
  require('arbor.compare').open(task.id, function(created) bufnr = created end)
  h.wait(function() return bufnr ~= nil end, 'compare buffer')
  local lines = h.lines(bufnr)
  assert(lines[1]:find('TRIAL', 1, true) and lines[1]:find('COST', 1, true), lines[1])
  assert(lines[2]:match('^1%s+done%s+scripted%s+1%s+1%s+0') and lines[2]:find('$0.5000', 1, true), lines[2])
  assert(lines[3]:match('^2%s+done%s+scripted%s+1%s+2%s+0'), lines[3])
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  vim.api.nvim_feedkeys('p', 'x', false)
  h.wait(function() return h.read(repo .. '/two.txt') == '2\n2\n' end, 'trial 2 promoted into main')
  h.wait(function()
    local detail = client.request_sync('task/get', { taskId = task.id })
    return detail.task.status == 'promoted' and detail.trials[1].trial.id == trials.trials[1].trial.id and detail.trials[1].trial.status == 'abandoned'
  end, 'the task promoted and the other trial abandoned')
end

return T
