# Shared helpers for scripts/test.sh, scripts/demo.sh and scripts/bench.sh. Sourced, not run.
#
# Tools live in virtual environments under a stable cache directory, keyed by the hash of
# their requirements file, so a new machine installs them and later runs reuse them.

TG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TG_CACHE="${TRAILGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trailguard}"
export SAM_CLI_TELEMETRY=0

if [ -t 1 ]; then
  tg_bold=$'\e[1m'; tg_green=$'\e[32m'; tg_red=$'\e[31m'; tg_dim=$'\e[2m'; tg_reset=$'\e[0m'
else
  tg_bold=""; tg_green=""; tg_red=""; tg_dim=""; tg_reset=""
fi

tg_say() { printf '%s==> %s%s\n' "$tg_bold" "$*" "$tg_reset"; }
tg_die() { printf '%serror: %s%s\n' "$tg_red" "$*" "$tg_reset" >&2; exit 1; }

# tg_venv NAME: make sure the venv for scripts/requirements-NAME.txt exists and is current;
# prints its directory.
tg_venv() {
  local name="$1" req="$TG_ROOT/scripts/requirements-$1.txt"
  local hash dir
  hash="$(sha256sum "$req" | cut -c1-12)"
  dir="$TG_CACHE/venv-$name-$hash"
  if [ ! -x "$dir/bin/python" ] || [ ! -f "$dir/.complete" ]; then
    printf '    installing the %s tools into %s (once per machine, about a minute)\n' "$name" "$dir" >&2
    rm -rf "$dir"
    python3 -m venv "$dir" >&2 || tg_die "python3 -m venv failed (install python3-venv)"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2 || tg_die "pip install -r $req failed"
    touch "$dir/.complete"
  fi
  printf '%s\n' "$dir"
}

# tg_free_port: a free TCP port on 127.0.0.1.
tg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# tg_start_moto VENV: start moto_server on a free loopback port; sets MOTO_PID and
# exports AWS_ENDPOINT_URL, dummy credentials and a region.
tg_start_moto() {
  local venv="$1" port log
  port="$(tg_free_port)"
  log="${TG_LOGDIR:-$(mktemp -d)}/moto.log"
  # The recorder (tests count API calls with it) writes beside the log, not into the checkout.
  MOTO_RECORDER_FILEPATH="$(dirname "$log")/moto_recording" \
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  local i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$AWS_ENDPOINT_URL/moto-api/" 2>/dev/null; then
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$log" >&2; tg_die "moto_server exited"; }
    sleep 0.1
  done
  tg_die "moto_server did not answer on $AWS_ENDPOINT_URL"
}

# tg_start_proxy: start scripts/awsproxy.py on a free loopback port in front of
# $AWS_ENDPOINT_URL; sets PROXY_PID and PROXY_URL. Rules: PUT $PROXY_URL/__proxy/rules.
tg_start_proxy() {
  local venv="$1" port log
  port="$(tg_free_port)"
  log="${TG_LOGDIR:-$(mktemp -d)}/awsproxy.log"
  "$venv/bin/python" "$TG_ROOT/scripts/awsproxy.py" --port "$port" --upstream "$AWS_ENDPOINT_URL" >"$log" 2>&1 &
  PROXY_PID=$!
  PROXY_URL="http://127.0.0.1:$port"
  local i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$PROXY_URL/__proxy/stats" 2>/dev/null; then
      return 0
    fi
    kill -0 "$PROXY_PID" 2>/dev/null || { cat "$log" >&2; tg_die "awsproxy exited"; }
    sleep 0.1
  done
  tg_die "awsproxy did not answer on $PROXY_URL"
}

# tg_run LABEL [--hidden] CMD...: a long step. On a terminal the command shows its own
# progress (cargo's progress bar); otherwise, or when its output goes to a log (--hidden), a
# line every 30 s says it is still running. Either way the end says how long it took.
tg_run() {
  local label="$1"; shift
  local t0 rc=0 hb="" hidden=0
  [ "${1:-}" = "--hidden" ] && { hidden=1; shift; }
  t0=$(date +%s)
  if [ ! -t 2 ] || [ "$hidden" = 1 ]; then
    ( n=0; while sleep 1; do n=$((n + 1)); [ $((n % 30)) -eq 0 ] && printf '    ... %s: %ss\n' "$label" "$n"; done ) &
    hb=$!
  fi
  "$@" || rc=$?
  tg_stop_pid "$hb"
  [ "$rc" -eq 0 ] || return "$rc"
  printf '    %s: %ss\n' "$label" $(( $(date +%s) - t0 ))
}

# Cargo's own progress on a terminal; quiet otherwise (tg_run says what is happening).
if [ -t 2 ]; then TG_CARGO_QUIET=""; else TG_CARGO_QUIET="--quiet"; fi

tg_stop_pid() {
  local pid="$1"
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
}

# tg_chromium: Debian's Chromium (the browser checks drive it headless). Installed with apt
# when it is not there yet; that needs root, as on CI.
tg_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  command -v apt-get >/dev/null || tg_die "Chromium is needed at /usr/bin/chromium (Debian's package chromium)"
  printf '    installing Debian'"'"'s chromium (once per machine, about a minute)\n' >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2; }; } \
    || tg_die "apt-get install chromium failed (run as root, or install it first)"
  [ -x /usr/bin/chromium ] || tg_die "chromium installed, but not at /usr/bin/chromium"
}
