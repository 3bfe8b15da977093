#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole suite:
#   1. Release build (g++): unit, integration and third-party-client tests (the integration
#      tests twice: on the default backend and, as integration.epoll.*, on epoll);
#   2. ThreadSanitizer build of the server: the cross-shard integration tests;
#   3. ASan+UBSan build (clang): unit and integration tests again, plus every libFuzzer
#      target for a bounded time (RINGCAST_FUZZ_SECONDS, default 20 s each).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
"$root/scripts/setup.sh" --test

echo "== release build"
cmake --build "$root/build" -j"$jobs"
ctest --test-dir "$root/build" -j"$jobs" --output-on-failure --timeout 300

echo "== ThreadSanitizer build: cross-shard tests (the server on both backends, in-process publish, mailboxes, TLS reload, channel order, compress-once, the Redis broker)"
if [[ ! -f "$root/build-tsan/build.ninja" ]]; then
  cmake -S "$root" -B "$root/build-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRINGCAST_TSAN=ON -DRINGCAST_BENCH=OFF >/dev/null
fi
cmake --build "$root/build-tsan" -j"$jobs" --target ringcast engine_server_test engine_mailbox_test engine_history_test \
  engine_presence_test
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir "$root/build-tsan" --output-on-failure --timeout 300 \
  -R '^(integration\.(epoll\.)?test_(shards|tls|history|presence|deflate|broker|broker_history|broker_presence)|engine\.(ServerTest|Mailbox|History|Presence)\..*)$'

echo "== ASan+UBSan build (clang) with fuzz targets"
if [[ ! -f "$root/build-asan/build.ninja" ]]; then
  cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DRINGCAST_SANITIZE=ON -DRINGCAST_FUZZ=ON -DRINGCAST_BENCH=OFF \
    -DRINGCAST_FUZZ_SECONDS="${RINGCAST_FUZZ_SECONDS:-20}" >/dev/null
fi
cmake --build "$root/build-asan" -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$root/build-asan" -j"$jobs" --output-on-failure --timeout 600
