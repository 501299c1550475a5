#!/usr/bin/env bash
# Builds the book (docs/ -> docs/book/index.html) and fails on a broken internal link in it
# or in README.md. mdbook is installed with `cargo install`, pinned, once per machine into the
# cache; the link check needs only python3. Part of the test command.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"

MDBOOK_VERSION=0.5.4
MDBOOK_ROOT="$TG_CACHE/mdbook-$MDBOOK_VERSION"
MDBOOK="$MDBOOK_ROOT/bin/mdbook"

if [ ! -x "$MDBOOK" ]; then
  tg_say "installing mdbook $MDBOOK_VERSION (cargo install) into $MDBOOK_ROOT (once per machine, about a minute)"
  # Only the search feature: no live-reload server, so fewer crates to build.
  cargo install mdbook --version "$MDBOOK_VERSION" --locked --no-default-features --features search \
    --root "$MDBOOK_ROOT" || tg_die "cargo install mdbook $MDBOOK_VERSION failed"
fi

tg_say "mdbook build docs"
"$MDBOOK" build docs || tg_die "mdbook build docs failed"

tg_say "links in docs/book and README.md"
python3 scripts/check_links.py docs/book README.md || tg_die "broken links (listed above)"
echo "ok   the book: docs/book/index.html"
