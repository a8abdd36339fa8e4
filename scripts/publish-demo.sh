#!/usr/bin/env bash
# Publishes the demo page (www/) into the local dev KV, so `make run` serves it
# from the ASSETS namespace through the worker, content-hashed and skew-free:
#   1. edge-session assets build www build/www   (hashed names, rewritten imports)
#   2. edge-session assets publish build/www --local --persist-to .wrangler/state
# Idempotent: an unchanged www/ publishes nothing ("unchanged", no new deploy);
# a changed one becomes a new current deploy, and pages already open keep
# loading the chunks of their own deploy.
#
# .wrangler/state is where `wrangler dev` (4.86) keeps local data when it runs
# without --persist-to: `.wrangler/state` next to wrangler.toml. It is passed
# explicitly so both always agree.
#
#   scripts/publish-demo.sh            build and publish
#   scripts/publish-demo.sh --list     also print the deploy list afterwards
#
# Needs target/release/edge-session (scripts/run.sh builds it first) and wrangler
# in node_modules (scripts/install.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

list=0
for arg in "$@"; do
  case "$arg" in
    --list) list=1 ;;
    *) die "unknown argument \`$arg\` (expected --list)" ;;
  esac
done

cli="$TARGET_DIR/release/edge-session"
[ -x "$cli" ] || die "$cli is missing: run \`cargo build --release --bin edge-session\` first"
[ -x node_modules/.bin/wrangler ] || die "wrangler is missing: run scripts/install.sh first"

state="$ROOT/.wrangler/state"
kv=(--local --persist-to "$state" --config "$ROOT/wrangler.toml")

say "building www/ with content-hashed names into build/www"
"$cli" assets build www build/www >/dev/null || die "edge-session assets build failed (see above)"

say "publishing build/www into the local ASSETS namespace ($state)"
t=$(now)
"$cli" assets publish build/www "${kv[@]}" || die "edge-session assets publish failed (see above)"
ok "published in $(elapsed "$t")"

if [ "$list" = 1 ]; then
  "$cli" assets list "${kv[@]}"
fi
