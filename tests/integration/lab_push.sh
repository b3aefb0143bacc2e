#!/bin/bash
# c1m lab --experiment push: the plan (a row per count, the default 10k,
# 100k, 1M; counts the memory cannot hold dropped and said, none left
# refused; a list goes with push only), then a short run at 200 and 2,000
# WebSocket subscribers: one summary line and one lab.json row per count,
# every subscriber connected, messages delivered and none lost, the reach
# percentiles in order, server CPU per message and memory per connection
# present, the table and the plots. ~30 s.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/c1m-lab-push.XXXXXX)
trap 'cleanup; rm -rf "$T"' EXIT

out=$("$C1M" lab --experiment push --dry-run 2>&1)
rc=$?
rows=$(echo "$out" | grep -cE '^  [0-9.]+[KM]? +c1m serve --arch prefork .*--push-every')
dropped=$(echo "$out" | grep -c 'connections: not run, they need about')
check "dry run: exit 0 ($rc)" test $rc -eq 0
check "... the default counts 10k, 100k, 1M: each planned or dropped with a reason ($rows + $dropped)" \
    test $((rows + dropped)) -eq 3 -a "$rows" -ge 1
check "... 1M needs many server processes under the file cap" \
    sh -c "echo \"\$1\" | grep -q '^  1.00M .*--procs [0-9][0-9]'" _ "$out"
# no keep-alive ping inside a row's run (at 1M the server's default, every
# 10 s, is 100,000 pings and pongs a second: more than the deliveries)
check "... each row's --ws-ping outlasts its run (1M: 1232 s)" \
    sh -c "echo \"\$1\" | grep -q '^  1.00M .*--ws-ping 1232000ms'" _ "$out"
out=$("$C1M" lab --experiment push --conns 10k,10M --dry-run 2>&1)
rc=$?
check "10k,10M: 10M dropped with its memory need, 10k planned (rc $rc)" \
    sh -c "[ $rc -eq 0 ] && echo \"\$1\" | grep -q '10000000 connections: not run' &&
           echo \"\$1\" | grep -q 'plan (1 row)'" _ "$out"
"$C1M" lab --experiment push --conns 10M --dry-run >/dev/null 2>&1
check "10M alone does not fit: refused with exit 1" test $? -eq 1
"$C1M" lab --conns 200,2000 --dry-run >/dev/null 2>&1
check "a list of counts without --experiment push: exit 2" test $? -eq 2
"$C1M" lab --experiment push --conns 200,abc --dry-run >/dev/null 2>&1
check "a bad count in the list: exit 2" test $? -eq 2

port=65411
out=$(timeout 120 "$C1M" lab --experiment push --conns 200,2000 --duration 2s --warmup 1s \
      --port $port --out "$T/run" 2>"$T/stderr")
rc=$?
check "short push run exits 0 (rc $rc)" test $rc -eq 0
lines=$(echo "$out" | grep '^lab: push ')
check "one summary line per count" test "$(echo "$lines" | grep -c .)" -eq 2
for n in 200 2000; do
    l=$(echo "$lines" | grep "conns=[0-9]*/$n ")
    check "$n: all connected ($(kv conns "$l"))" test "$(kv conns "$l")" = "$n/$n"
    check "$n: deliveries > 0 ($(kv deliveries "$l")), lost 0 ($(kv lost "$l"))" \
        test "$(kv deliveries "$l")" -gt 0 -a "$(kv lost "$l")" = 0
    check "$n: ok=1" test "$(kv ok "$l")" = 1
done
J=$T/run/lab.json
jcheck "$J" "d['experiment'] == 'push' and d['conns'] == [200, 2000] and len(d['rows']) == 2" \
    "lab.json: experiment push, a row per count" "('experiment','conns')"
jcheck "$J" "[r['conns_target'] for r in d['rows']] == [200, 2000] and
             all(r['conns_established'] == r['conns_target'] and r['ok'] for r in d['rows'])" \
    "lab.json: every row established its count and is ok"
jcheck "$J" "all(r['push']['subscribers_closed'] == 0 and r['push']['ws_ping_ms'] > 60000
                 for r in d['rows'])" \
    "lab.json: no subscriber closed during the run, the keep-alive ping after the run"
jcheck "$J" "all(r['push']['lost'] == 0 and r['push']['deliveries'] > 0 and
                 r['push']['broadcasts'] >= 1 for r in d['rows'])" \
    "lab.json: deliveries > 0, at least one broadcast, lost 0 in every row"
jcheck "$J" "all(0 < p['reach_50_us'] <= p['reach_99_us'] <= p['reach_100_us'] and
                 p['p99_us'] == p['reach_99_us'] and p['p999_us'] <= p['reach_100_us']
                 for p in [r['push'] for r in d['rows']])" \
    "lab.json: 0 < reach 50 % <= reach 99 % <= reach 100 % (percentiles ordered)"
jcheck "$J" "all(p['server_cpu_per_msg_us'] >= 0 and p['server_rss_per_conn_bytes'] > 0 and
                 r['server_rss_bytes'] > 0 and r['server_cpu_s'] >= 0
                 for r, p in [(r, r['push']) for r in d['rows']])" \
    "lab.json: server CPU per message and RSS per connection present"
jcheck "$J" "sum(r['server_cpu_s'] for r in d['rows']) > 0" \
    "lab.json: the server's CPU was measured (over both rows)"
check "table.md has a row per count" \
    test "$(grep -cE '^\| +(200|2000) ' "$T/run/table.md")" -eq 2
check "bench waits 30 s for an upgrade (--connect-timeout 30s)" \
    grep -q -- '--connect-timeout 30s' "$T/run/push-200.bench.json"
check "a bench JSON per count, in push mode" \
    sh -c "grep -q '\"mode\": *\"push\"' '$T/run/push-200.bench.json' &&
           grep -q '\"mode\": *\"push\"' '$T/run/push-2000.bench.json'"
if command -v gnuplot >/dev/null; then
    for p in push_reach push_cost latency; do
        check "plot $p.png drawn" test -s "$T/run/$p.png"
    done
else
    skip_dep gnuplot "plots push_reach.png, push_cost.png, latency.png drawn"
fi
left=$(ps -eo args | grep -c "^c1m [s]erve .*--port $port\|^c1m [b]ench .*--port $port")
check "no c1m process of the run remains ($left)" test "$left" -eq 0
finish
