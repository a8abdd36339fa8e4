#!/usr/bin/env bash
# Builds the release worker (Rust -> wasm32 -> build/index.js + build/index_bg.wasm)
# with worker-build, entirely from local tools: wasm-bindgen-cli from
# ~/.cargo/bin, esbuild and wasm-opt (binaryen) from node_modules; then swaps
# worker-build's per-request entry class for a thin one (scripts/thin-entry.mjs).
# wasm-bindgen runs through a wrapper that removes the duplicate keys it writes
# into its imports object (scripts/dedupe-snippet-imports.mjs), and the finished
# bundle must pass esbuild without a single warning: wrangler re-bundles
# build/index.js with esbuild on every deploy and would print them.
# Does nothing when build/ is newer than src/, Cargo.toml, Cargo.lock and those scripts.
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
inputs=(src Cargo.toml Cargo.lock scripts/thin-entry.mjs scripts/dedupe-snippet-imports.mjs)
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

wasm_bindgen="$HOME/.cargo/bin/wasm-bindgen"
have wasm-bindgen && wasm_bindgen="$(command -v wasm-bindgen)"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"

# worker-build runs $WASM_BINDGEN_BIN as `wasm-bindgen <wasm> --out-dir DIR ...
# --out-name index` and bundles DIR/index.js right after. This wrapper runs the
# real wasm-bindgen, then removes the repeated module keys of the imports object in
# DIR/<out-name>.js (see scripts/dedupe-snippet-imports.mjs for why), so neither
# worker-build's esbuild nor wrangler's sees a duplicate key.
mkdir -p "$TARGET_DIR"
export WASM_BINDGEN_BIN="$TARGET_DIR/edge-session-wasm-bindgen"
# Written beside it and renamed: a build still running the old one keeps its copy.
wrapper_new="$WASM_BINDGEN_BIN.$$"
{
  echo '#!/usr/bin/env bash'
  echo '# Written by scripts/build-worker.sh (rewritten on every build): wasm-bindgen,'
  echo '# then scripts/dedupe-snippet-imports.mjs on the JS glue it wrote.'
  echo 'set -euo pipefail'
  printf 'real=%q\n' "$wasm_bindgen"
  printf 'dedupe=%q\n' "$ROOT/scripts/dedupe-snippet-imports.mjs"
  cat <<'WRAPPER'
"$real" "$@"
out_dir="" out_name="" prev=""
for arg in "$@"; do
  case "$prev" in
    --out-dir) out_dir="$arg" ;;
    --out-name) out_name="$arg" ;;
  esac
  prev="$arg"
done
[ -n "$out_dir" ] || exit 0 # --version, --help: nothing was generated
if [ -z "$out_name" ] || [ ! -f "$out_dir/$out_name.js" ]; then
  echo "edge-session-wasm-bindgen: cannot find the JS glue (--out-dir '$out_dir' --out-name '$out_name')" >&2
  exit 1
fi
node "$dedupe" "$out_dir/$out_name.js"
WRAPPER
} >"$wrapper_new"
chmod +x "$wrapper_new"
mv -f "$wrapper_new" "$WASM_BINDGEN_BIN"

# Fails unless esbuild reads bundle $1 without a warning. wrangler bundles
# build/index.js with esbuild again on `wrangler dev`/`deploy` and prints every
# warning (a duplicate object key was one, issue #14): catch that here.
check_bundle() {
  local warnings
  if ! warnings=$("$ESBUILD_BIN" "$1" --format=esm --log-level=warning 2>&1 >/dev/null); then
    die "esbuild cannot read $1:"$'\n'"$warnings"
  fi
  if [ -n "$warnings" ]; then
    die "esbuild warns about $1 (wrangler would print this on every deploy):"$'\n'"$warnings"
  fi
}

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
  check_bundle "$out/crate/build/index.js"
  cp "$out/crate/build/index.js" "$out/crate/build/index_bg.wasm" "$out/"
  ok "variant built: $out"
  exit 0
fi

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
check_bundle build/index.js
touch -r "$marker" "$stamp"
ok "worker built in $(elapsed "$t")"
report_size
