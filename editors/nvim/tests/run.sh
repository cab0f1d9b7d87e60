#!/bin/sh
# Runs the Neovim plugin's tests in real headless Neovim against the built arbor binary.
set -eu
cd "$(dirname "$0")/../../.."
if [ -z "${ARBOR_BIN:-}" ]; then
    target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    ARBOR_BIN="$target/debug/arbor"
fi
export ARBOR_BIN
exec nvim --headless -u NONE -i NONE --cmd "set rtp^=editors/nvim" -l editors/nvim/tests/run.lua
