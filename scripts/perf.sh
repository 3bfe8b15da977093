#!/usr/bin/env bash
# Profiles the ringcast server under one load scenario: `perf record -e cpu-clock -g` of the
# server process while ringcast-load drives it, then the top functions (perf report
# --stdio) and a flame graph SVG (bench/load/tools/flamegraph.py, no external tools).
# Usage: scripts/perf.sh [fanout|rate|danmaku|connect|chat] [extra ringcast-load args...]
# Environment: PERF_SECONDS (default 5), PERF_BUILD_DIR (default build/),
#              PERF_SERVER_ARGS (default "--threads 1"), PERF_TLS=1 (the same over wss, with
#              scripts/make-cert.sh's pair). Output: bench/results/perf-<scenario>[-wss].*
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scenario=${1:-fanout}
[[ $# -gt 0 ]] && shift
secs=${PERF_SECONDS:-5}
build=${PERF_BUILD_DIR:-"$root/build"}
results="$root/bench/results"
mkdir -p "$results"

case $scenario in
  fanout) load_args=(fanout -c 1000 -p 1 -s 64 -w 16) ;;
  rate) load_args=(rate -c 1000 -p 1 -s 64 -r 50) ;;
  danmaku) load_args=(rate -c 10000 -p 20 -s 64 -r 30 --connect-timeout 60) ;;
  connect) load_args=(connect -c 10000 -p 1 --connect-timeout 60) ;;
  chat) load_args=(chat -c 200 -s 64 -r 2000) ;;
  *) echo "perf.sh: unknown scenario '$scenario' (fanout, rate, danmaku, connect, chat)" >&2; exit 2 ;;
esac

"$root/scripts/setup.sh" --bench
command -v perf >/dev/null || { echo "perf.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
[[ -f "$build/build.ninja" ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target ringcast ringcast-load

scheme=ws tls_args=() name=$scenario
if [[ "${PERF_TLS:-0}" == 1 ]]; then
  "$root/scripts/make-cert.sh" "$build/tls" >/dev/null
  scheme=wss tls_args=(--tls-cert "$build/tls/cert.pem" --tls-key "$build/tls/key.pem") name=$scenario-wss
fi
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086
taskset -c 0 "$build/engine/ringcast" --host 127.0.0.1 --port "$port" --log-level error ${PERF_SERVER_ARGS:---threads 1} \
  "${tls_args[@]}" >/dev/null 2>&1 &
server=$!
perf_pid=""
cleanup() {
  [[ -n "$perf_pid" ]] && kill -INT "$perf_pid" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

data="$results/perf-$name.data"
# Sample the whole run (connect included: connect-heavy scenarios are about that part).
perf record -q -e cpu-clock -F 2000 -g -p "$server" -o "$data" 2>/dev/null &
perf_pid=$!
sleep 0.3
taskset -c 1 "$build/bench/load/ringcast-load" "${load_args[@]}" -d "$secs" --server-pid "$server" "$@" \
  "$scheme://127.0.0.1:$port/" | tee "$results/perf-$name.load.txt"
kill -INT "$perf_pid"
wait "$perf_pid" 2>/dev/null || true
perf_pid=""

report="$results/perf-$name.top.txt"
perf report -i "$data" --stdio --no-children --sort symbol --percent-limit 0.5 -g none 2>/dev/null >"$report"
echo "== top functions (self time), full report: $report"
grep -E '^ +[0-9]' "$report" | head -25
perf script -i "$data" 2>/dev/null |
  /usr/bin/python3 "$root/bench/load/tools/flamegraph.py" --title "ringcast: $name" \
    --folded "$results/perf-$name.folded" >"$results/perf-$name.svg"
echo "flame graph: $results/perf-$name.svg"
