#!/usr/bin/env bash
# Starts a Glimpse server of its own, waits until it is SERVING, runs the C client's live
# tests against it, and always stops it again.
#
#   clients/c/tests/run_live.sh           the real server: .build/release/glimpse serve on a
#                                         free loopback TCP port (GLIMPSE_BIN overrides the binary)
#   clients/c/tests/run_live.sh --fake    the C fake server (tests/fake_server.c) on an ipc:// path
#
# Environment: GLIMPSE_WORKERS passes --workers N to the real server; GLIMPSE_WAIT_S is how
# long to wait for it to come up (default 120 s: it loads its models first); TEST_WRAPPER
# runs the test program under something (make valgrind sets it to valgrind).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)   # clients/c
root=$(cd "$here/../.." && pwd)
build="$here/build"

fake=0
case "${1:-}" in
    --fake) fake=1 ;;
    "") ;;
    *) echo "usage: run_live.sh [--fake]" >&2; exit 2 ;;
esac

make -s -C "$here" all

source "$root/scripts/lib/server-process.sh"
start_scratch glimpse-c-live

if [ $fake = 1 ]; then
    url="ipc://$work/glimpse.sock"
    "$build/fake_server" "$url" >"$work/server.log" 2>&1 &
    server_pid=$!
    wait_s=${GLIMPSE_WAIT_S:-10}
else
    bin=${GLIMPSE_BIN:-$root/.build/release/glimpse}
    if [ ! -x "$bin" ] || ! "$bin" --help 2>/dev/null | grep -qw serve; then
        echo "run_live: $bin has no 'serve' subcommand yet; build the server first (swift build -c release --product glimpse)" >&2
        exit 1
    fi
    # A free port: the kernel picks one for a socket that is closed again at once. Another
    # process could take it in between; the server then fails to listen, and that is reported.
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    url="tcp://127.0.0.1:$port"
    workers=()
    [ -n "${GLIMPSE_WORKERS:-}" ] && workers=(--workers "$GLIMPSE_WORKERS")
    (cd "$root" && exec "$bin" serve --listen "$url" "${workers[@]}") >"$work/server.log" 2>&1 &
    server_pid=$!
    wait_s=${GLIMPSE_WAIT_S:-120}
fi

echo "run_live: server pid $server_pid on $url; waiting for SERVING (up to ${wait_s} s)"
deadline=$((SECONDS + wait_s))
until "$build/glimpse-classify" -t 500 "$url" --health >/dev/null 2>&1; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run_live: the server exited before it was SERVING; its log:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
        echo "run_live: the server was not SERVING after ${wait_s} s; its log:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.2
done

args=("$url")
[ $fake = 1 ] && args=(--fake "$url")
cat_jpeg="$root/testdata/generated/images/cat.jpg"
[ -f "$cat_jpeg" ] && args+=(--image "$cat_jpeg")
status=0
# shellcheck disable=SC2086  # TEST_WRAPPER is a command with its options
${TEST_WRAPPER:-} "$build/test_client" "${args[@]}" || status=$?
if [ $status != 0 ]; then
    echo "run_live: tests failed (exit $status); the server's log:" >&2
    tail -50 "$work/server.log" >&2
fi
exit $status
