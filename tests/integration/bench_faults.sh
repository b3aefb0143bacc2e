#!/usr/bin/env bash
# c1m bench when things go wrong, plus the modes that need a live server:
# no server listening, a server that drops every connection mid-run, Ctrl-C,
# bad input, the fd-limit pre-flight, open loop (--rate), --pipeline, and
# c1m merge of two runs that measured the same window (--start-at).
# Usage: tests/integration/bench_faults.sh BUILD_DIR   (ports 19111-19113)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
P_NONE=19111   # nothing listens here
P_DROP=19112   # a server killed mid-run
P_LIVE=19113   # a server for the rest
make_tmp bench_faults

start_bench_server() { # PORT: a single-process server, killable with one signal
    "$C1M" serve --arch reuseport --loops 2 --port "$1" --quiet >"$TMP/serve.$1.log" 2>&1 &
    SRV=$!
    PIDS+=("$SRV")
    wait_port "$1"
}

if [ ! -x "$C1M" ]; then
    bad "no $C1M: build first"; finish; exit 1
fi

# 1. nothing listening: clear message, non-zero exit
timeout 30 "$C1M" bench --port $P_NONE --conns 200 --duration 1s --retries 1 --quiet \
    --json "$TMP/none.json" >"$TMP/none.out" 2>&1
rc=$?
[ $rc -ne 0 ] && ok "no server: exit $rc" || bad "no server: exit 0"
grep -q "connection refused" "$TMP/none.out" && ok "no server: says connection refused" \
    || bad "no server: message missing"
jcheck "$TMP/none.json" "d['conns_established'] == 0 and d['errors_by_kind']['connect_refused'] >= 200" \
    "no server: refusals counted by kind"

# 2. the server drops every connection mid-run
if start_bench_server $P_DROP; then
    DROP_SRV=$SRV
    ( sleep 2.5; kill -9 "$DROP_SRV" ) &
    KILLER=$!
    start=$(date +%s)
    timeout 60 "$C1M" bench --proto echo --port $P_DROP --conns 1000 --duration 10s --warmup 500ms \
        --quiet --json "$TMP/drop.json" >"$TMP/drop.out" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    wait $KILLER 2>/dev/null
    { wait "$DROP_SRV"; } 2>/dev/null
    [ $rc -eq 0 ] && ok "server dropped: exit 0 (requests were measured)" || bad "server dropped: exit $rc"
    jcheck "$TMP/drop.json" "d['conns_established'] == 1000 and d['conns_closed_by_peer'] + d['conns_closed_on_error'] == 1000" \
        "server dropped: every connection counted as closed by the peer"
    jcheck "$TMP/drop.json" "d['requests'] > 0 and d['mismatches'] == 0" "server dropped: requests before the drop measured"
    [ $took -lt 9 ] && ok "server dropped: run ended early (${took}s)" || bad "server dropped: took ${took}s"
    grep -q "no connection left" "$TMP/drop.out" && ok "server dropped: says why it ended" \
        || bad "server dropped: no explanation"
else
    bad "server on $P_DROP did not start"
fi

if ! start_bench_server $P_LIVE; then
    bad "server on $P_LIVE did not start"; finish; exit 1
fi

# 3. Ctrl-C prints the results so far
timeout 60 "$C1M" bench --port $P_LIVE --conns 500 --duration 30s --warmup 500ms \
    --json "$TMP/int.json" >"$TMP/int.out" 2>&1 &
BENCH=$!
PIDS+=("$BENCH")
sleep 2.5
kill -INT $BENCH
start=$(date +%s)
wait $BENCH
rc=$?
took=$(( $(date +%s) - start ))
[ $took -le 5 ] && ok "Ctrl-C: stopped within ${took}s" || bad "Ctrl-C: took ${took}s"
grep -q "INTERRUPTED" "$TMP/int.out" && ok "Ctrl-C: report printed" || bad "Ctrl-C: no report"
jcheck "$TMP/int.json" "d['interrupted'] and d['requests'] > 0 and 0 < d['window']['duration_s'] < 5" \
    "Ctrl-C: partial window measured"

# 4. bad input
timeout 10 "$C1M" bench --url ftp://127.0.0.1/ --quiet >/dev/null 2>&1
[ $? -eq 2 ] && ok "bad URL scheme: exit 2" || bad "bad URL scheme"
timeout 10 "$C1M" bench --url http://127.0.0.1:99999/ --quiet >/dev/null 2>&1
[ $? -eq 2 ] && ok "bad URL port: exit 2" || bad "bad URL port"
timeout 10 "$C1M" bench --proto smtp --quiet >/dev/null 2>&1
[ $? -eq 2 ] && ok "bad --proto: exit 2" || bad "bad --proto"
timeout 10 "$C1M" bench --backend epoll --port $P_LIVE --conns 50000 --procs 1 >"$TMP/fit.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "need at least 3 processes" "$TMP/fit.out" \
    && ok "50,000 conns in 1 process: refused, says 3 processes are needed" \
    || { bad "fd-limit pre-flight (exit $rc)"; cat "$TMP/fit.out"; }

# 5. open loop at a fixed rate: the rate is kept, both latencies reported
timeout 60 "$C1M" bench --port $P_LIVE --conns 500 --rate 5000 --duration 3s --warmup 500ms \
    --quiet --json "$TMP/rate.json" >"$TMP/rate.out" 2>&1
[ $? -eq 0 ] && ok "--rate: exit 0" || bad "--rate: failed"
jcheck "$TMP/rate.json" "d['mode'] == 'open' and abs(d['tps'] - 5000) < 500" "--rate 5000: TPS within 10%"
jcheck "$TMP/rate.json" "'service_time_us' in d and d['service_time_us']['p50'] <= d['latency_us']['p50']" \
    "--rate: service time beside the corrected latency"

# 6. pipelining, echo verified
timeout 60 "$C1M" bench --proto echo --size 200 --port $P_LIVE --conns 300 --pipeline 4 --loops 2 \
    --duration 2s --warmup 500ms --quiet --json "$TMP/pipe.json" >"$TMP/pipe.out" 2>&1
[ $? -eq 0 ] && ok "--pipeline 4: exit 0" || bad "--pipeline 4: failed"
jcheck "$TMP/pipe.json" "d['pipeline'] == 4 and d['requests'] > 0 and d['mismatches'] == 0 and d['lost'] == 0" \
    "--pipeline 4: replies verified"

# 7. two invocations over the same window, merged exactly
AT=@$(( $(date +%s) + 2 ))
timeout 60 "$C1M" bench --port $P_LIVE --conns 200 --duration 2s --warmup 500ms --start-at "$AT" \
    --quiet --json "$TMP/m1.json" >/dev/null 2>&1 &
M1=$!
timeout 60 "$C1M" bench --port $P_LIVE --conns 200 --duration 2s --warmup 500ms --start-at "$AT" \
    --quiet --json "$TMP/m2.json" >/dev/null 2>&1 &
M2=$!
PIDS+=("$M1" "$M2")
wait $M1; r1=$?
wait $M2; r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && ok "--start-at: both runs measured" || bad "--start-at runs failed"
timeout 30 "$C1M" merge --json "$TMP/m.json" --percentiles "$TMP/m.hgrm" "$TMP/m1.json" "$TMP/m2.json" \
    >"$TMP/merge.out" 2>&1
[ $? -eq 0 ] && ok "merge: exit 0" || bad "merge failed"
python3 - "$TMP/m1.json" "$TMP/m2.json" "$TMP/m.json" <<'PY' && ok "merge: counts and histograms added exactly" || bad "merge: not exact"
import json, sys
a, b, m = (json.load(open(f)) for f in sys.argv[1:])
assert a['window']['start_ns'] == b['window']['start_ns'], "same window"
assert m['requests'] == a['requests'] + b['requests']
assert m['conns_established'] == a['conns_established'] + b['conns_established']
assert abs(m['tps'] - (a['tps'] + b['tps'])) < 1e-6
assert m['latency_us']['count'] == a['latency_us']['count'] + b['latency_us']['count']
assert m['latency_us']['min'] == min(a['latency_us']['min'], b['latency_us']['min'])
assert m['latency_us']['max'] == max(a['latency_us']['max'], b['latency_us']['max'])
cnt = {}
for h in (a, b):
    for lo, hi, n in h['histogram']['buckets']:
        cnt[lo] = cnt.get(lo, 0) + n
assert cnt == {lo: n for lo, hi, n in m['histogram']['buckets']}
PY
grep -q "Percentile" "$TMP/m.hgrm" && grep -q "#\[Max" "$TMP/m.hgrm" && ok "merge: .hgrm written" \
    || bad "merge: .hgrm"
timeout 10 "$C1M" merge "$TMP/none.out" >/dev/null 2>&1
[ $? -ne 0 ] && ok "merge: rejects a file that is not a result" || bad "merge accepted garbage"

finish
