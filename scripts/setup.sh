#!/usr/bin/env bash
# Installs what ringcast needs from Debian (only what is missing) and configures build/.
# Idempotent and quiet when everything is already there.
# Usage: scripts/setup.sh [--test|--bench|--demo|--cluster]
#   --test:  also what the test suite drives: clang for fuzzing/sanitizers,
#            python3-websockets, python3-jwt (test tokens), chromium (and a CJK font for
#            the danmaku page's screenshot), node + npm ws and centrifuge, redis-server
#            (the broker tests start their own on 127.0.0.1)
#   --demo:  node + npm centrifuge, whose browser build the demo pages load (scripts/run.sh)
#   --cluster: what --demo installs, and redis-server (scripts/cluster.sh)
#   --bench: also the peers and tools of scripts/bench.sh and scripts/perf.sh:
#            websocketpp + asio, node, python3-websockets, gnuplot, perf, taskset
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

need=(cmake ninja-build g++ pkg-config liburing-dev libssl-dev openssl libsimdjson-dev zlib1g-dev libdeflate-dev libhiredis-dev libgtest-dev libbenchmark-dev)
if [[ "${1:-}" == "--test" ]]; then
  need+=(clang libclang-rt-14-dev python3 python3-websockets python3-jwt chromium fonts-wqy-zenhei nodejs redis-server)
elif [[ "${1:-}" == "--demo" ]]; then
  need+=(nodejs)
elif [[ "${1:-}" == "--cluster" ]]; then
  need+=(nodejs redis-server)
elif [[ "${1:-}" == "--bench" ]]; then
  need+=(libwebsocketpp-dev libasio-dev python3 python3-websockets nodejs gnuplot-nox linux-perf util-linux)
fi

missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Some images ship a nodejs build that bundles npm (and conflicts with Debian's npm package).
[[ -n "${1:-}" ]] && ! command -v npm >/dev/null && missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node 'ws' and the 'centrifuge' SDK for the third-party client tests and the demo pages,
# kept inside the tree (tests/node/node_modules).
if [[ ( "${1:-}" == "--test" || "${1:-}" == "--demo" || "${1:-}" == "--cluster" ) && ( ! -d "$root/tests/node/node_modules/ws" || ! -d "$root/tests/node/node_modules/centrifuge" ) ]]; then
  (cd "$root/tests/node" && npm install --no-audit --no-fund --silent >/dev/null)
fi

if [[ ! -f "$root/build/build.ninja" ]]; then
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
