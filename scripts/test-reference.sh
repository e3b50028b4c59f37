#!/usr/bin/env bash
# Runs the integration suite (tests/integration/*.test.mjs) against the Node reference servers
# (tests/reference/*.mjs: engine.io 6.6 / socket.io 4.8 from npm) instead of the C++ binaries,
# straight with node, no cmake. Use it to re-check that the tests pin the reference's behaviour.
#   scripts/test-reference.sh                 all files, one after the other
#   scripts/test-reference.sh eio_raw chat    only these files
set -euo pipefail
cd "$(dirname "$0")/../tests"

if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

files=()
if [ "$#" -gt 0 ]; then
  for name in "$@"; do files+=("integration/${name%.test.mjs}.test.mjs"); done
else
  for f in integration/*.test.mjs; do files+=("$f"); done
fi

# One file at a time: several files use timing (300 ms ping interval) and the machine is small.
SIO_TARGET=reference exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
