#!/usr/bin/env bash
# The RSS a burst of connections leaves behind, beside held ones (docs/reliability.md, "Memory
# given back after a burst"): one --threads 2 server, WebSockets held (socketio-bench idle) and,
# with --polling N, long-polling socket.io-clients held too (tests/soak/soak.mjs hold); then
# --bursts times --burst more WebSockets connected for --burst-hold seconds and gone. RSS
# (VmRSS) and socketio_heap_bytes{state="in_use"} are read --settle seconds after each burst.
#
#   scripts/frag-repro.sh [--bin DIR] [--ws 5000] [--polling 0] [--burst 5000] [--bursts 2]
#                         [--burst-hold 15] [--settle 40] [--later 0] [--shim OUT] [--label TEXT]
#
# --shim OUT: the server runs under scripts/heap-epochs/heap_epochs.so (compiled here with g++):
# epoch 1 is the first burst, 2 its settling, 3 the second burst, ...; at the end the live blocks
# are dumped to OUT.0 and summed up by scripts/heap-epochs/report.py into OUT.txt.
# The last line is one JSON object: {label, baseline_rss_mb, after_rss_mb: [...], ...}.
# Bounded: every wait has a limit; everything started is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build-release/bin
ws=5000 polling=0 burst=5000 bursts=2 burst_hold=15 settle=40 later=0 shim="" label=""
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --ws) ws=$2; shift 2 ;;
    --polling) polling=$2; shift 2 ;;
    --burst) burst=$2; shift 2 ;;
    --bursts) bursts=$2; shift 2 ;;
    --burst-hold) burst_hold=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --later) later=$2; shift 2 ;;
    --shim) shim=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for b in socketio-server socketio-bench; do
  [ -x "$bin/$b" ] || { echo "no $bin/$b (a Release build with -DSIO_BUILD_BENCH=ON)" >&2; exit 2; }
done
if [ "$polling" -gt 0 ] && [ ! -d "$root/tests/node_modules" ]; then
  (cd "$root/tests" && npm ci --no-audit --no-fund >/dev/null)
fi

work=$(mktemp -d)
pids=()
server_pid=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

preload=()
if [ -n "$shim" ]; then
  so=$work/heap_epochs.so
  g++ -std=c++20 -O2 -g -fPIC -shared -o "$so" "$root/scripts/heap-epochs/heap_epochs.cpp" -ldl -lpthread
  preload=(env LD_PRELOAD="$so" HEAP_EPOCHS_OUT="$shim")
fi
"${preload[@]}" "$bin/socketio-server" --host 127.0.0.1 --port 0 --threads 2 --metrics --log-level warn \
  --memory-trim-interval 5000 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(\S*\).*/\1/p' "$work/server.out" | head -1)
port=${url##*:}
[ -n "$port" ] || { echo "server did not start" >&2; cat "$work/server.err" >&2; exit 1; }

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status"; }
metric() { curl -s --max-time 10 "$url/metrics" | awk -v m="$1" 'index($0, m) == 1 { n += $NF } END { print n + 0 }'; }
heap_mb() { metric 'socketio_heap_bytes{state="in_use"}' | awk '{printf "%.1f", $1 / 1048576}'; }
sessions() { metric socketio_connected_clients; }
t0=$(date +%s)
sample() {  # label -> prints a line, sets last_rss / last_heap
  last_rss=$(rss_mb) last_heap=$(heap_mb)
  printf '%-10s %4ss  rss %6s MB  heap %6s MB  sessions %6s  fds %6s\n' "$1" "$(( $(date +%s) - t0 ))" \
    "$last_rss" "$last_heap" "$(sessions)" "$(ls /proc/$server_pid/fd | wc -l)"
}
wait_sessions() {  # target, limit in seconds: until the server holds exactly target sessions
  local i
  for i in $(seq "$2"); do
    [ "$(sessions)" -eq "$1" ] && return 0
    sleep 1
  done
  echo "note: $(sessions) sessions, not $1, after $2 s" >&2
}
epoch() { [ -n "$shim" ] && kill -USR1 "$server_pid" || true; }

sample start
hold_for=$(( 60 + bursts * (burst_hold + settle + 60) + later ))
"$bin/socketio-bench" idle --host 127.0.0.1 --port "$port" -c "$ws" --src-addrs 100 --connect-timeout 120 \
  --duration "$hold_for" --settle 1 >"$work/hold.out" 2>"$work/hold.err" &
pids+=($!)
if [ "$polling" -gt 0 ]; then
  node "$root/tests/soak/soak.mjs" hold "$url" "$polling" "$hold_for" >"$work/poll.out" 2>"$work/poll.err" &
  pids+=($!)
fi
held=$((ws + polling))
wait_sessions "$held" 180
sleep 10
sample baseline
base_rss=$last_rss base_heap=$last_heap
after_rss=() after_heap=()
for b in $(seq "$bursts"); do
  epoch  # odd epochs: bursts
  # Its own process, from other source addresses (--src-addrs 100 of process index 0 as the
  # held ones: the 4-tuples differ by port).
  timeout $(( burst_hold + 150 )) "$bin/socketio-bench" idle --host 127.0.0.1 --port "$port" -c "$burst" \
    --src-addrs 100 --connect-timeout 120 --duration "$burst_hold" --settle 1 >"$work/burst$b.out" 2>"$work/burst$b.err" || true
  epoch  # even epochs: what follows each burst
  wait_sessions "$held" 120
  sleep "$settle"
  sample "after$b"
  after_rss+=("$last_rss") after_heap+=("$last_heap")
done
if [ "$later" -gt 0 ]; then
  sleep "$later"
  sample later
  after_rss+=("$last_rss") after_heap+=("$last_heap")
fi
if [ -n "$shim" ]; then
  kill -USR2 "$server_pid"
  for _ in $(seq 600); do  # the dump sorts every live block: seconds
    [ -s "$shim.0" ] && break  # written as $shim.0.tmp, renamed when complete
    sleep 1
  done
  python3 "$root/scripts/heap-epochs/report.py" "$shim.0" >"$shim.txt" || true
  echo "heap profile: $shim.0, summed up in $shim.txt"
fi
join() { local IFS=,; echo "$*"; }
echo "{\"label\":\"$label\",\"ws\":$ws,\"polling\":$polling,\"burst\":$burst,\"baseline_rss_mb\":$base_rss,\"baseline_heap_mb\":$base_heap,\"after_rss_mb\":[$(join "${after_rss[@]}")],\"after_heap_mb\":[$(join "${after_heap[@]}")]}"
