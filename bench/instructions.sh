#!/usr/bin/env bash
# Instructions per data API request, counted by valgrind (callgrind): a figure that
# does not move with whatever else the machine runs, unlike req/s or CPU time, which
# swing by ±15 % on a shared 2-vCPU VM. Use it to A/B a change of a few per cent.
#
#   bench/instructions.sh [SRC] [REQUESTS]      # SRC: a checkout's src dir (default ./src)
#   W=filter bench/instructions.sh /tmp/base/src 2000
#
# Starts `dbify serve` (request logging off; LOGGING=on: as installed) from SRC under callgrind with counting off,
# warms it up with wrk, counts REQUESTS sequential keep-alive requests (pk: GET
# /books?id=eq.N, filter: author + order + limit, embed: an author with its books'
# id and title, update: PATCH /books?id=eq.N a price,
# insert: POST /books one row, both return=minimal; 4 connections, seed 42), prints the
# total instructions of the server process divided by REQUESTS, less what the idle server
# spends in as long (its rate counted alone for IDLE=20 seconds first; the scheduler,
# webhook worker and schema watch are off). Runs of the same code agree within ~0.3 k
# (before the idle part was subtracted, within ~3-6 %); compare two checkouts with two runs
# each. Two runs may go side by
# side (each switches and dumps only its own server's processes); with LOGGING=on the
# serving process's own count is printed too. CONCURRENT=N: the counted window is
# `wrk -cN` for REQUESTS seconds instead of sequential requests (closer to a loaded
# server's batching, but its runs vary by ~±7 k against ~±2 k sequential).
# TARGET=ceiling counts the hand-written ceiling (bench/ceiling.py under uvicorn, as
# bench/run.py starts it) the same way: a Dbify ÷ ceiling ratio of instructions a request
# that, unlike the req/s ratio, does not swing with the machine (SRC and LOGGING unused).
# Needs valgrind, wrk and the benchmark database (bench/run.py creates dbify_bench).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$(cd "${1:-$ROOT/src}" && pwd)
REQUESTS=${2:-2000}
WORKLOAD=${W:-pk}
DB_URL=${BENCH_DB_URL:-postgresql://postgres@127.0.0.1:5432/dbify_bench}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# LOGGING=on: request logging as installed (the chDB child traced and counted too).
LOGGING=${LOGGING:-off}
export DBIFY_DATA_DIR=$WORK/data PYTHONPATH=$SRC
# Background features that poll the metadata store on their own clocks (10 s), off: their
# work is not a request's, and the idle rate subtracted below is steadier without them.
export DBIFY_SCHEDULER__ENABLED=false DBIFY_WEBHOOKS__WORKER_ENABLED=false \
    DBIFY_SCHEMA_WATCH__ENABLED=false
if [ "$LOGGING" = on ]; then
    export DBIFY_ANALYTICS__ENABLED=true
    TRACE=(--trace-children=yes --callgrind-out-file="$WORK/cg.out.%p")
else
    export DBIFY_ANALYTICS__ENABLED=false
    TRACE=(--callgrind-out-file="$WORK/cg.out")
fi
TARGET=${TARGET:-dbify}
if [ "$TARGET" = ceiling ]; then
    LOGGING=off TRACE=(--callgrind-out-file="$WORK/cg.out")
    DATABASE_URL=$DB_URL valgrind --tool=callgrind --instr-atstart=no "${TRACE[@]}" \
        "$PYTHON" -m uvicorn --app-dir "$ROOT/bench" ceiling:app --host 127.0.0.1 \
        --port "$PORT" --loop uvloop --http httptools --no-access-log --log-level warning \
        >"$WORK/log" 2>&1 &
    SERVER=$!
    for _ in $(seq 600); do
        python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
            "$PORT" 2>/dev/null && break
        sleep 0.5
    done
    printf '{"rest_url": "http://127.0.0.1:%s", "service_key": "unused"}\n' "$PORT" >"$WORK/info"
else
    valgrind --tool=callgrind --instr-atstart=no "${TRACE[@]}" \
        "$PYTHON" -m dbify serve --database-url "$DB_URL" --port "$PORT" --json \
        >"$WORK/info" 2>"$WORK/log" &
    SERVER=$!
fi
# The server and its children (the chDB child): callgrind_control without a pid would
# switch and dump every callgrind on the machine, another run's too.
tree() { echo "$1"; for CHILD in $(ps -o pid= --ppid "$1"); do tree "$CHILD"; done; }
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 600); do [ -s "$WORK/info" ] && break; sleep 0.5; done
read -r URL KEY < <(python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); print(d["rest_url"], d["service_key"])' "$WORK/info")
# Warm-up at the window's concurrency: Dbify's pool opens connections on demand, and a
# window at more connections than the warm-up's counted the openings (TLS contexts,
# statement preparation) as requests' work: ~12 k instructions a request at -c32.
for _ in 1 2 3; do
    BENCH_APIKEY=$KEY wrk -t1 -c"${CONCURRENT:-4}" -d3s -s "$ROOT/bench/wrk/$WORKLOAD.lua" \
        "$URL/" -- 42 >/dev/null
done
if [ "$LOGGING" = on ]; then
    # The warm-up's own events: let the worker (flush every 5 s) ship them to the chDB
    # child before counting starts, or their marshalling and insert count as the run's.
    sleep 8
    PIDS=$(tree "$SERVER")
else
    PIDS=$SERVER
fi
# An idle server still works (metadata polls, the schema watcher, housekeeping): counted
# alone for IDLE seconds first (dump 1), then subtracted at that rate from the counted
# window (dump 2), which with LOGGING=on includes 8 s after the requests for the events'
# way to the chDB child. Without it, that longer window made logging look ~11 k
# instructions a request costlier than it is.
IDLE=${IDLE:-20}
for PID in $PIDS; do callgrind_control -i on "$PID" >/dev/null 2>&1; done
sleep "$IDLE"
for PID in $PIDS; do callgrind_control -d "$PID" >/dev/null 2>&1; done
WINDOW_START=$(date +%s.%N)
if [ -n "${CONCURRENT:-}" ]; then
    # CONCURRENT=N: wrk with N connections for REQUESTS seconds instead of sequential
    # requests, counted from wrk's own total: batches and background ticks are then
    # shared by as many requests as valgrind's speed allows, closer to a server under load.
    REQUESTS=$(BENCH_APIKEY=$KEY wrk -t1 -c"$CONCURRENT" -d"${REQUESTS}s" \
        -s "$ROOT/bench/wrk/$WORKLOAD.lua" "$URL/" -- 42 | sed -n 's/^WRKJSON .*"requests":\([0-9]*\).*/\1/p')
else
python3 - "$URL" "$KEY" "$REQUESTS" "$WORKLOAD" <<'PY'
import http.client, random, sys, urllib.parse
url, key, count, workload = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
parts = urllib.parse.urlparse(url)
connections = [http.client.HTTPConnection(parts.hostname, parts.port) for _ in range(4)]
rng = random.Random(42)
headers = {"apikey": key, "authorization": f"Bearer {key}"}
write_headers = {**headers, "content-type": "application/json", "prefer": "return=minimal"}
for i in range(count):
    method, body, sent = "GET", None, headers
    if workload == "pk":
        path = f"{parts.path}/books?id=eq.{rng.randint(1, 100000)}"
    elif workload == "filter":
        path = (f"{parts.path}/books?author_id=eq.{rng.randint(1, 10000)}"
                "&order=published_at.desc&limit=20")
    elif workload == "embed":
        path = f"{parts.path}/authors?id=eq.{rng.randint(1, 10000)}&select=id,name,books(id,title)"
    elif workload == "update":
        method, sent = "PATCH", write_headers
        path = f"{parts.path}/books?id=eq.{rng.randint(1, 100000)}"
        body = f'{{"price":{rng.randint(1, 99)}.99}}'.encode()
    else:
        method, sent, path = "POST", write_headers, f"{parts.path}/books"
        body = (f'{{"author_id":{rng.randint(1, 10000)},"title":"Bench insert",'
                '"isbn":"978-0-00-000000-0","price":12.5,"pages":320,'
                '"published_at":"2024-01-01T00:00:00Z"}').encode()
    connection = connections[i % 4]
    connection.request(method, path, body=body, headers=sent)
    response = connection.getresponse()
    response.read()
    assert response.status < 300, response.status
PY
fi
[ "$LOGGING" = on ] && sleep 8  # the worker's last batch of these requests reaches the chDB child
for PID in $PIDS; do
    callgrind_control -i off "$PID" >/dev/null 2>&1
    callgrind_control -d "$PID" >/dev/null 2>&1
done
WINDOW=$(python3 -c "import sys, time; print(time.time() - float(sys.argv[1]))" "$WINDOW_START")
sleep 1
if [ "$WORKLOAD" = insert ]; then
    psql "$DB_URL" -qc "DELETE FROM books WHERE id > 100000" >/dev/null
fi
[ -n "${KEEP:-}" ] && cp "$WORK"/cg.out* "$KEEP"/
# Instructions a request in the counted window (dump 2): the serving process's less its
# idle rate (dump 1) over the window's length; its children's (the chDB child) as counted,
# since its idle window may still hold the warm-up's insert and it is idle otherwise.
per_request() {
    python3 - "$IDLE" "$WINDOW" "$REQUESTS" "$@" <<'PY'
import sys
idle_s, window_s, requests, files = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
def total(path):
    return sum(int(line.split()[1]) for line in open(path) if line.startswith("totals:"))
def serving(path):
    return any(line.startswith("cmd:") and (" serve " in line or "uvicorn" in line)
               for line in open(path))
counted = sum(total(path) for path in files if path.endswith(".2"))
idle = sum(total(path) for path in files if path.endswith(".1") and serving(path))
print(round((counted - idle / idle_s * window_s) / requests))
PY
}
[ "$TARGET" = ceiling ] && SRC="the ceiling"
echo "$SRC $WORKLOAD (logging $LOGGING): $(per_request "$WORK"/cg.out*) instructions/request ($REQUESTS requests)"
if [ "$LOGGING" = on ]; then
    # The serving process alone: the request path's share, without the chDB child.
    SERVING=$(grep -l '^cmd:.* serve ' "$WORK"/cg.out* || true)
    if [ -n "$SERVING" ]; then
        echo "  of which the serving process: $(per_request $SERVING) instructions/request"
    fi
fi
