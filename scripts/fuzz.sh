#!/usr/bin/env bash
# `make fuzz`: runs every cargo-fuzz target for a bounded time (issue #6).
#
#   scripts/fuzz.sh                 every target, FUZZ_SECONDS each (default 60)
#   scripts/fuzz.sh verify_jwt ...  only these targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh
#   FUZZ_MERGE=1 scripts/fuzz.sh    also merge new coverage into tests/fuzz/corpus/ (minimized)
#
# cargo-fuzz needs nightly-only flags. It uses an installed `nightly` toolchain when
# `rustup toolchain list` shows one (rustup never downloads one here), else the
# stable toolchain with RUSTC_BOOTSTRAP=1; FUZZ_TOOLCHAIN=NAME picks one by name.
# The toolchain used is printed first.
# Inputs found while fuzzing go to a scratch corpus under tests/fuzz/target/ (git-ignored),
# so the committed corpus stays small unless FUZZ_MERGE=1. A crash is saved in
# tests/fuzz/artifacts/<target>/ and fails the run: copy it to tests/fuzz/regressions/<target>/
# (replayed by `cargo test --test fuzz_corpus` on stable), then fix the bug.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
all=(open_seal cookie_header cookie_attributes verify_jwt manifest asset_path
  origin_instructions header_lines config bundler_record pool)
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/fuzz_targets/$t.rs" ] || { echo "fuzz.sh: unknown target \`$t\` (known: ${all[*]})" >&2; exit 2; }
done

# cargo-fuzz, installed once (idempotent: the same version is kept).
want=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
  echo "fuzz.sh: installing cargo-fuzz $want" >&2
  cargo install cargo-fuzz --version "$want" --locked
fi

toolchain=${FUZZ_TOOLCHAIN:-}
if [ -z "$toolchain" ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=nightly
fi
if [ -n "$toolchain" ]; then
  fuzz=(cargo "+$toolchain" fuzz)
  echo "fuzz.sh: toolchain $(rustc "+$toolchain" --version)" >&2
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
  echo "fuzz.sh: toolchain $(rustc --version) with RUSTC_BOOTSTRAP=1 (no nightly installed)" >&2
fi
# Its own target directory, so fuzzing never invalidates the normal build.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/tests/fuzz/target}"

failed=()
for t in "${targets[@]}"; do
  echo "== fuzz $t for ${seconds}s" >&2
  work="$CARGO_TARGET_DIR/corpus-work/$t"
  mkdir -p "$work" "tests/fuzz/corpus/$t" "tests/fuzz/artifacts/$t"
  # First directory: where new inputs go (scratch); the rest are read-only seeds.
  if ! "${fuzz[@]}" run --fuzz-dir tests/fuzz "$t" "$work" "tests/fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=20000 \
    -print_final_stats=1; then
    failed+=("$t")
    continue
  fi
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    # Copy into the committed corpus only the scratch inputs that add coverage.
    "${fuzz[@]}" run --fuzz-dir tests/fuzz "$t" "tests/fuzz/corpus/$t" "$work" -- -merge=1 -max_len=4096
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (inputs in tests/fuzz/artifacts/<target>/; copy them to tests/fuzz/regressions/<target>/)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds}s each, no crash" >&2
