# edge-session: build, run and test. `make help` lists the targets.
# Everything goes through scripts/ (see each script's header for details).
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help install run test e2e build fmt lint bench fuzz clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-8s %s\n", $$1, $$2 }'

install: ## Install the toolchain, npm packages and Chromium (idempotent)
	@bash scripts/install.sh --browser

run: ## The demo: worker on http://127.0.0.1:8787, origins on :8788 and :8789 (Ctrl-C stops)
	@bash scripts/run.sh

test: ## Everything CI runs: fmt, clippy, native + wasm32 tests, builds, end-to-end
	@bash scripts/test.sh

e2e: ## Only the end-to-end tests (after building what they need)
	@bash scripts/test.sh --e2e

build: ## Release worker (build/) and native binaries (demo-origin, edge-session)
	@bash scripts/install.sh
	@bash scripts/build-worker.sh
	cargo build --release --bin demo-origin --bin edge-session

fmt: ## Format the Rust code
	cargo fmt --all

lint: ## Clippy, native (all targets) and wasm32 (lib), warnings are errors
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --lib --target wasm32-unknown-unknown -- -D warnings

bench: ## Benchmarks (scripts/bench.sh)
	@if [ -f scripts/bench.sh ]; then bash scripts/bench.sh; else echo "make bench: not yet (scripts/bench.sh does not exist)"; fi

fuzz: ## Fuzz every target for FUZZ_SECONDS (default 60) each; stable via RUSTC_BOOTSTRAP
	@bash scripts/fuzz.sh

clean: ## Remove build outputs (keeps node_modules, .dev.vars and local KV in .wrangler/)
	cargo clean
	rm -rf build
