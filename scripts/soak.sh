#!/usr/bin/env bash
# Soak test: builds ringcast, starts it, and for SECONDS (default 600, at most 3600) runs a
# mix of well-behaved clients (every echo and room message checked for loss and order),
# slow readers and hostile clients (garbage, slowloris, half-open bursts, oversize heads,
# bad frames, abrupt disconnects, ping floods), plus ringcast-load's chat scenario when it is built.
# RSS and fd count are sampled every second to a CSV. Fails if memory or fds grow without
# bound (last-window average > first-window average * 1.5 + slack), if a well-behaved
# client loses or reorders a message, or if the server dies.
#
#   scripts/soak.sh [SECONDS]
#
# Environment: BUILD_DIR (default build), SOAK_DIR (outputs, default $BUILD_DIR/soak),
# RINGCAST_ARGS (extra server flags), JOBS (build parallelism, default 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds < 10 )); then
  echo "usage: $0 [SECONDS >= 10]" >&2
  exit 2
fi
(( seconds > 3600 )) && { echo "soak: capping $seconds s at 3600 s"; seconds=3600; }
build=${BUILD_DIR:-$root/build}
out=${SOAK_DIR:-$build/soak}
jobs=${JOBS:-2}
py=/usr/bin/python3  # Debian's python (the one with python3-websockets), not whatever is on PATH

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRINGCAST_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j"$jobs" --target ringcast
load=""
if cmake --build "$build" -j"$jobs" --target ringcast-load >/dev/null 2>&1; then
  load=$(find "$build" -type f -name ringcast-load -perm -u+x | head -n1)
fi
server=$(find "$build" -type f -name ringcast -perm -u+x | head -n1)
[[ -n "$server" ]] || { echo "soak: no ringcast binary in $build" >&2; exit 1; }

mkdir -p "$out"
stamp=$(date +%Y%m%d-%H%M%S)
csv="$out/soak-$stamp.csv"
log="$out/soak-$stamp.server.log"
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# Small backlog so slow readers hit the slow-consumer policy; short handshake timeout so
# slowloris clients are cut often; an idle timeout so vanished clients get reclaimed.
# shellcheck disable=SC2086
"$server" --host 127.0.0.1 --port "$port" --max-backlog 262144 --handshake-timeout 3 \
  --idle-timeout 20 --max-message 1048576 ${RINGCAST_ARGS:-} 2>"$log" &
spid=$!
load_pid=""
cleanup() {
  [[ -n "$load_pid" ]] && kill "$load_pid" 2>/dev/null || true
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 100); do
  "$py" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), timeout=0.2).close()" 2>/dev/null && break
  kill -0 "$spid" 2>/dev/null || { echo "soak: ringcast exited at start:"; cat "$log"; exit 1; }
  sleep 0.1
done

echo "soak: ringcast pid $spid on port $port for ${seconds}s; samples -> $csv"
if [[ -n "$load" ]]; then
  "$load" chat -c 20 -r 200 -s 256 -d "$seconds" --quiet --server-pid "$spid" \
    "ws://127.0.0.1:$port/" >"$out/soak-$stamp.load.txt" 2>&1 &
  load_pid=$!
  echo "soak: ringcast-load chat running (report -> $out/soak-$stamp.load.txt)"
else
  echo "soak: ringcast-load not built; Python client mix only"
fi

status=0
"$py" "$root/tests/soak/soak_mix.py" --port "$port" --pid "$spid" --seconds "$seconds" --csv "$csv" \
  --handshake-timeout 3 || status=1

if [[ -n "$load_pid" ]]; then
  if ! wait "$load_pid"; then
    # The load generator's own failure does not condemn the server; say so loudly.
    echo "soak: WARNING: ringcast-load exited with an error (its output follows)"
    tail -n 20 "$out/soak-$stamp.load.txt"
  fi
  load_pid=""
fi
if ! kill -0 "$spid" 2>/dev/null; then
  echo "soak: FAIL: ringcast is gone"; tail -n 20 "$log"; status=1
else
  kill -TERM "$spid"
  if ! timeout 15 tail --pid="$spid" -f /dev/null; then
    echo "soak: FAIL: ringcast did not exit within 15 s of SIGTERM"; status=1
  fi
fi
echo "soak: $([[ $status -eq 0 ]] && echo PASSED || echo FAILED) (${seconds}s; CSV $csv; server log $log)"
exit $status
