#!/bin/bash
# Run every tests/integration/*.sh against one build directory; print each
# script's summary and a total "N passed, M failed" line.
set -u
B=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 scripts_failed=()
for t in "$here"/integration/*.sh; do
    [ "$(basename "$t")" = lib.sh ] && continue
    echo "== $(basename "$t") ($B)"
    t0=$SECONDS
    out=$(timeout 900 bash "$t" "$B" 2>&1)
    rc=$?
    echo "   $((SECONDS - t0)) s"
    echo "$out" | grep -E '^(FAIL|ok)' | grep -E '^FAIL' ; echo "$out" | tail -1
    p=$(echo "$out" | tail -1 | awk '/passed/ {print $1}')
    f=$(echo "$out" | tail -1 | awk '/passed/ {print $3}')
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
    if [ $rc -ne 0 ]; then
        scripts_failed+=("$(basename "$t")")
        [ "${f:-0}" -eq 0 ] && fail=$((fail + 1))
        echo "$out" | tail -40
    fi
done
echo "integration ($B): $pass passed, $fail failed"
[ ${#scripts_failed[@]} -eq 0 ]
