#!/usr/bin/env bash
# `make bench`: builds what the benchmarks need, runs them (about 10 minutes),
# prints one table and rewrites BENCHMARKS.md. See benches/bench.mjs for the method
# and the BENCH_* environment variables (e.g. BENCH_ROUNDS=3 BENCH_SECONDS=2 for a
# quicker, noisier run; BENCH_WRITE=0 to leave BENCHMARKS.md alone).
#
#   scripts/bench.sh
#
# Installs, idempotently: wrk (Debian package), the benchmark peers' npm packages
# (benches/package-lock.json: jose, iron-session, hono) and, through
# scripts/install.sh, the repository's toolchain (wrangler/workerd, esbuild,
# wasm-opt, wasm-bindgen-cli). Loads go to 127.0.0.1 only and are time-bounded.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
export CARGO_TARGET_DIR="$TARGET_DIR"
TOOLS="${BENCH_TOOLS_DIR:-$ROOT}"
OUT="$TARGET_DIR/bench"

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# --- wrk -------------------------------------------------------------------------
if ! have wrk; then
  say "installing wrk (Debian package)"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    have sudo || die "wrk is missing and this is not root: run \`apt-get install wrk\` as root"
    sudo="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq wrk >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null; } ||
    die "apt-get install wrk failed"
fi
have taskset || say "taskset not found: processes will not be pinned to CPUs"

# --- the repository's toolchain (wrangler, workerd, esbuild, wasm-opt, wasm-bindgen)
if [ -z "${BENCH_TOOLS_DIR:-}" ]; then
  [ -f scripts/install.sh ] || die "scripts/install.sh is missing; set BENCH_TOOLS_DIR to a directory whose node_modules has wrangler"
  bash scripts/install.sh
fi
[ -x "$TOOLS/node_modules/.bin/wrangler" ] || die "no wrangler in $TOOLS/node_modules (run scripts/install.sh)"

# --- the peers' npm packages (their own lock file) --------------------------------
stamp=benches/node_modules/.bench-install-stamp
want="$(sha256sum benches/package-lock.json | cut -d' ' -f1) node-$(node --version)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "npm ci --prefix benches (jose, iron-session, hono)"
  npm ci --prefix benches --no-audit --no-fund --loglevel=error >/dev/null || die "npm ci --prefix benches failed"
  printf '%s\n' "$want" >"$stamp"
fi

# --- builds ----------------------------------------------------------------------
if [ -z "${BENCH_WORKER_DIR:-}" ]; then
  [ -f scripts/build-worker.sh ] || die "scripts/build-worker.sh is missing; set BENCH_WORKER_DIR to a worker build (index.js + index_bg.wasm)"
  bash scripts/build-worker.sh
  # The same worker on wasm-bindgen-futures' executor, for the driver rows.
  bash scripts/build-worker.sh --features=bench-wbg-executor --out="$OUT/wbg-executor"
fi

say "building the native binaries (edge-session, demo-origin) and benches/ops"
cargo build --release --quiet --bin edge-session --bin demo-origin
# benches/ops with the root crate's release profile (a path dependency's own
# [profile] would be ignored, and benches/ops is its own workspace).
mapfile -t profile < <(node benches/profile-args.mjs)
cargo build --release --quiet "${profile[@]}" --manifest-path benches/ops/Cargo.toml --bin native-ops
cargo build --release --quiet "${profile[@]}" --manifest-path benches/ops/Cargo.toml --lib \
  --target wasm32-unknown-unknown

wasm="$TARGET_DIR/wasm32-unknown-unknown/release/edge_session_bench_ops.wasm"
[ -f "$wasm" ] || die "cargo did not produce $wasm"
if [ ! -f "$OUT/ops-web/.stamp" ] || [ "$wasm" -nt "$OUT/ops-web/.stamp" ]; then
  have wasm-bindgen || die "wasm-bindgen not found (scripts/install.sh installs it)"
  # One ES-module build (--target web), loaded by workerd and by node alike: the
  # crate's inline JS snippets are ES modules, which a --target nodejs glue cannot
  # require from this repository (package.json says "type": "module").
  say "wasm-bindgen benches/ops (--target web)"
  rm -rf "$OUT/ops-node" "$OUT/ops-web"
  wasm-bindgen --target web --out-dir "$OUT/ops-web" "$wasm"
  # The same wasm-opt pass worker-build gives the worker (-O, workerd's features, and
  # SIMD128 as Cargo.toml's [package.metadata.wasm-pack] adds it).
  opt="$TOOLS/node_modules/.bin/wasm-opt"
  if [ -x "$opt" ]; then
    for dir in ops-web; do
      f="$OUT/$dir/edge_session_bench_ops_bg.wasm"
      "$opt" -O --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
        --enable-bulk-memory --enable-multivalue --enable-reference-types \
        --enable-exception-handling --enable-simd "$f" -o "$f"
    done
  else
    say "wasm-opt not found: benches/ops wasm is not wasm-opt'ed (the worker is)"
  fi
  touch "$OUT/ops-web/.stamp"
fi

say "running the benchmarks"
exec node benches/bench.mjs
