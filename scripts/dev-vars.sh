#!/usr/bin/env bash
# Creates .dev.vars (wrangler's local secrets file, git-ignored) with fresh
# random secrets from `edge-session keygen --dev-vars`. Never overwrites an
# existing .dev.vars: delete it yourself to rotate the local secrets.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ -f .dev.vars ]; then
  ok ".dev.vars exists; keeping it"
  exit 0
fi

say "creating .dev.vars with fresh secrets (edge-session keygen --dev-vars)"
tmp=$(mktemp .dev.vars.XXXXXX)
trap 'rm -f "$tmp"' EXIT
chmod 600 "$tmp"
if ! cargo run --quiet --release --bin edge-session -- keygen --dev-vars >"$tmp"; then
  die "\`edge-session keygen --dev-vars\` failed (see above), so .dev.vars was not created.
       Write it by hand instead: lines SESSION_KEYS=... and ORIGIN_SECRET=..."
fi
for name in SESSION_KEYS ORIGIN_SECRET; do
  grep -q "^$name=." "$tmp" ||
    die "\`edge-session keygen --dev-vars\` printed no $name=... line, so .dev.vars was not created"
done
mv "$tmp" .dev.vars
trap - EXIT
ok "wrote .dev.vars (SESSION_KEYS, ORIGIN_SECRET); it is git-ignored"
