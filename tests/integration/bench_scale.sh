#!/usr/bin/env bash
# c1m bench at scale: ts8 and echo verified at 25,000 connections from 2
# client processes against `c1m serve --arch prefork --procs 2`.
# Usage: tests/integration/bench_scale.sh BUILD_DIR   (ports 19101)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PORT=19101
make_tmp bench_scale
KEYS="('conns_established','requests','errors','errors_by_kind','mismatches','lost')"

if [ ! -x "$C1M" ]; then
    bad "no $C1M: build first"; finish; exit 1
fi

"$C1M" serve --arch prefork --procs 2 --port $PORT --quiet >"$TMP/serve.log" 2>&1 &
SERVER=$!
stop_scale_server() { kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; } # children drain
on_exit stop_scale_server
if ! wait_port $PORT; then
    bad "server on port $PORT did not start"; finish; exit 1
fi

for proto in ts8 echo; do
    J=$TMP/$proto.json
    timeout 90 "$C1M" bench --proto $proto --size 64 --port $PORT --conns 25000 --procs 2 \
        --duration 3s --warmup 1s --quiet --json "$J" >"$TMP/$proto.out" 2>&1
    rc=$?
    [ $rc -eq 0 ] && ok "$proto: 25,000 connections, exit 0" || { bad "$proto: exit $rc"; tail -5 "$TMP/$proto.out"; }
    [ -s "$J" ] || { bad "$proto: no JSON"; continue; }
    jcheck "$J" "d['conns_target'] == 25000 and d['conns_established'] == 25000" "$proto: all 25,000 established" "$KEYS"
    jcheck "$J" "d['procs'] == 2" "$proto: 2 client processes" "$KEYS"
    # (how many is a rate: a time claim, printed by the bench, not checked)
    jcheck "$J" "d['requests'] > 0 and d['tps'] > 0" "$proto: requests measured" "$KEYS"
    jcheck "$J" "d['mismatches'] == 0 and d['lost'] == 0" "$proto: every reply verified, none lost" "$KEYS"
    # explicit source pairs can meet a port another program holds: retried, not fatal
    jcheck "$J" "d['errors'] == d['errors_by_kind']['source_unavailable']" "$proto: no error other than a busy source port" "$KEYS"
    jcheck "$J" "all(k in d['latency_us'] for k in ('min','mean','p50','p90','p99','p999','p9999','max'))" "$proto: latency keys" "$KEYS"
    jcheck "$J" "d['latency_us']['count'] == sum(b[2] for b in d['histogram']['buckets']) == d['sent'] - d['lost']" "$proto: histogram holds every request sent in the window" "$KEYS"
    jcheck "$J" "d['latency_us']['min'] <= d['latency_us']['p50'] <= d['latency_us']['p99'] <= d['latency_us']['max']" "$proto: percentiles ordered" "$KEYS"
done

finish
