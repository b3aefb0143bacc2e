#!/bin/bash
# c1m lab: a short run of two architectures gives one consistent summary
# line per row (every connection established, no mismatch, TPS > 0,
# percentiles in order), the Markdown table, the JSON and (with gnuplot)
# the plots; usage errors exit 2; a run that cannot fit is refused.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/c1m-lab-test.XXXXXX)
trap 'cleanup; rm -rf "$T"' EXIT

"$C1M" lab --help | grep -q -- "--archs"
check "lab --help prints the options" test $? -eq 0
"$C1M" lab --no-such-flag 2>/dev/null
check "unknown flag exits 2" test $? -eq 2
"$C1M" lab --archs single,nope --dry-run >/dev/null 2>&1
check "unknown architecture exits 2" test $? -eq 2
out=$("$C1M" lab --backend epoll --conns 1000000 --dry-run 2>&1)
check "dry run for a million on epoll: exit 0" test $? -eq 0
check "... says how many server processes the file cap needs" \
    sh -c "echo \"\$1\" | grep -q 'server [0-9]* processes'" _ "$out"
check "... and the kernel memory it needs" sh -c "echo \"\$1\" | grep -q 'sockets x ~4 KiB'" _ "$out"
out=$("$C1M" lab --backend uring --conns 1000000 --archs single,workerpool --dry-run 2>&1)
check "dry run for a million on uring: exit 0" test $? -eq 0
check "... one server process, one bench process (rings, not open files)" \
    sh -c "echo \"\$1\" | grep -q 'need server 1 process and bench 1 process (uring'" _ "$out"
check "... the server is told --max-conns (it sizes its rings from it)" \
    sh -c "echo \"\$1\" | grep -q 'c1m serve --arch single --max-conns 1000000 '" _ "$out"
check "... workerpool (one ring per process) gets processes" \
    sh -c "echo \"\$1\" | grep -Eq 'c1m serve --arch workerpool --workers 4 --procs [0-9]+ --max-conns 1000000'" _ "$out"
out=$(C1M_BACKEND= "$C1M" lab --conns 1000 --archs single --dry-run 2>&1)
check "the default (auto) says which backend and why in one line" \
    sh -c "echo \"\$1\" | grep -Eq '^c1m lab: backend (uring|epoll) \(auto: '" _ "$out"
out=$("$C1M" lab --conns 10M --dry-run 2>&1)
rc=$?
check "10M connections do not fit in this memory: refused with exit 1" test $rc -eq 1
check "... politely, with a size that fits" sh -c "echo \"\$1\" | grep -q 'does not fit.*try --conns'" _ "$out"

port=65401
N=2000
out=$(timeout 120 "$C1M" lab --conns $N --archs single,reuseport --duration 2s --warmup 1s \
      --port $port --out "$T/run" 2>"$T/stderr")
rc=$?
check "short lab run exits 0 (rc $rc)" test $rc -eq 0
lines=$(echo "$out" | grep '^lab: ')
check "one summary line per architecture" test "$(echo "$lines" | grep -c '^lab: arch=')" -eq 2
for arch in single reuseport; do
    l=$(echo "$lines" | grep "^lab: arch=$arch ")
    check "$arch: all $N connections established ($(kv conns "$l"))" test "$(kv conns "$l")" = "$N/$N"
    check "$arch: zero mismatches" test "$(kv mismatches "$l")" = 0
    check "$arch: TPS > 0 ($(kv tps "$l"))" test "$(kv tps "$l")" -gt 0
    p50=$(kv p50_us "$l") p99=$(kv p99_us "$l") p999=$(kv p999_us "$l") max=$(kv max_us "$l")
    check "$arch: 0 < p50 <= p99 <= p99.9 <= max ($p50 $p99 $p999 $max)" \
        test "$p50" -gt 0 -a "$p50" -le "$p99" -a "$p99" -le "$p999" -a "$p999" -le "$max"
    check "$arch: server CPU and memory measured" \
        test "$(kv cpu_pct "$l")" -gt 0 -a "$(kv rss_per_conn "$l")" -gt 0
    check "$arch: ok=1" test "$(kv ok "$l")" = 1
done
check "table.md has a row per architecture" \
    test "$(grep -cE '^\| (single|reuseport) ' "$T/run/table.md")" -eq 2
check "lab.json written" test -s "$T/run/lab.json"
if command -v jq >/dev/null; then
    check "lab.json: two rows, established = requested" \
        test "$(jq '[.rows[] | select(.conns_established == .conns_target and .ok)] | length' \
                "$T/run/lab.json")" -eq 2
    check "lab.json: percentiles ordered" \
        test "$(jq '[.rows[].latency_us | select(.p50 <= .p99 and .p99 <= .p999 and .p999 <= .max)] | length' \
                "$T/run/lab.json")" -eq 2
else
    skip_dep jq "lab.json: rows and percentiles read back"
fi
check "a bench JSON per architecture" test -s "$T/run/single.bench.json" -a -s "$T/run/reuseport.bench.json"
if command -v gnuplot >/dev/null; then
    for p in tps latency tps_time; do
        check "plot $p.png drawn" test -s "$T/run/$p.png"
    done
else
    skip_dep gnuplot "plots tps.png, latency.png, tps_time.png drawn"
fi
left=$(ps -eo args | grep -c "^c1m [s]erve .*--port $port\|^c1m [b]ench .*--port $port")
check "no c1m process of the run remains ($left)" test "$left" -eq 0
finish
