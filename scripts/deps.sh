#!/usr/bin/env bash
# Installs what the project needs on Debian 12, idempotently (nothing is fetched when it is all
# there). Usage: scripts/deps.sh build   (compile + run the server)
#                scripts/deps.sh test    (also what the test suite starts: redis, nginx, chromium)
#                scripts/deps.sh bench   (also gnuplot for the benchmark charts)
set -euo pipefail
mode=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)

build_pkgs=(build-essential cmake ninja-build ccache pkg-config git ca-certificates openssl brotli
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev zlib1g-dev libhiredis-dev libmsgpuck-dev
  libgtest-dev libbenchmark-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev)
test_pkgs=(redis-server nginx chromium curl procps prometheus lintian dpkg-dev python3)
bench_pkgs=(gnuplot-nox util-linux procps jq)

pkgs=("${build_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")
[ "$mode" = bench ] && pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}")
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The tests start their own redis-server and nginx on free ports: keep the packages' services
  # from starting during the install (where a policy is already set, it is left as it is).
  policy=/usr/sbin/policy-rc.d
  created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$created_policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
fi

# npm packages, pinned by their lock files: the client bundle (built into the server) and, for
# tests, the real socket.io / engine.io clients and the Node reference servers.
npm_ci() {
  local dir=$1
  [ -f "$dir/package-lock.json" ] || return 0
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in ${dir#$root/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci "$root/web"
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  npm_ci "$root/tests"
fi
