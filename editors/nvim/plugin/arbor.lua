-- :Arbor {subcommand} — the entry point of the plugin. Loaded lazily: nothing starts until a
-- command runs. :Arbor alone opens a picker of the subcommands.

if vim.g.loaded_arbor then
  return
end
vim.g.loaded_arbor = true

local function visual_selection(range, line1, line2)
  if range == 0 then
    return nil
  end
  return { bufnr = vim.api.nvim_get_current_buf(), first = line1, last = line2, lines = vim.api.nvim_buf_get_lines(0, line1 - 1, line2, false) }
end

vim.api.nvim_create_user_command('Arbor', function(opts)
  local arbor = require('arbor')
  local selection = visual_selection(opts.range, opts.line1, opts.line2)
  local name, rest = opts.args:match('^(%S+)%s*(.*)$')
  if not name then
    arbor.pick_command(selection)
    return
  end
  local command = arbor.commands[name]
  if not command then
    vim.notify('Arbor: unknown subcommand ' .. name .. '; :Arbor alone lists them', vim.log.levels.ERROR)
    return
  end
  command({ rest = rest or '', selection = selection })
end, {
  nargs = '*',
  range = true,
  desc = 'Arbor: run coding agents as sessions on their own git worktrees',
  complete = function(lead, line)
    local words = vim.split(line, '%s+')
    local function matching(candidates)
      return vim.tbl_filter(function(candidate) return candidate:find(lead, 1, true) == 1 end, candidates)
    end
    if #words <= 2 then
      local names = vim.tbl_keys(require('arbor').commands)
      table.sort(names)
      return matching(names)
    end
    local arguments = {
      task = { 'new', 'list' },
      allow = { 'always' },
      mode = { 'ask', 'accept_edits', 'bypass_permissions' },
      merge = { 'merge', 'squash' },
      pin = { 'up', 'down' },
    }
    return matching(arguments[words[2]] or {})
  end,
})
