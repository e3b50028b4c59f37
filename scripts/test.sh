#!/usr/bin/env bash
# Installs what the tests need and runs every test: the sanitizer builds first (ASan+UBSan on
# unit + integration tests, TSan on the threaded ones), then the main build (-Werror, Debug, in
# build-test/: build/ belongs to scripts/run.sh's Release binaries, so neither undoes the other),
# whose ctest summary closes the output. Exit status: non-zero if any stage failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
"$root/scripts/deps.sh" test || exit 1

status=0
configure_build() {  # dir, "targets" (empty: all), extra cmake args...
  local dir=$1 targets=$2
  shift 2
  cmake -S "$root" -B "$dir" -G Ninja -DSIO_WERROR=ON -DSIO_BUILD_TESTS=ON -DSIO_BUILD_BENCH=OFF "$@" >/dev/null || return 1
  if [ -n "$targets" ]; then
    # shellcheck disable=SC2086
    cmake --build "$dir" -j"$jobs" --target $targets || return 1
  else
    cmake --build "$dir" -j"$jobs" || return 1
  fi
}

echo "=== ASan+UBSan build: unit and integration tests ==="
if configure_build "$root/build-asan" "" -DCMAKE_BUILD_TYPE=Debug -DSIO_SANITIZE=address,undefined; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/build-asan" --output-on-failure -j2 -L "unit|integration" || status=1
else
  echo "ASan build failed"
  status=1
fi

echo "=== TSan build: threaded tests ==="
if configure_build "$root/build-tsan" "socketio-conformance-server socketio-server socketio-features-server static_files_io_test kept_op_memory_test" -DCMAKE_BUILD_TYPE=Debug \
  -DSIO_SANITIZE=thread; then
  # The threaded integration tests (label `threads`), then the unit tests of --static's I/O threads
  # and of memory released across threads (by name: gtest_discover_tests gives each test its first
  # label only, so `threads` never reached them and -L threads ran without them).
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir "$root/build-tsan" --output-on-failure -L threads || status=1
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir "$root/build-tsan" --output-on-failure -R '^(FileJobs|StaticFilesIo|KeptSharedMemory)\.' || status=1
else
  echo "TSan build failed"
  status=1
fi

echo "=== Main build (-Werror): every test ==="
if configure_build "$root/build-test" "" -DCMAKE_BUILD_TYPE=Debug -DSIO_SANITIZE=; then
  ctest --test-dir "$root/build-test" --output-on-failure -j2 || status=1
else
  echo "Main build failed"
  status=1
fi
exit $status
