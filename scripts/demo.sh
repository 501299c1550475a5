#!/usr/bin/env bash
# The one-command local demo: watch trailguard disable a key, revert a security-group rule,
# delete a NACL entry and restart CloudTrail logging, then a dry-run pass that changes
# nothing, a sweep, and the same change contained in a second (member) account. Everything runs on this machine: moto server emulates AWS on 127.0.0.1, and the
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
MOTO_PID=""; WATCH_PID=""; PROXY_PID=""
cleanup() { tg_stop_pid "$WATCH_PID"; tg_stop_pid "$PROXY_PID"; tg_stop_pid "$MOTO_PID"; }
trap cleanup EXIT

section() { printf '\n%s── %s%s\n' "$tg_bold" "$*" "$tg_reset"; }

section "1. Tools and build"
echo "  The first run on a machine installs moto and cargo-lambda (about a minute) and compiles"
echo "  the AWS SDK once (about 5 minutes on 2 cores); later runs take seconds."
MOTO_VENV="$(tg_venv moto)"
LAMBDA_VENV="$(tg_venv lambda)"
export PATH="$LAMBDA_VENV/bin:$PATH"
PY="$MOTO_VENV/bin/python"
tg_run "cargo build" cargo build --workspace --bins $TG_CARGO_QUIET
echo "  built: $(sed -n 's/^    "functions\/\(.*\)",/\1/p' Cargo.toml | paste -sd ' ')"

section "2. An AWS account (moto server on 127.0.0.1)"
tg_start_moto "$MOTO_VENV"
"$PY" scripts/demo.py "$STATE" seed
TOPIC="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["topic"])' "$STATE/state.json")"
# moto has no CloudTrail LookupEvents, which the key-activity summary reads. A proxy in front
# of moto answers it with a recorded answer (scripts/demo/lookup-events-recorded.json), so
# the demo shows what the summary looks like; every other call goes to moto unchanged.
tg_start_proxy "$MOTO_VENV"
curl -fsS -X PUT "$PROXY_URL/__proxy/rules" -d "[{\"operation\": \"LookupEvents\", \"fault\": \"respond\", \"body_file\": \"$TG_ROOT/scripts/demo/lookup-events-recorded.json\"}]" >/dev/null
echo "  a proxy on $PROXY_URL answers CloudTrail LookupEvents with a recorded answer (moto has none)"

WATCH_PORT=""
start_watch() {
  local mode="$1" extra="${2:-}"
  WATCH_PORT="$(tg_free_port)"
  cat >"$STATE/watch.env" <<ENV
AWS_ENDPOINT_URL=$PROXY_URL
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_SESSION_TOKEN=$AWS_SESSION_TOKEN
AWS_REGION=us-east-1
AWS_EC2_METADATA_DISABLED=true
TRAILGUARD_TOPIC_ARN=$TOPIC
TRAILGUARD_MODE=$mode
TRAILGUARD_OWN_ROLE_ARN=arn:aws:iam::123456789012:role/trailguard-demo
$extra
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
import json, sys, textwrap
r = json.load(open(sys.argv[1]))
say = lambda text, indent: print(textwrap.fill(text, 96, initial_indent=indent, subsequent_indent=indent + "  "))
say(f"{sys.argv[2]}: {r['decision']} ({r['mode']}): {r['reason']}", "  ")
critical = lambda a: a["type"] != "summarize_key_activity"
for a in r.get("actions", []):
    outcome = "not available" if a.get("outcome") == "failed" and not critical(a) else a.get("outcome")
    say(f"{a['type']}: {outcome}" + (f" ({a['note']})" if a.get("note") and outcome != "dry_run" else ""), "      ")
    s = a.get("result") or {}
    if a["type"] == "summarize_key_activity" and s.get("events") is not None:
        top = ", ".join(f"{x['value']} ({x['count']})" for x in s["top_event_names"])
        ips = ", ".join(f"{x['value']} ({x['count']})" for x in s["source_ips"])
        say(f"key activity, from a RECORDED LookupEvents answer (moto has none): {s['events']} calls; top: {top}; from: {ips}", "        ")
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

section "8. The sweep: what no event reported"
"$PY" scripts/demo.py "$STATE" unseen
start_watch enforce
out="$STATE/report-revert-security-group-aws.events-Scheduled-Event-sweep.json"
# The schedule's event, as the ReconciliationSweep schedule sends it every SweepSchedule.
cargo lambda invoke revert-security-group -A 127.0.0.1 -P "$WATCH_PORT" --data-file events/aws.events-Scheduled-Event-sweep.json -o json >"$out" 2>"$out.err" \
  || { cat "$out" "$out.err" >&2; tg_die "the sweep failed (log: $STATE/watch-enforce.log)"; }
tg_stop_pid "$WATCH_PID"; WATCH_PID=""
"$PY" - "$out" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
listed = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in r["listed"].items())
print(f"  revert-security-group swept {listed}: {len(r['findings'])} finding(s), outcomes {r['outcomes']}")
for f in r["findings"]:
    print(f"      {f['resource']}: {f['report']['reason']}")
PYEOF
if [ "$CHECK" = "1" ]; then "$PY" scripts/demo.py "$STATE" check-sweep; else "$PY" scripts/demo.py "$STATE" notifications; fi

section "9. A second account: one central deployment, acting in a member account"
echo "  The functions run in 123456789012 (central); account 222233334444 forwards its events"
echo "  (member.yaml) and has the member role. The same careless change, made there:"
"$PY" scripts/demo.py "$STATE" member
start_watch enforce "TRAILGUARD_MEMBER_ROLE_NAME=trailguard-member"
invoke revert-security-group "$STATE/event-sg-member.json"
tg_stop_pid "$WATCH_PID"; WATCH_PID=""
"$PY" scripts/demo.py "$STATE" check-member

section "Done"
echo "  Reports: $STATE/report-*.json   Function logs: $STATE/watch-*.log"
echo "  Every process this demo started has been stopped."
