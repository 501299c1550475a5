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
    if [ ! -f "$dir.done" ]; then
      tg_say "generating $dir ($mb MB of records, $kind)"
      rm -rf "$dir"
      python3 scripts/gen_cloudtrail.py "$dir" --mb "$mb" $([ "$kind" = gz ] && echo --gzip) --days 30 >"$dir.json"
      touch "$dir.done"
    fi
    info="$(cat "$dir.json")"
    echo
    echo "archive: $dir: $info, $(du -sm "$dir" | cut -f1) MB on disk"
    # Two policies: the default one, and the samples' (trusted networks set, so every call
    # with a long-term key is decided: a quarter of these records).
    for policy in default events/meta/policy.json; do
      flag=(); [ "$policy" = default ] || flag=(--policy "$policy")
      "$BIN" backtest --quiet --json --jobs 1 "${flag[@]}" "$dir" \
        | python3 -c 'import json, sys; s = json.load(sys.stdin); d = sum(sum(m.values()) for m in s["decisions"].values()); print("   policy %s: %d records, %d delivered to no function, %d decisions, %d skipped" % (sys.argv[1], s["records"], s["not_delivered"], d, s["skipped"]))' "$policy"
      if [ "$mb" -le 2048 ]; then
        measure "$kind $mb MB, policy $policy, 1 worker" "$BIN" backtest --quiet --json --jobs 1 "${flag[@]}" "$dir"
      fi
      measure "$kind $mb MB, policy $policy, $(nproc) workers" "$BIN" backtest --quiet --json --jobs "$(nproc)" "${flag[@]}" "$dir"
    done
  done
done
