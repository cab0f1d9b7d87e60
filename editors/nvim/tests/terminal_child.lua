-- The Neovim that test_terminal.lua runs in a real terminal: a session's chat beside an empty
-- window, then, on `:lua ArborReview()`, the review of its change with the base beside it, and
-- on `:lua ArborVimdiff()` the vimdiff tab of that file.

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
package.path = here .. '/?.lua;' .. package.path
vim.cmd('runtime plugin/arbor.lua')
local h = require('helpers')

local WORDS = {}
for index = 1, 40 do WORDS[index] = string.format('word%02d', index) end
local SCRIPT = 'think ' .. table.concat(WORDS, ' ') .. '\nsay ' .. table.concat(WORDS, ' ')
  .. '\nwrite greeting.txt <<END\nhowdy\nworld\nEND'

-- The scratch directory is the parent's, so it outlives this Neovim.
h.reset(os.getenv('ARBOR_TEST_SCRATCH'))
vim.o.laststatus = 2
h.start({ layout = 'vsplit' })
local repo = h.repo({ ['greeting.txt'] = 'hello\nworld\n' })
local session, chat = h.scripted_session(repo, SCRIPT, 'Change the greeting')
h.wait(function() return h.has_line(chat.bufnr, 'turn ended') end, 'the turn')
require('arbor').rename(session.id, 'Greeting change')
h.wait(function() return chat.session and chat.session.title == 'Greeting change' end, 'the title')
vim.cmd('normal! gg')

function _G.ArborVimdiff()
  require('arbor.vimdiff').open(session.id, 'greeting.txt')
end

function _G.ArborReview()
  require('arbor.review').open(session.id, function()
    vim.cmd('cfirst')
    require('arbor.review').diff_split()
  end)
end
