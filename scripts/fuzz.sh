#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (one per parser of untrusted bytes, docs/FUZZING.md), each
# for a few seconds, coverage-guided by libFuzzer, on stable Rust: the targets are built with
# rustc's stable SanitizerCoverage flags (what `cargo fuzz build -s none` passes), so neither
# nightly nor cargo-fuzz is needed. Fails when a target crashes, panics, times out or runs
# out of memory; the input is kept in fuzz/artifacts/TARGET/.
#
# Usage: ./scripts/fuzz.sh [SECONDS] [TARGET...]      (default: 20 s each, every target)
#   FUZZ_PROFILE=release ./scripts/fuzz.sh 300   the long run: optimised build (slower to build)
#   FUZZ_JOBS=1 ./scripts/fuzz.sh                one target at a time (default: 2 at once)
#   ./scripts/fuzz.sh --replay DIR TARGET        runs TARGET once on each file of DIR
#                                                (a crash found earlier, fuzz/crashes/...)
#   ./scripts/fuzz.sh --build-only               builds the targets and stops (scripts/test.sh
#                                                builds them while the tests run)
# Seeds are read from fuzz/corpus/TARGET (committed); what a run discovers goes to
# fuzz/target/corpus/TARGET (not committed), so later local runs start from there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ALL_TARGETS=(mail_parse pdf_flags upload_sniff public_form imap_response verify_pdf sign_pdf letter_reading separator_page)
PROFILE=${FUZZ_PROFILE:-fuzz-ci}
JOBS=${FUZZ_JOBS:-2}
TARGET_DIR=$PWD/fuzz/target
HOST=$(rustc -vV | sed -n 's/^host: //p')

# The flags of `cargo fuzz build -s none` (cargo-fuzz 0.13), plus debug assertions and
# overflow checks. `--target` keeps them off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cllvm-args=-sanitizer-coverage-stack-depth \
-Cdebug-assertions -Coverflow-checks"
# Called from scripts/test.sh: its clippy wrapper is for the main workspace only.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS CARGO_TARGET_DIR

build() {
    # fuzz/ is not in the main workspace, so `cargo fmt --all` does not see it.
    cargo fmt --manifest-path fuzz/Cargo.toml --check
    echo "==> Building the fuzz targets (profile $PROFILE, $HOST)"
    # Not --locked: fuzz/Cargo.lock follows the crates it reaches by path (a dependency
    # added to crates/signing, say), which cargo then adds to it.
    cargo build --manifest-path fuzz/Cargo.toml --profile "$PROFILE" --target "$HOST" \
        --target-dir "$TARGET_DIR" --bins
}
bin_of() { echo "$TARGET_DIR/$HOST/$PROFILE/$1"; }

if [ "${1:-}" = "--build-only" ]; then
    build
    exit 0
fi

if [ "${1:-}" = "--replay" ]; then
    dir=${2:?"--replay DIR TARGET"}
    target=${3:?"--replay DIR TARGET"}
    build
    # libFuzzer runs each file once when given files rather than folders.
    exec "$(bin_of "$target")" -rss_limit_mb=2048 -timeout=30 "$dir"/*
fi

seconds=20
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

build
mkdir -p "$TARGET_DIR/logs"

run_one() {  # TARGET: fuzzes it for $seconds, its output in logs/TARGET.log
    local t=$1
    mkdir -p "$TARGET_DIR/corpus/$t" "fuzz/artifacts/$t"
    # -timeout: one input taking longer is a finding (a hang); -rss_limit_mb: so is memory
    # beyond 2 GB. -max_len defaults to the largest seed.
    "$(bin_of "$t")" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
        "$TARGET_DIR/corpus/$t" "fuzz/corpus/$t" >"$TARGET_DIR/logs/$t.log" 2>&1
}

summary() {  # TARGET STATUS: one line of figures from libFuzzer's final statistics
    local t=$1 status=$2 log="$TARGET_DIR/logs/$1.log"
    local execs rate cov corpus
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n 1)
    printf '%-14s %-9s %10s execs %8s/s  %-22s %s\n' "$t" "$status" "${execs:-?}" "${rate:-?}" \
        "${cov:-}" "${corpus:-}"
}

echo "==> Fuzzing ${targets[*]}: ${seconds} s each, $JOBS at a time"
failed=()
pids=()
names=()
wait_one() {  # waits for the oldest running target and records its result
    local pid=${pids[0]} t=${names[0]}
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
    local status=0
    wait "$pid" || status=$?
    if [ "$status" -eq 0 ]; then
        summary "$t" ok
    else
        summary "$t" "CRASH($status)"
        failed+=("$t")
        echo "--- $t: end of its log ($TARGET_DIR/logs/$t.log)"
        grep -vE '^#[0-9]+' "$TARGET_DIR/logs/$t.log" | tail -n 40
        echo "--- the input is in fuzz/artifacts/$t/"
    fi
}
for t in "${targets[@]}"; do
    [ -d "fuzz/corpus/$t" ] || { echo "fuzz.sh: unknown target $t" >&2; exit 2; }
    run_one "$t" &
    pids+=("$!")
    names+=("$t")
    if [ ${#pids[@]} -ge "$JOBS" ]; then wait_one; fi
done
while [ ${#pids[@]} -gt 0 ]; do wait_one; done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: ${#failed[@]} target(s) crashed: ${failed[*]}" >&2
    exit 1
fi
echo "==> No crash in ${#targets[@]} target(s)"
