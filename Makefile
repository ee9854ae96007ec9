# Nightshift developer targets. `make help` lists them; each target's `## ` comment is its help.
SHELL := /bin/bash
.DEFAULT_GOAL := help

DEBUG_BIN := .build/debug/nightshift
RELEASE_BIN := .build/release/nightshift
# Extra arguments for `make run`, e.g. make run ARGS="--port 8001 --state-dir /tmp/ns"
ARGS ?=

.PHONY: help deps build run test contract bench start-gate fmt clean

help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

deps: ## Install libsqlite3-dev with apt-get when it is missing (sudo only when not root)
	@if ! command -v dpkg >/dev/null 2>&1; then \
		echo "deps: no dpkg on this system; assuming the SQLite headers come with it"; \
	elif ! dpkg -s libsqlite3-dev >/dev/null 2>&1; then \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		echo "deps: installing libsqlite3-dev"; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsqlite3-dev; \
	fi

build: deps ## Build the debug binary (.build/debug/nightshift)
	swift build

run: build ## Run the daemon on config/nightshift.yaml: example backlog, offline demo agent (ARGS=...)
	$(DEBUG_BIN) serve $(ARGS)

test: deps check ## Run every test (what CI runs): the format check, swift test, then the API contract run
	@# One test at a time: Foundation's Process.run crashed (memcpy, bad pointer) in about one
	@# run in six while other tests spawned processes in parallel; serial runs take about a minute.
	swift test --no-parallel
	swift build
	scripts/api_contract.sh $(DEBUG_BIN)

contract: build ## Check the running daemon against api/openapi.yaml with schemathesis (seeded, bounded)
	scripts/api_contract.sh $(DEBUG_BIN)

bench: deps ## Build release and benchmark the task store
	swift build -c release
	$(RELEASE_BIN) bench store

start-gate: build ## Run the start gate; exits 0 only when it is safe to start work
	$(DEBUG_BIN) gate

check: ## The formatter in lint mode: fails when a Swift file is not as swift format writes it
	scripts/format_check.sh

fmt: ## Format Sources, Tests and Package.swift in place with swift format (the toolchain's)
	swift format format --in-place --recursive --parallel Sources Tests Package.swift

clean: ## Remove build products (keeps fetched dependencies and logs/)
	swift package clean
