#!/usr/bin/env bash
# The server's memory in the states of the budget (docs/PERFORMANCE.md, "Memory"): a first
# start on a new demo, a restart left idle, then after printing 40 accusés de réception, and
# after a second batch (the demo's other pending accusés): the second batch is the one that
# showed glibc keeping freed blocks in a thread's heap.
# Usage: scripts/memory-states.sh [BINARY] [DATA_DIR] [PORT]
set -euo pipefail
bin=${1:-target/release/parapheur}
data=${2:-/tmp/parapheur-memory}
port=${3:-18310}
here=$(cd "$(dirname "$0")" && pwd)
status() {
    grep -E 'VmRSS|RssAnon|RssFile' "/proc/$1/status" | tr -s ' \t' ' ' | tr '\n' ' '
    # Where the file pages come from: the resident kB of each mapped file, largest first.
    printf '\n    file pages by file:'
    awk '/^[0-9a-f]+-[0-9a-f]+ / { file = ($6 == "" ? "[anonymous]" : $6) }
         /^Rss:/ { kb[file] += $2 }
         END { for (f in kb) if (f !~ /^\[/ && kb[f] >= 256) printf "%d kB %s\n", kb[f], f }' \
        "/proc/$1/smaps" | sort -rn | head -6 | tr '\n' ';'
}
rm -rf "$data"
"$bin" demo --data "$data" --no-serve >/dev/null 2>&1
"$bin" serve --data "$data" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
sleep 90
echo "first start (90 s): $(status $pid)"
kill $pid; wait $pid 2>/dev/null || true
"$bin" serve --data "$data" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
sleep 60
echo "restart, idle (60 s): $(status $pid)"
python3 "$here/print-acknowledgements.py" "http://127.0.0.1:$port" 40 >/dev/null
sleep 75
echo "after 40 accusés (75 s): $(status $pid)"
python3 "$here/print-acknowledgements.py" "http://127.0.0.1:$port" 40 >/dev/null
sleep 75
echo "after a second batch (75 s): $(status $pid)"
kill $pid; wait $pid 2>/dev/null || true
