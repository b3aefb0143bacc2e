#!/bin/bash
# c1m lab --experiment timers: timeouts off and the three timer designs in
# interleaved rounds, one summary line per design and per round, merged over
# the rounds, and the table with the ratio to timeouts off.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/c1m-lab-test.XXXXXX)
trap 'cleanup; rm -rf "$T"' EXIT

"$C1M" lab --experiment timers --archs single --dry-run >/dev/null 2>&1
check "--archs with --experiment timers exits 2" test $? -eq 2
out=$(timeout 180 "$C1M" lab --experiment timers --conns 500 --duration 1s --warmup 0s \
      --rounds 2 --port 65411 --no-plots --out "$T/t" 2>"$T/stderr")
rc=$?
check "timers experiment exits 0 (rc $rc)" test $rc -eq 0
merged=$(echo "$out" | sed -n '/^c1m lab: merged over rounds/,$p' | grep '^lab: ')
check "8 runs: 4 designs x 2 rounds" test "$(echo "$out" | grep -c '^lab: ')" -eq 12
for d in off wheel heap global-heap; do
    l=$(echo "$merged" | grep "^lab: arch=$d ")
    check "$d: merged line, all connections, zero mismatches, TPS > 0" \
        test "$(kv conns "$l")" = "500/500" -a "$(kv mismatches "$l")" = 0 -a "$(kv tps "$l")" -gt 0
    check "$d: percentiles ordered" \
        test "$(kv p50_us "$l")" -le "$(kv p99_us "$l")" -a "$(kv p99_us "$l")" -le "$(kv max_us "$l")"
done
check "rounds interleaved: round 2 starts with wheel" \
    sh -c "echo \"\$1\" | grep '^c1m lab: round 2/2' | head -1 | grep -q wheel" _ "$out"
check "table has the ratio to timeouts off" grep -q 'vs off' "$T/t/table.md"
# "vs off" recomputed from the merged summary lines: each design's TPS over
# the TPS of timeouts off (the table prints two decimals)
off_tps=$(kv tps "$(echo "$merged" | grep "^lab: arch=off ")")
rows=0
for d in off wheel heap global-heap; do
    tps=$(kv tps "$(echo "$merged" | grep "^lab: arch=$d ")")
    label=$d; [ "$d" = off ] && label="timeouts off"
    row=$(grep -E "^\| $label +\|" "$T/t/table.md")
    ratio=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $7); print $7}')
    check "table: $d 'vs off' = $tps / $off_tps (table: ${ratio:-none})" \
        awk -v r="${ratio:-x}" -v a="${tps:-0}" -v b="${off_tps:-0}" \
        'BEGIN { exit !(r ~ /^[0-9.]+$/ && b > 0 && (r - a / b) ^ 2 <= 0.0051 ^ 2) }'
done
finish
