#!/usr/bin/env bash
# Installs everything edge-session needs to build, run and test. Idempotent and
# fast (a few seconds) when everything is already there.
#
#   scripts/install.sh            Rust wasm target + components, worker-build,
#                                 wasm-bindgen-cli (version from Cargo.lock),
#                                 npm packages (wrangler, esbuild, binaryen,
#                                 playwright-core) from package-lock.json
#   scripts/install.sh --browser  also Chromium (Debian packages) for e2e tests
#
# Only crates.io, npm and Debian packages are used: worker-build's own download
# of wasm-bindgen / esbuild / wasm-opt is never needed (see build-worker.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

want_browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    -h | --help)
      sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument \`$arg\` (expected --browser)" ;;
  esac
done

start=$(now)

# Two installs at once (say `make run` and `make test`) would fight over
# node_modules and ~/.cargo: take turns.
exec 9>"${TMPDIR:-/tmp}/edge-session-install.lock"
flock 9

# --- prerequisites that this script does not install -----------------------
have cargo || die "cargo not found: install Rust with rustup (https://rustup.rs), then re-run"
have rustup || die "rustup not found: the wasm32 target is installed through rustup"
have node || die "node not found: Node.js >= 20.3 is needed for wrangler"
have npm || die "npm not found: it comes with Node.js"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: wrangler 4.86 needs >= 20.3"

# --- Rust: the pinned toolchain, its wasm target and components ---------------
# rust-toolchain.toml names the toolchain (1.95.0); rustup never downloads one here.
pinned=$(sed -n 's/^channel = "\(.*\)"$/\1/p' "$ROOT/rust-toolchain.toml")
if ! rustc --version >/dev/null 2>&1; then
  die "the Rust toolchain pinned in rust-toolchain.toml ($pinned) is not installed: run \`rustup toolchain install $pinned\`, or change the pin"
fi
say "Rust toolchain: $(rustc --version) (pinned by rust-toolchain.toml)"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown || die "rustup target add wasm32-unknown-unknown failed"
fi
for comp in rustfmt clippy; do
  probe=fmt
  [ "$comp" = clippy ] && probe=clippy
  if ! cargo "$probe" --version >/dev/null 2>&1; then
    say "adding Rust component $comp"
    rustup component add "$comp" || die "rustup component add $comp failed"
  fi
done

# cargo install with the crate's own Cargo.lock first; if the registry index here
# lacks a locked version, retry letting cargo resolve versions itself.
cargo_install() {
  local crate=$1 version=$2
  say "cargo install $crate $version (takes a few minutes, once)"
  local t
  t=$(now)
  if ! cargo install "$crate" --version "$version" --locked; then
    warn "cargo install --locked $crate $version failed; retrying without --locked"
    cargo install "$crate" --version "$version" ||
      die "could not install $crate $version from crates.io (see the cargo output above)"
  fi
  ok "$crate $version installed in $(elapsed "$t")"
}

# --- worker-build ----------------------------------------------------------------
have_wb=$(worker-build --version 2>/dev/null || true)
if [ "$have_wb" != "$WORKER_BUILD_VERSION" ]; then
  [ -n "$have_wb" ] && say "worker-build is ${have_wb}; want $WORKER_BUILD_VERSION"
  cargo_install worker-build "$WORKER_BUILD_VERSION"
fi

# --- wasm-bindgen-cli: exactly the wasm-bindgen version in Cargo.lock -------------
wb_version=$(lock_version wasm-bindgen)
[ -n "$wb_version" ] || die "no \`wasm-bindgen\` package in Cargo.lock: run \`cargo generate-lockfile\`"
have_bg=$(wasm-bindgen --version 2>/dev/null || true)
have_tr=$(wasm-bindgen-test-runner --version 2>/dev/null || true)
if [ "$have_bg" != "wasm-bindgen $wb_version" ] || [ "$have_tr" != "wasm-bindgen-test-runner $wb_version" ]; then
  [ -n "$have_bg" ] && say "found ${have_bg}; Cargo.lock wants wasm-bindgen $wb_version"
  cargo_install wasm-bindgen-cli "$wb_version"
fi

# --- npm packages ----------------------------------------------------------------
[ -f package-lock.json ] || die "package-lock.json is missing: run \`npm install\` once and commit it"
stamp=node_modules/.edge-session-install-stamp
want_stamp="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node --version)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_stamp" ]; then
  say "npm ci (package-lock.json changed or node_modules missing)"
  t=$(now)
  npm ci --no-audit --no-fund || die "npm ci failed (see the npm output above)"
  printf '%s\n' "$want_stamp" >"$stamp"
  ok "npm packages installed in $(elapsed "$t")"
fi
# The Node origin middleware's example apps (express, hono; tests/e2e/middleware-node.test.mjs).
node_example=examples/node
if [ ! -f "$node_example/node_modules/.package-lock.json" ] ||
  [ "$node_example/package-lock.json" -nt "$node_example/node_modules/.package-lock.json" ]; then
  say "npm ci in $node_example (its package-lock.json changed or node_modules missing)"
  t=$(now)
  (cd "$node_example" && npm ci --no-audit --no-fund) || die "npm ci in $node_example failed (see the npm output above)"
  ok "$node_example packages installed in $(elapsed "$t")"
fi

# --- Python origin middleware (examples/python; tests/e2e/middleware-python.test.mjs) ---
# A venv with requirements.txt's exact pins, rebuilt when the pins or Python change.
py_example=examples/python
have python3 || die "python3 not found: the Python origin example (tests/e2e/middleware-python.test.mjs) needs Python >= 3.11 with venv"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "python3 is $(python3 --version 2>&1 | cut -d' ' -f2); the Python origin example (FastAPI) needs >= 3.11"
py_stamp=$py_example/.venv/.edge-session-install-stamp
want_py_stamp="$(sha256sum "$py_example/requirements.txt" | cut -d' ' -f1) $(python3 --version 2>&1)"
if [ ! -x "$py_example/.venv/bin/python" ] || [ ! -f "$py_stamp" ] || [ "$(cat "$py_stamp")" != "$want_py_stamp" ]; then
  say "pip install in $py_example/.venv (its requirements.txt changed or the venv is missing)"
  t=$(now)
  python3 -m venv --clear "$py_example/.venv" ||
    die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  "$py_example/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$py_example/requirements.txt" ||
    die "pip install -r $py_example/requirements.txt failed (see the pip output above)"
  printf '%s\n' "$want_py_stamp" >"$py_stamp"
  ok "$py_example/.venv ready in $(elapsed "$t")"
fi

# --- Chromium for browser tests ---------------------------------------------------
if [ "$want_browser" = 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  say "installing Chromium from Debian packages (chromium, chromium-driver)"
  t=$(now)
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    have sudo || die "Chromium is missing and this is not root: run \`apt-get install chromium chromium-driver\` as root"
    sudo="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq || die "apt-get update failed"
  $sudo apt-get install -y -qq chromium chromium-driver >/dev/null ||
    die "apt-get install chromium chromium-driver failed"
  [ -x /usr/bin/chromium ] || die "Chromium installed but /usr/bin/chromium is missing"
  ok "Chromium installed in $(elapsed "$t")"
fi

ok "toolchain ready ($(elapsed "$start")): worker-build $WORKER_BUILD_VERSION, wasm-bindgen $wb_version, wrangler $(node -p 'require("wrangler/package.json").version')"
