#!/usr/bin/env bash
# Builds the Debian package of socketio-server (CPack DEB, see cmake/Package.cmake): the binary,
# the hardened systemd unit (deploy/systemd/), /etc/socketio-server/socketio-server.toml and the
# man page. Prints the path of the .deb on its last line.
#   scripts/package.sh              Release build in build-package/, package there
#   scripts/package.sh BUILD_DIR [cmake args...]   the same in BUILD_DIR (the test: a Debug build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-package"
args=(-DCMAKE_BUILD_TYPE=Release -DSIO_WERROR=OFF)
if [ $# -ge 1 ]; then
  build=$1
  shift
  args=("$@")
else
  "$root/scripts/deps.sh" build >&2
fi
# Prefix /usr: the binary in /usr/bin, the config in /etc/socketio-server (GNUInstallDirs).
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_INSTALL_PREFIX=/usr -DSIO_BUILD_TESTS=OFF -DSIO_BUILD_BENCH=OFF \
  -DSIO_SANITIZE= "${args[@]}" >&2
command -v dpkg-shlibdeps >/dev/null || { echo "package.sh: dpkg-shlibdeps missing (apt-get install dpkg-dev)" >&2; exit 1; }
cmake --build "$build" --target socketio-server sio_package_docs -j"$(nproc)" >&2
out="$build/package"
mkdir -p "$out"
rm -f "$out"/*.deb
# The binary is stripped in the package (install/strip); the build tree keeps its symbols.
(cd "$build" && cpack -G DEB -B "$out" -D CPACK_STRIP_FILES=ON >&2)
deb=$(ls "$out"/*.deb)
echo "$deb"
