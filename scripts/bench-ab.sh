#!/usr/bin/env bash
# Compares two release binaries of parapheur on the figures users feel, alternating them so
# that the machine's drift falls on both: ingestion (`bench ingest --count 2000`, a new data
# folder each time), letters (`bench letters --count 30`: layout, signature, verification),
# and the server's throughput and p99 under load (`wrk -t2 -c50 -d15s --latency` on the inbox
# and the register of the demo commune plus 30,000 registrations, after a 10-second warm-up).
#
# Usage: scripts/bench-ab.sh BIN_A BIN_B [ROUNDS]     (needs wrk: apt-get install wrk)
#   The served data is made once by each binary, in ${BENCH_DATA:-/tmp/parapheur-bench-ab}/a
#   and …/b: a binary refuses a database that a newer one migrated.
# Run it on a quiet machine: anything else running shows in the figures.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BIN_A BIN_B [ROUNDS]" >&2; exit 2; }
command -v wrk >/dev/null || { echo "$0: wrk is missing (apt-get install wrk)" >&2; exit 2; }
a=$(realpath "$1"); b=$(realpath "$2"); rounds=${3:-2}
data=${BENCH_DATA:-/tmp/parapheur-bench-ab}
work=$(mktemp -d /tmp/parapheur-bench-ab-runs.XXXXXX)
trap 'rm -rf "$work"' EXIT
port=18090
login=karim.benali@montbazon.demo   # the demo's agent: no second factor to type

for side in a b; do
    bin=$a; [ "$side" = b ] && bin=$b
    if [ ! -f "$data/$side/parapheur.sqlite" ]; then
        echo "==> Making the served data in $data/$side (demo + 30,000 registrations, about a minute)"
        "$bin" demo --data "$data/$side" --no-serve >/dev/null 2>&1
        "$bin" bench register --data "$data/$side" --commune 37154 --count 30000 --file-kb 0 \
            --writers 4 --closed-percent 97 >/dev/null 2>&1
    fi
done

load() {  # BIN SIDE: serves $data/SIDE, prints requests/s and p99 of the inbox and the register
    "$1" serve --data "$data/$2" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/sante" && break; sleep 0.1; done
    curl -s -c "$work/jar" -o /dev/null -d "email=$login&password=demo-parapheur" \
        "http://127.0.0.1:$port/connexion"
    local cookie
    cookie="Cookie: parapheur_session=$(awk '/parapheur_session/ {print $7}' "$work/jar")"
    local page
    for page in a-traiter registre; do
        wrk -t2 -c50 -d10s -H "Accept-Encoding: gzip" -H "$cookie" "http://127.0.0.1:$port/$page" >/dev/null
        wrk -t2 -c50 -d15s --latency -H "Accept-Encoding: gzip" -H "$cookie" \
            "http://127.0.0.1:$port/$page" \
            | awk -v p="/$page" '/Requests\/sec/ {r=$2} / 99%/ {l=$2} END {printf "  %-11s %8s req/s, p99 %s\n", p, r, l}'
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

n=0
for round in $(seq 1 "$rounds"); do
    for side in a b; do
        bin=$a; [ "$side" = b ] && bin=$b
        n=$((n + 1))
        echo "== $side: $bin (round $round)"
        "$bin" bench ingest --data "$work/ingest-$n" --count 2000 --json 2>&1 \
            | awk -F'"messages_per_second":' 'NF > 1 {split($2, v, ","); printf "  ingestion   %8.0f messages/s\n", v[1]}'
        "$bin" bench letters --count 30 2>&1 | sed -n 's/^30 lettres/  letters     30 lettres/p'
        load "$bin" "$side"
    done
done
