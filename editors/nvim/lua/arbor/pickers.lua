-- Pickers through vim.ui.select with their columns lined up, whatever picker the user has.

local M = {}

--- Pads each column of `rows` (lists of strings) to its widest cell; the last is left as is.
function M.align(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for index, cell in ipairs(row) do
      widths[index] = math.max(widths[index] or 0, vim.fn.strdisplaywidth(cell))
    end
  end
  return vim.tbl_map(function(row)
    local cells = {}
    for index, cell in ipairs(row) do
      local pad = index < #row and string.rep(' ', widths[index] - vim.fn.strdisplaywidth(cell)) or ''
      table.insert(cells, cell .. pad)
    end
    return (table.concat(cells, '  '):gsub('%s+$', ''))
  end, rows)
end

--- vim.ui.select over `items`, each shown as the aligned cells `opts.columns(item)` returns;
--- `on_choice` runs only when something was chosen.
function M.select(items, opts, on_choice)
  local lines = M.align(vim.tbl_map(opts.columns, items))
  local line_of = {}
  for index, item in ipairs(items) do
    line_of[item] = lines[index]
  end
  vim.ui.select(items, {
    prompt = opts.prompt,
    kind = opts.kind,
    format_item = function(item) return line_of[item] end,
  }, function(item)
    if item then on_choice(item) end
  end)
end

return M
