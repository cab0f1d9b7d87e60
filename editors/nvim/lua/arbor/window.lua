-- Where the plugin's buffers are shown: one reused chat window per tab page (its buffer fixed
-- with 'winfixbuf', so quickfix jumps and :edit go elsewhere), the layouts of the `layout`
-- option, the keys help float, and readable buffer names.

local M = {}

--- Sets window-local options the way :setlocal does, so they stay with this buffer in this
--- window and do not leak to the next buffer shown there.
function M.set_local(win, options)
  for name, value in pairs(options) do
    vim.api.nvim_set_option_value(name, value, { scope = 'local', win = win })
  end
end

local function float_config()
  local width = math.max(math.floor(vim.o.columns * 0.8), 40)
  local height = math.max(math.floor((vim.o.lines - vim.o.cmdheight) * 0.8), 10)
  return {
    relative = 'editor',
    width = width,
    height = height,
    row = math.floor((vim.o.lines - height) / 2) - 1,
    col = math.floor((vim.o.columns - width) / 2),
    border = 'rounded',
    style = 'minimal',
  }
end

--- The window marked `role` in the current tab page (in any tab page for the 'tab' layout,
--- whose window is a tab page of its own), if it is still there.
local function marked_window(role, layout)
  local tabs = layout == 'tab' and vim.api.nvim_list_tabpages() or { vim.api.nvim_get_current_tabpage() }
  for _, tab in ipairs(tabs) do
    for _, win in ipairs(vim.api.nvim_tabpage_list_wins(tab)) do
      if vim.w[win].arbor_role == role then
        return win
      end
    end
  end
end

--- Puts `bufnr` into `win` even when the window's buffer is fixed.
function M.set_buf(win, bufnr)
  local fixed = vim.wo[win].winfixbuf
  vim.wo[win].winfixbuf = false
  vim.api.nvim_win_set_buf(win, bufnr)
  vim.wo[win].winfixbuf = fixed
end

--- A new window for `layout`: 'vsplit', 'split', 'float', 'tab' or 'current'.
local function new_window(layout, bufnr)
  if layout == 'float' then
    return vim.api.nvim_open_win(bufnr, true, float_config())
  end
  if layout == 'split' then
    vim.cmd('botright split')
  elseif layout == 'tab' then
    vim.cmd('tabnew')
  elseif layout ~= 'current' then
    vim.cmd('botright vsplit')
  end
  local win = vim.api.nvim_get_current_win()
  M.set_buf(win, bufnr)
  return win
end

--- Shows `bufnr` in the window playing `role` (such as 'chat'): a window already showing it,
--- else the role's window of this tab page, else a new one as `layout` says. The role's window
--- keeps its buffer fixed unless it is the user's own window ('current'). Returns the window.
function M.show(role, bufnr, layout)
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(win) == bufnr then
      vim.api.nvim_set_current_win(win)
      return win
    end
  end
  local win = marked_window(role, layout)
  if win then
    vim.api.nvim_set_current_win(win)
    M.set_buf(win, bufnr)
    return win
  end
  win = new_window(layout, bufnr)
  if layout ~= 'current' then
    vim.w[win].arbor_role = role
    vim.wo[win].winfixbuf = true
  end
  return win
end

--- Renames `bufnr` to `name`, wiping the buffer Neovim keeps for the old name.
function M.rename(bufnr, name)
  local old = vim.api.nvim_buf_get_name(bufnr)
  if old == name then
    return
  end
  vim.api.nvim_buf_set_name(bufnr, name)
  local stale = vim.fn.bufnr('^' .. vim.fn.escape(old, '\\/.*$^~[]') .. '$')
  if old ~= '' and stale > 0 and stale ~= bufnr and not vim.bo[stale].buflisted then
    pcall(vim.api.nvim_buf_delete, stale, { force = true })
  end
end

--- The readable name of a session's buffer: `arbor://<short id> <title>`.
function M.session_name(session_id, title)
  local name = 'arbor://' .. session_id:sub(1, 8)
  if title and title ~= vim.NIL and title ~= '' then
    name = name .. ' ' .. title
  end
  return name
end

--- A float listing a buffer's keys: `entries` are { key, what } pairs. q, <Esc> or ? close it.
function M.help(title, entries)
  local width = 0
  for _, entry in ipairs(entries) do
    width = math.max(width, vim.fn.strdisplaywidth(entry[1]))
  end
  local lines = {}
  for _, entry in ipairs(entries) do
    table.insert(lines, string.format(' %s%s  %s ', entry[1], string.rep(' ', width - vim.fn.strdisplaywidth(entry[1])), entry[2]))
  end
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].bufhidden = 'wipe'
  local ns = vim.api.nvim_create_namespace('arbor_help')
  for row = 0, #lines - 1 do
    vim.api.nvim_buf_set_extmark(bufnr, ns, row, 1, { end_col = 1 + width, hl_group = 'ArborHelpKey' })
  end
  local content_width = 0
  for _, line in ipairs(lines) do
    content_width = math.max(content_width, vim.fn.strdisplaywidth(line))
  end
  local win = vim.api.nvim_open_win(bufnr, true, {
    relative = 'editor',
    width = math.min(content_width, vim.o.columns - 4),
    height = math.min(#lines, vim.o.lines - 4),
    row = 1,
    col = math.max(vim.o.columns - content_width - 4, 0),
    border = 'rounded',
    style = 'minimal',
    title = ' ' .. title .. ' ',
  })
  for _, key in ipairs({ 'q', '<Esc>', '?' }) do
    vim.keymap.set('n', key, function() pcall(vim.api.nvim_win_close, win, true) end, { buffer = bufnr, nowait = true, silent = true })
  end
  return win, bufnr
end

--- Highlight groups the plugin uses, linked to standard ones unless the user defined them.
function M.define_highlights()
  local links = {
    ArborChatUser = 'Title',
    ArborChatAgent = 'Identifier',
    ArborPermission = 'WarningMsg',
    ArborTurnEnded = 'NonText',
    ArborWinbarTitle = 'Title',
    ArborHelpKey = 'Special',
    ArborTableHeader = 'Title',
  }
  for group, link in pairs(links) do
    vim.api.nvim_set_hl(0, group, { link = link, default = true })
  end
end

return M
