#!/usr/bin/env bash
# Stops the LocalStack started by start.sh from this checkout: only the process whose PID is in
# .state/localstack.pid (.state/localstack-<port>.pid when LOCALSTACK_PORT is not 4566), its process
# group and its child processes (DynamoDB Local's JVM).
# Harmless when nothing is running. A LocalStack that start.sh merely reused (started elsewhere)
# is left alone. Also removes leftover sqlite4java native libraries that no process uses.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
HERE="$(pwd -P)"

PORT="${LOCALSTACK_PORT:-4566}"
STATE="$HERE/.state"
if [[ "$PORT" == 4566 ]]; then PID_FILE="$STATE/localstack.pid"; else PID_FILE="$STATE/localstack-$PORT.pid"; fi

log() { echo "[localstack/stop] $*"; }

alive() {  # running and not a zombie
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)
    [[ "$st" != "Z" && "$st" != "X" ]]
}

descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
        echo "$child"
        descendants "$child"
    done
}

any_alive() {
    local p
    for p in "$@"; do
        if alive "$p"; then return 0; fi
    done
    return 1
}

wait_gone() {  # $1 = seconds, rest = PIDs
    local deadline=$((SECONDS + $1))
    shift
    while any_alive "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

cleanup_sqlite_libs() {
    # DynamoDB Local extracts a native library (sqlite-<ver>-<uuid>-libsqlite4java.so) into the JVM
    # temp dir at every start and never deletes it. start.sh points that dir at .state/jvm-tmp; other
    # setups leave them in /tmp. Remove those that no process has mapped (in /tmp only when older
    # than 2 minutes, as someone else's JVM may have just extracted one).
    local f removed=0
    for f in "$STATE"/jvm-tmp/*libsqlite4java*.so /tmp/*libsqlite4java*.so; do
        [[ -f "$f" ]] || continue
        if [[ "$f" == /tmp/* && -z "$(find "$f" -maxdepth 0 -mmin +2 2>/dev/null)" ]]; then continue; fi
        if grep -qsF "$f" /proc/[0-9]*/maps; then continue; fi
        rm -f "$f" && removed=$((removed + 1))
    done
    if ((removed > 0)); then log "removed $removed unused sqlite4java library file(s)"; fi
}

if [[ ! -f "$PID_FILE" ]]; then
    log "not running (no $PID_FILE)"
    cleanup_sqlite_libs
    exit 0
fi

pid=$(cat "$PID_FILE" 2>/dev/null || true)
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! alive "$pid" \
   || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'localstack.runtime.main'; then
    log "not running (stale pid file, PID '${pid}'); removing it"
    rm -f "$PID_FILE"
    cleanup_sqlite_libs
    exit 0
fi

# Collect children first: LocalStack starts DynamoDB Local in a session of its own.
mapfile -t children < <(descendants "$pid")
log "stopping LocalStack PID $pid${children[*]:+ (children: ${children[*]})}"

# SIGTERM to the process group (start.sh made PID the group leader) lets LocalStack shut down cleanly
# (about 2 s). LocalStack ignores a SIGTERM that arrives while it is still starting up, hence SIGKILL
# after a grace period.
kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
if ! wait_gone 15 "$pid"; then
    log "still running after 15 s; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    wait_gone 5 "$pid" || log "WARNING: PID $pid did not exit"
fi
# A clean shutdown stops DynamoDB Local itself; after SIGKILL it is an orphan.
if ((${#children[@]} > 0)) && ! wait_gone 5 "${children[@]}"; then
    log "stopping leftover child processes: ${children[*]}"
    for c in "${children[@]}"; do
        if alive "$c"; then kill -TERM "$c" 2>/dev/null || true; fi
    done
    if ! wait_gone 5 "${children[@]}"; then
        for c in "${children[@]}"; do
            if alive "$c"; then kill -KILL "$c" 2>/dev/null || true; fi
        done
        wait_gone 5 "${children[@]}" || log "WARNING: some child processes did not exit"
    fi
fi

rm -f "$PID_FILE"
log "stopped"
cleanup_sqlite_libs
