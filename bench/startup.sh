#!/usr/bin/env bash
# Startup time to the first 200 from /health, and idle RSS, of the release binary on the
# embedded SQLite default. Cold = a fresh data dir (key generation, database creation,
# migrations, bootstrap tenant); warm = the same data dir again.
#   usage: bench/startup.sh [path/to/ovlt] [runs]
set -euo pipefail
bin="${1:-${CARGO_TARGET_DIR:-target}/release/ovlt}"
runs="${2:-5}"
port=3917
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

measure() {  # prints: milliseconds-to-health rss-kib
    local dir="$1" start end pid
    start=$(date +%s%N)
    (cd "$dir" && exec env -i OVLT_PORT=$port "$bin" >/dev/null 2>&1) &
    pid=$!
    until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do :; done
    end=$(date +%s%N)
    # Idle: let the first request's allocations settle, then read the resident set.
    for _ in 1 2 3 4 5; do curl -sf "http://127.0.0.1:$port/health" >/dev/null; done
    sleep 1
    local rss
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"; wait "$pid" || true
    echo "$(( (end - start) / 1000000 )) $rss"
}

for kind in cold warm; do
    for i in $(seq 1 "$runs"); do
        dir="$work/run$i"
        if [ "$kind" = cold ]; then rm -rf "$dir"; mkdir -p "$dir"; fi
        read -r ms rss < <(measure "$dir")
        echo "$kind run $i: ${ms} ms to /health, idle RSS ${rss} KiB"
    done
done
