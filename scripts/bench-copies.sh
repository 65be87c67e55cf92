#!/usr/bin/env bash
# Off-site copies measured (issue 15, docs/PERFORMANCE.md "Off-site copies").
#
#   scripts/bench-copies.sh /path/to/release/parapheur [ITEMS] [MORE] [RPO_SECONDS] [IDLE_SECONDS]
#
# In a temporary folder it builds a register of ITEMS (100,000) items with their files
# (`parapheur bench ingest`: generated emails, one in five with a PDF), then:
#   1. the first copy (`parapheur backup now`) to a local restic repository: time, size;
#   2. MORE (1,000) items more, and the incremental copy: time, size added;
#   3. `parapheur restore` onto an empty folder: time, then the restored register checked
#      (item count, `journal verify`, `fsck`);
#   4. the RPO under load: `parapheur serve` copies continuously (its production interval,
#      30 s; background work off but the copies) while letters are registered at a steady rate (about one a second) for
#      RPO_SECONDS (300); for each letter, the delay from its commit (the `register` command
#      returned) to the end of the first copy that started after it. The largest is the
#      RPO measured. A copy's start is taken before its SQLite snapshot (`VACUUM INTO`), so a
#      copy that started after a commit holds it: the measure errs on the long side;
#   5. an idle box: the same `serve`, nothing registered, for IDLE_SECONDS (180); the
#      snapshots it made (none expected: its heartbeat is no change to copy).
# The repository is a local folder: the figures are parapheur's and restic's work, not a
# network's. The temporary folder is removed at the end unless KEEP=1.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 /path/to/parapheur [ITEMS] [MORE] [RPO_SECONDS] [IDLE_SECONDS]" >&2
    exit 2
fi
BIN=$(realpath "$1")
ITEMS=${2:-100000}
MORE=${3:-1000}
RPO_SECONDS=${4:-300}
IDLE_SECONDS=${5:-180}
for tool in restic sqlite3 jq python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/bench-copies.XXXXXX)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    if [[ ${KEEP:-0} != 1 ]]; then rm -rf "$WORK"; else echo "kept: $WORK"; fi
}
trap cleanup EXIT
DATA=$WORK/data
REPO=$WORK/depot
RESTORED=$WORK/restaure
export PARAPHEUR_BACKUP_REPOSITORY=$REPO
# Nothing of the caller's parapheur settings.
unset PARAPHEUR_DATA PARAPHEUR_DATABASE_URL PARAPHEUR_FILES PARAPHEUR_INDEX_DIR

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
mib() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1048576:.1f} MiB')" "$1"; }
items_in() { sqlite3 "$1/parapheur.sqlite" 'SELECT count(*) FROM items'; }

echo "== machine: $(nproc) cores, $(uname -r); $("$BIN" --version); $(restic version | cut -d' ' -f1-2)"
echo "== register of $ITEMS items (bench ingest)"
t=$(now)
"$BIN" bench ingest --data "$DATA" --count "$ITEMS" --json >"$WORK/ingest.json"
echo "   built in $(since "$t") s: $(items_in "$DATA") items," \
    "$(find "$DATA/files" -type f | wc -l) files, files $(mib "$(du -sb "$DATA/files" | cut -f1)")," \
    "database $(mib "$(stat -c %s "$DATA/parapheur.sqlite")")"

echo "== first copy"
t=$(now)
"$BIN" backup now --data "$DATA" --json >"$WORK/first.json"
first_wall=$(since "$t")
first_size=$(du -sb "$REPO" | cut -f1)
echo "   $first_wall s (the command; $(jq -r '.seconds | . * 10 | round / 10' "$WORK/first.json") s as parapheur times the copy)," \
    "$(jq -r .files_new "$WORK/first.json") files new, repository $(mib "$first_size")" \
    "($first_size bytes)"

echo "== $MORE items more, incremental copy"
"$BIN" bench ingest --data "$DATA" --count "$MORE" --json >"$WORK/more.json"
expected=$((ITEMS + MORE))
test "$(items_in "$DATA")" -eq "$expected" || { echo "expected $expected items" >&2; exit 1; }
t=$(now)
"$BIN" backup now --data "$DATA" --json >"$WORK/second.json"
second_wall=$(since "$t")
second_size=$(du -sb "$REPO" | cut -f1)
echo "   $second_wall s, $(jq -r .files_new "$WORK/second.json") files new," \
    "data added $(mib "$(jq -r .data_added "$WORK/second.json")")," \
    "repository +$(mib $((second_size - first_size))) ($((second_size - first_size)) bytes)"

echo "== restore onto an empty folder"
t=$(now)
"$BIN" restore --data "$RESTORED" --from "$REPO" --master-key "$DATA/master.key" >"$WORK/restore.txt"
restore_wall=$(since "$t")
echo "   $restore_wall s (restic restore, journal verified, files checked, index rebuilt)"
sed 's/^/   | /' "$WORK/restore.txt"
test "$(items_in "$RESTORED")" -eq "$expected" || { echo "restored count differs" >&2; exit 1; }
"$BIN" journal verify --data "$RESTORED" --json | jq -e '.intact == true' >/dev/null
"$BIN" fsck --data "$RESTORED" --json --grace-minutes 0 | jq -e '.clean == true' >/dev/null
echo "   restored register: $(items_in "$RESTORED") items, journal intact, fsck clean"
rm -rf "$RESTORED"

echo "== RPO under load: serve copying continuously, letters registered for $RPO_SECONDS s"
# --no-background: the copy loop still runs (it is started apart), but not the text
# extraction, which would otherwise spend the whole window on the generated PDFs of the
# bench (unreadable on purpose) and write to the register all along.
"$BIN" serve --data "$DATA" --listen 127.0.0.1:0 --no-background >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
STATE=$DATA/copies.json
: >"$WORK/commits"
: >"$WORK/copies"
record_copy() {
    # One line per look at the state: the last successful copy's start, duration, snapshot.
    jq -r '"\(.last_success_at) \(.seconds) \(.snapshot_id)"' "$STATE" >>"$WORK/copies"
}
end=$(($(date +%s) + RPO_SECONDS))
n=0
while [[ $(date +%s) -lt $end ]]; do
    number=$("$BIN" register --data "$DATA" --commune 01004 --channel paper \
        --subject "Courrier sous charge $n")
    echo "$number $(now)" >>"$WORK/commits"
    n=$((n + 1))
    record_copy
    sleep 1
done
last_commit=$(tail -1 "$WORK/commits" | cut -d' ' -f2)
# Wait for a copy that started after the last commit (the loop looks every 30 s).
until python3 -c "import sys, datetime as d; s = sys.argv[1].rstrip('Z'); s = s[:26] if '.' in s else s
sys.exit(0 if d.datetime.fromisoformat(s).replace(tzinfo=d.timezone.utc).timestamp() > float(sys.argv[2]) else 1)" \
    "$(tail -1 "$WORK/copies" | cut -d' ' -f1)" "$last_commit"; do
    sleep 1
    record_copy
done
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
if grep -q 'off-site copy failed' "$WORK/serve.log"; then
    echo "a copy failed under load:" >&2
    grep 'off-site copy failed' "$WORK/serve.log" >&2
    exit 1
fi
python3 - "$WORK/commits" "$WORK/copies" "$(jq -r '.last_forget_at // ""' "$STATE")" <<'EOF'
import datetime, sys
def epoch(text):
    text = text.rstrip("Z")
    text = text[:26] if "." in text else text
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc).timestamp()
commits = [float(line.split()[1]) for line in open(sys.argv[1])]
copies = {}
for line in open(sys.argv[2]):
    start, seconds, snapshot = line.split()
    copies[snapshot] = (epoch(start), float(seconds))
# The copies of the serve (the state read at the first letter still names the last
# `backup now`, made before the server started).
copies = [c for c in sorted(copies.values()) if c[0] >= commits[0]]
delays = []
for at in commits:
    start, seconds = next(c for c in copies if c[0] >= at)
    delays.append(start + seconds - at)
cycles = [b[0] - a[0] for a, b in zip(copies, copies[1:])]
delays.sort()
print(f"   {len(commits)} letters at {len(commits) / (commits[-1] - commits[0]) * 60:.0f} a minute, "
      f"{len(copies)} copies (durations {min(c[1] for c in copies):.1f}-{max(c[1] for c in copies):.1f} s, "
      f"starts {min(cycles):.1f}-{max(cycles):.1f} s apart)" if cycles else "")
t0 = commits[0]
print("   copies (start after the first letter, duration): "
      + ", ".join(f"{start - t0:.0f} s/{seconds:.1f} s" for start, seconds in copies))
if len(sys.argv) > 3 and sys.argv[3]:
    # The daily retention (restic forget --prune) runs right after a copy, in the same loop.
    forget = epoch(sys.argv[3])
    print(f"   the daily retention (forget --prune) started at {forget - t0:.0f} s, right "
          "after a copy: the next copy waits for it")
print(f"   delay commit -> off site: median {delays[len(delays) // 2]:.1f} s, "
      f"largest {delays[-1]:.1f} s (the RPO measured)")
EOF

echo "== idle box: serve for $IDLE_SECONDS s, nothing registered"
snapshots() { "$BIN" backup list --data "$DATA" --json | jq length; }
before=$(snapshots)
attempt_before=$(jq -r .last_attempt_at "$STATE")
timeout "$IDLE_SECONDS" "$BIN" serve --data "$DATA" --listen 127.0.0.1:0 --no-background \
    >"$WORK/idle.out" 2>"$WORK/idle.log" || true
after=$(snapshots)
echo "   snapshots before $before, after $after: $((after - before)) made by the idle box in" \
    "$IDLE_SECONDS s (last attempt $attempt_before, then $(jq -r .last_attempt_at "$STATE"))"
