#!/usr/bin/env bash
# Binary upgrade in place (SIGUSR2) and drain (issue 14), ports 19140-19149.
#  1. every architecture: HTTP load (c1m bench: 1,000 keep-alive connections,
#     closed loop; wrk beside it) while the server is upgraded five times in
#     a row: no request without an answer, none slower than 2 s, no refused
#     or reset connection attempt, every upgrade completes, no process and
#     no fd left behind, wrk reports no socket error;
#  2. echo at 10,000 connections, --drain-timeout 2s: the old process exits
#     within the deadline plus one second; clients see a FIN, never a RST
#     nor a wrong byte;
#  3. failed upgrades: a binary that exits at once, one that is never ready
#     (--upgrade-grace), a second SIGUSR2 during an upgrade: the old server
#     keeps serving, says why, and no request fails.
# Usage: tests/integration/upgrade.sh BUILD_DIR   (about 2.5 minutes)
#        ONLY="single echo-single exits-at-once" ...: only those cases
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
make_tmp upgrade
PORT=19140
UPGRADES=5
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

if [ ! -x "$C1M" ]; then
    echo "no $C1M: build first"; echo "0 passed, 1 failed"; exit 1
fi

# gone PID: the process has exited (reaped, or a zombie left to init: an
# upgraded server's parent is the process it replaced, which exited)
gone() { [ ! -e /proc/"$1" ] || grep -q '^State:.*Z' /proc/"$1"/status 2>/dev/null; }
wait_gone() { # PID SECONDS
    local i
    for i in $(seq $(( $2 * 20 ))); do gone "$1" && return 0; sleep 0.05; done
    return 1
}
# wait_pid_change FILE OLD SECONDS: the pid file names another process
wait_pid_change() {
    local i
    for i in $(seq $(( $3 * 20 ))); do
        [ -s "$1" ] && [ "$(cat "$1")" != "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
tree_pids() { # PID: it and its children (prefork)
    echo "$1"; pgrep -P "$1" 2>/dev/null
}
fds_of_tree() { # PID: open fds of it and its children
    local n=0 p
    for p in $(tree_pids "$1"); do n=$((n + $(fd_count "$p"))); done
    echo $n
}

# ---- 1. HTTP under load, five upgrades in a row ---------------------------
http_upgrades() { # NAME ARGS...
    local name=$1; shift
    want "$name" || return 0
    local pf=$TMP/$name.pid log=$TMP/$name.log
    rm -f "$pf"
    "$C1M" serve --proto http --port $PORT --pid-file "$pf" --drain-timeout 3s \
        --quiet "$@" >"$log" 2>&1 &
    local first=$!
    PIDS+=("$first")
    if ! wait_port $PORT || ! wait_pid_change "$pf" "" 5; then
        bad "$name: server did not start"; kill -9 "$first"; return
    fi
    sleep 0.3 # every prefork child listening
    local fds0; fds0=$(fds_of_tree "$first")
    timeout 60 "$C1M" bench --proto http --port $PORT --conns 1000 --duration 5s \
        --warmup 500ms --interval 500ms --quiet --json "$TMP/$name.json" \
        >"$TMP/$name.bench" 2>&1 &
    local bpid=$!
    timeout 60 wrk -t1 -c50 -d6s "http://127.0.0.1:$PORT/" >"$TMP/$name.wrk" 2>&1 &
    local wpid=$!
    sleep 1.2
    local cur=$first served=("$first") done_ok=0 i
    for i in $(seq $UPGRADES); do
        kill -USR2 "$cur"
        if wait_pid_change "$pf" "$cur" 10; then
            cur=$(cat "$pf"); served+=("$cur"); PIDS+=("$cur"); done_ok=$((done_ok + 1))
        fi
        sleep 0.4
    done
    wait $bpid; local brc=$?
    wait $wpid
    check "$name: $UPGRADES upgrades completed ($done_ok)" test "$done_ok" -eq $UPGRADES
    check "$name: each old server said the new one was ready" \
        test "$(grep -c 'is ready' "$log")" -eq $UPGRADES
    check "$name: bench exit 0" test $brc -eq 0
    jcheck "$TMP/$name.json" "d['requests'] > 0 and d['lost'] == 0 and d['unsent'] == 0 and sum(v['lost'] for v in d['intervals']) == 0" \
        "$name: every request answered" "('requests','lost','unsent')"
    jcheck "$TMP/$name.json" "d['latency_us']['max'] < 2000000" "$name: none slower than 2 s" \
        "('latency_us',)"
    jcheck "$TMP/$name.json" "sum(d['errors_by_kind'].values()) == 0 and d['conns_closed_on_error'] == 0 and sum(v['resets'] + v['connect_errors'] for v in d['intervals']) == 0" \
        "$name: no refused or reset connection" "('errors_by_kind','conns_closed_on_error')"
    jcheck "$TMP/$name.json" "d['mismatches'] == 0 and d['http']['non_2xx'] == 0 and d['reconnects'] >= 1000" \
        "$name: only 200s; keep-alive connections ended by a drain reconnected" \
        "('mismatches','reconnects')"
    check "$name: wrk: no socket error, only 2xx" \
        bash -c "grep -q 'requests in' '$TMP/$name.wrk' && ! grep -qE 'Socket errors|Non-2xx' '$TMP/$name.wrk'"
    sleep 0.5 # the last upgrade's keep-alive reconnects settle
    local fds1; fds1=$(fds_of_tree "$cur")
    check "$name: no fd left behind (serving tree: $fds0 fds at start, $fds1 after $UPGRADES upgrades)" \
        test "$fds1" -le "$fds0"
    kill -TERM "$cur"
    local p all_gone=1
    for p in "${served[@]}"; do wait_gone "$p" 10 || { all_gone=0; echo "  still running: $p"; }; done
    check "$name: no process left behind (${#served[@]} servers)" test $all_gone -eq 1
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null
    check "$name: nothing listens after the last one stopped" test $? -ne 0
    check "$name: drain summaries ($((UPGRADES + 1)))" \
        test "$(grep -c 'drained: ' "$log")" -ge $((UPGRADES + 1))
    wait "$first" 2>/dev/null
}

http_upgrades single --arch single
http_upgrades reuseport --arch reuseport --loops 2
http_upgrades dispatch --arch dispatch --loops 2
http_upgrades exclusive --arch exclusive --loops 2
http_upgrades workerpool --arch workerpool --workers 4
http_upgrades prefork --arch prefork --procs 2
http_upgrades prefork-reuseport --arch prefork --procs 2 --prefork-reuseport

# ---- 2. echo at 10,000 connections, --drain-timeout 2s ----------------------
echo_drain() { # NAME ARGS...
    local name=$1; shift
    want "$name" || return 0
    local pf=$TMP/$name.pid log=$TMP/$name.log
    rm -f "$pf"
    "$C1M" serve --proto echo --port $PORT --pid-file "$pf" --drain-timeout 2s \
        --quiet "$@" >"$log" 2>&1 &
    local first=$!
    PIDS+=("$first")
    if ! wait_port $PORT || ! wait_pid_change "$pf" "" 5; then
        bad "$name: server did not start"; kill -9 "$first"; return
    fi
    timeout 60 "$C1M" bench --proto echo --port $PORT --conns 10000 --procs 2 \
        --duration 8s --warmup 0s --quiet --json "$TMP/$name.json" >"$TMP/$name.bench" 2>&1 &
    local bpid=$!
    sleep 2
    kill -USR2 "$first"
    local t0; t0=$(date +%s%N)
    if wait_pid_change "$pf" "$first" 10; then
        local t1; t1=$(date +%s%N)
        PIDS+=("$(cat "$pf")")
        wait_gone "$first" 10
        local t2; t2=$(date +%s%N)
        local ms=$(( (t2 - t1) / 1000000 ))
        echo "  $name: old server exited ${ms} ms after the new one was ready (deadline 2000 ms)"
        check "$name: old process exited within the deadline + 1 s (${ms} ms)" test $ms -le 3000
    else
        bad "$name: the upgrade did not complete"
    fi
    wait $bpid
    jcheck "$TMP/$name.json" "d['conns_established'] == 10000 and d['conns_closed_by_peer'] == 10000 and d['conns_closed_on_error'] == 0 and d['errors_by_kind']['reset'] == 0" \
        "$name: 10,000 clients saw a clean close (FIN), none reset" \
        "('conns_established','conns_closed_by_peer','conns_closed_on_error','errors_by_kind')"
    jcheck "$TMP/$name.json" "d['requests'] > 0 and d['mismatches'] == 0" \
        "$name: never a wrong byte" "('requests','mismatches')"
    check "$name: the old server closed them at the deadline" \
        grep -qE 'drained: [0-9]+ connections closed cleanly, [1-9][0-9]* closed at the deadline' "$log"
    kill -TERM "$(cat "$pf")"
    wait_gone "$(cat "$pf")" 10
    wait "$first" 2>/dev/null
}

echo_drain echo-single --arch single
echo_drain echo-reuseport --arch reuseport --loops 2

# ---- 3. failed upgrades ---------------------------------------------------------
printf '#!/bin/sh\nsleep 1\nexit 3\n' >"$TMP/slow_fail.sh"
printf '#!/bin/sh\nexec sleep 30\n' >"$TMP/never_ready.sh"
chmod +x "$TMP/slow_fail.sh" "$TMP/never_ready.sh"
failed_upgrade() { # NAME EXEC GRACE EXPECT
    local name=$1 exe=$2 grace=$3 expect=$4
    want "$name" || return 0
    local log=$TMP/$name.log
    "$C1M" serve --proto http --port $PORT --upgrade-exec "$exe" --upgrade-grace "$grace" \
        --quiet >"$log" 2>&1 &
    local srv=$!
    PIDS+=("$srv")
    wait_port $PORT || { bad "$name: server did not start"; return; }
    timeout 30 "$C1M" bench --proto http --port $PORT --conns 200 --duration 3s \
        --warmup 0s --quiet --json "$TMP/$name.json" >"$TMP/$name.bench" 2>&1 &
    local bpid=$!
    sleep 0.5
    kill -USR2 "$srv"
    if [ "$name" = slow-fail ]; then # a second SIGUSR2 while the first is in progress
        local i; for i in $(seq 40); do grep -q 'upgrade: started' "$log" && break; sleep 0.05; done
        kill -USR2 "$srv"
    fi
    wait $bpid; local brc=$?
    check "$name: says why ($expect)" grep -q "upgrade failed: .*$expect.*still serving" "$log"
    check "$name: the old server still serves" kill -0 "$srv"
    check "$name: bench exit 0" test $brc -eq 0
    jcheck "$TMP/$name.json" "d['requests'] > 0 and d['lost'] == 0 and sum(d['errors_by_kind'].values()) == 0 and d['http']['non_2xx'] == 0 and d['reconnects'] == 0" \
        "$name: no failed request" "('requests','lost','errors_by_kind','reconnects')"
    [ "$name" = slow-fail ] && check "$name: a second SIGUSR2 during the upgrade is refused" \
        grep -q 'SIGUSR2 refused: an upgrade is in progress' "$log"
    kill -TERM "$srv"; wait_gone "$srv" 10; wait "$srv" 2>/dev/null
}
failed_upgrade exits-at-once /bin/false 10s "exited with status 1 before it was ready"
failed_upgrade slow-fail "$TMP/slow_fail.sh" 10s "exited with status 3"
failed_upgrade never-ready "$TMP/never_ready.sh" 1s "not ready within 1000 ms"
finish
