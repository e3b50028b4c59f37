#!/usr/bin/env bash
# scripts/soak.sh: the soak test of the edge (issue 10); not part of the test command.
#
# Two socketio-server processes (plain HTTP and TLS, each under the 20 000 open-file limit), held
# at 15 000 connections between them (WebSocket from socketio-bench spread over many source
# addresses, long-polling from socket.io-client), with 500 reconnects/s of churn (socket.io-client,
# both transports, both servers), a chat load whose every delivery and ack is checked, and every
# hostile probe at once (tests/soak/soak.mjs hostile) for --duration seconds. Every 10 s it prints
# each server's RSS and fd count. The baseline is taken once the held connections are up, before
# churn, chat and probes start; the end figure once those have stopped and each server is back to
# its baseline fds and Engine.IO sessions, plus one --memory-trim-interval (the held connections
# are still up): both must be within 5 % of the baseline, and no well-behaved client may have
# seen an error. Exit 0 then, 1 otherwise. At the end it prints each server's disconnect reasons
# and limit counters, and the clients' errors by kind.
#
#   scripts/soak.sh [--duration SEC (600)] [--bin DIR (build-release/bin, built if missing)]
#                   [--ws N (11000)] [--polling N (4000)] [--churn RATE (500)] [--chatters N (60)]
#                   [--server-arg ARG]... (added to both servers' command lines, e.g.
#                   --server-arg --malloc-thread-cache=false)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=600 bin="" ws=11000 polling=4000 churn=500 chatters=60 server_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift ;;
    --bin) bin=$2; shift ;;
    --ws) ws=$2; shift ;;
    --polling) polling=$2; shift ;;
    --churn) churn=$2; shift ;;
    --chatters) chatters=$2; shift ;;
    --server-arg) server_args+=("$2"); shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

# What it runs besides the binaries: node + npm, curl, procps (pkill) — the test packages.
if [ "$(id -u)" = 0 ]; then "$root/scripts/deps.sh" test >/dev/null; fi
if [ -z "$bin" ]; then
  bin=$root/build-release/bin
  if [ ! -x "$bin/socketio-server" ] || [ ! -x "$bin/socketio-bench" ]; then
    cmake -S "$root" -B "$root/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIO_BUILD_BENCH=ON \
      -DSIO_BUILD_TESTS=OFF >/dev/null
    cmake --build "$root/build-release" --target socketio-server socketio-bench -j "$(nproc)"
  fi
fi
[ -d "$root/tests/node_modules" ] || (cd "$root/tests" && npm ci --no-audit --no-fund >/dev/null)
node_js=$root/tests/soak/soak.mjs
work=$(mktemp -d)
pids=()
cleanup() {
  # The servers are started in a command substitution (a subshell): their pids are in files.
  for f in "$work"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  # socketio-bench --procs forks its workers: they go with their parent.
  for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The limits a hostile client trips; the well-behaved load stays under them (the WebSocket
# connections come from 100 source addresses per bench process, 127.P.0.x; the Node clients
# from 50, 127.0.1.x, with keep-alive polling as browsers; the probes from 127.0.0.2 and 127.0.0.3).
limits=(--max-connections-per-address 2500 --max-sessions-per-address 4000 --handshake-rate 1000
  --handshake-burst 2000 --max-rooms-per-socket 256 --max-pending-client-acks 256 --max-headers-count 100)
start_server() {  # name, extra args...
  local name=$1; shift
  "$bin/socketio-server" --host 127.0.0.1 --port 0 --threads 2 --log-level warn --metrics "${limits[@]}" "$@" \
    ${server_args[@]+"${server_args[@]}"} \
    >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  echo $! >"$work/$name.pid"
  for _ in $(seq 100); do
    grep -q "listening on" "$work/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  sed -n 's/.*listening on \(\S*\).*/\1/p' "$work/$name.out"
}
plain_url=$(start_server plain)
tls_url=$(start_server tls --tls-self-signed localhost)
plain_pid=$(cat "$work/plain.pid") tls_pid=$(cat "$work/tls.pid")
port_of() { echo "${1##*:}"; }
echo "servers: plain $plain_url (pid $plain_pid), tls $tls_url (pid $tls_pid)"

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
sessions() {  # Engine.IO sessions open on the server at URL (socketio_connected_clients, all transports)
  curl -sk --max-time 10 "$1/metrics" | awk '/^socketio_connected_clients/ { n += $NF } END { print n + 0 }'
}
heap_mb() {  # heap in use on the server at URL (socketio_heap_bytes{state="in_use"}), MB
  curl -sk --max-time 10 "$1/metrics" | awk '/^socketio_heap_bytes\{state="in_use"\}/ { printf "%.1f", $NF / 1048576 }'
}
sample() {  # label
  printf '%-10s %6ss  plain: rss %7s MB heap %7s MB fds %6s   tls: rss %7s MB heap %7s MB fds %6s\n' "$1" \
    "$(( $(date +%s) - t0 ))" "$(rss_mb "$plain_pid")" "$(heap_mb "$plain_url")" "$(fds "$plain_pid")" \
    "$(rss_mb "$tls_pid")" "$(heap_mb "$tls_url")" "$(fds "$tls_pid")"
}
t0=$(date +%s)
sample start

# Held load: WebSocket (bench, half plain, half TLS) and long-polling (Node, half and half).
hold_for=$((duration + 420))  # past the settling (at most 180 s + 35 s) and the report
half_ws=$((ws / 2))
for target in plain tls; do
  port=$(port_of "$([ $target = plain ] && echo "$plain_url" || echo "$tls_url")")
  tls_flag=(); [ $target = tls ] && tls_flag=(--tls)
  "$bin/socketio-bench" idle --host 127.0.0.1 --port "$port" "${tls_flag[@]}" -c "$half_ws" --procs 2 --threads 1 \
    --src-addrs 100 --connect-rate 500 --connect-timeout 120 --duration "$hold_for" --settle 1 \
    >"$work/bench-$target.out" 2>"$work/bench-$target.err" &
  pids+=($!)
  node "$node_js" hold "$([ $target = plain ] && echo "$plain_url" || echo "$tls_url")" $((polling / 2)) "$hold_for" \
    >"$work/hold-$target.out" 2>"$work/hold-$target.err" &
  pids+=($!)
done
total=$((ws + polling))
for _ in $(seq 120); do
  sleep 1
  # Engine.IO sessions, not fds: a keep-alive polling client holds two connections.
  up=$(( $(sessions "$plain_url") + $(sessions "$tls_url") ))
  [ "$up" -ge "$total" ] && break
done
sleep 10
sample baseline
base_rss_plain=$(rss_mb "$plain_pid") base_rss_tls=$(rss_mb "$tls_pid")
base_fds_plain=$(fds "$plain_pid") base_fds_tls=$(fds "$tls_pid")
base_sessions_plain=$(sessions "$plain_url") base_sessions_tls=$(sessions "$tls_url")
echo "baseline Engine.IO sessions: plain $base_sessions_plain, tls $base_sessions_tls"

# Churn, chat and every hostile probe, at once, for the duration.
both="$plain_url,$tls_url"
node "$node_js" churn "$both" "$churn" "$duration" >"$work/churn.out" 2>"$work/churn.err" & pids+=($!); churn_pid=$!
node "$node_js" chat "$both" "$chatters" "$duration" >"$work/chat.out" 2>"$work/chat.err" & pids+=($!); chat_pid=$!
node "$node_js" hostile "$both" "$duration" >"$work/hostile.out" 2>"$work/hostile.err" & pids+=($!); hostile_pid=$!
end=$(( $(date +%s) + duration ))
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 10
  sample load
done
wait "$churn_pid" "$chat_pid" "$hostile_pid" || true
# What the probes left behind must go: sessions they opened time out (ping, connect timeout).
# Wait until both servers hold their baseline again (fds and Engine.IO sessions, at most 180 s),
# then one --memory-trim-interval (30 s) and a margin, so the end figure is taken after the heap
# freed by the last of them was given back.
for _ in $(seq 36); do
  [ "$(fds "$plain_pid")" -le "$base_fds_plain" ] && [ "$(fds "$tls_pid")" -le "$base_fds_tls" ] &&
    [ "$(sessions "$plain_url")" -le "$base_sessions_plain" ] && [ "$(sessions "$tls_url")" -le "$base_sessions_tls" ] && break
  sleep 5
done
sample settled
sleep 35
sample end
end_rss_plain=$(rss_mb "$plain_pid") end_rss_tls=$(rss_mb "$tls_pid")
end_fds_plain=$(fds "$plain_pid") end_fds_tls=$(fds "$tls_pid")

echo
# Why connections ended and what was refused, as each server counted it (non-zero series only).
for t in plain tls; do
  url=$([ $t = plain ] && echo "$plain_url" || echo "$tls_url")
  echo "$t server counters:"
  curl -sk --max-time 10 "$url/metrics" | grep -E '^socketio_(disconnections_total|socket_disconnections_total|limit_refusals_total|request_errors_total|tls_handshake_failures_total|ws_close_timeouts_total|packets_dropped_total|ws_aborted_total|client_acks_dropped_total)' |
    awk '$NF != 0 { print "  " $0 }'
done
for f in churn chat hostile; do echo "$f: $(cat "$work/$f.out")"; done
# The held clients report what they saw when told to stop (SIGINT).
for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
sleep 5
for t in plain tls; do
  echo "bench idle $t: $(tail -n 1 "$work/bench-$t.out" 2>/dev/null)"
  echo "hold $t: $(cat "$work/hold-$t.out" 2>/dev/null)"
done
echo "plain server warnings: $(grep -c 'limits:' "$work/plain.err" || true) limit lines; tls: $(grep -c 'limits:' "$work/tls.err" || true)"
# (|| true: once the list outgrows a pipe buffer, head's exit fails the pipeline under pipefail.)
grep -h 'limits:' "$work/plain.err" "$work/tls.err" | sed 's/^\[[^]]*\] //' | cut -c1-220 | sort | uniq -c | sort -rn |
  head -20 || true

fail=0
within() {  # label base now
  awk -v b="$2" -v n="$3" -v l="$1" 'BEGIN { d = (n - b) / b * 100; printf "%-18s baseline %9s end %9s  %+.1f %%\n", l, b, n, d; exit (d > 5 || d < -5) }'
}
within "plain RSS (MB)" "$base_rss_plain" "$end_rss_plain" || fail=1
within "plain fds" "$base_fds_plain" "$end_fds_plain" || fail=1
within "tls RSS (MB)" "$base_rss_tls" "$end_rss_tls" || fail=1
within "tls fds" "$base_fds_tls" "$end_fds_tls" || fail=1
errors=$(cat "$work/churn.out" "$work/chat.out" "$work/hold-plain.out" "$work/hold-tls.out" | sed -n 's/.*"errors":\([0-9]*\).*/\1/p' | paste -sd+ | bc)
echo "errors seen by well-behaved clients (churn + chat + held polling): ${errors:-unknown}"
[ "${errors:-1}" = 0 ] || fail=1
[ $fail = 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit $fail
