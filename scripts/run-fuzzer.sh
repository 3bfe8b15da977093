#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time over a scratch copy of its committed corpus.
# Usage: scripts/run-fuzzer.sh <fuzzer-binary> <corpus-dir> <seconds>
set -euo pipefail
bin=$1 corpus=$2 seconds=$3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
[[ -d "$corpus" ]] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
exec "$bin" "$work" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="${TMPDIR:-/tmp}/$(basename "$bin")-"
