#!/usr/bin/env bash
# Benchmarks ringcast on this machine, in one run:
#   1. the Google Benchmark kernels in build/bench (*_bench), each pinned to one core;
#   2. end-to-end scenarios driven by ringcast-load against ringcast and three peer chat
#      servers (Node ws, Python websockets, websocketpp), each server pinned to core 0 and
#      the generator to core 1, a fresh server process per scenario:
#        fanout   1,000 subscribers / 1 publisher / 64 B, closed loop (window 64)
#        connect  10,000 idle connections: server memory per connection
#        rate     open loop 50 msg/s to 1,000 subscribers (latency)
#        danmaku  10,000 subscribers, 20 publishers, 30 msg/s in total, plus a rate sweep
#                 for the highest rate with p99 < 100 ms
# Prints one table with ratios to ringcast; raw JSON, summary.json and bench.png go to
# bench/results/.
# Environment: BENCH_SECONDS (per scenario, default 3), BENCH_SERVERS (default
# "ringcast node-ws python-websockets websocketpp"), BENCH_MICRO=0 to skip the kernels,
# BENCH_SWEEP="10 30 100 300 1000 3000" danmaku rates for the sweep ("" to skip),
# BENCH_BUILD_DIR (default build/), BENCH_LOAD_ARGS (extra ringcast-load flags, default
# --busy-poll: the generator owns core 1, and a sleeping generator would make the server
# pay for waking it on every loopback send).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-3}
servers=${BENCH_SERVERS:-"ringcast node-ws python-websockets websocketpp"}
sweep=${BENCH_SWEEP-"10 30 100 300 1000 3000"}
results="$root/bench/results"
build=${BENCH_BUILD_DIR:-"$root/build"}
load="$build/bench/load/ringcast-load"
mkdir -p "$results"

"$root/scripts/setup.sh" --bench
[[ -f "$build/build.ninja" ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Only what the benchmark runs: the server, the generator and the kernels.
targets=(ringcast ringcast-load)
for src in "$root"/bench/*_bench.cpp; do [[ -e "$src" ]] && targets+=("$(basename "$src" .cpp)"); done
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

# What the peers and the chart need (scripts/setup.sh installs the build's own packages).
need_cmd() { command -v "$1" >/dev/null || { echo "bench: $1 not found (Debian package: $2)" >&2; exit 1; }; }
need_cmd taskset util-linux
need_cmd gnuplot gnuplot-nox
[[ " $servers " == *" node-ws "* ]] && { need_cmd node nodejs; need_cmd npm npm; }
if [[ " $servers " == *" python-websockets "* ]] && ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
  echo "bench: /usr/bin/python3 cannot import websockets (Debian package: python3-websockets)" >&2; exit 1
fi
if [[ " $servers " == *" websocketpp "* && ! -f /usr/include/websocketpp/server.hpp ]]; then
  echo "bench: websocketpp headers not found (Debian packages: libwebsocketpp-dev libasio-dev)" >&2; exit 1
fi

if (( $(nproc) < 2 )); then
  echo "bench: needs 2 CPUs (server on core 0, generator on core 1)" >&2
  exit 1
fi

# ---- 1. micro-benchmarks -------------------------------------------------------------
if [[ "${BENCH_MICRO:-1}" != 0 ]]; then
  shopt -s nullglob
  for b in "$build"/bench/*_bench; do
    name=$(basename "$b")
    echo "== $name"
    taskset -c 1 "$b" --benchmark_min_time=0.1 --benchmark_out="$results/micro-$name.json" \
      --benchmark_out_format=json
  done
  shopt -u nullglob
fi

# ---- 2. peers ------------------------------------------------------------------------
peers="$root/bench/peers"
wspp="$build/peers/websocketpp_chat"
if [[ " $servers " == *" node-ws "* && ! -d "$peers/node_modules/ws" ]]; then
  (cd "$peers" && npm install --no-audit --no-fund --silent >/dev/null)
fi
if [[ " $servers " == *" websocketpp "* && ( ! -x "$wspp" || "$peers/websocketpp_chat.cpp" -nt "$wspp" ) ]]; then
  echo "== building websocketpp_chat"
  mkdir -p "$build/peers"
  g++ -std=c++17 -O2 -DNDEBUG -o "$wspp" "$peers/websocketpp_chat.cpp" -pthread
fi

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

server_pid=""
start_server() {  # start_server NAME PORT: a fresh server pinned to core 0, waits until it listens
  local name=$1 port=$2
  case $name in
    ringcast) taskset -c 0 "$build/engine/ringcast" --host 127.0.0.1 --port "$port" --threads 1 \
                --log-level error >/dev/null 2>&1 & ;;
    node-ws) taskset -c 0 node "$peers/node_ws_chat.js" --port "$port" >/dev/null 2>&1 & ;;
    python-websockets) taskset -c 0 /usr/bin/python3 "$peers/python_websockets_chat.py" --port "$port" >/dev/null 2>&1 & ;;
    websocketpp) taskset -c 0 "$wspp" --port "$port" >/dev/null 2>&1 & ;;
    *) echo "bench: unknown server $name" >&2; exit 2 ;;
  esac
  server_pid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench: $name did not listen on $port" >&2
  return 1
}
stop_server() {
  [[ -n "$server_pid" ]] || return 0
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap stop_server EXIT

run_load() {  # run_load SERVER SCENARIO-NAME LOAD-ARGS...
  local name=$1 tag=$2; shift 2
  local port; port=$(free_port)
  start_server "$name" "$port"
  echo "== $name $tag: ringcast-load $*"
  # shellcheck disable=SC2086
  if ! taskset -c 1 "$load" "$@" ${BENCH_LOAD_ARGS---busy-poll} --quiet --json --server-pid "$server_pid" \
      "ws://127.0.0.1:$port/" >"$results/$name.$tag.json"; then
    echo "bench: $name $tag failed" >&2
  fi
  /usr/bin/python3 - "$results/$name.$tag.json" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("server") or {}
print(f"   {d['deliveries_per_s']:>12,.0f} deliveries/s  p50 {d['latency_us']['p50']:,.0f} us  p99 {d['latency_us']['p99']:,.0f} us"
      f"  lost {d['lost']}  open {d['connections']['opened']}/{d['connections']['requested']}"
      f"  server {s.get('cpu_ns_per_delivery', 0):,.0f} ns/delivery, {s.get('rss_per_connection', 0):,.0f} B/conn")
PY
  stop_server
}

# ---- 3. scenarios --------------------------------------------------------------------
# What the numbers were measured on; other load on these two cores skews every latency.
read -r load1 _ < /proc/loadavg
/usr/bin/python3 - "$results/env.json" "$load1" "$secs" "$servers" <<'PY'
import json, os, platform, subprocess, sys
rev = subprocess.run(["git", "-C", os.path.dirname(sys.argv[1]), "rev-parse", "--short", "HEAD"],
                     capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump({"kernel": platform.release(), "cpu": cpu, "cpus": os.cpu_count(), "loadavg_1m": float(sys.argv[2]),
           "seconds_per_scenario": float(sys.argv[3]), "servers": sys.argv[4].split(), "git": rev},
          open(sys.argv[1], "w"), indent=2)
PY
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
  echo "bench: warning: load average $load1 before starting; other processes on these cores skew the results" >&2
fi
for s in $servers; do
  rm -f "$results/$s".*.json  # this server's previous results only: a subset run keeps the others
  run_load "$s" fanout fanout -c 1000 -p 1 -s 64 -w 64 -d "$secs"
  run_load "$s" connect connect -c 10000 -p 1 -d 2 --burst 1 --connect-timeout 60
  run_load "$s" rate rate -c 1000 -p 1 -s 64 -r 50 -d "$secs"
  run_load "$s" danmaku rate -c 10000 -p 20 -s 64 -r 30 -d "$secs" --connect-timeout 60
  for r in $sweep; do
    run_load "$s" "danmaku-r$r" rate -c 10000 -p 20 -s 64 -r "$r" -d "$secs" --connect-timeout 60
    # Past the knee: stop sweeping this server.
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["lost"]==0 and d["latency_us"]["p99"]<100000 and d["deliveries"]>0 else 1)' \
      "$results/$s.danmaku-r$r.json" 2>/dev/null || break
  done
done

echo
/usr/bin/python3 "$root/bench/load/tools/summarize.py" "$results" $servers
