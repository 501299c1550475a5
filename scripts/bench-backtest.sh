#!/usr/bin/env bash
# Backtest throughput and memory (BENCHMARKS.md, "Backtest"): generated CloudTrail archives
# (scripts/gen_cloudtrail.py) of two shapes, `simple` (the first corpus: shallow records of
# 1.4 KB) and `realistic` (records as deep as real ones: sessions, TLS details, policies as
# escaped JSON strings, `items` nesting, long user agents; 1-4 KB with a long tail), plain
# and gzip, read by `trailguard backtest` built with the backtest profile, on one core and on
# all of them. Each command runs RUNS times after a warm-up, timed as a whole process by
# /usr/bin/time; the medians are printed (min and max beside them). A benchmark, not a test:
# run it by hand.
#
#   bash scripts/bench-backtest.sh [--peers] [--shape simple|realistic|both] [SIZES_MB ...]
#
# --peers also times what a user would run instead, on the same plain files: jq (Debian's
# package) and DuckDB (installed into its own venv from scripts/requirements-duckdb.txt, only
# when asked; never by the test command). Archives are generated once into
# $TRAILGUARD_BENCH_DATA (default .tmp/bench-ct) and kept; the size distribution of each is
# printed (scripts/corpus_stats.py).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"
PEERS=0; SHAPES=(simple realistic); SIZES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --peers) PEERS=1 ;;
    --shape) shift; case "$1" in both) SHAPES=(simple realistic) ;; simple|realistic) SHAPES=("$1") ;; *) tg_die "--shape simple|realistic|both" ;; esac ;;
    -*) tg_die "unknown option $1 (see the header of $0)" ;;
    *) SIZES+=("$1") ;;
  esac
  shift
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(512)
DATA="${TRAILGUARD_BENCH_DATA:-$TG_ROOT/.tmp/bench-ct}"
RUNS="${TRAILGUARD_BENCH_RUNS:-5}"
PROFILE="${TRAILGUARD_BENCH_PROFILE:-backtest}"
mkdir -p "$DATA"

tg_say "build: cargo build --profile $PROFILE --workspace --bin trailguard"
cargo build --profile "$PROFILE" --workspace --bin trailguard $TG_CARGO_QUIET
BIN="$TG_ROOT/target/$PROFILE/trailguard"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# measure LABEL RECORDS CMD...: RUNS timed runs after one warm-up; median wall, records/s.
measure() {
  local label="$1" records="$2"; shift 2
  "$@" >/dev/null 2>&1 || true
  local times=() out
  out="$(mktemp)"
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -o "$out" -f '%e %M' "$@" >/dev/null 2>&1 || true
    times+=("$(tail -1 "$out")")
  done
  rm -f "$out"
  printf '%s\n' "${times[@]}" | python3 -c '
import statistics, sys
label, records = sys.argv[1], int(sys.argv[2])
runs = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
wall = sorted(r[0] for r in runs)
rss = statistics.median(r[1] for r in runs) / 1024
med = statistics.median(wall)
rate = f", {records / med:,.0f} records/s" if records else ""
print(f"   {label}: median {med:.2f} s (min {wall[0]:.2f}, max {wall[-1]:.2f}){rate}, peak RSS {rss:.1f} MiB")
' "$label" "$records"
}

for mb in "${SIZES[@]}"; do
  for shape in "${SHAPES[@]}"; do
    for kind in plain gz; do
      dir="$DATA/$shape-$kind-$mb"
      if [ ! -f "$dir.done" ]; then
        tg_say "generating $dir ($mb MB of $shape records, $kind)"
        rm -rf "$dir"
        python3 scripts/gen_cloudtrail.py "$dir" --shape "$shape" --mb "$mb" $([ "$kind" = gz ] && echo --gzip) --days 30 >"$dir.json"
        python3 scripts/corpus_stats.py "$dir" >"$dir.stats.json"
        touch "$dir.done"
      fi
      echo
      echo "archive: $dir: $(tail -1 "$dir.stats.json"), $(du -sm "$dir" | cut -f1) MB on disk"
      # Two policies: the default one, and the samples' (trusted networks set, so every call
      # with a long-term key is decided too).
      for policy in default events/meta/policy.json; do
        flag=(); [ "$policy" = default ] || flag=(--policy "$policy")
        summary="$("$BIN" backtest --quiet --json --jobs 1 "${flag[@]}" "$dir")"
        records="$(printf '%s' "$summary" | python3 -c 'import json, sys; print(json.load(sys.stdin)["records"])')"
        printf '%s' "$summary" | python3 -c 'import json, sys; s = json.load(sys.stdin); d = sum(sum(m.values()) for m in s["decisions"].values()); print("   policy %s: %d records, %d delivered to a function (%.1f %%), %d decisions, %d skipped" % (sys.argv[1], s["records"], s["records"] - s["not_delivered"], 100 * (s["records"] - s["not_delivered"]) / max(s["records"], 1), d, s["skipped"]))' "$policy"
        if [ "$mb" -le 2048 ]; then
          measure "$shape $kind $mb MB, policy $policy, 1 worker" "$records" "$BIN" backtest --quiet --json --jobs 1 "${flag[@]}" "$dir"
        fi
        measure "$shape $kind $mb MB, policy $policy, $(nproc) workers" "$records" "$BIN" backtest --quiet --json --jobs "$(nproc)" "${flag[@]}" "$dir"
      done
      if [ "$PEERS" = 1 ] && [ "$kind" = plain ]; then
        records="$("$BIN" backtest --quiet --json --jobs 1 "$dir" | python3 -c 'import json, sys; print(json.load(sys.stdin)["records"])')"
        command -v jq >/dev/null || tg_die "--peers needs jq (Debian's package jq)"
        # What a user would write to list the successful calls: every record parsed.
        measure "peer: jq 1.$(jq --version | cut -d. -f2), one process" "$records" \
          sh -c "find '$dir' -name '*.json' -print0 | sort -z | xargs -0 jq -c '.Records[] | select(.errorCode == null) | [.eventSource, .eventName]'"
        DUCKDB_VENV="$(tg_venv duckdb)"
        measure "peer: DuckDB $("$DUCKDB_VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)'), read_json + unnest(Records), 1 thread" "$records" \
          "$DUCKDB_VENV/bin/python" -c '
import duckdb, sys
c = duckdb.connect()
c.execute("SET threads TO 1")
n = c.execute("""SELECT count(*), count(DISTINCT r.eventName) FROM
    (SELECT unnest(Records) AS r FROM read_json(?, maximum_object_size = 1073741824))
    WHERE r.errorCode IS NULL""", [sys.argv[1] + "/**/*.json"]).fetchone()
print(n)
' "$dir"
      fi
    done
  done
done
