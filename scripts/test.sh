#!/usr/bin/env bash
# `make test` (and CI): every check, in order, each under a header.
#   install (with Chromium) -> fmt -> clippy (native, wasm32) -> native tests
#   -> wasm32 unit tests (wasm-bindgen-test under Node) -> release builds
#   -> end-to-end tests (node --test tests/e2e/, real origin + wrangler dev + Chromium)
#
#   scripts/test.sh           all of it
#   scripts/test.sh --e2e     only install, release builds and the end-to-end tests
set -euo pipefail
source "$(dirname "$0")/lib.sh"

only_e2e=0
for arg in "$@"; do
  case "$arg" in
    --e2e) only_e2e=1 ;;
    *) die "unknown argument \`$arg\` (expected --e2e)" ;;
  esac
done

total_start=$(now)
timings=()
current=""
# The end-to-end summary (tests/e2e/reporter.mjs): per-file times, retried
# wrangler one-shots, each failed test with the first lines of its error, and the
# `N passed, N failed` line. Printed last, so a failure can be read from the tail.
e2e_summary=$(mktemp "${TMPDIR:-/tmp}/edge-session-e2e-summary.XXXXXX")
on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "$current" ]; then
    if [ "${#timings[@]}" -gt 0 ]; then
      header "passed before the failure"
      printf '%s\n' "${timings[@]}" >&2
    fi
    if [ -s "$e2e_summary" ]; then
      header "end-to-end summary"
      cat "$e2e_summary" >&2
    fi
    printf '\n%sFAILED:%s %s (exit %s, after %s)\n' "$_R" "$_N" "$current" "$rc" "$(elapsed "$total_start")" >&2
  fi
  rm -f "$e2e_summary"
}
trap on_exit EXIT

# step "Title" command args...: runs one check under a header, timed.
step() {
  current=$1
  shift
  header "$current"
  local t
  t=$(now)
  "$@"
  timings+=("$(printf '%-34s %s' "$current" "$(elapsed "$t")")")
  current=""
}

wasm_tests() {
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test --workspace --lib --target wasm32-unknown-unknown
}

native_bins() {
  cargo build --release --bin demo-origin --bin edge-session
}

e2e() {
  shopt -s nullglob
  local files=(tests/e2e/*.test.mjs)
  [ "${#files[@]}" -gt 0 ] || die "no end-to-end tests in tests/e2e/*.test.mjs"
  # One file at a time: each starts its own wrangler dev + origin, and this
  # machine has 2 cores. node's own reporter (TAP in a log, spec on a terminal)
  # goes to stdout; the summary to $e2e_summary (see on_exit).
  : >"$e2e_summary"
  E2E_SUMMARY_FILE=$e2e_summary node --test --test-concurrency=1 \
    --test-reporter=./tests/e2e/reporter.mjs --test-reporter-destination=stdout "${files[@]}"
  header "end-to-end summary"
  cat "$e2e_summary" >&2
  : >"$e2e_summary"
}

step "install (toolchain, npm, Chromium)" bash scripts/install.sh --browser
if [ "$only_e2e" = 0 ]; then
  step "cargo fmt --check" cargo fmt --all --check
  step "clippy (native, all targets)" cargo clippy --workspace --all-targets -- -D warnings
  step "clippy (wasm32 lib)" cargo clippy --workspace --lib --target wasm32-unknown-unknown -- -D warnings
  step "clippy (wasm32 lib, make bench's executor variant)" cargo clippy --lib \
    --target wasm32-unknown-unknown --features bench-wbg-executor -- -D warnings
  # make bench's native side is its own crate: a changed API must not break it unseen.
  step "benches/ops compiles" cargo check --quiet --manifest-path benches/ops/Cargo.toml
  step "unit + integration tests (native)" cargo test --workspace
  step "unit tests (wasm32, Node)" wasm_tests
fi
step "build the worker (release wasm)" bash scripts/build-worker.sh
step "build the native binaries" native_bins
step "end-to-end tests" e2e

header "summary"
printf '%s\n' "${timings[@]}" >&2
ok "all checks passed in $(elapsed "$total_start")"
