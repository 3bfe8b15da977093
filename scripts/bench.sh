#!/usr/bin/env bash
# Benchmarks ringcast on this machine, in one run:
#   1. the Google Benchmark kernels in build/bench (*_bench), each pinned to one core
#      (loopback_bench to two: the kernel's floor for a send loop, printed under the table);
#   2. end-to-end scenarios driven by ringcast-load against ringcast and three peer chat
#      servers (Node ws, Python websockets, websocketpp), each server pinned to core 0 and
#      the generator to core 1, a fresh server process per scenario. ringcast always runs
#      with --announce off: the peers announce no joins or leaves, so neither does it. It
#      runs three times: "ringcast" (--announce off), "ringcast-coalesce" (--announce off
#      --coalesce 250ms: broadcasts held up to 250 ms and sent combined, for bullet
#      comments; it runs every scenario, so its rate and latency rows show what the window
#      costs), "ringcast-epoll" (--announce off --backend epoll: the same engine on its
#      epoll backend, so the two rows show what io_uring buys) and "ringcast-wss" (wss with
#      a P-256 certificate, TLS 1.3 AES-256-GCM: what TLS costs; its connect row is the
#      memory of an idle TLS connection). The scenarios:
#        fanout   1,000 subscribers / 1 publisher / 64 B, closed loop (window 64)
#        connect  10,000 idle connections (BENCH_CONNECT): server memory per connection
#        rate     open loop 50 msg/s to 1,000 subscribers (latency)
#        danmaku  10,000 subscribers, 20 publishers, 30 msg/s in total, plus a rate sweep
#                 for the highest rate with p99 < 100 ms, at 10,000 subscribers and again at
#                 BENCH_SWEEP_SUBS (default 2000)
#      and, for the ringcast rows only (the channel scenarios, on the Centrifugo client
#      protocol with scripts/config/bench-channels.json; the peers have no channels):
#        storm    10,000 subscribers of a channel with history, all dropping their
#                 connections at 2 s and reconnecting at once with recover (ringcast-load
#                 --reconnect-at, from 4 loopback addresses: the dropped ports sit in
#                 TIME_WAIT), with 1 publication/s (storm-r1) and 20/s (storm-r20): time to
#                 all recovered and server CPU, set against the same clients' first connect
#                 (with redis-server: again over two nodes through Redis, each subscriber
#                 reconnecting to the other node, storm-cluster-r1/-r20, against those rows)
#        maxfreq  1,000 subscribers of one max_frequency 100ms channel published 1,000/s:
#                 the updates each subscriber got per second (10 is the target) and the
#                 server's CPU per publication
#        conflate 1,000 subscribers of 100 conflating channels, 2,000 publications/s, with
#                 100 slow readers and without (conflate-base): the fast ones' latency and
#                 the server's RSS as ratios
#        deflate  the room's broadcast to 1,000 subscribers at 200 msg/s of market-data JSON
#                 (ringcast-load --payload json), ~1 KiB and 64 B, with permessage-deflate
#                 negotiated (--deflate) and without, in BENCH_RUNS interleaved rounds:
#                 server CPU and bytes on the wire per delivery as median ratios to plain
#        cluster  (the "ringcast" row) nodes joined through redis-server (--broker): one
#                 node publishing at BENCH_CLUSTER_RATE/s (default 50) to 1,000
#                 subscribers on each of two others (BENCH_CLUSTER_CHANNEL, default room:bench;
#                 feed:bench keeps history),
#                 against one node alone with the 2,000 subscribers and the publisher, in
#                 BENCH_RUNS interleaved rounds: server CPU per delivery (the three nodes
#                 summed) as a median ratio, Redis CPU per publication, and the latency
#                 the broker hop adds (p50, p99); every process on core 0
# Prints one table with ratios to (plain) ringcast; raw JSON, summary.json and bench.png go
# to bench/results/.
# Environment: BENCH_SECONDS (per scenario, default 3), BENCH_RUNS (fan-out rounds, the
# servers interleaved; each row is the median run, default 3), BENCH_SERVERS (default "ringcast
# ringcast-coalesce ringcast-epoll ringcast-wss node-ws python-websockets websocketpp"), BENCH_SCENARIOS (default
# "fanout connect rate danmaku storm maxfreq conflate deflate cluster"), BENCH_MICRO=0 to skip the kernels,
# BENCH_SWEEP="1 3 10 30 100 300 1000 3000" danmaku rates for the sweep ("" to skip),
# BENCH_SWEEP_SUBS (the smaller room swept too, default 2000; "" for 10,000 only),
# BENCH_CONNECT (connections of the connect scenario, default 10000), BENCH_CONNECT_PATH (its URL path, default /: ringcast's room,
# /echo: no room), BENCH_RESULTS (default bench/results/), BENCH_BUILD_DIR (default build/),
# BENCH_LOAD_ARGS (extra ringcast-load flags, default --busy-poll: the generator owns core 1,
# and a sleeping generator would make the server pay for waking it on every loopback send).
#
# Past one process's descriptor limit (ulimit -Hn; 20,000 here: ~19,900 connections) the
# connect scenario splits the generator (ringcast-load --processes), spreads it over several
# loopback source addresses once one would run short of ephemeral ports, and runs ringcast
# (every row) as several processes on the same port (SO_REUSEPORT), pids summed by
# --server-pid. Rooms are per process then, so that run sends no burst (-p 0). The peers are
# single processes: they skip a connect scenario they cannot hold.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-3}
runs=${BENCH_RUNS:-3}
servers=${BENCH_SERVERS:-"ringcast ringcast-coalesce ringcast-epoll ringcast-wss node-ws python-websockets websocketpp"}
sweep=${BENCH_SWEEP-"1 3 10 30 100 300 1000 3000"}
sweep_small=${BENCH_SWEEP_SUBS-2000}
scenarios=${BENCH_SCENARIOS:-"fanout connect rate danmaku storm maxfreq conflate deflate cluster"}
connect_n=${BENCH_CONNECT:-10000}
connect_path=${BENCH_CONNECT_PATH:-/}
results=${BENCH_RESULTS:-"$root/bench/results"}
build=${BENCH_BUILD_DIR:-"$root/build"}
load="$build/bench/load/ringcast-load"
mkdir -p "$results"
[[ "$connect_n" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_CONNECT must be a positive integer" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_RUNS must be a positive integer" >&2; exit 2; }
[[ -z "$sweep_small" || "$sweep_small" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_SWEEP_SUBS must be a positive integer or empty" >&2; exit 2; }
[[ "$connect_path" == /* ]] || { echo "bench: BENCH_CONNECT_PATH must start with /" >&2; exit 2; }

"$root/scripts/setup.sh" --bench
[[ -f "$build/CMakeCache.txt" ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
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
    # Medians of 5 (the README's kernel table); loopback_bench sends on core 0 and drains on
    # core 1 (the server's and the generator's cores): the kernel's floor for the end-to-end
    # rows, median of 3.
    cores=1 reps=5
    if [[ $name == loopback_bench ]]; then cores=0,1 reps=3; fi
    taskset -c "$cores" "$b" --benchmark_min_time=0.1 --benchmark_repetitions="$reps" \
      --benchmark_report_aggregates_only=true --benchmark_out="$results/micro-$name.json" \
      --benchmark_out_format=json || echo "bench: $name failed" >&2
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

server_pids=()   # the server under test: one process, or several sharing the port (ringcast)
server_extra=()  # the next start_server's extra ringcast flags (the channel scenarios' --config)
server_count=1   # how many processes the next start_server starts
url_path=/       # the next run_load's URL path
server_log=$(mktemp)
# ringcast as the peers behave: no join/leave notices (they announce nothing). The
# ringcast-coalesce row adds the bullet-comment window (recorded in env.json, where
# summarize.py takes the row's label from); the ringcast-epoll row runs the same engine on
# its epoll backend (plain ringcast: --backend auto, io_uring here).
ringcast_args=(--host 127.0.0.1 --threads 1 --log-level error --announce off)
ringcast_coalesce=250ms
tls_dir="$build/tls"  # the ringcast-wss row's certificate (made once, as run.sh --tls does)
[[ " $servers " == *" ringcast-wss "* ]] && "$root/scripts/make-cert.sh" "$tls_dir" >/dev/null
start_server() {  # start_server NAME PORT: fresh server process(es) pinned to core 0, waits until it listens
  local name=$1 port=$2 i
  for ((i = 0; i < server_count; i++)); do
    : >"$server_log"
    case $name in
      ringcast) taskset -c 0 "$build/engine/ringcast" "${ringcast_args[@]}" "${server_extra[@]}" --port "$port" \
                  >/dev/null 2>"$server_log" & ;;
      ringcast-coalesce) taskset -c 0 "$build/engine/ringcast" "${ringcast_args[@]}" "${server_extra[@]}" --port "$port" \
                  --coalesce "$ringcast_coalesce" >/dev/null 2>"$server_log" & ;;
      ringcast-epoll) taskset -c 0 "$build/engine/ringcast" "${ringcast_args[@]}" "${server_extra[@]}" --port "$port" \
                  --backend epoll >/dev/null 2>"$server_log" & ;;
      ringcast-wss) taskset -c 0 "$build/engine/ringcast" "${ringcast_args[@]}" "${server_extra[@]}" --port "$port" \
                  --tls-cert "$tls_dir/cert.pem" --tls-key "$tls_dir/key.pem" >/dev/null 2>"$server_log" & ;;
      node-ws) taskset -c 0 node "$peers/node_ws_chat.js" --port "$port" >/dev/null 2>&1 & ;;
      python-websockets) taskset -c 0 /usr/bin/python3 "$peers/python_websockets_chat.py" --port "$port" >/dev/null 2>&1 & ;;
      websocketpp) taskset -c 0 "$wspp" --port "$port" >/dev/null 2>&1 & ;;
      *) echo "bench: unknown server $name" >&2; exit 2 ;;
    esac
    server_pids+=("$!")
    local up=0
    for _ in $(seq 100); do
      # A second ringcast on the port: the port answers already, its own log line says when it does.
      if [[ $name == ringcast* ]]; then grep -q "listening on" "$server_log" && { up=1; break; }
      elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
      sleep 0.1
    done
    if ((!up)); then
      echo "bench: $name did not listen on $port" >&2
      return 1
    fi
  done
}
stop_server() {
  local pid
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  server_pids=()
}
redis_pid=""  # the cluster scenario's redis-server
trap 'stop_server; [[ -n "$redis_pid" ]] && kill "$redis_pid" 2>/dev/null; rm -f "$server_log"' EXIT

run_load() {  # run_load SERVER SCENARIO-NAME LOAD-ARGS...
  local name=$1 tag=$2; shift 2
  local port; port=$(free_port)
  start_server "$name" "$port"
  local pids note="" scheme=ws
  [[ $name == ringcast-wss ]] && scheme=wss
  pids=$(IFS=,; echo "${server_pids[*]}")
  ((server_count > 1)) && note=" ($server_count $name processes on port $port)"
  echo "== $name $tag: ringcast-load $*$note"
  # shellcheck disable=SC2086
  if ! taskset -c 1 "$load" "$@" ${BENCH_LOAD_ARGS---busy-poll} --quiet --json --server-pid "$pids" \
      "$scheme://127.0.0.1:$port$url_path" >"$results/$name.$tag.json"; then
    echo "bench: $name $tag failed" >&2
  fi
  /usr/bin/python3 - "$results/$name.$tag.json" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("server") or {}
print(f"   {d['deliveries_per_s']:>12,.0f} deliveries/s  p50 {d['latency_us']['p50']:,.0f} us  p99 {d['latency_us']['p99']:,.0f} us"
      f"  lost {d['lost']}  open {d['connections']['opened']}/{d['connections']['requested']}"
      f"  server {s.get('cpu_ns_per_delivery', 0):,.0f} ns/delivery, {s.get('rss_per_connection', 0):,.0f} B/conn")
st = d.get("storm") or {}
if st.get("dropped"):
    c = d["connections"]
    print(f"   storm: {st['recovered']}/{st['dropped']} recovered ({st['recovered_publications']:,} publications), "
          f"all in {st['seconds'] * 1e3:,.0f} ms ({st['seconds'] / c['seconds']:.1f}x their first connect, "
          f"{c['seconds'] * 1e3:,.0f} ms), server CPU {st['server_cpu_seconds'] * 1e6 / st['dropped']:,.0f} us per "
          f"reconnect ({st['server_cpu_seconds'] * 1e6 / st['dropped'] / max(s.get('connect_cpu_us', 0), 1e-9):.1f}x "
          f"a first connect)")
if d["slow"]["subscribers"]:
    print(f"   slow: {d['slow']['subscribers']} readers, {d['slow']['missing_tail']} not ending on the latest;"
          f" server RSS peak {s.get('rss_peak', 0) / 1048576:.1f} MiB")
PY
  stop_server
  server_count=1
  url_path=/
  server_extra=()
}

# The connect scenario's shape at BENCH_CONNECT connections: generator processes and source
# addresses, and how many processes the server needs (see the header).
fd_limit=$(ulimit -Hn)
[[ "$fd_limit" == unlimited ]] && fd_limit=1048576
read -r port_lo port_hi < /proc/sys/net/ipv4/ip_local_port_range
per_load=$((fd_limit - 80))           # ringcast-load keeps ~64 + 4 per thread for itself
per_server=$((fd_limit - 100))        # ringcast --threads 1: table of (limit - 64) + 16, minus its own fds
per_source=$(((port_hi - port_lo + 1) / 2))  # past half the ephemeral range connect() crawls
connect_total=$((connect_n + 1))      # + the publisher
connect_procs=$(((connect_total + per_load - 1) / per_load))
connect_servers=1
if ((connect_total > per_server)); then  # several: leave 5% for SO_REUSEPORT's uneven split
  connect_servers=$(((connect_total * 105 / 100 + per_server - 1) / per_server))
fi
connect_sources=$(((connect_total + per_source - 1) / per_source))
connect_args=(connect -c "$connect_n" -p 1 -d 2 --burst 1 --connect-timeout 60)
if ((connect_servers > 1)); then connect_args=(connect -c "$connect_n" -p 0 -d 2 --connect-timeout 60); fi
((connect_procs > 1)) && connect_args+=(--processes "$connect_procs")
if ((connect_sources > 1)); then
  src=127.0.0.1
  for ((i = 2; i <= connect_sources; i++)); do src+=",127.0.0.$i"; done
  connect_args+=(--source "$src")
fi

# ---- 3. scenarios --------------------------------------------------------------------
# What the numbers were measured on; other load on these two cores skews every latency.
read -r load1 _ < /proc/loadavg
/usr/bin/python3 - "$results/env.json" "$load1" "$secs" "$servers" "$connect_n" "$connect_path" "$root" \
  "$ringcast_coalesce" "$runs" "$sweep_small" <<'PY'
import json, os, platform, subprocess, sys
rev = subprocess.run(["git", "-C", sys.argv[7], "rev-parse", "--short", "HEAD"],
                     capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump({"kernel": platform.release(), "cpu": cpu, "cpus": os.cpu_count(), "loadavg_1m": float(sys.argv[2]),
           "seconds_per_scenario": float(sys.argv[3]), "servers": sys.argv[4].split(), "git": rev,
           "connect_connections": int(sys.argv[5]), "connect_path": sys.argv[6],
           "ringcast_coalesce": sys.argv[8], "fanout_runs": int(sys.argv[9]),
           "sweep_small_subscribers": int(sys.argv[10]) if sys.argv[10] else None},
          open(sys.argv[1], "w"), indent=2)
PY
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
  echo "bench: warning: load average $load1 before starting; other processes on these cores skew the results" >&2
fi
want() { [[ " $scenarios " == *" $1 "* ]]; }
for s in $servers; do
  # This server's previous results for these scenarios only: a subset run keeps the others.
  # (-r*: the danmaku sweeps, the fan-out runs)
  for sc in $scenarios; do rm -f "$results/$s.$sc.json" "$results/$s.$sc-base.json" "$results/$s.$sc"-r*.json "$results/$s.$sc"[0-9]*-r*.json; done
done
sweep_rates() {  # sweep_rates SERVER TAG SUBSCRIBERS: $sweep's rates up to the first p99 >= 100 ms or loss
  local s=$1 tag=$2 subs=$3 r
  for r in $sweep; do
    run_load "$s" "$tag-r$r" rate -c "$subs" -p 20 -s 64 -r "$r" -d "$secs" --connect-timeout 60
    # Past the knee: stop sweeping this server.
    /usr/bin/python3 "$root/bench/load/tools/summarize.py" --held "$results/$s.$tag-r$r.json" || break
  done
}
# Each round measures the kernel floor for the same sends (loopback_bench's fan-out shape,
# the io_uring loops) right after ringcast's run, so summarize.py can set ringcast against the
# floor round by round (or at the end of the round when ringcast is not among the servers).
floor_round() {  # floor_round N
  [[ -x "$build/bench/loopback_bench" ]] || return 0
  echo "== kernel floor, fan-out shape, round $1"
  taskset -c 0,1 "$build/bench/loopback_bench" --benchmark_filter='Uring.*/1000/44/0$' \
    --benchmark_min_time=0.3 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$results/floor-fanout-run$1.json" --benchmark_out_format=json >/dev/null ||
    echo "bench: loopback_bench failed" >&2
}
# Fan-out, the noisiest figure (+-10-20 % run to run on a shared VM): BENCH_RUNS rounds, the
# servers taking turns in each so drift hits them alike; summarize.py takes each server's
# median run by server CPU per delivery.
if want fanout; then
  rm -f "$results"/floor-fanout-run*.json
  for ((run = 1; run <= runs; run++)); do
    for s in $servers; do
      run_load "$s" "fanout-run$run" fanout -c 1000 -p 1 -s 64 -w 64 -d "$secs"
      if [[ $s == ringcast ]]; then floor_round "$run"; fi
    done
    if [[ " $servers " != *" ringcast "* ]]; then floor_round "$run"; fi
  done
fi
for s in $servers; do
  if want connect; then
    if ((connect_servers > 1)) && [[ $s != ringcast* ]]; then
      echo "== $s connect: skipped ($connect_n connections need $connect_servers server processes; only ringcast shares its port)"
    else
      ((connect_servers > 1)) && server_count=$connect_servers
      url_path=$connect_path
      run_load "$s" connect "${connect_args[@]}"
    fi
  fi
  want rate && run_load "$s" rate rate -c 1000 -p 1 -s 64 -r 50 -d "$secs"
  want danmaku || continue
  run_load "$s" danmaku rate -c 10000 -p 20 -s 64 -r 30 -d "$secs" --connect-timeout 60
  sweep_rates "$s" danmaku 10000
  # At 10,000 subscribers one pass alone can exceed 100 ms here (see the kernel floor), so
  # the same sweep in a smaller room tells the servers apart.
  if [[ -n "$sweep_small" ]]; then sweep_rates "$s" "danmaku$sweep_small" "$sweep_small"; fi
done

# The channel scenarios: ringcast rows only, on the client protocol.
channel_run() {  # channel_run SERVER TAG LOAD-ARGS...: run_load with the channels' config and URL
  server_extra=(--config "$root/scripts/config/bench-channels.json")
  url_path=/connection/websocket
  run_load "$@"
}
for s in $servers; do
  [[ $s == ringcast* ]] || continue
  if want storm; then
    for r in 1 20; do
      channel_run "$s" "storm-r$r" rate -c 10000 -p 1 -s 64 -r "$r" -d 6 --reconnect-at 2 --channel feed:storm \
        --connect-timeout 60 --source 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4
    done
  fi
  if want maxfreq; then
    channel_run "$s" maxfreq rate -c 1000 -p 1 -s 64 -r 1000 -d "$secs" --channel tick:m
    /usr/bin/python3 - "$results/$s.maxfreq.json" "$secs" <<'PY' || true
import json, sys
d, secs = json.load(open(sys.argv[1])), float(sys.argv[2])
s = d.get("server") or {}
per_pub = s.get("cpu_seconds", 0) * 1e6 / max(d["messages_sent"], 1)
print(f"   max frequency: {d['deliveries'] / d['config']['connections'] / secs:.1f} updates/s per subscriber at 100 ms"
      f" of {d['messages_per_s']:,.0f} publications/s; server {per_pub:.1f} us CPU per publication")
PY
  fi
  if want conflate; then
    channel_run "$s" conflate-base rate -c 1000 -p 1 -s 64 -r 2000 -d "$secs" --channel px:c --channels 100
    channel_run "$s" conflate rate -c 1000 -p 1 -s 64 -r 2000 -d "$secs" --channel px:c --channels 100 --slow 100
    /usr/bin/python3 - "$results/$s.conflate-base.json" "$results/$s.conflate.json" <<'PY' || true
import json, sys
base, slow = (json.load(open(p)) for p in sys.argv[1:])
ratio = lambda k: slow["latency_us"][k] / max(base["latency_us"][k], 1e-9)
rss = lambda d: (d.get("server") or {}).get("rss_peak", 0)
print(f"   conflate: fast subscribers' p50 {ratio('p50'):.2f}x, p99 {ratio('p99'):.2f}x the run without slow readers;"
      f" server RSS peak {rss(slow) / max(rss(base), 1):.2f}x; lost {slow['lost']}")
PY
  fi
  if want deflate; then
    # BENCH_RUNS rounds, plain and deflate taking turns: the ratios are each round's, the
    # median printed (one server CPU sample is +-10 % here).
    for size in 1024 64; do
      for ((run = 1; run <= runs; run++)); do
        for mode in base z; do
          run_load "$s" "deflate$size-$mode-run$run" rate -c 1000 -p 1 -s "$size" --payload json -r 200 -d "$secs" \
            $([[ $mode == z ]] && echo --deflate)
        done
      done
      /usr/bin/python3 - "$results" "$s" "$size" "$runs" <<'PY' || true
import json, statistics, sys
results, s, size, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
load = lambda mode, r: json.load(open(f"{results}/{s}.deflate{size}-{mode}-run{r}.json"))
rounds = [(load("base", r), load("z", r)) for r in range(1, runs + 1)]
per = lambda d: (d.get("server") or {}).get("cpu_ns_per_delivery", 0)
cpu = statistics.median(per(z) / max(per(b), 1e-9) for b, z in rounds)
wire = statistics.median(z["wire_bytes_per_delivery"] / max(b["wire_bytes_per_delivery"], 1e-9) for b, z in rounds)
wire_b, wire_z = (statistics.median(r[i]["wire_bytes_per_delivery"] for r in rounds) for i in (0, 1))
print(f"   deflate {size} B: server CPU per delivery {cpu:.2f}x plain, wire bytes per delivery {wire:.2f}x"
      f" ({wire_z:.0f} vs {wire_b:.0f} B; medians of {runs} rounds);"
      f" {min(z['deflate']['connections'] for _, z in rounds)} negotiated,"
      f" {sum(z['deflate']['compressed_messages'] for _, z in rounds):,} messages compressed,"
      f" lost {sum(d['lost'] for r in rounds for d in r)}")
PY
    done
  fi
done

# Nodes through Redis against one node: the broker hop's cost.
cpu_ns() { awk '{print $1}' "/proc/$1/schedstat"; }  # time on a CPU, ns (stat's ticks are 10 ms)
if want cluster && [[ " $servers " == *" ringcast "* ]]; then
  need_cmd redis-server redis-server
  cluster_cfg=(--config "$root/scripts/config/cluster.json")
  cluster_rate=${BENCH_CLUSTER_RATE:-50}
  cluster_channel=${BENCH_CLUSTER_CHANNEL:-room:bench}
  for ((run = 1; run <= runs; run++)); do
    # One node: the publisher and 2,000 subscribers on it.
    server_extra=("${cluster_cfg[@]}")
    url_path=/connection/websocket
    run_load ringcast "cluster-one-run$run" rate -c 2000 -p 1 -s 64 -r "$cluster_rate" -d "$secs" --channel "$cluster_channel"
    # Three nodes and Redis on core 0: publish on A, 1,000 subscribers on each of B and C.
    rport=$(free_port)
    taskset -c 0 redis-server --bind 127.0.0.1 --port "$rport" --save "" --appendonly no >/dev/null 2>&1 &
    redis_pid=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.05; done
    server_extra=("${cluster_cfg[@]}" --broker "redis://127.0.0.1:$rport")
    ports=()
    for _ in 1 2 3; do ports+=("$(free_port)"); start_server ringcast "${ports[-1]}"; done
    pids=$(IFS=,; echo "${server_pids[*]}")
    echo "== ringcast cluster-run$run: 3 nodes + redis-server, publisher on :${ports[0]}"
    /usr/bin/python3 - "${ports[@]}" <<'PY' || echo "bench: a node's broker links did not come up" >&2
import sys, time, urllib.request
for port in sys.argv[1:]:  # every node's links up: /healthz 200
    for _ in range(100):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200:
                break
        except OSError:
            pass
        time.sleep(0.05)
    else:
        sys.exit(1)
PY
    # Redis's own idle work (its cron) over as long, to take out of its figure.
    i0=$(cpu_ns "$redis_pid"); sleep "$secs"; i1=$(cpu_ns "$redis_pid")
    r0=$(cpu_ns "$redis_pid")
    taskset -c 1 "$load" rate -c 2000 -p 1 -s 64 -r "$cluster_rate" -d "$secs" --channel "$cluster_channel" ${BENCH_LOAD_ARGS---busy-poll}       --quiet --json --server-pid "$pids" --publish-to "ws://127.0.0.1:${ports[0]}/connection/websocket"       "ws://127.0.0.1:${ports[1]}/connection/websocket,ws://127.0.0.1:${ports[2]}/connection/websocket"       >"$results/ringcast.cluster-run$run.json" || echo "bench: cluster run $run failed" >&2
    r1=$(cpu_ns "$redis_pid")
    /usr/bin/python3 - "$results/ringcast.cluster-run$run.json" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("server") or {}
print(f"   {d['deliveries_per_s']:>12,.0f} deliveries/s  p50 {d['latency_us']['p50']:,.0f} us  p99 {d['latency_us']['p99']:,.0f} us"
      f"  lost {d['lost']}  open {d['connections']['opened']}/{d['connections']['requested']}"
      f"  servers {s.get('cpu_ns_per_delivery', 0):,.0f} ns/delivery")
PY
    echo "$(( (r1 - r0 - (i1 - i0)) / 1000 ))" >"$results/ringcast.cluster-run$run.redis_cpu_us"
    stop_server
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=""
    server_extra=()
    url_path=/
  done
  /usr/bin/python3 - "$results" "$runs" <<'PY' || true
import json, statistics, sys
results, runs = sys.argv[1], int(sys.argv[2])
one = [json.load(open(f"{results}/ringcast.cluster-one-run{r}.json")) for r in range(1, runs + 1)]
many = [json.load(open(f"{results}/ringcast.cluster-run{r}.json")) for r in range(1, runs + 1)]
redis_us = [int(open(f"{results}/ringcast.cluster-run{r}.redis_cpu_us").read()) for r in range(1, runs + 1)]
per = lambda d: (d.get("server") or {}).get("cpu_ns_per_delivery", 0)
med = statistics.median
cpu = med(per(m) / max(per(o), 1e-9) for o, m in zip(one, many))
dps = med(m["deliveries_per_s"] / max(o["deliveries_per_s"], 1e-9) for o, m in zip(one, many))
redis_pub = med(us / max(m["messages_sent"], 1) for us, m in zip(redis_us, many))
hop = {k: med(m["latency_us"][k] - o["latency_us"][k] for o, m in zip(one, many)) for k in ("p50", "p99")}
lost = sum(d["lost"] for d in one + many)
print(f"   cluster: deliveries/s {dps:.2f}x one node, server CPU per delivery {cpu:.2f}x (3 nodes summed),"
      f" Redis {redis_pub:.1f} us CPU per publication, the broker hop adds p50 {hop['p50']:,.0f} us,"
      f" p99 {hop['p99']:,.0f} us (medians of {runs} rounds); lost {lost}")
json.dump({"cpu_per_delivery_ratio": cpu, "deliveries_ratio": dps, "redis_us_per_publication": redis_pub,
           "hop_p50_us": hop["p50"], "hop_p99_us": hop["p99"], "lost": lost, "rounds": runs},
          open(f"{results}/cluster.json", "w"), indent=2)
PY
fi

# The storm across nodes: the same 10,000 subscribers spread over two nodes joined through
# Redis, each reconnecting to the other node (its own gone: --reconnect-elsewhere) and
# recovering from the copy there, set against the one-node storm rows of this run.
if want storm && [[ " $servers " == *" ringcast "* ]]; then
  need_cmd redis-server redis-server
  for r in 1 20; do
    rport=$(free_port)
    taskset -c 0 redis-server --bind 127.0.0.1 --port "$rport" --save "" --appendonly no >/dev/null 2>&1 &
    redis_pid=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.05; done
    server_extra=(--config "$root/scripts/config/bench-channels.json" --broker "redis://127.0.0.1:$rport")
    ports=()
    for _ in 1 2; do ports+=("$(free_port)"); start_server ringcast "${ports[-1]}"; done
    pids=$(IFS=,; echo "${server_pids[*]}")
    echo "== ringcast storm-cluster-r$r: 2 nodes + redis-server, each subscriber reconnecting to the other node"
    taskset -c 1 "$load" rate -c 10000 -p 1 -s 64 -r "$r" -d 6 --reconnect-at 2 --reconnect-elsewhere --channel feed:storm \
      --connect-timeout 60 --source 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4 ${BENCH_LOAD_ARGS---busy-poll} --quiet --json \
      --server-pid "$pids" "ws://127.0.0.1:${ports[0]}/connection/websocket,ws://127.0.0.1:${ports[1]}/connection/websocket" \
      >"$results/ringcast.storm-cluster-r$r.json" || echo "bench: storm-cluster-r$r failed" >&2
    stop_server
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=""
    server_extra=()
    /usr/bin/python3 - "$results/ringcast.storm-cluster-r$r.json" "$results/ringcast.storm-r$r.json" <<'PY' || true
import json, os, sys
d = json.load(open(sys.argv[1]))
st = d["storm"]
line = (f"   storm across nodes: {st['recovered']}/{st['dropped']} recovered, all in {st['seconds'] * 1e3:,.0f} ms, "
        f"{st['server_cpu_seconds'] * 1e6 / max(st['dropped'], 1):,.0f} us of server CPU per reconnect (both nodes), lost {d['lost']}")
if os.path.exists(sys.argv[2]):  # this run's one-node storm
    o = json.load(open(sys.argv[2]))["storm"]
    line += (f"; {st['seconds'] / max(o['seconds'], 1e-9):.2f}x the time and "
             f"{st['server_cpu_seconds'] / max(o['server_cpu_seconds'], 1e-9):.2f}x the CPU of one node")
print(line)
PY
  done
fi

echo
/usr/bin/python3 "$root/bench/load/tools/summarize.py" "$results" $servers
