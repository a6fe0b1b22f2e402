#!/usr/bin/env bash
# API conformance: does the server answer what /openapi.json says it answers?
#
# Runs schemathesis (`--checks all`) against a debug build of ovlt, once on SQLite and once on
# PostgreSQL, with the admin key and a tenant made for the run. Any 5xx, or any response whose
# status code, content type, headers or body the document does not allow, fails the script.
#
# Environment (all optional):
#   CARGO_TARGET_DIR            build directory (default: $HOME/.cache/ovlt-target)
#   OVLT_TEST_DATABASE_URL      a PostgreSQL server URL (default: postgres://postgres@127.0.0.1:5432/postgres);
#                               a fresh database is created on it for the run and dropped afterwards
#   OVLT_CONFORMANCE_CACHE      where the schemathesis venv lives (default: $HOME/.cache/ovlt-conformance)
#   OVLT_CONFORMANCE_BACKENDS   "sqlite postgres" (default), or one of them
#   OVLT_CONFORMANCE_EXAMPLES   test cases per operation and phase (default: 10)
#   OVLT_CONFORMANCE_MAX_TIME   time budget per backend in seconds (default: 90)
#   OVLT_CONFORMANCE_SEED       a seed, to reproduce a run
#   OVLT_CONFORMANCE_REPORT     a directory for schemathesis' reports (ndjson + junit), kept
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SCHEMATHESIS_VERSION=4.32.5
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ovlt-target}"
PG_URL="${OVLT_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
CACHE="${OVLT_CONFORMANCE_CACHE:-$HOME/.cache/ovlt-conformance}"
BACKENDS="${OVLT_CONFORMANCE_BACKENDS:-sqlite postgres}"
EXAMPLES="${OVLT_CONFORMANCE_EXAMPLES:-10}"
MAX_TIME="${OVLT_CONFORMANCE_MAX_TIME:-90}"
ADMIN_KEY="conformance-admin-key-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
MASTER_KEY="$(head -c 32 /dev/urandom | base64)"

log() { echo "conformance: $*" >&2; }

# --- schemathesis, in a venv outside the repository -------------------------------------
VENV="$CACHE/venv-$SCHEMATHESIS_VERSION"
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    python3 -m venv "$VENV" || { log "python3 -m venv failed (on Debian: apt-get install python3-venv)"; exit 1; }
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# --- cleanup: every server started and every database created is undone on exit ----------
WORK="$(mktemp -d)"
SERVER_PID=""
PG_DB=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
    if [ -n "$PG_DB" ]; then
        psql "$PG_URL" -Atqc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
        PG_DB=""
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- ovlt ------------------------------------------------------------------------------------
# The build directory may be shared with other checkouts, whose builds replace debug/ovlt; the
# run uses a copy, taken once a second build finds nothing to redo (the copy is this tree's).
built="$CARGO_TARGET_DIR/debug/ovlt"
OVLT="$WORK/ovlt"
for attempt in 1 2 3; do
    cargo build --locked --quiet
    cp "$built" "$OVLT"
    cargo build --locked --quiet
    cmp -s "$built" "$OVLT" && break
    [ "$attempt" = 3 ] && { log "debug/ovlt keeps changing under the run (another build?)"; exit 1; }
done

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The URL of `$PG_URL`'s server with another database name.
pg_database_url() {
    python3 - "$PG_URL" "$1" <<'EOF'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(u._replace(path="/" + sys.argv[2])))
EOF
}

# Operations left out of the run, and why. Everything else is tested.
EXCLUDE=(
    # Would disable (`active: false`) or rename the run's own tenant, or the bootstrap tenant,
    # after which every tenant-scoped request answers 403/404 and tests nothing else.
    --exclude-operation-id updateTenant
    # Would delete the run's own tenant (and everything it owns), with the same effect.
    --exclude-operation-id deleteTenant
)

# Creates a tenant through the API; prints its id.
create_tenant() {
    curl -fsS -X POST "$1/tenants" \
        -H "X-OVLT-Admin-Key: $ADMIN_KEY" -H 'content-type: application/json' \
        --data "{\"slug\": \"$2\", \"name\": \"$2\"}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}

run_backend() {
    local backend="$1" data_dir="$WORK/$1" port base tenant tenant_id status
    mkdir -p "$data_dir"
    port="$(free_port)"
    base="http://127.0.0.1:$port"

    local -a env=(
        OVLT_ENV=development
        OVLT_HOST=127.0.0.1
        OVLT_PORT="$port"
        OVLT_ISSUER="$base"
        OVLT_DATA_DIR="$data_dir"
        OVLT_ADMIN_KEY="$ADMIN_KEY"
        OVLT_MASTER_KEY="$MASTER_KEY"
        OVLT_RATE_LIMIT_PER_MINUTE=0
        OVLT_LOG_FORMAT=json
        RUST_LOG=warn
    )
    if [ "$backend" = postgres ]; then
        PG_DB="ovlt_conformance_$$_$(date +%s)"
        psql "$PG_URL" -Atqc "CREATE DATABASE \"$PG_DB\"" >/dev/null
        env+=(DATABASE_URL="$(pg_database_url "$PG_DB")")
    else
        env+=(DATABASE_URL="sqlite://$data_dir/ovlt.db?mode=rwc")
    fi

    log "$backend: starting ovlt on $base"
    env "${env[@]}" "$OVLT" serve >"$WORK/$backend.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 60); do
        curl -fsS "$base/health" >/dev/null 2>&1 && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$backend.log" >&2; log "$backend: ovlt exited"; return 1; }
        sleep 0.5
    done
    curl -fsS "$base/health" >/dev/null

    # A tenant of the run's own, so that the bootstrap tenant is not what the run changes. It is
    # named by id as well as slug: a generated x-ovlt-tenant-id would otherwise win over the slug
    # and address no tenant, and every tenant-scoped test would only see 404 tenant_not_found.
    tenant="conformance-$backend"
    tenant_id="$(create_tenant "$base" "$tenant")"

    local -a report=()
    if [ -n "${OVLT_CONFORMANCE_REPORT:-}" ]; then
        mkdir -p "$OVLT_CONFORMANCE_REPORT"
        report=(--report ndjson,junit --report-dir "$(cd "$OVLT_CONFORMANCE_REPORT" && pwd)/$backend")
    fi
    local -a seed=()
    [ -n "${OVLT_CONFORMANCE_SEED:-}" ] && seed=(--seed "$OVLT_CONFORMANCE_SEED")

    log "$backend: schemathesis against $base/openapi.json (tenant $tenant)"
    status=0
    # From the run's directory: schemathesis keeps its own state (.schemathesis/) where it runs.
    (cd "$WORK" && "$VENV/bin/python" "$ROOT/scripts/schemathesis-run.py" --config-file "$ROOT/scripts/api-conformance.toml" run "$base/openapi.json" \
        --checks all \
        --header "X-OVLT-Admin-Key: $ADMIN_KEY" \
        --header "x-ovlt-tenant-slug: $tenant" \
        --header "x-ovlt-tenant-id: $tenant_id" \
        --max-examples "$EXAMPLES" \
        --max-time "$MAX_TIME" \
        --workers 1 \
        --request-timeout 10 \
        --generation-database none \
        --generation-allow-x00 false \
        --no-color \
        "${EXCLUDE[@]}" "${seed[@]}" "${report[@]}") || status=$?

    if grep -q '"level":"ERROR"' "$WORK/$backend.log"; then
        log "$backend: the server logged errors:"
        grep '"level":"ERROR"' "$WORK/$backend.log" | tail -n 20 >&2
    fi
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    if [ -n "$PG_DB" ]; then
        psql "$PG_URL" -Atqc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null
        PG_DB=""
    fi
    return "$status"
}

failed=()
for backend in $BACKENDS; do
    start=$SECONDS
    if run_backend "$backend"; then
        log "$backend: passed in $((SECONDS - start)) s"
    else
        log "$backend: FAILED after $((SECONDS - start)) s"
        failed+=("$backend")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    log "failed on: ${failed[*]}"
    exit 1
fi
log "the document holds on: $BACKENDS"
