#!/usr/bin/env bash
# THE test command (README, .ci/run). From nothing: Python venvs for moto (with LocalStack's
# event-ruler), SAM/cfn-lint and cargo-lambda, moto server on a free loopback port, the whole
# Rust test suite (unit, property, CLI and end-to-end against moto), the template checks, the
# faults and redelivery storms through the real binaries (scripts/reliability.py), the demo
# in check mode (the real function binaries under cargo lambda's local Lambda runtime),
# `sam build`, and the stack deployed to moto's CloudFormation and checked. The backtest's
# HTML page is checked in Debian's Chromium (installed with apt when missing). Exits non-zero on
# any failure; stops every process it started, by PID.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"

export TG_LOGDIR="$TG_ROOT/.tmp/test-logs"
mkdir -p "$TG_LOGDIR"
MOTO_PID=""; PROXY_PID=""
cleanup() { tg_stop_pid "$PROXY_PID"; tg_stop_pid "$MOTO_PID"; }
trap cleanup EXIT

started=$(date +%s)
step() { tg_say "$* (+$(( $(date +%s) - started ))s)"; }

# Everything is built for the Lambda target triple (the host's, x86_64), as `cargo lambda`
# builds it: then the `sam build` below (SAM's debug mode, cargo as cargo-lambda's compiler)
# finds the tests' build up to date and only copies the binaries, instead of compiling the
# AWS SDK a fourth time.
export CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu
BIN="target/$CARGO_BUILD_TARGET/debug"
# A run builds everything once: incremental caches would only cost disk (about 4 GiB of the
# run's 17) and time. A later local run with them off rebuilds the workspace crates only.
export CARGO_INCREMENTAL=0

echo "The first run on a new 2-core machine takes about 25 minutes: Python tools (about 2 min),"
echo "the AWS SDK compiled for the lints and for the tests (about 5 min each), and the tests."
echo "Later runs take a few minutes. Logs: $TG_LOGDIR"

# The run needs about 14 GiB under target/ and .aws-sam/, and the tools about 2 GiB: say so
# before it starts, rather than fail at `sam build` after twenty minutes.
free_kib=$(df -Pk . | awk 'NR==2 {print $4}')
echo "Free disk space here: $(( free_kib / 1024 / 1024 )) GiB (a run needs about 16 GiB)."
if [ "$free_kib" -lt $(( 16 * 1024 * 1024 )) ]; then
  echo "warning: less than 16 GiB free; the build may stop with \"No space left on device\"" >&2
fi

step "tools: Python venvs (moto + event-ruler, sam + cfn-lint, cargo-lambda, checkov)"
MOTO_VENV="$(tg_venv moto)"
SAM_VENV="$(tg_venv sam)"
LAMBDA_VENV="$(tg_venv lambda)"
CHECKOV_VENV="$(tg_venv checkov)"

step "format and lints"
cargo fmt --all -- --check
tg_run "clippy" cargo clippy --workspace --all-targets $TG_CARGO_QUIET -- -D warnings

step "shared/rules is pure: no async runtime, SDK, network or HTTP crate among its dependencies"
deps="$(cargo tree -p trailguard-rules -e normal --prefix none --offline 2>/dev/null || cargo tree -p trailguard-rules -e normal --prefix none)"
if printf '%s\n' "$deps" | grep -E '^(tokio|aws-|hyper|reqwest|h2|rustls|mio|socket2|lambda_runtime|tracing) ' ; then
  tg_die "shared/rules depends on an I/O crate (listed above)"
fi
if grep -rnE 'std::(fs|env|process|io|thread)|TcpStream|UdpSocket|TcpListener|ToSocketAddrs|SystemTime|Instant::now|tokio|println!|eprintln!' shared/rules/src; then
  tg_die "shared/rules/src does I/O (listed above)"
fi

step "moto server on 127.0.0.1"
tg_start_moto "$MOTO_VENV"
echo "    $AWS_ENDPOINT_URL (pid $MOTO_PID)"

# The end-to-end tests are #[ignore = "needs moto server"]: a plain `cargo test` lists them
# as ignored; here moto runs, so they run too.
step "cargo test --workspace -- --include-ignored (unit, property, CLI, handler fakes, moto end-to-end)"
# Compiling lines and test results as they come (cargo's progress bar needs a terminal).
t0=$(date +%s)
# Each moto test's invocation logs the AWS calls it made (scripts/calls.py reads them).
export TRAILGUARD_CALLS_LOG="$TG_LOGDIR/calls.jsonl"
rm -f "$TRAILGUARD_CALLS_LOG"
if ! cargo test --workspace -- --include-ignored 2>&1 | tee "$TG_LOGDIR/cargo-test.log" \
    | { grep --line-buffered -E '^ +(Compiling|Finished)|^test result|FAILED|panicked' || true; }; then
  tail -60 "$TG_LOGDIR/cargo-test.log"
  tg_die "cargo test failed (log: $TG_LOGDIR/cargo-test.log)"
fi
echo "    cargo test: $(( $(date +%s) - t0 ))s"
grep -E '^test result' "$TG_LOGDIR/cargo-test.log" | awk '{p+=$4; f+=$6; i+=$8} END {printf "    %d passed, %d failed, %d ignored\n", p, f, i}'
if grep -E '^test .* \.\.\. ignored' "$TG_LOGDIR/cargo-test.log"; then
  tg_die "tests were skipped (listed above)"
fi
unset TRAILGUARD_CALLS_LOG

step "AWS calls per remediation (the moto tests' invocations): within the limit, or a listed exception"
"$MOTO_VENV/bin/python" scripts/calls.py check "$TG_LOGDIR/calls.jsonl"
"$MOTO_VENV/bin/python" scripts/calls.py table "$TG_LOGDIR/calls.jsonl" >"$TG_LOGDIR/calls.md"

step "template: sam validate --lint (template.yaml, member.yaml)"
(cd "$TG_ROOT" && AWS_DEFAULT_REGION=us-east-1 "$SAM_VENV/bin/sam" validate --lint --template template.yaml)
(cd "$TG_ROOT" && AWS_DEFAULT_REGION=us-east-1 "$SAM_VENV/bin/sam" validate --lint --template member.yaml)

step "template: translated to CloudFormation (aws-sam-translator), then cfn-lint"
AWS_DEFAULT_REGION=us-east-1 "$SAM_VENV/bin/python" scripts/translate_sam.py template.yaml "$TG_ROOT/.tmp/template.cfn.json"
"$SAM_VENV/bin/cfn-lint" "$TG_ROOT/.tmp/template.cfn.json" "$TG_ROOT/member.yaml"
echo "ok   cfn-lint: clean (template.yaml translated, member.yaml)"

step "template: least privilege, patterns from the code, routing (event-ruler, read-only delivery)"
"$MOTO_VENV/bin/python" scripts/check_template.py template.yaml events "$BIN"/trailguard

step "template: checkov (zero failed checks; each remaining finding suppressed next to its resource, with a reason)"
for t in template.yaml member.yaml; do
"$CHECKOV_VENV/bin/checkov" -f "$t" --framework cloudformation -o json >"$TG_LOGDIR/checkov-$t.json" 2>"$TG_LOGDIR/checkov-$t.err" || true
"$MOTO_VENV/bin/python" - "$TG_LOGDIR/checkov-$t.json" "$t" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d = d if isinstance(d, dict) else d[0]
s, failed = d["summary"], d["results"]["failed_checks"]
for c in failed:
    print(f"FAIL {c['check_id']} {c['resource']}: {c['check_name']}")
skipped = d["results"].get("skipped_checks", [])
if any(not (c.get("check_result", {}).get("suppress_comment") or "").strip() for c in skipped):
    print("FAIL a suppression without a reason"); sys.exit(1)
print(f"ok   checkov {s['checkov_version']} {sys.argv[2]}: {s['passed']} passed, {s['failed']} failed, {s['skipped']} suppressed with reasons")
sys.exit(1 if failed or s["parsing_errors"] else 0)
PY
done

step "trailguard decide over every sample"
"$BIN"/trailguard decide --policy events/meta/policy.json events/*.json >"$TG_LOGDIR/decide.jsonl"
echo "ok   $(wc -l <"$TG_LOGDIR/decide.jsonl") decisions"

step "backtest page: rendered in headless Chromium (Debian's), one bar group per day, every number the JSON summary's"
tg_chromium
page="$TG_ROOT/.tmp/page"; rm -rf "$page"
python3 scripts/gen_cloudtrail.py "$page/archive" --mb 4 --days 8 --records-per-file 150 >/dev/null
# One more log: a remediated change by an actor whose name is markup; the page shows it as text.
python3 scripts/check_page.py --plant "$page/archive" events/aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json
"$BIN"/trailguard backtest --quiet --json --html "$page/backtest.html" "$page/archive" >"$page/summary.json"
if ! python3 scripts/check_page.py --self-test "$page/backtest.html" "$page/summary.json" \
    --screenshot "$TG_LOGDIR/backtest-page.png" | sed 's/^/    /'; then
  tg_die "the backtest page check failed"
fi

step "backtest: the fast path gives the reference path's summary, record for record (deep and shallow corpora, two policies)"
for shape in realistic simple; do
  python3 scripts/gen_cloudtrail.py "$page/$shape" --shape "$shape" --mb 48 --days 6 --records-per-file 500 >/dev/null
  for policy in default events/meta/policy.json; do
    flag=(); [ "$policy" = default ] || flag=(--policy "$policy")
    "$BIN"/trailguard backtest --quiet --json "${flag[@]}" "$page/$shape" >"$page/fast.json"
    "$BIN"/trailguard backtest --quiet --json --reference "${flag[@]}" "$page/$shape" >"$page/reference.json"
    cmp -s "$page/fast.json" "$page/reference.json" \
      || { diff "$page/fast.json" "$page/reference.json" | head -20; tg_die "$shape corpus, policy $policy: the fast path and the reference path differ"; }
    python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); d = sum(sum(m.values()) for m in s["decisions"].values()); print("    ok   %s corpus, policy %s: %d records, %d decisions, the same summary both ways" % (sys.argv[2], sys.argv[3], s["records"], d))' "$page/fast.json" "$shape" "$policy"
  done
done

step "docs: the mdBook builds (mdbook, pinned, installed with cargo install), no broken internal link"
bash scripts/docs.sh >"$TG_LOGDIR/docs.log" 2>&1 || { tail -40 "$TG_LOGDIR/docs.log"; tg_die "the docs check failed"; }
grep '^ok   links' "$TG_LOGDIR/docs.log"

step "faults and storms through the real binaries (Runtime API + fault-injecting proxy + moto)"
# `cargo test` builds the binaries only of packages with integration tests: build them all.
tg_run "cargo build --bins" cargo build --workspace --bins $TG_CARGO_QUIET
tg_start_proxy "$MOTO_VENV"
if ! "$MOTO_VENV/bin/python" scripts/reliability.py "$BIN" "$PROXY_URL" "$TG_LOGDIR/reliability.json" >"$TG_LOGDIR/reliability.log" 2>&1; then
  tg_stop_pid "$PROXY_PID"; cat "$TG_LOGDIR/reliability.log"; tg_die "the fault and storm checks failed"
fi
tg_stop_pid "$PROXY_PID"; PROXY_PID=""
grep -E '^  (ok|FAIL)' "$TG_LOGDIR/reliability.log" | sed 's/^  /    /'

tg_stop_pid "$MOTO_PID"; MOTO_PID=""

step "demo in check mode: real binaries under cargo lambda watch, against a fresh moto"
TRAILGUARD_DEMO_CHECK=1 bash scripts/demo.sh >"$TG_LOGDIR/demo.log" 2>&1 \
  || { cat "$TG_LOGDIR/demo.log"; tg_die "the demo's checks failed"; }
grep -E 'checks passed|CHECK FAILED' "$TG_LOGDIR/demo.log" | sed 's/^ */    demo: /'

if [ "${TRAILGUARD_SAM_BUILD:-1}" = "1" ]; then
  step "sam build (rust-cargolambda, x86_64; the tests' debug build: this proves the build method)"
  tg_run "sam build" --hidden env PATH="$LAMBDA_VENV/bin:$PATH" TRAILGUARD_SAM_DEBUG=1 bash scripts/sam-build.sh x86_64 >"$TG_LOGDIR/sam-build.log" 2>&1 \
    || { tail -40 "$TG_LOGDIR/sam-build.log"; tg_die "sam build failed"; }
  grep -E 'Function +[0-9]+ bytes' "$TG_LOGDIR/sam-build.log" || true

  tg_start_moto "$MOTO_VENV"
  step "Lambda errorType from the artifacts sam build made (Runtime API on loopback, proxy, moto)"
  tg_start_proxy "$MOTO_VENV"
  if ! "$MOTO_VENV/bin/python" scripts/reliability.py --error-types .aws-sam/build "$PROXY_URL" >"$TG_LOGDIR/error-types.log" 2>&1; then
    tg_stop_pid "$PROXY_PID"; cat "$TG_LOGDIR/error-types.log"; tg_die "the sam build artifacts' errorType checks failed"
  fi
  tg_stop_pid "$PROXY_PID"; PROXY_PID=""
  grep -E '^  (ok|FAIL)' "$TG_LOGDIR/error-types.log" | sed 's/^  /    /'
  curl -fsS -X POST "$AWS_ENDPOINT_URL/moto-api/reset" >/dev/null

  step "deploy: sam package to moto, CreateStack in moto's CloudFormation, the stack checked through the AWS APIs"
  bash scripts/deploy-check.sh
  tg_stop_pid "$MOTO_PID"; MOTO_PID=""
else
  echo "    TRAILGUARD_SAM_BUILD=0: sam build, the artifacts' errorType and the deployment check skipped"
fi

step "all checks passed in $(( $(date +%s) - started ))s"
