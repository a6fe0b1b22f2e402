#!/usr/bin/env bash
# Checks, without a Docker engine, that the Dockerfile's build stage copies everything the build
# reads (templates/ was once missing and the image could not build): copies exactly the paths
# its COPY lines name into an empty directory, as `docker build` would, and compiles there.
# Handles the forms the Dockerfile uses: `COPY <src>... <dest>` in the first stage, with
# <dest> relative to its WORKDIR; `COPY --from=…` (later stages) is not the build context.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
# A fixed place, so the shared target directory reuses its artifacts from run to run.
work="${TMPDIR:-/tmp}/ovlt-docker-context"
rm -rf "$work" && mkdir -p "$work"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"

stage=0
while read -r keyword rest; do
    case "$keyword" in
        FROM) stage=$((stage + 1)) ;;
        COPY)
            [ "$stage" -eq 1 ] || continue
            read -ra words <<<"$rest"
            dest="$work/${words[-1]}"
            sources=("${words[@]:0:${#words[@]}-1}")
            for source in "${sources[@]}"; do
                [[ "$source" != --* ]] || { echo "check-docker-context: unsupported COPY flag $source" >&2; exit 1; }
                [ -e "$repo/$source" ] || { echo "check-docker-context: COPY names $source, which does not exist" >&2; exit 1; }
            done
            if [ "${#sources[@]}" -gt 1 ] || [[ "$dest" == */ ]]; then
                mkdir -p "$dest"
                for source in "${sources[@]}"; do cp -R "$repo/$source" "$dest/"; done
            else
                mkdir -p "$(dirname "$dest")"
                cp -R "$repo/${sources[0]}" "$dest"
            fi
            ;;
    esac
done < <(sed -e ':join' -e '/\\$/{N;s/\\\n//;b join' -e '}' "$repo/Dockerfile")

if (cd "$work" && cargo check --locked --quiet); then
    echo "check-docker-context: the Dockerfile copies everything the build reads"
else
    echo "check-docker-context: FAILED: the build does not compile from what the Dockerfile copies" >&2
    exit 1
fi
