#!/usr/bin/env bash
# THE test command (README, .ci/run). From nothing: Python venvs for moto, SAM/cfn-lint and
# cargo-lambda, moto server on a free loopback port, the whole Rust test suite (unit,
# property, CLI and end-to-end against moto), the template checks, and the demo in check
# mode (the real function binaries under cargo lambda's local Lambda runtime). Exits
# non-zero on any failure; stops every process it started, by PID.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"

export TG_LOGDIR="$TG_ROOT/.tmp/test-logs"
mkdir -p "$TG_LOGDIR"
MOTO_PID=""
cleanup() { tg_stop_pid "$MOTO_PID"; }
trap cleanup EXIT

started=$(date +%s)
step() { tg_say "$* (+$(( $(date +%s) - started ))s)"; }

step "tools: Python venvs (moto, sam + cfn-lint, cargo-lambda)"
MOTO_VENV="$(tg_venv moto)"
SAM_VENV="$(tg_venv sam)"
LAMBDA_VENV="$(tg_venv lambda)"

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

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
cargo test --workspace -- --include-ignored 2>&1 | tee "$TG_LOGDIR/cargo-test.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || tg_die "cargo test failed"
if grep -E '^test .* \.\.\. ignored' "$TG_LOGDIR/cargo-test.log"; then
  tg_die "tests were skipped (listed above)"
fi

step "template: sam validate --lint"
(cd "$TG_ROOT" && AWS_DEFAULT_REGION=us-east-1 "$SAM_VENV/bin/sam" validate --lint --template template.yaml)

step "template: translated to CloudFormation (aws-sam-translator), then cfn-lint"
AWS_DEFAULT_REGION=us-east-1 "$SAM_VENV/bin/python" scripts/translate_sam.py template.yaml "$TG_ROOT/.tmp/template.cfn.json"
"$SAM_VENV/bin/cfn-lint" "$TG_ROOT/.tmp/template.cfn.json"
echo "ok   cfn-lint: clean"

step "template: least privilege, patterns from the code, routing (event-ruler, read-only delivery)"
"$MOTO_VENV/bin/python" scripts/check_template.py template.yaml events target/debug/trailguard

step "trailguard decide over every sample"
target/debug/trailguard decide --policy events/meta/policy.json events/*.json >"$TG_LOGDIR/decide.jsonl"
echo "ok   $(wc -l <"$TG_LOGDIR/decide.jsonl") decisions"

tg_stop_pid "$MOTO_PID"; MOTO_PID=""

step "demo in check mode: real binaries under cargo lambda watch, against a fresh moto"
TRAILGUARD_DEMO_CHECK=1 bash scripts/demo.sh

if [ "${TRAILGUARD_SAM_BUILD:-1}" = "1" ]; then
  step "sam build (rust-cargolambda, x86_64; unoptimised profile: this proves the build method)"
  PATH="$LAMBDA_VENV/bin:$PATH" TRAILGUARD_FAST_RELEASE=1 bash scripts/sam-build.sh x86_64
fi

step "all checks passed in $(( $(date +%s) - started ))s"
