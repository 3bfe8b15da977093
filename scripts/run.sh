#!/usr/bin/env bash
# Sets everything up, builds, and starts ringcast (the chat room on 127.0.0.1:9000 by default).
# Extra arguments go to ringcast: scripts/run.sh --port 9100 --threads 2
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
cmake --build "$root/build" --target ringcast
exec "$root/build/engine/ringcast" "$@"
