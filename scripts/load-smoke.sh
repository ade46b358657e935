#!/usr/bin/env bash
# A tiny `glimpse load` run against a real server of its own: every request answered, the counts
# agree with the server's Stats, the achieved cache-hit ratio is reported, and the server still
# classifies afterwards. Starts and always stops the server (as clients/c/tests/run_live.sh does).
#
#   scripts/load-smoke.sh      (GLIMPSE_BIN overrides .build/release/glimpse)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${GLIMPSE_BIN:-$root/.build/release/glimpse}
cat_jpeg="$root/testdata/generated/images/cat.jpg"

source "$root/scripts/lib/server-process.sh"
start_scratch glimpse-load-smoke

url="ipc://$work/glimpse.sock"
(cd "$root" && exec "$bin" serve --listen "$url" --workers 2 --models lite0) >"$work/server.log" 2>&1 &
server_pid=$!
deadline=$((SECONDS + ${GLIMPSE_WAIT_S:-120}))
until "$bin" classify --server "$url" --timeout 1 --top 1 "$cat_jpeg" >/dev/null 2>&1; do
    if ! kill -0 "$server_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
        echo "load-smoke: the server did not come up; its log:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.2
done

"$bin" load --server "$url" --images "$root/testdata/generated/images" --concurrency 1,4 --requests 30 \
    --warmup 0 --cache-hit-ratio 0.5 --seed 1 --json "$work/load.json"

python3 - "$work/load.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
problems = []
for step in report["steps"]:
    server, label = step["server"], step["label"]
    if not (step["sent"] == step["ok"] == 30 and not step["errors"]):
        problems.append(f"{label}: sent {step['sent']}, ok {step['ok']}, errors {step['errors']}")
    if server["requests"] != 30 or server["replies_by_status"] != {"OK": 30}:
        problems.append(f"{label}: the server counted {server['requests']} requests, replies {server['replies_by_status']}")
    if server["cache_hits"] != step["repeats"] or server["cache_misses"] != 30 - step["repeats"]:
        problems.append(f"{label}: {server['cache_hits']} hits / {server['cache_misses']} misses for {step['repeats']} repeats of 30")
for problem in problems:
    print("load-smoke:", problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

"$bin" classify --server "$url" --top 1 "$cat_jpeg" >/dev/null
echo "load-smoke: ok (every reply counted, server Stats agree, server still serving)"
