#!/bin/sh
# Runs the Neovim benchmark of opening a long stored session (bench/history.lua) in real headless
# Neovim against the arbor binary: a release build unless ARBOR_BIN names another one.
set -eu
cd "$(dirname "$0")/../../.."
if [ -z "${ARBOR_BIN:-}" ]; then
    cargo build --release -p arbor-server --bin arbor
    target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    ARBOR_BIN="$target/release/arbor"
fi
export ARBOR_BIN
exec nvim --headless -u NONE -i NONE --cmd "set rtp^=editors/nvim" -l editors/nvim/bench/history.lua "$@"
