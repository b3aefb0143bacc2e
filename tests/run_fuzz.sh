#!/usr/bin/env bash
# Run every libFuzzer target built by `make fuzz` (build/fuzz/fuzz_*) for a
# bounded time each. Seeds come from tests/fuzz/corpus_NAME/ when present
# (read only: new inputs go to a temporary corpus). Crash reproducers are
# kept in build/fuzz/artifacts/NAME/. Exit status is non-zero if any target
# crashed, leaked, timed out or is missing.
#
#   tests/run_fuzz.sh [SECONDS] [TARGET...]      (default 20 s, all targets)
#   FUZZ_TIME=60 tests/run_fuzz.sh
#   FUZZ_RUNS=10000000 tests/run_fuzz.sh 36000   (make fuzz-long: each target
#                                 to 10 million executions, or the time cap)
#   FUZZ_UNIT_TIMEOUT=120 ...     seconds one input may take before it counts
#                                 as a hang (default 10). libFuzzer measures it
#                                 on the wall clock, so a niced long run on a
#                                 busy machine needs more: every "timeout" of a
#                                 first long run at load 65-96 replayed in
#                                 <= 29 ms.
set -u

cd "$(dirname "$0")/.." || exit 2
secs=${1:-${FUZZ_TIME:-20}}
[ $# -gt 0 ] && shift

if [ $# -gt 0 ]; then
    targets=()
    for t in "$@"; do targets+=("build/fuzz/${t#build/fuzz/}"); done
else
    shopt -s nullglob
    targets=()
    for t in build/fuzz/fuzz_*; do
        [[ $t == *.d ]] || targets+=("$t") # make's dependency files
    done
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "run_fuzz: no targets in build/fuzz (run 'make fuzz' first)" >&2
    exit 2
fi

failed=0
for bin in "${targets[@]}"; do
    name=${bin##*/fuzz_}
    if [ ! -x "$bin" ]; then
        echo "== $bin: missing" >&2
        failed=1
        continue
    fi
    work=$(mktemp -d)
    art=build/fuzz/artifacts/$name/
    mkdir -p "$art"
    seeds=tests/fuzz/corpus_$name
    corpora=("$work")
    [ -d "$seeds" ] && corpora+=("$seeds")
    log=build/fuzz/$name.log
    echo "== $bin: ${secs}s (seeds: $([ -d "$seeds" ] && echo "$seeds" || echo none))"
    runs=()
    [ -n "${FUZZ_RUNS:-}" ] && runs=(-runs="$FUZZ_RUNS")
    "$bin" "${runs[@]}" -max_total_time="$secs" -timeout="${FUZZ_UNIT_TIMEOUT:-10}" -rss_limit_mb=2048 \
        -artifact_prefix="$art" -print_final_stats=1 "${corpora[@]}" >"$log" 2>&1
    rc=$?
    rm -rf "$work"
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed 's/^/   /'
    if [ $rc -ne 0 ]; then
        echo "== $bin: FAILED (exit $rc), log $log:" >&2
        tail -n 40 "$log" >&2
        failed=1
    else
        echo "== $bin: ok"
    fi
done
exit $failed
