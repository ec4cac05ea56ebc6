# payment-platform: `make dev` runs the whole system on the local emulator, `make test` runs every test.
SHELL := /bin/bash
EMULATOR ?= ministack
export EMULATOR

.PHONY: dev test unit lint fmt build chaos emulator-start emulator-stop clean help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

dev: ## Install what is missing, start the emulator, SETUP, and run api + workers + bank in the foreground
	@localstack/dev.sh

test: lint ## Every test: unit, integration and end-to-end against a private emulator (port 4599)
	@localstack/with-emulator.sh 4599 cargo test --all-targets --locked

unit: ## Unit tests only (no emulator)
	cargo test --lib --bins --locked

lint: ## rustfmt and clippy, warnings are errors
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings

fmt: ## Format the code
	cargo fmt --all

build: ## Build every binary
	cargo build --bins --locked

chaos: ## The full chaos run (200+ payments, faults, SIGKILLed workers)
	@CHAOS_PAYMENTS=$${CHAOS_PAYMENTS:-200} CHAOS_REFUNDS=$${CHAOS_REFUNDS:-50} \
		localstack/with-emulator.sh 4598 cargo test --test integration --locked chaos -- --nocapture

emulator-start: ## Start the emulator on 127.0.0.1:4566 in the background
	@localstack/emulator.sh start

emulator-stop: ## Stop it
	@localstack/emulator.sh stop

clean: ## Remove build output, installed tools and emulator state
	cargo clean
	rm -rf .tools .emulator
