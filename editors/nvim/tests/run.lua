-- Runs every tests/test_*.lua in this headless Neovim and prints "N passed, N failed".
-- Each test file returns a table of name -> function; helpers.reset() runs between tests.

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
package.path = here .. '/?.lua;' .. package.path
vim.cmd('runtime plugin/arbor.lua')

local helpers = require('helpers')
local only = os.getenv('ARBOR_NVIM_TEST')
local passed, failed = 0, 0
local files = vim.fn.glob(here .. '/test_*.lua', false, true)
table.sort(files)
for _, file in ipairs(files) do
  local tests = dofile(file)
  local names = vim.tbl_keys(tests)
  table.sort(names)
  for _, name in ipairs(names) do
    if not only or name:find(only, 1, true) then
      helpers.reset()
      local started = vim.uv.hrtime()
      local ok, err = xpcall(tests[name], debug.traceback)
      local elapsed = (vim.uv.hrtime() - started) / 1e6
      if ok then
        passed = passed + 1
        io.write(string.format('PASS %s (%.0f ms)\n', name, elapsed))
      else
        failed = failed + 1
        io.write(string.format('FAIL %s (%.0f ms)\n%s\n', name, elapsed, err))
      end
    end
  end
end
helpers.reset()
io.write(string.format('%d passed, %d failed\n', passed, failed))
io.flush()
os.exit(failed == 0 and 0 or 1)
