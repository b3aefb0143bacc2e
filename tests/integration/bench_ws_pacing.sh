#!/usr/bin/env bash
# c1m bench --proto ws against servers that answer upgrades slowly or not
# at all: a WebSocket connect is in flight (in the connect window, under
# --connect-timeout) until its 101 arrives, and a close before the 101 is a
# failed attempt, retried. ws_slow_server.py answers RATE upgrades/s behind
# a small listen backlog and reports the longest accept queue it saw.
#   1. the accept queue never holds more than the connect window (before:
#      TCP's connect freed the place, the queue overflowed: 17 of 16)
#   2. handshakes the server closes without an answer are retried: every
#      connection ends up subscribed, none counted "closed by peer"
#   3. an answer that is no 101 (404) fails the connection, not retried
# Usage: tests/integration/bench_ws_pacing.sh BUILD_DIR   (ports 19171-19173)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
make_tmp bench_ws_pacing
P_SLOW=19171 P_SHED=19172 P_HTTP=19173

if [ ! -x "$C1M" ]; then
    bad "no $C1M: build first"; finish; exit 1
fi

# slow_server PORT ARGS...: ws_slow_server.py in the background (SRV)
slow_server() {
    local port=$1; shift
    port_free "$port" || { bad "port $port is taken"; return 1; }
    python3 "$HERE/ws_slow_server.py" "$port" --stats "$TMP/stats.$port" "$@" \
        >"$TMP/slow.$port.log" 2>&1 &
    SRV=$!
    PIDS+=("$SRV")
    wait_port "$port"
}
stop_slow() { kill -TERM "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; }
stat() { sed -n "s/.*\b$2=\([0-9]*\).*/\1/p" "$TMP/stats.$1"; }

# 1. 300 subscribers, 8 connects in flight, a server of 200 upgrades/s
#    behind a backlog of 16
slow_server $P_SLOW --rate 200 --backlog 16
timeout 60 "$C1M" bench --proto ws --push --port $P_SLOW --conns 300 --procs 1 --loops 1 \
    --connect-window 8 --duration 2s --warmup 0 --quiet --json "$TMP/slow.json" \
    >"$TMP/slow.out" 2>&1
rc=$?
stop_slow
check "slow server: bench exits 0 (rc $rc)" test $rc -eq 0
q=$(stat $P_SLOW maxqueue)
check "slow server: the accept queue held at most the window of 8 ($q)" test "${q:-99}" -le 8
check "slow server: every upgrade answered once ($(stat $P_SLOW upgraded) of 300)" \
    test "$(stat $P_SLOW upgraded)" = 300 -a "$(stat $P_SLOW accepted)" = 300
jcheck "$TMP/slow.json" "d['conns_established'] == 300 and d['connect_attempts'] == 300 and
                         d['errors'] == 0 and d['requests'] > 0 and d['lost'] == 0" \
    "slow server: 300 subscribed at the first attempt, no error, pushes delivered" \
    "('conns_established','connect_attempts','errors','errors_by_kind','requests')"

# 2. the server closes the first 50 upgrade requests, no answer
slow_server $P_SHED --rate 300 --backlog 64 --close-first 50
timeout 60 "$C1M" bench --proto ws --push --port $P_SHED --conns 300 --procs 1 --loops 1 \
    --connect-window 8 --duration 2s --warmup 0 --quiet --json "$TMP/shed.json" \
    >"$TMP/shed.out" 2>&1
rc=$?
stop_slow
closed=$(stat $P_SHED closed)
check "shedding server: bench exits 0 (rc $rc)" test $rc -eq 0
check "shedding server: all 300 upgraded in the end ($(stat $P_SHED upgraded), $closed closed)" \
    test "$(stat $P_SHED upgraded)" = 300 -a "${closed:-0}" = 50
jcheck "$TMP/shed.json" "d['conns_established'] == 300 and d['conns_closed_by_peer'] == 0 and
                         d['errors_by_kind']['ws_handshake_closed'] == ${closed:-0} and
                         d['connect_attempts'] == 300 + ${closed:-0}" \
    "shedding server: each close before the 101 is an error retried, none 'closed by peer'" \
    "('conns_established','conns_closed_by_peer','connect_attempts','errors_by_kind')"

# 3. a route that is no WebSocket: 404, failed at once
start_server $P_HTTP --proto http --port $P_HTTP --quiet
timeout 60 "$C1M" bench --proto ws --path /nope --port $P_HTTP --conns 20 --procs 1 \
    --loops 1 --duration 1s --warmup 0 --quiet --json "$TMP/404.json" >"$TMP/404.out" 2>&1
rc=$?
check "404 instead of 101: bench exits 1 (rc $rc)" test $rc -eq 1
jcheck "$TMP/404.json" "d['conns_established'] == 0 and d['conns_failed'] == 20 and
                        d['connect_attempts'] == 20 and d['errors_by_kind']['bad_response'] == 20" \
    "404 instead of 101: 20 failed, not retried, counted bad_response" \
    "('conns_established','conns_failed','connect_attempts','errors_by_kind')"
stop_check "c1m serve --proto http"
finish
