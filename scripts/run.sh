#!/usr/bin/env bash
# Sets everything up, builds, and starts ringcast (the chat room on 127.0.0.1:9000 by default).
# Extra arguments go to ringcast: scripts/run.sh --port 9100 --threads 2
# Unless they carry --config, the client protocol on /connection/websocket runs with
# scripts/config/demo.json: anonymous connections may subscribe anywhere and publish to the
# channels they are subscribed to (the `ticker:` namespace is read-only for clients); the
# server API takes X-API-Key: demo-api-key. The demo pages /demo/ticker (fed by
# build/bench/feed/ringcast-feed) and /demo/danmaku load the centrifuge SDK that setup
# installs with npm (--demo-sdk).
#   --tls  also serve wss:// and https:// on 127.0.0.1:9443, with a self-signed certificate
#          for 127.0.0.1 and localhost made on first use (build/tls/, openssl from Debian)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --demo
cmake --build "$root/build" --target ringcast ringcast-feed

args=()
tls=0
config=1
sdk=1
for a in "$@"; do
  if [[ "$a" == "--tls" ]]; then tls=1; else args+=("$a"); fi
  [[ "$a" == --config || "$a" == --config=* ]] && config=0
  [[ "$a" == --demo-sdk || "$a" == --demo-sdk=* ]] && sdk=0
done
((config)) && args=(--config "$root/scripts/config/demo.json" "${args[@]}")
((sdk)) && args=(--demo-sdk "$root/tests/node/node_modules/centrifuge/dist/centrifuge.js" "${args[@]}")
echo "run: demo pages /demo/ticker (prices: build/bench/feed/ringcast-feed, --api for another port than 9000)" \
  "and /demo/danmaku"
if ((tls)); then
  dir="$root/build/tls"
  "$root/scripts/make-cert.sh" "$dir"
  echo "run: the chat page over https: https://127.0.0.1:9443/ (wss beside ws)"
  args=(--tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" --tls-port 9443 "${args[@]}")
fi
exec "$root/build/engine/ringcast" "${args[@]}"
