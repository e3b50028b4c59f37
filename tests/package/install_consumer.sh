#!/usr/bin/env bash
# ctest package.consumer: `cmake --install` into a temporary prefix, then the out-of-tree
# examples/consumer/ configured against it with find_package(socketio CONFIG REQUIRED), built
# and run (it listens, scrapes its own /metrics and stops). Usage: install_consumer.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Staged (DESTDIR) so that nothing, not even an absolute path, lands outside $tmp.
DESTDIR="$tmp/root" cmake --install "$build" --prefix /opt/socketio >/dev/null
mv "$tmp/root/opt/socketio" "$tmp/prefix"  # and relocatable: the package files use relative paths
# What a library user gets: headers, archives, the package files.
for f in include/socketio/server.hpp include/socketio/redis.hpp include/socketio/metrics.hpp \
  lib/cmake/socketio/socketioConfig.cmake lib/cmake/socketio/socketioTargets.cmake lib/libsio_sio.a; do
  [ -e "$tmp/prefix/$f" ] || { echo "missing from the install: $f" >&2; exit 1; }
done
# No build-tree path may leak into the exported package.
if grep -q "$root" "$tmp/prefix/lib/cmake/socketio/"*.cmake; then
  echo "the installed CMake package refers to the source tree:" >&2
  grep -n "$root" "$tmp/prefix/lib/cmake/socketio/"*.cmake >&2
  exit 1
fi
cmake -S "$root/examples/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer"
"$tmp/consumer/socketio-consumer" --once >"$tmp/out.txt"
head -3 "$tmp/out.txt"
grep -q '^socketio_build_info{version="' "$tmp/out.txt"
grep -q '^consumer_greetings_total 0$' "$tmp/out.txt"
echo "consumer: built against $tmp/prefix and ran"
