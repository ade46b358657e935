# Sourced by scripts that start a server of their own: a scratch folder and a server pid that
# are cleaned up however the script ends (stop_server: SIGTERM, up to 5 s, then SIGKILL).
#   source scripts/lib/server-process.sh; start_scratch NAME  ->  $work, $server_pid=""
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}

start_scratch() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    server_pid=""
    trap 'stop_server; rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
}
