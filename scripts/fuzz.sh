#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz straight from the parser sources (no CMake: they need
# clang with -fsanitize=fuzzer, the rest of the project builds with whatever compiler is configured)
# and runs each on a scratch copy of its seed corpus.
#
#   scripts/fuzz.sh [target] [seconds]
#
# target: eio_payload, sio_packet, sio_msgpack, ws_frame, ws_extensions, ws_inflate, redis_message, redis_stream,
# node_record, forward_message, cluster_slots, jsonp, utf8, http_request, tls_stream, tls_record
# or all (default); seconds per target (default 60).
# Output goes to build-fuzz/: the binaries, corpus/<target>/ (seeds plus what the run found) and
# artifacts/<target>/ (crashing inputs). Exits non-zero if a target crashes or fails to build.
# Environment: CXX (default clang++-14), JOBS (parallel compile jobs, default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/build-fuzz"
cxx=${CXX:-clang++-14}
jobs=${JOBS:-2}
target=${1:-all}
seconds=${2:-60}

all_targets=(eio_payload sio_packet sio_msgpack ws_frame ws_extensions ws_inflate redis_message redis_stream node_record
  forward_message cluster_slots jsonp utf8 http_request tls_stream tls_record)
case "$target" in
  all) targets=("${all_targets[@]}") ;;
  eio_payload | eio_payload_fuzz) targets=(eio_payload) ;;
  sio_packet | sio_packet_fuzz) targets=(sio_packet) ;;
  sio_msgpack | sio_msgpack_fuzz) targets=(sio_msgpack) ;;
  ws_frame | ws_frame_fuzz) targets=(ws_frame) ;;
  ws_extensions | ws_extensions_fuzz) targets=(ws_extensions) ;;
  ws_inflate | ws_inflate_fuzz) targets=(ws_inflate) ;;
  redis_message | redis_message_fuzz) targets=(redis_message) ;;
  redis_stream | redis_stream_fuzz) targets=(redis_stream) ;;
  node_record | node_record_fuzz) targets=(node_record) ;;
  forward_message | forward_message_fuzz) targets=(forward_message) ;;
  cluster_slots | cluster_slots_fuzz) targets=(cluster_slots) ;;
  jsonp | jsonp_fuzz) targets=(jsonp) ;;
  utf8 | utf8_fuzz) targets=(utf8) ;;
  http_request | http_request_fuzz) targets=(http_request) ;;
  tls_stream | tls_stream_fuzz) targets=(tls_stream) ;;
  tls_record | tls_record_fuzz) targets=(tls_record) ;;
  *)
    echo "unknown target '$target' (expected: ${all_targets[*]} or all)" >&2
    exit 2
    ;;
esac
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "seconds must be a positive integer, got '$seconds'" >&2
  exit 2
fi

# shellcheck disable=SC2054 # the commas belong to -fsanitize
cxxflags=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  -std=c++20 -O1 -g -Wall -Wextra -I"$root/src" -I"$root/include")

sources_for() {
  local common=("$root/src/core/base64.cpp" "$root/src/core/id.cpp")
  case "$1" in
    eio_payload) echo "$root/tests/fuzz/eio_payload_fuzz.cpp $root/src/eio/parser/packet.cpp ${common[*]}" ;;
    sio_packet) echo "$root/tests/fuzz/sio_packet_fuzz.cpp $root/src/sio/parser/packet.cpp ${common[*]}" ;;
    sio_msgpack) echo "$root/tests/fuzz/sio_msgpack_fuzz.cpp $root/src/sio/parser/msgpack_packet.cpp $root/src/sio/parser/msgpack_value.cpp $root/src/sio/parser/packet.cpp $root/src/core/utf8.cpp" ;;
    ws_frame) echo "$root/tests/fuzz/ws_frame_fuzz.cpp $root/src/net/ws_frame.cpp" ;;
    ws_extensions) echo "$root/tests/fuzz/ws_extensions_fuzz.cpp $root/src/net/ws_extensions.cpp $root/src/net/http_message.cpp" ;;
    ws_inflate) echo "$root/tests/fuzz/ws_inflate_fuzz.cpp $root/src/net/ws_deflate.cpp $root/src/core/metrics.cpp $root/src/core/prometheus.cpp" ;;
    jsonp) echo "$root/tests/fuzz/jsonp_fuzz.cpp $root/src/eio/parser/jsonp.cpp" ;;
    redis_message) echo "$root/tests/fuzz/redis_message_fuzz.cpp $root/src/sio/parser/msgpack_value.cpp $root/src/adapter/redis/msgpack_codec.cpp $root/src/adapter/redis/classic_codec.cpp $root/src/adapter/cluster/cluster_message.cpp $root/src/core/utf8.cpp" ;;
    redis_stream) echo "$root/tests/fuzz/redis_stream_fuzz.cpp $root/src/adapter/redis/streams_codec.cpp $root/src/sio/parser/msgpack_value.cpp $root/src/adapter/redis/msgpack_codec.cpp $root/src/adapter/cluster/cluster_message.cpp ${common[*]} $root/src/core/utf8.cpp" ;;
    node_record) echo "$root/tests/fuzz/node_record_fuzz.cpp $root/src/adapter/cluster/node_record.cpp" ;;
    forward_message) echo "$root/tests/fuzz/forward_message_fuzz.cpp $root/src/adapter/cluster/forward_message.cpp" ;;
    cluster_slots) echo "$root/tests/fuzz/cluster_slots_fuzz.cpp $root/src/adapter/redis/cluster_slots.cpp" ;;
    utf8) echo "$root/tests/fuzz/utf8_fuzz.cpp $root/src/core/utf8.cpp" ;;
    # Beast and Asio header-only here (the project compiles them once, in src/net/asio_impl.cpp).
    http_request) echo "$root/tests/fuzz/http_request_fuzz.cpp $root/src/net/http_convert.cpp $root/src/net/http_message.cpp" ;;
    tls_stream) echo "$root/tests/fuzz/tls_stream_fuzz.cpp $root/src/net/tls_stream.cpp $root/src/net/tls_record.cpp $root/src/net/tls_context.cpp" ;;
    tls_record) echo "$root/tests/fuzz/tls_record_fuzz.cpp $root/src/net/tls_record.cpp" ;;
  esac
}

libs_for() {
  case "$1" in
    eio_payload) echo "-lcrypto" ;;
    sio_packet) echo "-lboost_json -lcrypto" ;;
    sio_msgpack) echo "-lboost_json -lmsgpuck" ;;
    ws_frame) echo "" ;;
    ws_extensions) echo "" ;;
    ws_inflate) echo "-lz" ;;
    redis_message) echo "-lboost_json -l:libmsgpuck.a" ;;
    redis_stream) echo "-lboost_json -l:libmsgpuck.a -lcrypto" ;;
    node_record) echo "-lboost_json -lboost_url" ;;
    forward_message) echo "" ;;
    cluster_slots) echo "-lhiredis" ;;
    utf8) echo "" ;;
    http_request) echo "" ;;
    tls_stream) echo "-lssl -lcrypto -lpthread" ;;
    tls_record) echo "-lssl -lcrypto" ;;
  esac
}

# Compiles each source to an object in parallel (at most $jobs at a time), then links.
build() {
  local name=$1 objdir="$out/obj/$1" objs=() pids=() src obj
  mkdir -p "$objdir"
  for src in $(sources_for "$name"); do
    obj="$objdir/$(basename "${src%.cpp}").o"
    objs+=("$obj")
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find "$root/src" -name '*.hpp' -newer "$obj" -print -quit)" ]; then
      "$cxx" "${cxxflags[@]}" -c "$src" -o "$obj" &
      pids+=($!)
      if [ "${#pids[@]}" -ge "$jobs" ]; then
        wait "${pids[0]}"
        pids=("${pids[@]:1}")
      fi
    fi
  done
  local pid
  for pid in "${pids[@]}"; do wait "$pid"; done
  # shellcheck disable=SC2046
  "$cxx" "${cxxflags[@]}" "${objs[@]}" $(libs_for "$name") -o "$out/${name}_fuzz"
}

status=0
for name in "${targets[@]}"; do
  echo "== building ${name}_fuzz"
  build "$name"

  corpus="$out/corpus/$name"
  artifacts="$out/artifacts/$name"
  rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  cp "$root/tests/fuzz/corpus/$name/"* "$corpus/"

  echo "== running ${name}_fuzz for ${seconds}s"
  if ! "$out/${name}_fuzz" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" "$corpus"; then
    echo "!! ${name}_fuzz failed; crashing inputs are in $artifacts" >&2
    status=1
  fi
done
exit "$status"
