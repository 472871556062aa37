# The two commands: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# One target dir outside the clone, shared by every build, so CI's fresh
# clones build incrementally.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/messaging-target
export PATH := $(CURDIR)/e2e/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
# 2 cores: more jobs only thrash.
export CARGO_BUILD_JOBS ?= 2

MESSAGING_DEBUG := $(CARGO_TARGET_DIR)/debug/messaging
MESSAGING_RELEASE := $(CARGO_TARGET_DIR)/release/messaging

.PHONY: run test tools tools-nobrowser services fmt-check clippy test-rust spa e2e bench bench-import clean-data \
	fuzz fuzz-api-quick soak soak-quick

## make run: build the SPA and the server (release) and start it on the embedded default.
run: tools-nobrowser spa
	cargo build --release -p backend
	DATA_DIR=$${DATA_DIR:-./data} STATIC_DIR=$${STATIC_DIR:-./dist} $(MESSAGING_RELEASE) serve

## make test: everything CI checks.
test: tools services fmt-check clippy test-rust fuzz-api-quick soak-quick spa e2e
	@echo "make test: all checks passed"

tools:
	scripts/ensure-tools.sh

tools-nobrowser:
	scripts/ensure-tools.sh --no-browser

services:
	scripts/ensure-services.sh

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
	cargo clippy -p frontend -p shared --target wasm32-unknown-unknown -- -D warnings

# cargo-nextest (on these machines) kills and names a hanging test; plain
# cargo test is the fallback where it is missing. The SPA's unit tests
# (formatting, plurals, search snippets) run natively, in a separate
# invocation so its features do not change the backend's build.
test-rust:
	if cargo nextest --version >/dev/null 2>&1; then \
	  cargo nextest run --workspace --exclude frontend; \
	else \
	  cargo test --workspace --exclude frontend; \
	fi
	cargo test -p frontend

spa:
	trunk build --release --offline

# `cargo test --no-run` builds the binary with the same features as the test
# run (dev-dependencies unify features), so it is not compiled a second time.
e2e: spa
	cargo test -p backend --no-run
	cd e2e && MESSAGING_BIN=$(MESSAGING_DEBUG) npx playwright test

# Schemathesis against the debug server, bounded and reproducible (fixed
# seed, deterministic generation; about 2 minutes). See README, "API fuzzing".
fuzz-api-quick:
	cargo test -p backend --no-run
	scripts/fuzz-api.sh --quick

## make fuzz: Schemathesis against the API for longer: random seed, up to 200
## examples per operation and the stateful phase, for FUZZ_SECONDS (600)
## (README, "API fuzzing").
fuzz: tools-nobrowser services
	cargo test -p backend --no-run
	scripts/fuzz-api.sh --long

# The soak in bounded form: the debug server, 300 connected users in groups
# of 10, 10 messages/s for 75 s; fails on any error, lost, duplicated or
# stray delivery, or RSS growth over 25 % (README, "Soak").
soak-quick:
	RT_SOAK_USERS=300 RT_SOAK_RATE=10 RT_SOAK_SECONDS=75 RT_SOAK_SAMPLE_SECS=3 \
	  cargo test -p backend --bench realtime -- --soak

## make soak: 1,000 connected users, 20 messages/s for 10 minutes against the
## release server on PostgreSQL and Redis; prints the figures, fails like
## soak-quick (README, "Soak").
soak: services
	RT_SOAK_USERS=1000 RT_SOAK_RATE=20 RT_SOAK_SECONDS=600 RT_SOAK_SAMPLE_SECS=5 \
	  cargo bench -p backend --bench realtime -- --soak

## make bench: the API over HTTP against PostgreSQL (127.0.0.1:5432 or
## TEST_POSTGRES_URL) on a seeded database of its own; prints the figures.
bench:
	cargo bench -p backend --bench api
	cargo bench -p backend --bench realtime
	$(MAKE) bench-import

## make bench-import: 1,000,000 old portal messages through import-legacy
## (time and peak memory; see README, Measurements).
bench-import:
	scripts/bench-import.sh

clean-data:
	rm -rf ./data
