#!/usr/bin/env bash
# Fuzzes the API from its own contract: serves the local all-in-one server (debug build, the
# build the tests use) on a free port with a fresh table, signs in as the configured superuser,
# and runs Schemathesis against the served OpenAPI document. Every response must be documented
# (status code, content type, headers, body schema) and none may be a 5xx.
#
# Needs LocalStack on AWS_ENDPOINT_URL and Schemathesis in tests/fuzz/.venv (`make fuzz` sees to
# both). FUZZ_MAX_EXAMPLES and FUZZ_MAX_TIME bound the run; generation is deterministic (the same
# cases in the same order on every run), so a failure found once is found again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

VENV=tests/fuzz/.venv
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-30}"
MAX_TIME="${FUZZ_MAX_TIME:-150}"
REPORTS=.local/fuzz
ADMIN_EMAIL=fuzz-admin@example.com
ADMIN_PASSWORD="fuzz-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

log() { echo "[fuzz] $*"; }
die() { echo "[fuzz] ERROR: $*" >&2; exit 1; }

[[ -x "$VENV/bin/schemathesis" ]] || die "$VENV/bin/schemathesis is missing; run 'make fuzz'"
: "${AWS_ENDPOINT_URL:?set AWS_ENDPOINT_URL to the local AWS endpoint (make fuzz does)}"

cargo build --quiet -p local-server
target_dir=$(cargo metadata --format-version 1 --no-deps \
    | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api="http://127.0.0.1:$port"
table="sesame-fuzz-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$REPORTS"

# The server runs with a deployment's defaults, rate limits included, so the fuzzer meets real
# behaviour. Three settings differ: AWS calls get patient timeouts (a LocalStack on a loaded
# 2-core machine may take seconds, and a 503 from a slow test machine is no finding; the fault
# tests cover timeouts); the account lock is out of reach (a locked account answers
# exactly like a wrong password, so the fuzzer could not see it anyway, but it would keep the
# fuzzer from signing in again after fuzzing the password change), and CloudFront's viewer headers
# are trusted with an origin secret only the fuzzer's own sign-ins carry (see hooks.py).
origin_verify="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
log "serving $api (table $table)"
SESAME_LOCAL_DEV=1 SESAME_BIND="127.0.0.1:$port" SESAME_TABLE="$table" \
SESAME_ADMIN_EMAIL="$ADMIN_EMAIL" SESAME_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
SESAME_LOCKOUT_THRESHOLD=1000000 \
SESAME_AWS_ATTEMPT_TIMEOUT_MS=30000 SESAME_AWS_OPERATION_TIMEOUT_MS=60000 \
SESAME_TRUST_GEO_HEADERS=true SESAME_ORIGIN_VERIFY="$origin_verify" \
SESAME_DEV_KEY_PATH="$REPORTS/dev-signing-key.pem" RUST_LOG="${RUST_LOG:-warn}" \
    "$target_dir/debug/local-server" >"$REPORTS/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

for _ in $(seq 120); do
    curl -fsS -o /dev/null "$api/v1/openapi.json" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$REPORTS/server.log" >&2; die "the server exited"; }
    sleep 0.5
done
curl -fsS -o /dev/null "$api/v1/openapi.json" || die "the server did not answer within 60 s"

# Every operation as the superuser, so the admin routes are exercised past their guard.
log "fuzzing every operation as the superuser (at most $MAX_EXAMPLES examples each, $MAX_TIME s)"
start=$(date +%s)
status=0
SCHEMATHESIS_HOOKS=tests/fuzz/hooks.py FUZZ_API="$api" FUZZ_ORIGIN_VERIFY="$origin_verify" \
FUZZ_EMAIL="$ADMIN_EMAIL" FUZZ_PASSWORD="$ADMIN_PASSWORD" \
"$VENV/bin/schemathesis" run "$api/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" --generation-deterministic \
    --workers 1 --request-timeout 30 --no-color \
    --report junit --report-junit-path "$REPORTS/junit.xml" || status=$?
log "done in $(($(date +%s) - start)) s; JUnit report in $REPORTS/junit.xml, server log in $REPORTS/server.log"
exit "$status"
