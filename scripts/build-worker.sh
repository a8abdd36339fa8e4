#!/usr/bin/env bash
# Builds the release worker (Rust -> wasm32 -> build/index.js + build/index_bg.wasm)
# with worker-build, entirely from local tools: wasm-bindgen-cli from
# ~/.cargo/bin, esbuild and wasm-opt (binaryen) from node_modules; then swaps
# worker-build's per-request entry class for a thin one (scripts/thin-entry.mjs).
# Does nothing when build/ is newer than src/, Cargo.toml, Cargo.lock and that script.
#
#   scripts/build-worker.sh [--force]
#   scripts/build-worker.sh --features=LIST --out=DIR
#
# The second form is for `make bench`: the same worker with cargo features LIST (e.g.
# bench-wbg-executor), built from a copy of the sources under DIR (worker-build
# writes beside the crate) and left as DIR/index.js + DIR/index_bg.wasm; build/ is
# not touched.
#
# Env: EDGE_SESSION_SKIP_BUILD=1 makes it a no-op (the dev server and tests set
# it after building once, so wrangler's [build] step does not rebuild).
# wrangler.toml's [build] runs this script, so `wrangler deploy` builds too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

force=0
features=""
out=""
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --features=*) features="${arg#--features=}" ;;
    --out=*) out="${arg#--out=}" ;;
    *) die "unknown argument \`$arg\` (expected --force, or --features=LIST --out=DIR)" ;;
  esac
done
if [ -n "$features$out" ] && { [ -z "$features" ] || [ -z "$out" ]; }; then
  die "--features and --out go together"
fi

if [ "${EDGE_SESSION_SKIP_BUILD:-}" = 1 ]; then
  exit 0
fi

wasm=build/index_bg.wasm
stamp=build/.edge-session-stamp
inputs=(src Cargo.toml Cargo.lock scripts/thin-entry.mjs)
[ -f build.rs ] && inputs+=(build.rs)

report_size() {
  local raw gz
  raw=$(wc -c <"$wasm")
  gz=$(gzip -9c "$wasm" | wc -c)
  printf 'worker wasm: %s bytes raw, %s bytes gzipped (budget 250 000 bytes gzipped)\n' \
    "$raw" "$gz" >&2
  if [ "$gz" -gt 250000 ]; then
    warn "the gzipped wasm is over the 250 KB budget"
  fi
}

if [ -z "$out" ] && [ "$force" = 0 ] && [ -f "$stamp" ] && [ -f "$wasm" ] && [ -f build/index.js ] &&
  [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit)" ]; then
  ok "worker build is up to date (build/)"
  report_size
  exit 0
fi

# Tools: all local, versions pinned (see install.sh). Install if anything is off.
wb_version=$(lock_version wasm-bindgen)
if [ "$(worker-build --version 2>/dev/null || true)" != "$WORKER_BUILD_VERSION" ] ||
  [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wb_version" ] ||
  [ ! -x node_modules/.bin/esbuild ] || [ ! -x node_modules/.bin/wasm-opt ]; then
  bash scripts/install.sh
fi

export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
have wasm-bindgen && WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"

if [ -n "$out" ]; then
  say "building the worker with features $features into $out"
  case "$out" in /*) ;; *) out="$ROOT/$out" ;; esac
  # Only what this step writes is replaced: --out may name any directory.
  rm -rf "$out/crate"
  rm -f "$out/index.js" "$out/index_bg.wasm"
  mkdir -p "$out/crate"
  cp -R Cargo.toml Cargo.lock src "$out/crate/"
  # A target directory of its own: cargo names a path package's artifacts by its
  # path relative to the workspace, so the copy and the real sources would share
  # them, and the copy's file list would then decide whether the main build is
  # fresh (it missed changes to src/ after a variant build).
  (cd "$out/crate" && CARGO_TARGET_DIR="$TARGET_DIR/variant-build" worker-build --release . --features "$features") ||
    die "worker-build failed for the variant (see the output above)"
  node scripts/thin-entry.mjs "$out/crate/build/index.js" ||
    die "could not install the thin JS entry into the variant (see above)"
  cp "$out/crate/build/index.js" "$out/crate/build/index_bg.wasm" "$out/"
  ok "variant built: $out"
  exit 0
fi

# Variant builds before f15f4fd shared target/ and left the main build's fingerprints
# pointing at their copy of the sources (see --out above), so changes to src/ could
# go unbuilt: forget any such fingerprint (cargo then rebuilds that crate once).
for dep in "$TARGET_DIR"/wasm32-unknown-unknown/release/.fingerprint/*/dep-lib-*; do
  [ -f "$dep" ] && grep -q "bench/wbg-executor/crate" "$dep" && rm -rf "$(dirname "$dep")"
done

say "building the worker (worker-build $WORKER_BUILD_VERSION --release)"
t=$(now)
mkdir -p "$TARGET_DIR"
marker="$TARGET_DIR/.edge-session-worker-build-start"
touch "$marker" # sources changed during the build count as newer than the result
worker-build --release || die "worker-build failed (see the output above)"
if [ ! -f "$wasm" ] || [ ! -f build/index.js ]; then
  die "worker-build succeeded but $wasm or build/index.js is missing"
fi
# The thin JS entry (measured in `make bench`); worker-build's own entry is kept
# under target/ for that comparison.
node scripts/thin-entry.mjs build/index.js "$TARGET_DIR/worker-build-entry/index.js" ||
  die "could not install the thin JS entry into build/index.js (see above)"
touch -r "$marker" "$stamp"
ok "worker built in $(elapsed "$t")"
report_size
