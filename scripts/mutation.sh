#!/usr/bin/env bash
# The long mutation run (not in the test command): the property of
# shared/rules/tests/never_panics.rs over every sample, with CASES cases (default a million):
# fields dropped or retyped, numbers where strings are, 200-deep nesting, 1 MB strings,
# invalid UTF-8 escapes. Prints the cases, the time and the outcome; BENCHMARKS.md keeps the
# last result.
#
#   bash scripts/mutation.sh [CASES]
#
# Only the pure rules crate is built (in release, where a case takes about half a
# millisecond); the AWS SDK is not.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"
CASES="${1:-1000000}"
start=$(date +%s)
set +e
PROPTEST_CASES="$CASES" cargo test --release -q -p trailguard-rules --test never_panics parse_and_decide_never_panic 2>&1 | tee "${TG_LOGDIR:-/tmp}/mutation.log" | grep -E "test result|panicked|minimal failing"
rc=${PIPESTATUS[0]}
set -e
secs=$(( $(date +%s) - start ))
if [ "$rc" = 0 ]; then
  echo "mutation run: $CASES cases, 0 failures, ${secs}s (build included)"
else
  echo "mutation run: $CASES cases, FAILED after ${secs}s: see ${TG_LOGDIR:-/tmp}/mutation.log"
fi
exit "$rc"
