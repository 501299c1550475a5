#!/usr/bin/env bash
# The one-command local demo: watch trailguard disable a key, revert a security-group rule,
# delete a NACL entry and restart CloudTrail logging, then a dry-run pass that changes
# nothing. Everything runs on this machine: moto server emulates AWS on 127.0.0.1, and the
# real function binaries run under cargo lambda's local Lambda runtime.
#
#   bash scripts/demo.sh                        # the demo
#   TRAILGUARD_DEMO_CHECK=1 bash scripts/demo.sh  # the same, asserting every outcome (CI)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"

CHECK="${TRAILGUARD_DEMO_CHECK:-0}"
STATE="$TG_ROOT/.tmp/demo"
rm -rf "$STATE"; mkdir -p "$STATE"
export TG_LOGDIR="$STATE"
MOTO_PID=""; WATCH_PID=""
cleanup() { tg_stop_pid "$WATCH_PID"; tg_stop_pid "$MOTO_PID"; }
trap cleanup EXIT

section() { printf '\n%s── %s%s\n' "$tg_bold" "$*" "$tg_reset"; }

section "1. Tools and build"
MOTO_VENV="$(tg_venv moto)"
LAMBDA_VENV="$(tg_venv lambda)"
export PATH="$LAMBDA_VENV/bin:$PATH"
PY="$MOTO_VENV/bin/python"
cargo build --workspace --bins --quiet
echo "  built: revert-security-group, disable-compromised-key, revert-network-acl, guard-cloudtrail"

section "2. An AWS account (moto server on 127.0.0.1)"
tg_start_moto "$MOTO_VENV"
"$PY" scripts/demo.py "$STATE" seed
TOPIC="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["topic"])' "$STATE/state.json")"

WATCH_PORT=""
start_watch() {
  local mode="$1"
  WATCH_PORT="$(tg_free_port)"
  cat >"$STATE/watch.env" <<ENV
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_SESSION_TOKEN=$AWS_SESSION_TOKEN
AWS_REGION=us-east-1
AWS_EC2_METADATA_DISABLED=true
TRAILGUARD_TOPIC_ARN=$TOPIC
TRAILGUARD_MODE=$mode
TRAILGUARD_OWN_ROLE_ARN=arn:aws:iam::123456789012:role/trailguard-demo
ENV
  cargo lambda watch -A 127.0.0.1 -P "$WATCH_PORT" --env-file "$STATE/watch.env" --ignore-changes >"$STATE/watch-$mode.log" 2>&1 &
  WATCH_PID=$!
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$WATCH_PORT") 2>/dev/null; then return 0; fi
    kill -0 "$WATCH_PID" 2>/dev/null || { cat "$STATE/watch-$mode.log" >&2; tg_die "cargo lambda watch exited"; }
    sleep 0.2
  done
  tg_die "cargo lambda watch did not listen on 127.0.0.1:$WATCH_PORT"
}

invoke() {
  local fn="$1" file="$2" out="$STATE/report-$1-$(basename "$2")"
  if ! cargo lambda invoke "$fn" -A 127.0.0.1 -P "$WATCH_PORT" --data-file "$file" -o json >"$out" 2>"$out.err"; then
    cat "$out" "$out.err" >&2
    tg_die "invoking $fn failed (log: $STATE/watch-*.log)"
  fi
  "$PY" - "$out" "$fn" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  {sys.argv[2]}: {r['decision']} ({r['mode']}) - {r['reason'][:110]}")
for a in r.get("actions", []):
    print(f"      {a['type']}: {a.get('outcome')}" + (f" ({a['note'][:90]})" if a.get("note") else ""))
PYEOF
}

section "3. Before"
"$PY" scripts/demo.py "$STATE" show

section "4. The incident, through the real AWS API"
"$PY" scripts/demo.py "$STATE" attack

section "5. trailguard (enforce) under cargo lambda watch"
start_watch enforce
invoke revert-security-group "$STATE/event-sg.json"
invoke disable-compromised-key "$STATE/event-health.json"
invoke revert-network-acl "$STATE/event-nacl.json"
invoke guard-cloudtrail "$STATE/event-trail.json"
tg_stop_pid "$WATCH_PID"; WATCH_PID=""

section "6. After"
"$PY" scripts/demo.py "$STATE" show
"$PY" scripts/demo.py "$STATE" notifications
if [ "$CHECK" = "1" ]; then "$PY" scripts/demo.py "$STATE" check; fi

section "7. Dry-run: the same machinery, nothing changed"
"$PY" scripts/demo.py "$STATE" dry-attack
start_watch dry-run
invoke revert-security-group "$STATE/event-sg-dry.json"
invoke disable-compromised-key "$STATE/event-gd-dry.json"
tg_stop_pid "$WATCH_PID"; WATCH_PID=""
"$PY" scripts/demo.py "$STATE" show
"$PY" scripts/demo.py "$STATE" notifications
if [ "$CHECK" = "1" ]; then "$PY" scripts/demo.py "$STATE" check-dry; fi

section "Done"
echo "  Reports: $STATE/report-*.json   Function logs: $STATE/watch-*.log"
echo "  Every process this demo started has been stopped."
