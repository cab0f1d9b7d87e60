-- Neovim in a real terminal (a pty through jobstart): what the user sees of the chat, its
-- winbar and the review, read back from the terminal's screen.
local h = require('helpers')

local T = {}

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')

local function open_terminal(cmd)
  vim.cmd('enew')
  local bufnr = vim.api.nvim_get_current_buf()
  local job
  if vim.fn.has('nvim-0.11') == 1 then
    job = vim.fn.jobstart(cmd, { term = true })
  else
    job = vim.fn.termopen(cmd)
  end
  assert(job > 0, 'could not start a terminal')
  return bufnr, job
end

local function screen(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

local function on_screen(bufnr, text)
  for _, line in ipairs(screen(bufnr)) do
    if line:find(text, 1, true) then return line end
  end
end

T['in a real terminal: the chat, its winbar and the review as the user sees them'] = function()
  local plugin = vim.fn.fnamemodify(here .. '/..', ':p')
  vim.env.ARBOR_TEST_SCRATCH = h.scratch() .. '/child'
  local bufnr, job = open_terminal({ 'nvim', '-u', 'NONE', '-i', 'NONE', '-n', '--cmd', 'set rtp^=' .. vim.fn.fnameescape(plugin),
    '-c', 'luafile ' .. vim.fn.fnameescape(here .. '/terminal_child.lua') })
  vim.env.ARBOR_TEST_SCRATCH = nil
  local ok, err = pcall(function()
    h.wait(function() return on_screen(bufnr, 'Greeting change') end, 'the chat on screen:\n' .. table.concat(screen(bufnr), '\n'), 30000)
    vim.wait(300)
    local lines = screen(bufnr)
    local text = table.concat(lines, '\n')
    -- The winbar starts with the title, even in a 40-column window: the details give way at their end.
    local winbar = on_screen(bufnr, 'Greeting change')
    assert(winbar:find('│Greeting change — scripted · running', 1, true) and winbar:find('…', 1, true), winbar)
    -- Headings read as words, the thinking block is closed and says so.
    assert(text:find('You', 1, true) and text:find('Agent', 1, true) and not text:find('## ', 1, true), text)
    assert(text:find('▸ 💭 Thinking', 1, true), text)
    -- The reply wraps at words: no word is cut across two rows.
    for word in text:gmatch('word%d*') do
      assert(#word == 6, 'a word split by wrapping: ' .. word .. '\n' .. text)
    end
    vim.fn.chansend(job, 'G')
    h.wait(function() return on_screen(bufnr, '▸ ✓ Write greeting.txt') end, 'the closed tool block:\n' .. table.concat(screen(bufnr), '\n'))

    vim.fn.chansend(job, ':lua ArborReview()\r')
    local function side_by_side()
      local row = on_screen(bufnr, 'hello')
      return row and row:find('howdy', 1, true)
    end
    h.wait(side_by_side, 'the review on screen:\n' .. table.concat(screen(bufnr), '\n'), 20000)
    vim.wait(300)
    -- Base and worktree side by side, the change shown once.
    assert(on_screen(bufnr, '+ howdy'), 'the added line signed:\n' .. table.concat(screen(bufnr), '\n'))
    assert(#vim.tbl_filter(function(line) return line:find('hello', 1, true) ~= nil end, screen(bufnr)) == 1, 'the removed line shown once:\n' .. table.concat(screen(bufnr), '\n'))
    assert(on_screen(bufnr, 'Greeting change'), 'the chat window is still there')

    -- Quitting Neovim with a vimdiff tab open decides nothing about the file.
    vim.fn.chansend(job, ':lua ArborVimdiff()\r')
    local shown = pcall(h.wait, function() return on_screen(bufnr, ':w accepts') end, 'the vimdiff tab', 5000)
    assert(shown, 'the vimdiff tab:\n' .. table.concat(screen(bufnr), '\n'))
  end)
  vim.fn.chansend(job, ':qa!\r')
  vim.fn.jobwait({ job }, 5000)
  assert(ok, err)
  local worktree = vim.fn.glob(h.scratch() .. '/child/data/worktrees/*/greeting.txt', false, true)[1]
  assert(worktree and h.read(worktree) == 'howdy\nworld\n', 'the agent\'s change is still there: ' .. tostring(worktree and h.read(worktree)))
end

return T
