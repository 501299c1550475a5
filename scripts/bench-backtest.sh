#!/usr/bin/env bash
# Backtest throughput and memory (BENCHMARKS.md, "Backtest"): generated CloudTrail archives
# (scripts/gen_cloudtrail.py: the record mix and size of a real management trail), plain and
# gzip, read by `trailguard backtest` built with the backtest profile, on one core and on all
# of them, timed from outside as whole processes (farm-bench when it is installed, else
# /usr/bin/time). A benchmark, not a test: run it by hand.
#
#   bash scripts/bench-backtest.sh [SIZES_MB ...]     # default: 1024; e.g. 1024 10240
#
# Archives are generated once into $TRAILGUARD_BENCH_DATA (default .tmp/bench-ct) and kept.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"
SIZES=("${@:-1024}")
DATA="${TRAILGUARD_BENCH_DATA:-$TG_ROOT/.tmp/bench-ct}"
RUNS="${TRAILGUARD_BENCH_RUNS:-3}"
mkdir -p "$DATA"

tg_say "build: cargo build --profile backtest --workspace --bin trailguard"
cargo build --profile backtest --workspace --bin trailguard $TG_CARGO_QUIET
BIN="$TG_ROOT/target/backtest/trailguard"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

measure() {
  local label="$1"; shift
  if command -v farm-bench >/dev/null; then
    echo "== $label"
    farm-bench -n "$RUNS" --warmup 1 --timeout 3600 -- "$@" | sed 's/^/   /'
  else
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f "   peak RSS %M KB, user %U s, sys %S s" "$@" >/dev/null
    t1=$(date +%s.%N)
    echo "== $label: $(echo "$t1 - $t0" | bc) s wall"
  fi
}

for mb in "${SIZES[@]}"; do
  for kind in plain gz; do
    dir="$DATA/$kind-$mb"
    if [ ! -f "$dir/.done" ]; then
      tg_say "generating $dir ($mb MB of records, $kind)"
      rm -rf "$dir"
      python3 scripts/gen_cloudtrail.py "$dir" --mb "$mb" $([ "$kind" = gz ] && echo --gzip) --days 30 >"$dir.json"
      touch "$dir/.done"
    fi
    info="$(cat "$dir.json")"
    echo
    echo "archive: $dir: $info, $(du -sm "$dir" | cut -f1) MB on disk"
    # One result line for the record count (the run itself prints the summary as JSON).
    "$BIN" backtest --quiet --json --jobs 1 --policy events/meta/policy.json "$dir" \
      | python3 -c 'import json,sys; s=json.load(sys.stdin); print(f"   summary: {s[\"records\"]} records, {s[\"not_delivered\"]} delivered to no function, decisions {sum(sum(m.values()) for m in s[\"decisions\"].values())}")'
    measure "$kind $mb MB, 1 worker" "$BIN" backtest --quiet --json --jobs 1 --policy events/meta/policy.json "$dir"
    measure "$kind $mb MB, $(nproc) workers" "$BIN" backtest --quiet --json --jobs "$(nproc)" --policy events/meta/policy.json "$dir"
  done
done
