# payment-platform: `make dev` runs the whole system on the local emulator, `make test` runs every test.
SHELL := /bin/bash
EMULATOR ?= ministack
export EMULATOR

.PHONY: browser html-validator screenshots webhook-verifier reconcile dev dev-reset audit infra-local infra-local-destroy test unit lint fmt build chaos emulator-start emulator-stop clean help postman-install postman bench bench-api tf-fmt tf-validate openapi-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

dev: ## The whole system on the emulator, supervised (PAYMENT_WORKERS=n REFUND_WORKERS=n); data kept across restarts
	@localstack/dev.sh

infra-local: ## Apply infra/terraform to the local emulator (EMULATOR_PORT, default 4566; started with every service if none runs)
	@localstack/infra-local.sh apply >/dev/null
	@echo "infra-local: applied; outputs: localstack/infra-local.sh output; INFRA=terraform make dev runs on them"

infra-local-destroy: ## Destroy what make infra-local applied
	@localstack/infra-local.sh destroy

dev-reset: ## Wipe the data `make dev` keeps: the emulator's and the bank simulator's books (stop `make dev` first)
	@if EMULATOR_PORT=$${EMULATOR_PORT:-4566} localstack/emulator.sh status >/dev/null 2>&1; then \
		echo "dev-reset: the emulator still runs; stop make dev first" >&2; exit 1; fi
	rm -rf .emulator/$${EMULATOR_PORT:-4566}/state $${DEV_STATE_DIR:-.emulator/dev}/bank
	@echo "dev-reset: the next make dev starts empty"

# A failing test prints its message and location (the process tests add the end of the log that
# explains it); no backtrace, so that CI's excerpt of the output holds every failure.
# TEST_BACKTRACE=1 brings backtraces back.
test: lint tf-fmt tf-validate openapi-check postman-install webhook-verifier browser html-validator ## Every test: unit, integration and end-to-end against a private emulator (port 4599)
	@RUST_BACKTRACE=$${TEST_BACKTRACE:-0} localstack/with-emulator.sh 4599 cargo test --all-targets --locked --features testing

unit: ## Unit tests only (no emulator)
	cargo test --lib --bins --locked --features testing

lint: ## rustfmt and clippy, warnings are errors
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked --features testing -- -D warnings

ADVISORY_DB ?= ../shared/advisory-db

audit: lint ## fmt, clippy -D warnings, and cargo audit against the offline RustSec database (ADVISORY_DB)
	@command -v cargo-audit >/dev/null 2>&1 || { \
		echo "audit: installing cargo-audit once on this machine (a few minutes)" >&2; \
		cargo install cargo-audit --locked --quiet || echo "warning: cargo-audit could not be installed" >&2; }
	@if command -v cargo-audit >/dev/null 2>&1 && [ -d "$(ADVISORY_DB)" ]; then \
		cargo audit --db "$(ADVISORY_DB)" --no-fetch --stale --deny warnings; \
	else \
		echo "warning: cargo-audit or the advisory database ($(ADVISORY_DB)) is missing; skipping the advisory check" >&2; \
	fi

fmt: ## Format the code
	cargo fmt --all

build: ## Build every binary
	cargo build --bins --locked

reconcile: ## Compare the records of the last 24 h with the bank's books (make dev's emulator and bank); RECONCILE_ARGS for more
	AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL:-http://127.0.0.1:4566} AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-test} \
		AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-test} cargo run -q --locked --bin reconcile -- $(RECONCILE_ARGS)

chaos: webhook-verifier ## The full chaos runs (200+ payments, 60 manual captures, faults, SIGKILLed workers, a bank that forgets keys, a bank SIGKILLed mid-request), each judged by reconcile
	@CHAOS_PAYMENTS=$${CHAOS_PAYMENTS:-200} CHAOS_REFUNDS=$${CHAOS_REFUNDS:-50} CHAOS_CAPTURES=$${CHAOS_CAPTURES:-60} \
		localstack/with-emulator.sh 4598 cargo test --test integration --locked --features testing chaos -- --nocapture

browser: ## Debian's Chromium and ChromeDriver for the dashboard's browser tests, installed with apt-get when missing
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "browser: installing Debian's chromium and chromium-driver" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

VNU_JAR := tests/html/node_modules/vnu-jar/build/dist/vnu.jar

html-validator: $(VNU_JAR) ## The W3C Nu HTML Checker (vnu.jar, pinned in tests/html/package-lock.json) and a Java to run it

$(VNU_JAR): tests/html/package.json tests/html/package-lock.json
	@command -v java >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; }
	npm ci --prefix tests/html --no-audit --no-fund
	@touch $@

screenshots: browser html-validator ## Regenerate the README's dashboard screenshots (docs/screenshots/) with the browser test
	@mkdir -p docs/screenshots
	@DASHBOARD_SCREENSHOTS=$(CURDIR)/docs/screenshots localstack/with-emulator.sh 4597 \
		cargo test --test integration --locked --features testing dashboard::shop_staff -- --nocapture

NEWMAN := postman/node_modules/.bin/newman
POSTMAN_BASE_URL ?= http://localhost:4444

postman-install: $(NEWMAN) ## Install newman (pinned in postman/package-lock.json) if missing or the lock changed

$(NEWMAN): postman/package.json postman/package-lock.json
	npm ci --prefix postman --no-audit --no-fund
	@touch $@

postman: postman-install ## Run the Postman collection with newman against a running `make dev` (POSTMAN_BASE_URL)
	$(NEWMAN) run postman/payment-platform.postman_collection.json -e postman/local.postman_environment.json \
		--env-var baseURL=$(POSTMAN_BASE_URL) --reporters cli --timeout-request 20000

bench: ## Load benchmark in release mode on a private emulator (port 4595); BENCH_* variables size it, report in target/bench/
	cargo build --release --bins --locked --features testing
	@mkdir -p target/bench
	@localstack/with-emulator.sh 4595 target/release/bench $(BENCH_ARGS)

bench-api: ## The bench's quiet run alone (about a minute): the API's CPU per payment against a stub AWS; BENCH_COMPARE_BIN_DIR adds another build's
	cargo build --release --bins --locked --features testing
	@mkdir -p target/bench
	@BENCH_QUIET_ONLY=1 target/release/bench $(BENCH_ARGS)

STANDARDWEBHOOKS_VERSION := 1.1.0
WEBHOOKS_VENV := .tools/webhooks-venv
WEBHOOK_VERIFIER := $(WEBHOOKS_VENV)/.installed-$(STANDARDWEBHOOKS_VERSION)

webhook-verifier: $(WEBHOOK_VERIFIER) ## Install the Standard Webhooks reference library (pinned, in .tools/) the tests verify signatures with

$(WEBHOOK_VERIFIER):
	rm -rf $(WEBHOOKS_VENV)
	python3 -m venv $(WEBHOOKS_VENV)
	$(WEBHOOKS_VENV)/bin/python -m pip install --disable-pip-version-check --no-input -q \
		standardwebhooks==$(STANDARDWEBHOOKS_VERSION)
	@touch $@

OPENAPI_VALIDATOR_VERSION := 0.9.0
OPENAPI_VENV := .tools/openapi-venv
OPENAPI_VALIDATOR := $(OPENAPI_VENV)/.installed-$(OPENAPI_VALIDATOR_VERSION)

$(OPENAPI_VALIDATOR):
	rm -rf $(OPENAPI_VENV)
	python3 -m venv $(OPENAPI_VENV)
	$(OPENAPI_VENV)/bin/python -m pip install --disable-pip-version-check --no-input -q \
		openapi-spec-validator==$(OPENAPI_VALIDATOR_VERSION)
	@touch $@

openapi-check: $(OPENAPI_VALIDATOR) ## Validate the generated OpenAPI document (openapi-spec-validator, pinned, in .tools/)
	OPENAPI_OUT=$(CURDIR)/target/openapi.json cargo test --lib --locked -q http::openapi::tests::write_openapi_json \
		-- --ignored --exact
	$(OPENAPI_VENV)/bin/openapi-spec-validator target/openapi.json

tf-fmt: ## Check the formatting of infra/terraform (skipped with a warning when terraform is not installed)
	@if command -v terraform >/dev/null 2>&1; then \
		terraform fmt -check -recursive infra/terraform; \
	else \
		echo "warning: terraform is not installed; skipping the infra/terraform format check" >&2; \
	fi

TF_PLUGIN_DIR ?= /opt/tf-plugins

tf-validate: ## terraform validate on a scratch copy, with providers from TF_PLUGIN_DIR (skipped with a warning without them)
	@if command -v terraform >/dev/null 2>&1 && [ -d "$(TF_PLUGIN_DIR)" ]; then \
		dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && cp infra/terraform/*.tf "$$dir"/ && \
		terraform -chdir="$$dir" init -backend=false -input=false -plugin-dir="$(TF_PLUGIN_DIR)" >/dev/null && \
		terraform -chdir="$$dir" validate -no-color; \
	else \
		echo "warning: terraform or its providers ($(TF_PLUGIN_DIR)) missing; skipping terraform validate" >&2; \
	fi

emulator-start: ## Start the emulator on 127.0.0.1:4566 in the background
	@localstack/emulator.sh start

emulator-stop: ## Stop it
	@localstack/emulator.sh stop

clean: ## Remove build output, installed tools and emulator state
	cargo clean
	rm -rf .tools .emulator
