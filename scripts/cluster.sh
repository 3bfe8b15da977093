#!/usr/bin/env bash
# Starts a ringcast cluster on this machine: redis-server on 127.0.0.1 (no persistence)
# and N ringcast nodes (default 3) joined through it with --broker, on ports 9001..900N,
# each serving the client protocol with scripts/config/cluster.json ("feed:" channels keep
# history in Redis and recover on any node, the others do not; the server API takes
# X-API-Key: cluster-api-key) and the demo pages.
# Open /demo/danmaku on two nodes and send a comment from one: it flies on both.
# Or publish on one node and watch every node's subscribers get it:
#   curl -H 'X-API-Key: cluster-api-key' -d '{"channel":"room:news","data":{"hi":1}}' \
#        http://127.0.0.1:9001/api/publish
#   scripts/cluster.sh [N]   (CLUSTER_BASE_PORT: the first node's port, default 9001;
#                             CLUSTER_REDIS_PORT: Redis's, default 6390; CLUSTER_RINGCAST:
#                             a ringcast binary to run instead of setting up and building)
# Ctrl-C stops the nodes and Redis.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
nodes=${1:-3}
base=${CLUSTER_BASE_PORT:-9001}
redis_port=${CLUSTER_REDIS_PORT:-6390}
[[ "$nodes" =~ ^[1-9][0-9]?$ ]] || { echo "cluster: N must be 1 to 99 nodes" >&2; exit 2; }
ringcast=${CLUSTER_RINGCAST:-}
if [[ -z "$ringcast" ]]; then
  "$root/scripts/setup.sh" --cluster
  cmake --build "$root/build" --target ringcast
  ringcast="$root/build/engine/ringcast"
fi

pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --protected-mode no \
  --daemonize no >/dev/null &
pids+=("$!")
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.05; done
echo "cluster: redis-server on 127.0.0.1:$redis_port"
sdk="$root/tests/node/node_modules/centrifuge/dist/centrifuge.js"
demo=(); [[ -f "$sdk" ]] && demo=(--demo-sdk "$sdk")
for ((i = 0; i < nodes; i++)); do
  port=$((base + i))
  "$ringcast" --port "$port" --config "$root/scripts/config/cluster.json" \
    --broker "redis://127.0.0.1:$redis_port" "${demo[@]}" &
  pids+=("$!")
  echo "cluster: node $((i + 1)): http://127.0.0.1:$port/demo/danmaku  ws://127.0.0.1:$port/connection/websocket"
done
wait -n "${pids[@]}"
echo "cluster: a process exited; stopping the rest" >&2
