#!/usr/bin/env bash
# ctest package.deb: scripts/package.sh builds the Debian package (in BUILD_DIR/deb-build, a
# Debug build with the tests' flags: mostly ccache hits), then: its contents (dpkg-deb --contents)
# hold the binary, the systemd unit, the conffile and the man page; the unit is hardened as
# documented; lintian finds no error; the binary runs from an extracted tree (--version, and a
# start with the packaged config that answers /readyz). Usage: deb.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

deb=$("$root/scripts/package.sh" "$build/deb-build" -DCMAKE_BUILD_TYPE=Debug -DSIO_WERROR=ON | tail -1)
[ -f "$deb" ] || fail "no .deb built"
echo "built $deb"
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb" | tee "$tmp/contents"
for f in ./usr/bin/socketio-server ./usr/lib/systemd/system/socketio-server.service \
  ./etc/socketio-server/socketio-server.toml ./usr/share/man/man1/socketio-server.1.gz \
  ./usr/share/doc/socketio-server/copyright; do
  grep -q " $f\$" "$tmp/contents" || fail "$f is not in the package"
done
dpkg-deb --field "$deb" Depends | grep -q libssl3 || fail "Depends lacks libssl3 (shlibdeps)"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/socketio-server/socketio-server.toml ||
  fail "the config file is not a conffile"

dpkg-deb -x "$deb" "$tmp/root"
unit="$tmp/root/usr/lib/systemd/system/socketio-server.service"
for line in "DynamicUser=yes" "User=socketio-server" "LimitNOFILE=" "AmbientCapabilities=CAP_NET_BIND_SERVICE" \
  "ExecReload=/bin/kill -HUP \$MAINPID" "NoNewPrivileges=yes" "ProtectSystem=strict" \
  "ExecStart=/usr/bin/socketio-server --config /etc/socketio-server/socketio-server.toml"; do
  grep -qF "$line" "$unit" || fail "the unit lacks $line"
done
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --man=no "$unit" 2>&1 | grep -v "Cannot find unit\|/usr/bin/socketio-server" || true
fi

command -v lintian >/dev/null || fail "lintian is not installed (scripts/deps.sh test)"
# Errors fail the test; warnings are shown. (no-manual-page etc. do not apply: it has one.)
lintian --tag-display-limit 0 "$deb" | tee "$tmp/lintian" || true
if grep -q "^E:" "$tmp/lintian"; then fail "lintian errors"; fi

bin="$tmp/root/usr/bin/socketio-server"
"$bin" --version | grep -q "^socketio-server " || fail "--version"
# The packaged config, with the ports moved to free ones so the test runs anywhere.
sed -e 's/^port = 3000/port = 0/' -e 's/^metrics-listen = .*/metrics-listen = "127.0.0.1:0"/' \
  "$tmp/root/etc/socketio-server/socketio-server.toml" >"$tmp/test.toml"
"$bin" --config "$tmp/test.toml" --host 127.0.0.1 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$tmp/out" && break; sleep 0.1; done
grep -q "listening on" "$tmp/out" || fail "the packaged binary did not start: $(cat "$tmp/err")"
mport=$(grep -o 'metrics on http://127.0.0.1:[0-9]*' "$tmp/out" | grep -o '[0-9]*$')
# Whole answers first: grep -q would stop reading early and fail curl under pipefail.
ready=$(curl -fsS "http://127.0.0.1:$mport/readyz") || fail "/readyz"
[ "$ready" = ready ] || fail "/readyz: $ready"
metrics=$(curl -fsS "http://127.0.0.1:$mport/metrics") || fail "/metrics"
grep -q '^socketio_build_info' <<<"$metrics" || fail "/metrics without socketio_build_info"
head -c 300 "$tmp/err"; echo
grep -q '^{"time":' "$tmp/err" || fail "the packaged config logs JSON"
kill -TERM "$pid"
wait "$pid" && code=0 || code=$?
pid=""
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
echo "package.deb: ok"
