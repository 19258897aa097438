# Sesame's two commands are `make run` (the whole API on http://127.0.0.1:3000 against a local
# LocalStack, started for you) and `make test` (lints, template check, all tests against
# LocalStack). Everything they need is installed on first use into git-ignored folders.

SHELL := /bin/bash
.DEFAULT_GOAL := help

LOCAL_AWS := AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
VENV := localstack/.venv
FUZZ_VENV := tests/fuzz/.venv
CARGO_LAMBDA_VENV := tools/cargo-lambda/.venv
SAM_VENV := tools/sam/.venv
# The eight Lambda functions; `make build-lambdas` fails when a zip is over MAX_ZIP_BYTES.
LAMBDAS := auth sessions qr-auth tickets quota cleanup web docs
MAX_ZIP_BYTES := 5000000
# Except web and auth. Web links what every other function links (DynamoDB, Secrets Manager, S3,
# Argon2, the signing key, every service), SES, TOTP and the pages: 5,450,421 bytes measured on
# 2026-12-02. Auth links SES, TOTP and webauthn-rs (passkeys: RustCrypto P-256/RSA, CBOR, X.509
# parsing): 5,438,061 bytes measured on 2026-12-02 (4,926,040 before passkeys).
WEB_MAX_ZIP_BYTES := 5500000
LAMBDA_TARGET := aarch64-unknown-linux-gnu
LAMBDA_DIR := $(or $(CARGO_TARGET_DIR),target)/lambda

.PHONY: help run invoke test browser lint fmt clippy cfn-lint openapi-validator openapi fuzz localstack localstack-stop build-lambdas lambda-sizes lambda-target sam bench bench-peers

help:
	@echo "make run            serve every route group on http://127.0.0.1:3000 (starts LocalStack)"
	@echo "make invoke FN=auth EVENT=events/auth/login.json  run one Lambda binary once under the emulator"
	@echo "make test           fmt check, clippy, cfn-lint, then every test against LocalStack, then make fuzz"
	@echo "make browser        install headless Chromium and chromedriver (make test does it first)"
	@echo "make fuzz           Schemathesis against the served OpenAPI document (a few minutes)"
	@echo "make openapi-validator install openapi-spec-validator (make test does it first)"
	@echo "make localstack     install (first time) and start LocalStack on 127.0.0.1:4566"
	@echo "make localstack-stop stop the LocalStack this checkout started"
	@echo "make openapi        regenerate openapi.json, the OpenAPI document the auth Lambda serves"
	@echo "make build-lambdas  release arm64 bootstrap zips of the eight functions; prints sizes, fails over 5 MB (web, auth: 5.5 MB)"
	@echo "make sam            sam validate --lint and sam build (installs aws-sam-cli on first use)"
	@echo "make bench          endpoints, Lambda binaries, zips and peers in one run, write bench/RESULTS.md"
	@echo "make bench-peers    Sesame side by side with fastapi-users and simplejwt, write bench/PEERS.md"

localstack:
	@bash localstack/start.sh

localstack-stop:
	@bash localstack/stop.sh

run: localstack
	@set -a; [ -f .env ] && . ./.env; set +a; \
	$(LOCAL_AWS) SESAME_LOCAL_DEV=1 cargo run -p local-server

# One function's real Lambda binary (debug build), invoked once with EVENT (see events/) under the
# Runtime API emulator (lambda-emulator) against LocalStack. The local server's set-up mode first
# creates `make run`'s table and bucket and stores its development keys as Secrets Manager secrets,
# which the binary reads as a deployment does: local mode and plain-text secrets are cleared.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
LAMBDA_ENV := SESAME_LOCAL_DEV= SESAME_ADMIN_PASSWORD= SESAME_ORIGIN_VERIFY= SESAME_CURSOR_KEY= SESAME_MFA_KEY= \
	SESAME_SIGNING_KEY_SECRET=sesame-local/signing-key SESAME_VERIFY_KEY_SECRET=sesame-local/verify-key \
	SESAME_CURSOR_KEY_SECRET=sesame-local/cursor-key SESAME_MFA_KEY_SECRET=sesame-local/mfa-key

invoke: localstack
	@[ -n "$(FN)" ] && [ -f "$(EVENT)" ] || { echo "usage: make invoke FN=auth EVENT=events/auth/login.json"; exit 2; }
	cargo build --quiet -p $(FN)
	cargo build --quiet -p lambda-emulator
	@set -a; [ -f .env ] && . ./.env; set +a; \
	$(LOCAL_AWS) SESAME_LOCAL_DEV=1 cargo run --quiet -p local-server -- --lambda-secrets && \
	$(LOCAL_AWS) $(LAMBDA_ENV) $(TARGET_DIR)/debug/lambda-emulator $(TARGET_DIR)/debug/$(FN) $(EVENT)

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

# cfn-lint lives in the LocalStack venv (pinned by its constraints); installed there on first use,
# also when `make localstack` reused a LocalStack started by another checkout.
$(VENV)/bin/cfn-lint:
	bash localstack/install.sh
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c localstack/constraints.txt cfn-lint

cfn-lint: $(VENV)/bin/cfn-lint
	$(VENV)/bin/cfn-lint template.yaml

# openapi-spec-validator checks the served OpenAPI document against the official 3.1 schema
# (tests/it/api.rs runs it). It lives in the same venv, pinned by the same constraints, and is
# installed there on first use like cfn-lint.
$(VENV)/bin/openapi-spec-validator:
	bash localstack/install.sh
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c localstack/constraints.txt openapi-spec-validator

openapi-validator: $(VENV)/bin/openapi-spec-validator

# Schemathesis lives in a venv of its own (its pins would fight LocalStack's), pinned with all its
# dependencies by tests/fuzz/requirements.txt; installed on first use and again when the pins change.
$(FUZZ_VENV)/bin/schemathesis: tests/fuzz/requirements.txt
	python3 -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/fuzz/requirements.txt
	touch $@

# Fuzzes every operation from the served OpenAPI document (tests/fuzz/run.sh): no 5xx, and every
# status code, content type, header and body as documented. FUZZ_MAX_EXAMPLES / FUZZ_MAX_TIME
# bound it.
fuzz: localstack $(FUZZ_VENV)/bin/schemathesis
	$(LOCAL_AWS) bash tests/fuzz/run.sh

lint: fmt clippy cfn-lint

# Headless Chromium and its WebDriver, Debian's packages, for the browser tests (tests/it/browser);
# installed on first use (apt-get update first when the package lists are empty).
browser:
	@if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then \
	  [ -n "$$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$$' -e '^partial$$' -e '^auxfiles$$')" ] || apt-get update; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver \
	    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; }; \
	fi

# The fuzz run follows the cargo tests. The last line adds up every test binary's result, so the
# run ends on the real totals rather than on the last (empty) doc-test summary.
test: lint openapi-validator browser localstack
	@mkdir -p .local
	set -o pipefail; $(LOCAL_AWS) cargo test --workspace 2>&1 | tee .local/test.log
	@$(MAKE) --no-print-directory fuzz
	@awk '/^test result:/ {passed += $$4; failed += $$6} END {printf "%d passed, %d failed\n", passed, failed}' .local/test.log

# The document every route group describes, checked in so the auth Lambda serves it without
# linking the other groups (tests/it/api.rs fails while it is stale). Written through a temporary
# file, so a failed build leaves the old one.
openapi:
	cargo run --quiet -p local-server -- --print-openapi > openapi.json.tmp
	mv openapi.json.tmp openapi.json

# cargo-lambda (and the zig it cross-links with) live in a venv of their own, pinned by
# tools/cargo-lambda/requirements.txt; installed on first use and again when the pins change.
$(CARGO_LAMBDA_VENV)/bin/cargo-lambda: tools/cargo-lambda/requirements.txt
	python3 -m venv $(CARGO_LAMBDA_VENV)
	$(CARGO_LAMBDA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/cargo-lambda/requirements.txt
	touch $@

lambda-target:
	@rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET)

# One cargo run per function: cargo unifies features across the packages of one run, so building
# tickets (which enables shared's `blobs`) beside the others would link S3 into all of them.
build-lambdas: $(CARGO_LAMBDA_VENV)/bin/cargo-lambda lambda-target
	@set -e; export PATH="$(CURDIR)/$(CARGO_LAMBDA_VENV)/bin:$$PATH"; \
	for fn in $(LAMBDAS); do \
	  cargo lambda build --release --arm64 --output-format zip --lambda-dir $(LAMBDA_DIR) -p $$fn; \
	done
	@$(MAKE) --no-print-directory lambda-sizes

# Each function's zip in bytes; fails when one is over its limit (MAX_ZIP_BYTES, web's
# WEB_MAX_ZIP_BYTES).
lambda-sizes:
	@over=0; for fn in $(LAMBDAS); do \
	  bytes=$$(wc -c < $(LAMBDA_DIR)/$$fn/bootstrap.zip); \
	  limit=$(MAX_ZIP_BYTES); case $$fn in web|auth) limit=$(WEB_MAX_ZIP_BYTES);; esac; \
	  printf '%-9s %9d bytes\n' $$fn $$bytes; \
	  if [ $$bytes -gt $$limit ]; then echo "$$fn: over $$limit bytes" >&2; over=1; fi; \
	done; exit $$over

# The SAM CLI lives in a venv of its own, pinned by tools/sam/requirements.txt. `sam build`
# builds each function with cargo-lambda (`BuildMethod: rust-cargolambda`, a beta feature), so
# the cargo-lambda venv goes on PATH.
$(SAM_VENV)/bin/sam: tools/sam/requirements.txt
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/sam/requirements.txt
	touch $@

sam: $(SAM_VENV)/bin/sam $(CARGO_LAMBDA_VENV)/bin/cargo-lambda lambda-target
	AWS_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template template.yaml
	PATH="$(CURDIR)/$(CARGO_LAMBDA_VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 \
	  $(SAM_VENV)/bin/sam build --beta-features --template template.yaml

# A measurement, not a test, in one run (bench/run.sh): the arm64 zips (build-lambdas), then the
# release `bench` binary (the endpoints in-process against a DynamoDB Local it starts on a free
# port, or BENCH_ENDPOINT; then every function's release binary and a Python 3.13 + boto3
# reference handler under the Lambda emulator), then the peers (bench/peers.sh), all into
# bench/RESULTS.md. BENCH_REQUESTS sets the load of the sequential measurements,
# BENCH_CONCURRENT_REQUESTS (320) that of the same sequence from 16 clients at once,
# BENCH_SOAK_SECS (60; 0 skips it), BENCH_SOAK_CLIENTS (32) and BENCH_SOAK_WARMUP_SECS (a sixth of
# the soak) the concurrent soak after them.
bench: build-lambdas
	bash bench/run.sh

# Also a measurement: the peer harness in ../shared/bench/peers (PEERS_DIR) runs fastapi-users,
# simplejwt and the release local-server (against DynamoDB Local) in one run (several minutes).
bench-peers:
	bash bench/peers.sh
