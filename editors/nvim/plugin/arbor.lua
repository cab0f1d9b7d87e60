-- :Arbor {subcommand} — the entry point of the plugin. Loaded lazily: nothing starts until a
-- command runs.

if vim.g.loaded_arbor then
  return
end
vim.g.loaded_arbor = true

local function visual_selection(range, line1, line2)
  if range == 0 then
    return nil
  end
  return table.concat(vim.api.nvim_buf_get_lines(0, line1 - 1, line2, false), '\n')
end

vim.api.nvim_create_user_command('Arbor', function(opts)
  local arbor = require('arbor')
  local name, rest = opts.args:match('^(%S+)%s*(.*)$')
  local command = name and arbor.commands[name]
  if not command then
    vim.notify('Arbor: unknown subcommand ' .. (name or '(none)') .. '; try :Arbor <Tab>', vim.log.levels.ERROR)
    return
  end
  command({ rest = rest or '', selection = visual_selection(opts.range, opts.line1, opts.line2) })
end, {
  nargs = '+',
  range = true,
  desc = 'Arbor: run coding agents as sessions on their own git worktrees',
  complete = function(lead, line)
    local words = vim.split(line, '%s+')
    if #words <= 2 then
      local names = vim.tbl_keys(require('arbor').commands)
      table.sort(names)
      return vim.tbl_filter(function(candidate) return candidate:find(lead, 1, true) == 1 end, names)
    end
    if words[2] == 'task' then
      return vim.tbl_filter(function(candidate) return candidate:find(lead, 1, true) == 1 end, { 'new', 'list' })
    end
    return {}
  end,
})
