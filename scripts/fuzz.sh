#!/usr/bin/env bash
# Grows the committed fuzz corpora: builds the clang ASan+UBSan+libFuzzer build (build-fuzz)
# and runs each tests/fuzz/fuzz_<name> target for SECONDS, then minimizes committed + new inputs
# with -merge=1 into tests/corpus/<name>/, so the committed corpus only keeps what adds coverage.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    # default 60 s, every target; TARGET: name or fuzz_name
#
# Crashes, leaks and timeouts are saved under build-fuzz/artifacts/ and make the script fail.
# Environment: JOBS (build parallelism, default 2), FUZZ_BUILD_DIR (default build-fuzz),
# FUZZ_CORPUS_DIR (default tests/corpus; point it elsewhere to leave the committed corpus alone).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
[[ $# -gt 0 ]] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "usage: $0 [SECONDS] [TARGET...]" >&2
  exit 2
fi
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-2}

targets=()
if [[ $# -gt 0 ]]; then
  for t in "$@"; do targets+=("fuzz_${t#fuzz_}"); done
else
  for src in "$root"/tests/fuzz/fuzz_*.cpp; do
    [[ -e "$src" ]] && targets+=("$(basename "$src" .cpp)")
  done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "no fuzz targets in tests/fuzz/" >&2
  exit 1
fi
for t in "${targets[@]}"; do
  [[ -f "$root/tests/fuzz/$t.cpp" ]] || { echo "no such fuzz target: tests/fuzz/$t.cpp" >&2; exit 2; }
done

command -v clang++ >/dev/null || { echo "clang++ is needed (scripts/setup.sh --test installs it)" >&2; exit 1; }
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DRINGCAST_SANITIZE=ON -DRINGCAST_FUZZ=ON -DRINGCAST_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
artifacts="$build/artifacts"
mkdir -p "$artifacts"
failed=()
summary=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  bin=$(find "$build" -type f -name "$t" -perm -u+x | head -n1)
  [[ -n "$bin" ]] || { echo "built $t but cannot find its binary" >&2; failed+=("$t"); continue; }
  corpus="${FUZZ_CORPUS_DIR:-$root/tests/corpus}/$name"
  mkdir -p "$corpus"
  fresh=$(mktemp -d)
  before=$(find "$corpus" -type f | wc -l)
  echo "== $t: ${seconds}s over $before committed inputs"
  # New inputs go to the scratch dir (the first one); the committed corpus is only read.
  if "$bin" "$fresh" "$corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
       >"$artifacts/$t.log" 2>&1; then
    # Minimize committed + new inputs to a set that keeps all coverage (-merge=1 takes the
    # smallest input for each feature). Hand-named seeds always stay; generated inputs
    # (named by their SHA-1) are replaced by the minimized set.
    min=$(mktemp -d)
    "$bin" -merge=1 "$min" "$corpus" "$fresh" >>"$artifacts/$t.log" 2>&1
    find "$corpus" -maxdepth 1 -type f -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete
    seeds=$(find "$corpus" -maxdepth 1 -type f -exec sha1sum {} + | cut -d' ' -f1)
    for f in "$min"/*; do
      [[ -e "$f" ]] || continue
      grep -qx "$(basename "$f")" <<<"$seeds" || cp "$f" "$corpus/"
    done
    rm -rf "$min"
    after=$(find "$corpus" -type f | wc -l)
    summary+=("$t: ok, corpus $before -> $after inputs")
  else
    failed+=("$t")
    summary+=("$t: FAILED, see $artifacts/$t.log and $artifacts/$t-*")
    tail -n 40 "$artifacts/$t.log" >&2
  fi
  rm -rf "$fresh"
done

echo "== fuzz summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
