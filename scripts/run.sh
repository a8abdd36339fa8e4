#!/usr/bin/env bash
# `make run`: the whole demo on this machine.
#   worker (wrangler dev, local KV)  http://127.0.0.1:${EDGE_PORT:-8787}
#   two demo origins (ORIGINS)       http://127.0.0.1:${ORIGIN_PORT:-8788}
#                                    http://127.0.0.1:${ORIGIN2_PORT:-8789}
# Installs and builds what is missing first; Ctrl-C stops everything. Stopping one
# origin (its pid is printed) leaves the demo working on the other.
# Local KV data persists in .wrangler/state between runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

EDGE_PORT="${EDGE_PORT:-8787}"
ORIGIN_PORT="${ORIGIN_PORT:-8788}"
ORIGIN2_PORT="${ORIGIN2_PORT:-8789}"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$EDGE_PORT" "$ORIGIN_PORT" "$ORIGIN2_PORT"; do
  port_busy "$p" && die "port $p on 127.0.0.1 is in use (another \`make run\`?). Stop it, or pick ports: EDGE_PORT=9787 ORIGIN_PORT=9788 ORIGIN2_PORT=9789 make run"
done

bash scripts/install.sh
bash scripts/build-worker.sh
say "building the native binaries (demo-origin, edge-session)"
cargo build --release --bin demo-origin --bin edge-session || die "cargo build of the native binaries failed"
bash scripts/dev-vars.sh
bash scripts/publish-demo.sh

# ORIGIN_SECRET from .dev.vars (KEY=VALUE lines, optional quotes).
origin_secret=$(sed -n 's/^ORIGIN_SECRET=//p' .dev.vars | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/")
[ -n "$origin_secret" ] || die ".dev.vars has no ORIGIN_SECRET=... line (delete .dev.vars to regenerate it)"

pids=()
stopping=0
stop() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap - INT TERM EXIT
  say "stopping"
  # Each child runs in its own process group (setsid): end the whole group.
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap 'stop' EXIT

origin_pids=()
for port in "$ORIGIN_PORT" "$ORIGIN2_PORT"; do
  say "starting a demo origin on 127.0.0.1:$port"
  setsid env ORIGIN_PORT="$port" ORIGIN_SECRET="$origin_secret" WWW_DIR=www \
    "$TARGET_DIR/release/demo-origin" </dev/null &
  pids+=("$!")
  origin_pids+=("$!")
done

say "starting the worker (wrangler dev) on 127.0.0.1:$EDGE_PORT"
# The worker is built above; wrangler's [build] step reruns build-worker.sh
# only when src/ changes while this runs (live rebuild + reload).
pool="http://127.0.0.1:$ORIGIN_PORT, http://127.0.0.1:$ORIGIN2_PORT"
setsid env CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false \
  node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$EDGE_PORT" \
  --show-interactive-dev-session=false --var "ORIGINS:$pool" \
  --var "HEALTH_CHECK_PATH:/healthz" --test-scheduled </dev/null &
worker_pid=$!
pids+=("$worker_pid")

# Wait (up to ~2 minutes) until the worker answers, then say where to go.
ready=0
for _ in $(seq 600); do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "a server exited during startup (see its output above)"
  done
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$EDGE_PORT/"; then
    printf '\n%sedge-session demo: http://127.0.0.1:%s%s   (Ctrl-C stops)\n' "$_B" "$EDGE_PORT" "$_N"
    printf 'origins: http://127.0.0.1:%s (pid %s), http://127.0.0.1:%s (pid %s)\n' \
      "$ORIGIN_PORT" "${origin_pids[0]}" "$ORIGIN2_PORT" "${origin_pids[1]}"
    printf 'stop one (kill %s) and keep using the page: the other serves every session\n' "${origin_pids[1]}"
    printf 'health checks (the cron trigger, by hand): http://127.0.0.1:%s/__scheduled\n\n' "$EDGE_PORT"
    ready=1
    break
  fi
  sleep 0.2
done

[ "$ready" = 1 ] || die "the worker did not answer on http://127.0.0.1:$EDGE_PORT/ within 2 minutes (see the output above)"

# Run until Ctrl-C or until the worker exits (an origin may be stopped on purpose).
wait "$worker_pid" || true
warn "the worker exited; stopping the origins"
