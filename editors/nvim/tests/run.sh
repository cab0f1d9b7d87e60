#!/bin/sh
# Runs the Neovim plugin's tests in real headless Neovim against the built arbor binary.
set -eu
cd "$(dirname "$0")/../../.."
: "${ARBOR_BIN:=$PWD/target/debug/arbor}"
export ARBOR_BIN
exec nvim --headless -u NONE -i NONE --cmd "set rtp^=editors/nvim" -l editors/nvim/tests/run.lua
