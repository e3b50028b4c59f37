#!/usr/bin/env bash
# Builds Release into build/ (binaries in build/bin/) and starts socketio-server (in-memory
# adapter, port 3000, chat page at /). scripts/test.sh builds elsewhere (build-test/, build-asan/,
# build-tsan/), so running one after the other rebuilds nothing.
# Extra arguments go to the server, e.g. scripts/run.sh --tls-self-signed localhost
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" build
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIO_BUILD_TESTS=OFF -DSIO_WERROR=OFF -DSIO_SANITIZE= >/dev/null
cmake --build "$root/build" --target socketio-server -j"$(nproc)"
exec "$root/build/bin/socketio-server" "$@"
