# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; do not run it.
# Sets ROOT (the repository root) and cds there.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
# Cargo's output directory (CARGO_TARGET_DIR wins, as it does for cargo).
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac

# Pinned tool versions. wasm-bindgen-cli must match the `wasm-bindgen` crate in
# Cargo.lock exactly, so it is read from there (see lock_version).
# shellcheck disable=SC2034 # used by the scripts that source this file
WORKER_BUILD_VERSION="0.8.7"

if [ -t 2 ]; then
  _B=$'\033[1m' _R=$'\033[31m' _Y=$'\033[33m' _G=$'\033[32m' _N=$'\033[0m'
else
  _B="" _R="" _Y="" _G="" _N=""
fi

say() { printf '%s==>%s %s\n' "$_B" "$_N" "$*" >&2; }
ok() { printf '%s ok%s %s\n' "$_G" "$_N" "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$_Y" "$_N" "$*" >&2; }
die() {
  printf '%serror:%s %s\n' "$_R" "$_N" "$*" >&2
  exit 1
}
# A section header, for the long-running make targets.
header() { printf '\n%s======== %s ========%s\n' "$_B" "$*" "$_N" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

# The version of crate $1 in Cargo.lock (the first entry if there are several).
lock_version() {
  awk -v name="$1" '
    $0 == "name = \"" name "\"" { found = 1; next }
    found && /^version = / { gsub(/"/, "", $3); print $3; exit }
  ' "$ROOT/Cargo.lock"
}

# Seconds since the epoch with a fraction, for timings.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
