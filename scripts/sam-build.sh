#!/usr/bin/env bash
# sam build with the rust-cargolambda build method, for the architecture given (default
# x86_64: the host here; nothing is fetched). Needs cargo-lambda on PATH (scripts/lib.sh's
# lambda venv provides it, with zig). Prints each function's artifact size.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"
ARCH="${1:-x86_64}"
SAM_VENV="$(tg_venv sam)"
command -v cargo-lambda >/dev/null || export PATH="$(tg_venv lambda)/bin:$PATH"
if [ "${TRAILGUARD_SAM_DEBUG:-0}" = "1" ]; then
  # The test command only proves the build method works: SAM's debug mode has cargo lambda
  # build without --release, with cargo itself as the compiler (the host's own triple needs
  # no zig), into the target directory the tests built (test.sh sets CARGO_BUILD_TARGET to
  # the same triple), so the functions are already built and only copied. The release
  # artifacts (scripts/bench.sh, a real `sam build`) are left alone.
  export SAM_BUILD_MODE=debug CARGO_LAMBDA_COMPILER=cargo
  export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
elif [ "${TRAILGUARD_FAST_RELEASE:-0}" = "1" ]; then
  # An unoptimised "release" in a target directory of its own: minutes instead of a quarter
  # of an hour, and the real release artifacts (scripts/bench.sh) left alone.
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false
  export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 CARGO_PROFILE_RELEASE_DEBUG=false
  export CARGO_TARGET_DIR="$TG_ROOT/target/sam-check"
fi
# The rust-cargolambda builder is a SAM beta feature.
"$SAM_VENV/bin/sam" build --beta-features --template template.yaml --build-dir .aws-sam/build \
  --parameter-overrides "Architecture=$ARCH"
for d in .aws-sam/build/*Function; do
  [ -f "$d/bootstrap" ] || tg_die "sam build produced no bootstrap in $d"
  printf '  %-40s %s bytes\n' "$(basename "$d")" "$(stat -c %s "$d/bootstrap")"
done
