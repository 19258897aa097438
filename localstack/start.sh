#!/usr/bin/env bash
# Starts LocalStack (DynamoDB, S3, Secrets Manager, SES) in host mode on http://127.0.0.1:${LOCALSTACK_PORT:-4566}.
# - If something healthy already answers there (e.g. started by another checkout of this project),
#   it is reused and nothing is started.
# - Otherwise runs install.sh (idempotent), starts LocalStack detached (it survives this script),
#   writes .state/localstack.pid, logs to .state/localstack.log and waits until it is healthy.
# Stop it with stop.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
HERE="$(pwd -P)"

PORT="${LOCALSTACK_PORT:-4566}"
TIMEOUT="${LOCALSTACK_START_TIMEOUT:-120}"
URL="http://127.0.0.1:$PORT"
VENV="$HERE/.venv"
STATE="$HERE/.state"
FS_ROOT_MAIN="$STATE/filesystem"   # seeded by install.sh
if [[ "$PORT" == 4566 ]]; then
    NAME="localstack"
    FS_ROOT="$FS_ROOT_MAIN"
else  # a second instance on another port keeps its own pid file, log and temp folders
    NAME="localstack-$PORT"
    FS_ROOT="$STATE/filesystem-$PORT"
fi
PID_FILE="$STATE/$NAME.pid"
LOG_FILE="$STATE/$NAME.log"

log() { echo "[localstack/start] $*"; }
die() { echo "[localstack/start] ERROR: $*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "LOCALSTACK_PORT must be a number, got '$PORT'"
command -v curl >/dev/null 2>&1 || die "curl is required"

health_json() { curl -fsS -m 3 "$URL/_localstack/health" 2>/dev/null; }

# Every service Sesame uses: DynamoDB, S3, Secrets Manager (keys, admin password), SES v1 (mail).
SERVICES_USED=(dynamodb s3 secretsmanager ses)

# $1 = regex of accepted states. True when every service Sesame uses is in one of them.
services_in_state() {
    local json service
    json=$(health_json) || return 1
    for service in "${SERVICES_USED[@]}"; do
        grep -Eq "\"$service\": *\"($1)\"" <<<"$json" || return 1
    done
}

# A real DynamoDB call: catches a gateway that is up while DynamoDB Local (Java) is broken (HTTP 500).
dynamodb_answers() {
    curl -fsS -m 10 -o /dev/null -X POST "$URL/" \
        -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
        -d '{}' 2>/dev/null
}

port_answers() {  # anything listening on the port?
    local code
    code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$URL/_localstack/health" 2>/dev/null) || true
    [[ -n "$code" && "$code" != "000" ]]
}

our_pid() {  # prints the PID from the pid file if that process is alive and is LocalStack
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid=$(cat "$PID_FILE" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'localstack.runtime.main' || return 1
    echo "$pid"
}

print_log_tail() {
    if [[ -f "$LOG_FILE" ]]; then
        echo "----- last 60 lines of $LOG_FILE -----" >&2
        tail -n 60 "$LOG_FILE" >&2
        echo "-----" >&2
    fi
}

# Wait until healthy. $1 = PID to watch (empty: not ours), $2 = accepted service states.
wait_healthy() {
    local pid="$1" states="$2" deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        if services_in_state "$states" && dynamodb_answers; then
            return 0
        fi
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            echo "[localstack/start] LocalStack (PID $pid) exited during startup" >&2
            return 1
        fi
        sleep 1
    done
    echo "[localstack/start] not healthy after ${TIMEOUT}s" >&2
    return 1
}

# 1. Reuse whatever already serves DynamoDB and S3 on the port.
if services_in_state 'running|available' && dynamodb_answers; then
    log "reusing the LocalStack already healthy at $URL (every service up); nothing started"
    exit 0
fi

# 2. Our own instance is still starting: wait for it instead of starting a second one.
if pid=$(our_pid); then
    log "LocalStack from this checkout (PID $pid) is running but not healthy yet; waiting"
    if wait_healthy "$pid" running; then
        log "healthy at $URL (PID $pid)"
        exit 0
    fi
    print_log_tail
    die "LocalStack (PID $pid) did not become healthy; run ./stop.sh and try again"
fi
rm -f "$PID_FILE"

# 3. Something else holds the port (maybe another checkout's LocalStack that is still starting).
if port_answers; then
    log "something answers on $URL but is not healthy yet; waiting up to ${TIMEOUT}s for it"
    if wait_healthy "" "running|available"; then
        log "reusing the LocalStack now healthy at $URL; nothing started"
        exit 0
    fi
    die "port $PORT is taken by something that is not a healthy LocalStack; free it or set LOCALSTACK_PORT"
fi

# 4. Install (no-op when done) and start our own.
./install.sh

mkdir -p "$STATE/jvm-tmp"
if [[ "$FS_ROOT" != "$FS_ROOT_MAIN" ]]; then
    mkdir -p "$FS_ROOT/var/lib/localstack"
    ln -sfn "$FS_ROOT_MAIN/var/lib/localstack/lib" "$FS_ROOT/var/lib/localstack/lib"
fi
if [[ -f "$LOG_FILE" ]]; then mv -f "$LOG_FILE" "$LOG_FILE.prev"; fi
log "starting LocalStack on $URL (log: $LOG_FILE)"
start_ts=$SECONDS

# setsid: own session and process group (PGID = PID), so it survives this script and its terminal,
# and stop.sh can signal the whole group. The inner shell writes its PID and then execs Python,
# so the recorded PID is LocalStack itself.
# shellcheck disable=SC2016  # $$ and $0 must expand in the inner shell
env \
    OVERRIDE_IN_DOCKER=0 \
    FILESYSTEM_ROOT="$FS_ROOT" \
    GATEWAY_LISTEN="127.0.0.1:$PORT" \
    SERVICES="$(IFS=,; echo "${SERVICES_USED[*]}")" \
    EAGER_SERVICE_LOADING=1 \
    DYNAMODB_IN_MEMORY=1 \
    DISABLE_EVENTS=1 \
    DNS_ADDRESS=0 \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    JAVA_TOOL_OPTIONS="-Djava.io.tmpdir=$STATE/jvm-tmp" \
    LS_PID_FILE="$PID_FILE" \
    nohup setsid bash -c 'echo $$ >"$LS_PID_FILE"; unset LS_PID_FILE; exec "$0" -m localstack.runtime.main' \
    "$VENV/bin/python" >"$LOG_FILE" 2>&1 </dev/null &
disown "$!" 2>/dev/null || true   # no "Killed" job report from this shell if it is stopped early

# The pid file is written by the child; wait briefly for it.
for _ in $(seq 50); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.1
done
pid=$(cat "$PID_FILE" 2>/dev/null || true)
[[ "$pid" =~ ^[0-9]+$ ]] || { print_log_tail; die "LocalStack did not start (no PID written)"; }

if wait_healthy "$pid" running; then
    rss_kb=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ' || true)
    log "healthy at $URL after $((SECONDS - start_ts)) s (PID $pid, python RSS ${rss_kb:-?} KiB)"
    exit 0
fi
print_log_tail
log "stopping the failed instance"
./stop.sh || true
die "LocalStack did not become healthy (see $LOG_FILE)"
