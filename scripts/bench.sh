#!/usr/bin/env bash
# Benchmarks (not part of the test command): trailguard's release binaries vs a Python/boto3
# baseline, against the same moto server, under the same Lambda Runtime API. See
# BENCHMARKS.md for what each number means.
#
#   bash scripts/bench.sh [runs] [warm events per run]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"
RUNS="${1:-5}"; WARM="${2:-20}"
MOTO_VENV="$(tg_venv moto)"
BENCH_VENV="$(tg_venv bench)"
LAMBDA_VENV="$(tg_venv lambda)"
export PATH="$LAMBDA_VENV/bin:$PATH"
export TG_LOGDIR="$TG_ROOT/.tmp"; mkdir -p "$TG_LOGDIR"
MOTO_PID=""
trap 'tg_stop_pid "$MOTO_PID"' EXIT

tg_say "release build (cargo lambda, x86_64)"
# Every function under functions/ (the CLI is not a Lambda function).
cargo lambda build --release $(for f in functions/*/; do printf -- '--bin %s ' "$(basename "$f")"; done)
tg_say "moto server"
tg_start_moto "$MOTO_VENV"
tg_say "measuring: $RUNS cold starts x $WARM warm events per implementation"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$MOTO_VENV/bin/python" -c 'import boto3' && PYTHONPATH="$TG_ROOT/scripts/bench" \
  "$MOTO_VENV/bin/python" scripts/bench/bench.py target/lambda "$BENCH_VENV/bin/python" "$RUNS" "$WARM"
