#!/bin/bash
# The server at its open-file cap (RLIMIT_NOFILE lowered, hard and soft, to
# 128): connections it holds keep being served, the ones beyond wait, one
# log line says so (not one per attempt), and accepting resumes when
# connections close; its fd count stays under the cap and returns to its
# baseline. For each of single and workerpool, on epoll.
. "$(dirname "$0")/lib.sh"
port=21420
cap=128
hold_n=$(pick 400 2000)
make_tmp faults_fdcap
for arch in single "workerpool --workers 2"; do
    LOG=$TMP/serve.$RANDOM.log
    : >"$LOG"
    # shellcheck disable=SC2086
    (ulimit -n $cap && exec "$C1M" serve --port $port --proto echo --arch $arch --backend epoll) \
        2>>"$LOG" &
    SPID=$!
    PIDS+=("$SPID")
    server_up $port || { bad "$arch: did not start"; continue; }
    check "$arch: hard limit lowered ($(awk '/open files/ {print $4, $5}' /proc/$SPID/limits))" \
        test "$(awk '/open files/ {print $5}' /proc/$SPID/limits)" -eq $cap
    sleep 0.2
    base=$(fd_count "$SPID")
    # 40 echo clients get in first, then far more connections than the cap
    timeout 60 "$TC" echo $port 40 6 64 >"$TMP/echo.out" 2>&1 &
    ec=$!
    sleep 1
    timeout 60 "$TC" hold $port "$hold_n" 3 >"$TMP/hold.out" 2>&1 &
    hc=$!
    peak=0
    for _ in $(seq 30); do
        n=$(fd_count "$SPID"); [ "${n:-0}" -gt $peak ] && peak=$n
        sleep 0.1
    done
    check "$arch: alive at the cap" kill -0 "$SPID"
    check "$arch: fds stay under the cap (peak $peak of $cap, $hold_n connecting)" \
        test "$peak" -le $cap -a "$peak" -ge $((cap - 32))
    wait $hc
    wait $ec
    check "$arch: clients it held kept being served ($(cat "$TMP/echo.out"))" \
        grep -q 'mismatches=0 cut=0 lost=0 resets=0 stalled=0' "$TMP/echo.out"
    # the holders are gone: what waited in the backlog is accepted and
    # closed; then new clients are served
    sleep 1
    out=$(timeout 30 "$TC" echo $port 60 1 64)
    check "$arch: accepting resumes after connections close ($out)" test $? -eq 0
    wait_until 5 fds_at_most "$SPID" "$base"
    check "$arch: fd count back to its baseline ($base -> $(fd_count "$SPID"))" \
        test "$(fd_count "$SPID")" -eq "$base"
    lines=$(grep -c -i 'open-file\|not accepting' "$LOG")
    echo "     $arch: log lines about the cap: $lines"
    grep -i 'open-file\|not accepting' "$LOG" | head -3 | sed 's/^/     /'
    check "$arch: one log line about the cap, not one per attempt ($lines)" test "$lines" -eq 1
    stop_check "$arch at its cap"
done
finish
