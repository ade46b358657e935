#!/usr/bin/env bash
# Regenerates the committed protobuf-c code of the C client (clients/c/gen/) from proto/.
# Needs Debian's protobuf-c-compiler (protoc-c). Run it when glimpse.proto changes;
# `scripts/gen-proto-c.sh --check` only reports whether the committed code is stale.
set -euo pipefail
cd "$(dirname "$0")/.."

out=clients/c/gen
check=0
[ "${1:-}" = "--check" ] && check=1

command -v protoc-c >/dev/null || { echo "gen-proto-c: protoc-c not found; apt-get install protobuf-c-compiler" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc-c -I proto --c_out="$tmp" glimpse/v1/glimpse.proto

if [ $check = 1 ]; then
    if diff -r "$tmp" "$out" >/dev/null 2>&1; then
        echo "gen-proto-c: $out is up to date"
    else
        echo "gen-proto-c: $out is stale; run scripts/gen-proto-c.sh" >&2
        diff -r "$tmp" "$out" | head -20 >&2 || true
        exit 1
    fi
else
    rm -rf "$out"
    mkdir -p "$out"
    cp -R "$tmp"/. "$out"/
    echo "gen-proto-c: generated $(cd "$out" && find . -type f | sort | tr '\n' ' ')"
fi
