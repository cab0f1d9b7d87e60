local h = require('helpers')
local protocol = require('arbor.protocol')

local T = {}

T[':Arbor completes its subcommands and their arguments'] = function()
  local all = vim.fn.getcompletion('Arbor ', 'cmdline')
  for _, name in ipairs({ 'new', 'send', 'allow', 'reject', 'inbox', 'mode', 'model', 'diff', 'cancel', 'stop', 'resume', 'fork', 'clone', 'rename', 'pin', 'hide', 'archive', 'delete', 'export',
    'sessions', 'task', 'trial', 'compare', 'promote', 'review', 'commit', 'merge' }) do
    assert(vim.tbl_contains(all, name), 'missing ' .. name)
  end
  assert(vim.deep_equal(vim.fn.getcompletion('Arbor re', 'cmdline'), { 'reject', 'rename', 'resume', 'review' }))
  assert(vim.deep_equal(vim.fn.getcompletion('Arbor task ', 'cmdline'), { 'new', 'list' }))
  assert(vim.deep_equal(vim.fn.getcompletion('Arbor mode ', 'cmdline'), { 'ask', 'accept_edits', 'bypass_permissions' }))
end

T[':Arbor alone opens a picker of the subcommands'] = function()
  local seen = h.on_select(function() return nil end)
  vim.cmd('Arbor')
  assert(seen.prompt == 'Arbor' and #seen.lines == vim.tbl_count(require('arbor').commands), vim.inspect(seen.lines))
  local inbox
  for _, line in ipairs(seen.lines) do
    if line:find('^inbox') then inbox = line end
  end
  assert(inbox and inbox:find('everything waiting for you', 1, true), vim.inspect(seen.lines))
  -- Every description starts in the same column.
  local column = seen.lines[1]:find('%S', #seen.items[1] + 1)
  for index, line in ipairs(seen.lines) do
    assert(line:find('%S', #seen.items[index] + 1) == column, 'misaligned: ' .. line)
  end
  assert(#h.notifications == 0, vim.inspect(h.notifications))
end

T['messages say what to do: not connected, unknown subcommand'] = function()
  require('arbor.client').request(protocol.method.session_list, {})
  vim.wait(50)
  local message = h.notifications[1].message
  assert(not message:find(':Arbor start', 1, true) and message:find(':checkhealth arbor', 1, true), message)
  vim.cmd('Arbor fly')
  assert(h.notified('unknown subcommand fly; :Arbor alone lists them'))
end

T[':help arbor-* works from a plain runtimepath: doc/tags is shipped and up to date'] = function()
  local doc = vim.fn.fnamemodify(vim.api.nvim_get_runtime_file('doc/arbor.txt', false)[1], ':h')
  vim.cmd('help arbor-review')
  assert(vim.bo.buftype == 'help' and vim.api.nvim_get_current_line():find('*arbor-review*', 1, true), vim.api.nvim_get_current_line())
  vim.cmd('help arbor.status()')
  assert(vim.api.nvim_get_current_line():find('*arbor.status()*', 1, true), vim.api.nvim_get_current_line())
  -- The shipped tags are exactly what :helptags makes of the help file.
  local fresh = vim.fn.tempname()
  vim.fn.mkdir(fresh, 'p')
  vim.fn.writefile(vim.fn.readfile(doc .. '/arbor.txt'), fresh .. '/arbor.txt')
  vim.cmd('helptags ' .. vim.fn.fnameescape(fresh))
  assert(vim.deep_equal(vim.fn.readfile(fresh .. '/tags'), vim.fn.readfile(doc .. '/tags')), 'doc/tags is stale: run :helptags editors/nvim/doc')
  vim.fn.delete(fresh, 'rf')
end

T[':checkhealth arbor reports the binary, protocol, sandbox and agents, and where to install from'] = function()
  h.start()
  require('arbor').config.cmd[1] = os.getenv('ARBOR_BIN')
  vim.cmd('checkhealth arbor')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  assert(text:find('binary found', 1, true), text)
  assert(text:find('protocol version 1', 1, true), text)
  assert(text:find('agent scripted available', 1, true), text)
  local sandbox = require('arbor.client').request_sync(protocol.method.agents_list).sandbox
  assert(text:find('sandbox backend ' .. sandbox.backends[1].backend, 1, true), text)
  assert(text:find(sandbox.auto ~= vim.NIL and ('`auto` uses ' .. sandbox.auto) or 'no backend works here', 1, true), text)
  vim.cmd('bwipeout!')
  require('arbor').config.cmd[1] = 'arbor-not-installed-here'
  vim.cmd('checkhealth arbor')
  text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  assert(text:find('from the root of a checkout of the Arbor repository, run `cargo install --path server`', 1, true), text)
end

T[':Arbor mode and :Arbor model change the session\'s settings'] = function()
  h.start()
  local repo = h.repo()
  local session, chat = h.finished_session(repo, 'say hi', 'settings')
  vim.api.nvim_set_current_buf(chat.bufnr)
  local seen = h.on_select(function(items) return items[2] end)
  vim.cmd('Arbor mode')
  assert(vim.deep_equal(seen.items, { 'ask', 'accept_edits', 'bypass_permissions' }), vim.inspect(seen.items))
  h.wait(function() return h.notified('permission mode accept_edits') end, 'the mode set')
  local client = require('arbor.client')
  assert(client.request_sync(protocol.method.session_get, { sessionId = session.id }).config.permissionMode == 'accept_edits')
  seen = h.on_select(function(items) return items[1] end)
  vim.cmd('Arbor model')
  h.wait(function() return seen.items ~= nil end, 'the model picker')
  assert(vim.deep_equal(seen.items, { 'scripted' }), 'the models agents/list reports: ' .. vim.inspect(seen.items))
  h.wait(function() return h.notified('model scripted') end, 'the model set')
  assert(client.request_sync(protocol.method.session_get, { sessionId = session.id }).model == 'scripted')
end

T['rename, pin, export and the sessions picker'] = function()
  h.start()
  local repo = h.repo()
  local session, chat = h.finished_session(repo, 'say exported text', 'export me')
  vim.api.nvim_set_current_buf(chat.bufnr)
  vim.cmd('Arbor rename My renamed session')
  h.wait(function() return (chat:header()):find('My renamed session', 1, true) ~= nil end, 'the new title in the header')
  vim.cmd('Arbor pin')
  h.wait(function() return chat.session.pinned == true end, 'pinned')
  local path = vim.fn.tempname() .. '.md'
  vim.cmd('Arbor export ' .. path)
  h.wait(function() return (h.read(path) or ''):find('exported text', 1, true) ~= nil end, 'the export file')
  local pdf = vim.fn.tempname() .. '.pdf'
  vim.cmd('Arbor export ' .. pdf)
  -- Chromium takes its time on a loaded machine.
  h.wait(function() return (h.read(pdf) or ''):sub(1, 4) == '%PDF' end, 'the PDF export, written as its bytes', 180000)
  local waiting = h.scripted_session(repo, 'ask May I\nwrite x.txt <<END\nx\nEND', 'a question')
  local mine, asking
  h.wait(function()
    local seen = h.on_select(function() return nil end)
    vim.cmd('Arbor sessions')
    h.wait(function() return seen.lines ~= nil end, 'the picker')
    for index, item in ipairs(seen.items) do
      if item.id == session.id then mine = seen.lines[index] end
      if item.id == waiting.id then asking = seen.lines[index] end
    end
    return asking:find('waiting_input', 1, true)
  end, 'the second session waiting in the picker')
  assert(mine:find('My renamed session', 1, true) and mine:find('idle', 1, true) and mine:find(session.branch, 1, true), mine)
  -- The columns line up: the branch starts in the same column on every line.
  assert(mine:find('arbor/', 1, true) == asking:find('arbor/', 1, true), mine .. '\n' .. asking)
end

T[':Arbor pin past the cap says what it unpinned; :Arbor pin up / down reorders; costs and extra dirs show'] = function()
  local config = assert(io.open(h.scratch() .. '/config.json', 'w'))
  config:write('{"maxPinnedSessions": 2}')
  config:close()
  h.start()
  local repo = h.repo()
  local extra = h.scratch() .. '/extra'
  vim.fn.mkdir(extra, 'p')
  local client = require('arbor.client')
  local sessions = {}
  for index = 1, 3 do
    local session, chat = h.finished_session(repo, 'say hi\nusage input=1000 output=100', 'hello ' .. index, index == 3 and { additionalDirs = { extra } } or nil)
    sessions[index] = { session = session, chat = chat }
    vim.api.nvim_set_current_buf(chat.bufnr)
    vim.cmd('Arbor pin')
    h.wait(function() return chat.session.pinned == true end, 'pinned ' .. index)
  end
  -- The session's own update can arrive before the answer that the message is made from.
  h.wait(function() return h.notified('pinned on (1 older pin unpinned to make room)') end, 'the unpinning message')
  local function pinned_order()
    local listed = client.request_sync(protocol.method.session_list, {})
    local order = {}
    for _, session in ipairs(listed.sessions) do
      if session.pinned then table.insert(order, session.id) end
    end
    return order
  end
  local second, third = sessions[2].session.id, sessions[3].session.id
  assert(vim.deep_equal(pinned_order(), { second, third }), vim.inspect(pinned_order()))
  vim.cmd('Arbor pin up')
  h.wait(function() return vim.deep_equal(pinned_order(), { third, second }) end, 'moved up')
  vim.cmd('Arbor pin up')
  h.wait(function() return h.notified('already the first pin') end, 'the first pin stays')
  vim.cmd('Arbor pin down')
  h.wait(function() return vim.deep_equal(pinned_order(), { second, third }) end, 'moved down')
  -- The third session's extra directory is in its chat header.
  local real = vim.uv.fs_realpath(extra)
  h.wait(function() return select(2, sessions[3].chat:header()):find('also ' .. real, 1, true) ~= nil end, 'extra dirs in the header')
  local tail = select(2, sessions[3].chat:header())
  assert(not tail:find('≈', 1, true), 'the scripted agent is not priced: ' .. tail)
  assert(require('arbor').cost_text({ costUsd = 0.12, costEstimated = true }) == '≈ $0.1200')
end

--- A task with two finished scripted trials; returns the task, the trials and the repository.
local function two_trials()
  local repo = h.repo()
  local client = require('arbor.client')
  local task, err = client.request_sync(protocol.method.task_new, { title = 'Pick one', cwd = repo, description = 'write something', checkCommand = 'test -f two.txt' })
  assert(task, err)
  local trials = client.request_sync(protocol.method.trial_new, { taskId = task.id, trials = {
    { agent = 'scripted', config = { script = 'write one.txt <<END\n1\nEND\nusage input=5 output=5 cost=0.5' } },
    { agent = 'scripted', config = { script = 'write two.txt <<END\n2\n2\nEND' } },
  } })
  h.wait(function()
    local detail = client.request_sync(protocol.method.task_get, { taskId = task.id })
    return detail.task.status == 'done'
  end, 'trials done')
  return task, trials, repo
end

local function row_line(bufnr, number)
  for index, line in ipairs(h.lines(bufnr)) do
    if line:match('^' .. number .. '%s') then return index, line end
  end
end

T['the compare view: confirmation naming the trial, check and diff keys, ? help, refreshed on task/changed'] = function()
  h.start()
  local task, trials, repo = two_trials()
  local bufnr
  require('arbor.compare').open(task.id, function(created) bufnr = created end)
  h.wait(function() return bufnr ~= nil end, 'compare buffer')
  local lines = h.lines(bufnr)
  assert(lines[1]:find('TRIAL', 1, true) and lines[1]:find('COST', 1, true), lines[1])
  assert(lines[2]:match('^1%s+done%s+scripted%s+1%s+1%s+0') and lines[2]:find('$0.5000', 1, true), lines[2])
  assert(lines[3]:match('^2%s+done%s+scripted%s+1%s+2%s+0'), lines[3])
  assert(h.has_line(bufnr, 'p promote · c check · d diff'), 'the keys are named in the buffer')

  -- ? lists the keys.
  vim.api.nvim_feedkeys('?', 'x', false)
  local help = vim.api.nvim_get_current_buf()
  assert(vim.api.nvim_win_get_config(0).relative ~= '' and h.has_line(help, 'promote the trial'), vim.inspect(h.lines(help)))
  vim.api.nvim_feedkeys('q', 'x', false)
  assert(vim.api.nvim_get_current_buf() == bufnr)

  -- c runs the check; the table shows its result.
  vim.api.nvim_win_set_cursor(0, { row_line(bufnr, 2), 0 })
  vim.api.nvim_feedkeys('c', 'x', false)
  h.wait(function() return select(2, row_line(bufnr, 2)):find('pass', 1, true) ~= nil end, 'the check result in the table')

  -- p asks first, naming the trial; cancelling changes nothing.
  local seen = h.on_select(function(items) return items[2] end)
  vim.api.nvim_feedkeys('p', 'x', false)
  assert(seen.prompt:find('Promote trial 2 (scripted, arbor/', 1, true) and seen.prompt:find('1 other trial(s) will be abandoned', 1, true), seen.prompt)
  vim.wait(300)
  assert(h.read(repo .. '/two.txt') == nil, 'cancelled: nothing promoted')
  h.on_select(function(items) return items[1] end)
  vim.api.nvim_feedkeys('p', 'x', false)
  h.wait(function() return h.read(repo .. '/two.txt') == '2\n2\n' end, 'trial 2 promoted into main')
  -- The table follows task/changed without being reopened.
  h.wait(function()
    return select(2, row_line(bufnr, 2)):match('^2%s+promoted') and select(2, row_line(bufnr, 1)):match('^1%s+abandoned')
  end, 'promoted and abandoned in the table: ' .. table.concat(h.lines(bufnr), '\n'))

  -- d opens the review of the trial's changes.
  vim.api.nvim_win_set_cursor(0, { row_line(bufnr, 1), 0 })
  vim.api.nvim_feedkeys('d', 'x', false)
  h.wait(function() return vim.fn.getqflist({ title = 1 }).title:find('Arbor review', 1, true) ~= nil end, 'the review of trial 1')
  assert(vim.fn.getqflist()[1].text:find('added', 1, true), vim.inspect(vim.fn.getqflist()))
  assert(trials.trials[1].sessions[1].cwd == vim.fs.dirname(vim.api.nvim_buf_get_name(vim.fn.getqflist()[1].bufnr)), 'trial 1\'s worktree')
end

T['export proposes a path outside the repository, never overwrites silently, and exports the compare row\'s session'] = function()
  h.start()
  local task, trials = two_trials()
  local bufnr
  require('arbor.compare').open(task.id, function(created) bufnr = created end)
  h.wait(function() return bufnr ~= nil end, 'compare buffer')
  require('arbor').config.export_dir = h.scratch() .. '/exports'
  vim.api.nvim_win_set_cursor(0, { row_line(bufnr, 2), 0 })
  local target
  local asked = h.on_input(function(opts) target = opts.default return opts.default end)
  vim.cmd('Arbor export')
  h.wait(function() return target and h.read(target) end, 'the export')
  assert(vim.startswith(target, h.scratch() .. '/exports/'), target)
  assert(asked.opts.prompt == 'Export to: ')
  assert(h.read(target):find(trials.trials[2].sessions[1].id, 1, true), 'the session of the row under the cursor was exported')
  assert(vim.fn.getcwd() ~= vim.fs.dirname(target))

  -- The same path again: asked, and a refusal keeps the file.
  vim.fn.writefile({ 'keep me' }, target)
  local seen = h.on_select(function(items) return items[2] end)
  h.on_input(function(opts) return opts.default end)
  vim.cmd('Arbor export')
  h.wait(function() return seen.prompt ~= nil end, 'the overwrite question')
  assert(seen.prompt:find('exists. Overwrite it?', 1, true), seen.prompt)
  assert(h.read(target) == 'keep me\n', 'not overwritten')
  h.on_select(function(items) return items[1] end)
  vim.cmd('Arbor export ' .. vim.fn.fnameescape(target))
  h.wait(function() return h.read(target) ~= 'keep me\n' end, 'overwritten once confirmed')
end

T['a pull request: its state in words, its updates in the chat, :Arbor pr offers what applies'] = function()
  h.start()
  local arbor = require('arbor')
  local pr = { number = 12, url = 'https://github.com/acme/widgets/pull/12', state = 'open', review = 'approved', checks = { passed = 2, total = 2 } }
  assert(arbor.pull_request_text(pr) == 'PR #12 open, approved, checks 2/2', arbor.pull_request_text(pr))
  assert(arbor.pull_request_text(vim.NIL) == '' and arbor.pull_request_text(nil) == '')
  local mr = vim.tbl_extend('force', pr, { forge = 'gitlab' })
  assert(arbor.pull_request_text(mr) == 'MR !12 open, approved, checks 2/2', arbor.pull_request_text(mr))
  local repo = h.repo()
  local session, chat = h.scripted_session(repo, 'say ready', 'go')
  h.wait(function() return h.has_line(chat.bufnr, 'ready') end, 'the first turn')
  -- The server's pr_updated event, as docs/protocol.md gives it, arriving as the next event.
  chat:receive({ sessionId = session.id, seq = chat.last_seq + 1, at = 0, event = { kind = 'pr_updated', pullRequest = vim.tbl_extend('force', pr, { state = 'merged' }), changes = { 'merged' },
    message = 'Pull request #12 was merged on GitHub; the session\'s branch and worktree can be deleted',
    actions = { { id = 'delete_session', label = 'Delete the branch and worktree', method = protocol.method.session_delete, params = { sessionId = session.id, deleteBranch = true } } } } })
  h.wait(function() return h.has_line(chat.bufnr, "> Pull request #12 was merged on GitHub; the session's branch and worktree can be deleted   (:Arbor pr)") end, 'the pull request update: ' .. vim.inspect(h.lines(chat.bufnr)))
  -- This session has no pull request on the server: :Arbor pr offers to push and open one.
  vim.api.nvim_set_current_buf(chat.bufnr)
  local seen = h.on_select(function() return nil end)
  vim.cmd('Arbor pr')
  h.wait(function() return seen.lines ~= nil end, 'the pull request picker')
  assert(vim.deep_equal(seen.lines, { 'Push and open a pull request', 'Push and open a draft pull request' }), vim.inspect(seen.lines))
end

return T
