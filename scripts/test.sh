#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy (while the tests are built),
# `cargo test` on SQLite and on a throwaway PostgreSQL server that this script starts (and
# stops) itself, then the browser tests (e2e/run.mjs: axe-core, page weight, keyboard, the end-to-end journey) in
# Debian's headless Chromium, against the debug binary, and a short run of each fuzz target.
#
# Usage: ./scripts/test.sh            (from anywhere; idempotent; CI runs it through .ci/run)
#   PARAPHEUR_TEST_DATABASE_URL=postgres://… ./scripts/test.sh   uses your server instead
#   PARAPHEUR_TEST_SETUP_ONLY=1 ./scripts/test.sh                sets up, checks, tears down
# Installs what is missing with apt-get (PostgreSQL server, python3, chromium, Node.js, Dovecot,
# tesseract with its French model, poppler-utils, qpdf, xmllint), s3s-fs (a real S3 server, with
# cargo install into ~/.cache/parapheur-tools) and
# `npm ci` in e2e/; never touches an existing PostgreSQL cluster: the test cluster lives in a
# temporary folder under /tmp.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\n==> %s\n' "$*"; }

# Phase timings, printed at the end (also when a step fails): `phase NAME` ends the running
# phase and starts the next. docs/PERFORMANCE.md keeps the table of a clean run.
PHASES=()
phase_name=""
phase_started=$SECONDS
phase() {
    if [ -n "$phase_name" ]; then PHASES+=("$((SECONDS - phase_started))|$phase_name"); fi
    phase_name="$1"
    phase_started=$SECONDS
}
PHASES_PRINTED=""
print_phases() {
    [ -z "$PHASES_PRINTED" ] || return 0
    PHASES_PRINTED=1
    phase ""
    [ ${#PHASES[@]} -gt 0 ] || return 0
    printf '\n==> Phase times (seconds)\n'
    local entry
    for entry in "${PHASES[@]}"; do printf '%6s  %s\n' "${entry%%|*}" "${entry#*|}"; done
    if [ -s "${TEST_LOG:-}" ]; then
        # cargo names each test binary ("Running tests/x.rs (target/debug/deps/x-hash)")
        # and closes it with "test result: … N passed; … finished in S s".
        printf '  test binaries (seconds, tests):\n'
        awk '/^ +Running / { i = ($2 == "unittests") ? 3 : 2; name = $i; bin = $(i + 1); sub(/.*\//, "", bin); sub(/-[0-9a-f]+\)$/, "", bin) }
             /^test result:/ && name != "" { s = $NF; sub(/s$/, "", s)
                 printf "%8.0f  %-60s %5d\n", s, bin " (" name ")", $4 + $6; name = "" }' \
            "$TEST_LOG" | sort -rn
    fi
    printf '%6s  total\n' "$SECONDS"
}
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "root needed for: $*"; fi
}

# --- 1. Packages ------------------------------------------------------------------------
pg_bindir() {  # the newest PostgreSQL server binaries: Debian's folder, else the PATH
    local dir
    dir=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"
    elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
    else return 1; fi
}

phase "install missing packages"
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
missing=()
[ -n "${PARAPHEUR_TEST_DATABASE_URL:-}" ] || [ -n "$(pg_bindir || true)" ] || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v python3 >/dev/null || missing+=(python3)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
command -v strace >/dev/null || missing+=(strace)  # crash tests kill at each fsync
command -v pdftotext >/dev/null || missing+=(poppler-utils)  # text layers, printed register
command -v tesseract >/dev/null || missing+=(tesseract-ocr)  # OCR of scans
[ -n "$(ls /usr/share/tesseract-ocr/*/tessdata/fra.traineddata 2>/dev/null)" ] || missing+=(tesseract-ocr-fra)
command -v qpdf >/dev/null || missing+=(qpdf)  # encrypted PDFs in the extraction tests
command -v openssl >/dev/null || missing+=(openssl)  # the RFC 3161 test TSA of ../shared/acceptance
# validate-seda of ../shared/acceptance installs xmllint on first use: tests calling it at the
# same time on a new machine raced for apt's lock, and one failed.
command -v xmllint >/dev/null || missing+=(libxml2-utils)
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)  # a real IMAP server for capture tests
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-aiosmtpd)  # Debian's python: a real SMTP server for the outbox tests
[ -x "${PARAPHEUR_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v restic >/dev/null || missing+=(restic)  # the off-site copies and the disaster drill
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    say "Installing ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- 2. A throwaway PostgreSQL server ----------------------------------------------------
phase "start PostgreSQL"
PG_TMP=""
PG_BIN=""
TEST_LOG=$(mktemp /tmp/parapheur-test.XXXXXX)
E2E_LOG=$(mktemp /tmp/parapheur-e2e.XXXXXX)
stop_pg() {
    if [ -n "$PG_TMP" ]; then
        say "Stopping the test PostgreSQL server"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_TMP"
        PG_TMP=""
    fi
}
cleanup() {
    local rc=$?
    # A failure before the background jobs ended: stop them, and their cargo, with the run
    # (each leads its own process group, made by setsid).
    for pid in ${TOOLS_PID:-} ${FUZZ_BUILD_PID:-}; do kill -- "-$pid" 2>/dev/null || true; done
    stop_pg
    print_phases
    rm -f "$TEST_LOG" "$E2E_LOG" "${TOOLS_LOG:-}" "${FUZZ_BUILD_LOG:-}"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_pg() {  # initdb and postgres refuse to run as root: use the postgres system user then
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@")
    else "$@"; fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ -n "${PARAPHEUR_TEST_DATABASE_URL:-}" ]; then
    say "Using the PostgreSQL server given in PARAPHEUR_TEST_DATABASE_URL"
else
    PG_BIN=$(pg_bindir) || die "no PostgreSQL server binaries (initdb) found"
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        die "running as root but there is no 'postgres' user to run the server"
    fi
    port=${PARAPHEUR_TEST_PG_PORT:-55432}
    while port_busy "$port"; do port=$((port + 1)); done
    PG_TMP=$(mktemp -d /tmp/parapheur-pg.XXXXXX)
    chmod 755 "$PG_TMP"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PG_TMP"; fi
    say "Starting a throwaway PostgreSQL ($PG_BIN) on 127.0.0.1:$port in $PG_TMP"
    as_pg "$PG_BIN/initdb" -D "$PG_TMP/data" -U parapheur --auth=trust -E UTF8 --no-locale \
        >"$PG_TMP/initdb.log" 2>&1 || { cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }
    opts="-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c max_connections=300"
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # throwaway data
    as_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 -o "$opts" \
        start >/dev/null || { cat "$PG_TMP/server.log" >&2; die "PostgreSQL did not start"; }
    export PARAPHEUR_TEST_DATABASE_URL="postgres://parapheur@127.0.0.1:$port/postgres"
fi

for _ in $(seq 1 30); do
    psql "$PARAPHEUR_TEST_DATABASE_URL" -Atqc 'select 1' >/dev/null 2>&1 && break
    sleep 1
done
version=$(psql "$PARAPHEUR_TEST_DATABASE_URL" -Atqc 'show server_version') \
    || die "PostgreSQL does not answer at $PARAPHEUR_TEST_DATABASE_URL"
echo "PostgreSQL $version answers${PG_TMP:+: PARAPHEUR_TEST_DATABASE_URL=$PARAPHEUR_TEST_DATABASE_URL}"

if [ -n "${PARAPHEUR_TEST_SETUP_ONLY:-}" ]; then
    psql "$PARAPHEUR_TEST_DATABASE_URL" -c 'select version()'
    say "Set-up only (PARAPHEUR_TEST_SETUP_ONLY): not running the tests"
    exit 0
fi

# --- 3. Checks and tests -----------------------------------------------------------------
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
phase "cargo fmt"
say "cargo fmt --all -- --check"
cargo fmt --all -- --check
phase "start installing the test tools (in the background)"
# The tools the tests call are installed while the tests compile, at the lowest CPU priority:
# they take the CPU the build leaves idle (its serial tail, the links) instead of adding
# their minutes before it. Each writes its log; "wait for the test tools" below checks them.
#  - The independent PAdES verifiers of ../shared/acceptance install pyHanko on first use: do
#    it once here rather than from several tests at the same time.
#  - s3s-fs, a real S3-compatible server for the file store's tests (files on a bucket): it
#    checks signatures and conditional writes like S3. Built once into a cache folder (about
#    100 s of CPU), then reused; PARAPHEUR_TEST_S3_BIN names another binary.
#  - playwright-core and axe-core for the browser tests, from e2e/package-lock.json (again when
#    the lock is newer than the install); the browser is Debian's chromium: playwright
#    downloads none.
acceptance="$(cd .. && pwd)/shared/acceptance"
TOOLS_LOG=$(mktemp /tmp/parapheur-tools.XXXXXX)
s3s_install=""
if [ -z "${PARAPHEUR_TEST_S3_BIN:-}" ]; then
    s3s_version=0.14.1  # 0.17 needs a newer Rust; crates/testkit/src/s3.rs names it too
    s3s_root="${PARAPHEUR_TOOLS_CACHE:-$HOME/.cache/parapheur-tools}/s3s-fs-$s3s_version"
    export PARAPHEUR_TEST_S3_BIN="$s3s_root/bin/s3s-fs"
    [ -x "$PARAPHEUR_TEST_S3_BIN" ] || s3s_install=1
fi
install_tools() {
    if [ -x "$acceptance/verify-pades" ]; then
        echo "==> Installing the PAdES verifiers (pyHanko, pdfsig) if needed"
        "$acceptance/verify-pades" /dev/null /dev/null >/dev/null 2>&1 || true
    fi
    if [ -n "$s3s_install" ]; then
        echo "==> Installing s3s-fs $s3s_version into $s3s_root"
        # Its own target folder: the workspace's build (with clippy as wrapper) goes on beside.
        env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS -u CARGO_TARGET_DIR \
            cargo install s3s-fs --version "$s3s_version" --features binary --root "$s3s_root" \
            || { echo "s3s-fs could not be installed: the S3 tests need it"; return 1; }
    fi
    if [ ! -f e2e/node_modules/.package-lock.json ] \
        || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
        echo "==> npm ci in e2e/"
        (cd e2e && npm ci --no-audit --no-fund) || return 1
    fi
}
setsid nice -n 19 bash -c "$(declare -f install_tools); $(declare -p acceptance s3s_install \
    s3s_version s3s_root 2>/dev/null); install_tools" >"$TOOLS_LOG" 2>&1 &
TOOLS_PID=$!
phase "build the tests, linted by clippy"
# Clippy lints our crates while they are compiled for the tests: clippy-driver is rustc with
# the lints added, set as the wrapper of the workspace's crates only (what `cargo clippy`
# does, but building instead of checking). `cargo clippy` would check all 650 dependencies
# a second time, which took as long as half the build; this way they are compiled once.
# Every target is linted: libraries, their unit tests, the binary, integration tests and
# examples. The variables stay set so that the later cargo calls reuse these builds.
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver) \
    || die "clippy-driver not found: rustup component add clippy"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
say "cargo test --workspace --no-run, with clippy -D warnings"
cargo test --workspace --no-run

phase "wait for the test tools"
tools_status=0
wait "$TOOLS_PID" || tools_status=$?
TOOLS_PID=""
cat "$TOOLS_LOG"
[ "$tools_status" -eq 0 ] || die "the test tools could not be installed (log above)"
if [ -x "$acceptance/verify-pades" ]; then
    [ -x "${VERIFY_CACHE:-$HOME/.cache/verify-pades}/venv/bin/pyhanko" ] \
        || die "pyHanko could not be installed (see ${VERIFY_CACHE:-$HOME/.cache/verify-pades}/pip.log)"
else
    echo "WARNING: $acceptance/verify-pades is missing: the signature tests fail without it (PARAPHEUR_SKIP_PADES_VERIFIER=1 skips them knowingly)" >&2
fi
[ -x "$PARAPHEUR_TEST_S3_BIN" ] || die "PARAPHEUR_TEST_S3_BIN=$PARAPHEUR_TEST_S3_BIN is not an executable"
echo "S3 test server: $PARAPHEUR_TEST_S3_BIN"

# The fuzz targets (section 5) are built meanwhile, at the lowest CPU priority, in their own
# target folder: the build takes the CPU the tests leave idle (they wait on servers, browsers
# and subprocesses) rather than 2 to 3 minutes after them.
FUZZ_BUILD_LOG=$(mktemp /tmp/parapheur-fuzz-build.XXXXXX)
setsid nice -n 19 ./scripts/fuzz.sh --build-only >"$FUZZ_BUILD_LOG" 2>&1 &
FUZZ_BUILD_PID=$!
phase "run the tests (SQLite and PostgreSQL)"
say "cargo test --workspace (SQLite and PostgreSQL)"
cargo test --workspace 2>&1 | tee "$TEST_LOG"
phase "web tests again, on PostgreSQL"
say "the web tests and the security matrix, every one on PostgreSQL"
PARAPHEUR_TEST_BACKEND=postgres cargo test -p parapheur-web --test web 2>&1 | tee -a "$TEST_LOG"
phase "stop PostgreSQL"
stop_pg

# --- 4. Browser tests ----------------------------------------------------------------------
# playwright-core and axe-core from e2e/package-lock.json (again when the lock is newer than
# the install); the browser is Debian's chromium: playwright downloads none.
say "Browser tests in headless Chromium (e2e/run.mjs), against the debug binary"
# The binary `cargo test` just built: with the same targets, features resolve the same way,
# so this compiles nothing (`cargo build -p parapheur` resolved them differently and rebuilt
# typst and 200 crates: 7 minutes).
phase "build the binary for the browser tests (nothing to compile)"
cargo build --workspace --all-targets
phase "browser tests"
PARAPHEUR_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/parapheur" node e2e/run.mjs 2>&1 | tee "$E2E_LOG"

# --- 5. Fuzzing ----------------------------------------------------------------------------
# A short coverage-guided run of each fuzz target (docs/FUZZING.md), built apart from the
# workspace (fuzz/target: 2 to 4 minutes cold), 10 s each, two at a time; fails on a crash.
phase "fuzz targets: the rest of their build"
fuzz_build_status=0
wait "$FUZZ_BUILD_PID" || fuzz_build_status=$?
FUZZ_BUILD_PID=""
tail -n 5 "$FUZZ_BUILD_LOG"
[ "$fuzz_build_status" -eq 0 ] || { cat "$FUZZ_BUILD_LOG"; die "the fuzz targets did not build"; }
phase "fuzz targets (scripts/fuzz.sh)"
say "Fuzz targets, ${PARAPHEUR_FUZZ_SECONDS:-10} s each (scripts/fuzz.sh)"
./scripts/fuzz.sh "${PARAPHEUR_FUZZ_SECONDS:-10}"

say "All checks and tests passed"
print_phases
# One closing line adding up every test binary's "test result:" line, and the browser tests'
# own "N passed, N failed" line.
awk -v e2e="$E2E_LOG" '/^test result:/ { for (i = 2; i <= NF; i++) {
        if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1)
        if ($i ~ /^ignored;?$/) s += $(i-1) } }
     FILENAME == e2e && /^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$TEST_LOG" "$E2E_LOG"
