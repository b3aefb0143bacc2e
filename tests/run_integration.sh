#!/bin/bash
# Run every tests/integration/*.sh against one build directory; print each
# script's FAIL and SKIP lines (with their reasons) and its summary, then a
# total "N passed, M failed, K skipped" line and every skip again.
# A script that exits non-zero, or whose last line is not a summary, counts
# as a failure. With CI set, a missing tool that scripts/install-deps.sh
# installs is a failure inside the scripts (tests/integration/lib.sh:
# skip_dep); skips that remain are properties of the machine.
set -u
B=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 skipped=0 scripts_failed=() skips=()
# Suites that test the command line, the documentation's examples, the
# process hand-over of an upgrade, and two that measure the load generator
# (the bench's intervals, broadcast delivery counts in a window: thresholds
# for an optimised build) run against the release build only: the
# sanitizer build would add minutes to CI without reaching code the other
# suites do not already run under it. Said, not hidden:
RELEASE_ONLY="docs_examples.sh upgrade.sh bench_intervals.sh ws_broadcast.sh"
case $B in
*asan*) echo "not run against $B (release build only, see tests/run_integration.sh): $RELEASE_ONLY" ;;
*) RELEASE_ONLY= ;;
esac
# The suites that exercise the engine run again on the uring backend
# (tests/integration/lib.sh's start_server honours C1M_BACKEND); under ASan
# only serve_archs (every architecture): serve_timeouts' timing bounds did
# not hold under ASan on uring on a loaded machine (a 1 s idle timeout
# closed at 0.989 s once; 15,000 timeouts at 2 s took over 2.5 s once).
URING_SUITES="serve_archs serve_timeouts http_proto"
case $B in *asan*) URING_SUITES="serve_archs" ;; esac
runs=()
for t in "$here"/integration/*.sh; do
    name=$(basename "$t")
    [ "$name" = lib.sh ] && continue
    case " $RELEASE_ONLY " in *" $name "*) continue ;; esac
    runs+=("$t:")
done
for s in $URING_SUITES; do runs+=("$here/integration/$s.sh:uring"); done
summary_re='^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$'
for r in "${runs[@]}"; do
    t=${r%:*} be=${r##*:}
    name="$(basename "$t")${be:+ (backend $be)}"
    echo "== $name ($B)"
    t0=$SECONDS
    out=$(C1M_BACKEND=$be timeout 900 bash "$t" "$B" 2>&1)
    rc=$?
    echo "   $((SECONDS - t0)) s"
    echo "$out" | grep -E '^(FAIL|SKIP)'
    while IFS= read -r l; do skips+=("$name: ${l#SKIP - }"); done < <(echo "$out" | grep -E '^SKIP')
    last=$(echo "$out" | tail -1)
    echo "$last"
    if [[ $last =~ $summary_re ]]; then
        p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} k=${BASH_REMATCH[4]:-0}
    else
        p=0 f=1 k=0
        echo "   (no summary line: counted as a failure)"
    fi
    pass=$((pass + p)); fail=$((fail + f)); skipped=$((skipped + k))
    if [ $rc -ne 0 ] || [ "$f" -ne 0 ]; then
        scripts_failed+=("$name")
        [ "$f" -eq 0 ] && fail=$((fail + 1))
        echo "$out" | tail -40
    fi
done
if [ ${#skips[@]} -gt 0 ]; then
    echo "skipped checks ($B):"
    printf '   %s\n' "${skips[@]}"
fi
[ ${#scripts_failed[@]} -gt 0 ] && echo "failed scripts ($B): ${scripts_failed[*]}"
echo "integration ($B): $pass passed, $fail failed, $skipped skipped"
[ ${#scripts_failed[@]} -eq 0 ]
