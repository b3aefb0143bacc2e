#!/bin/bash
# Peer resets, half-closes, abrupt exits and a client that never reads:
# no descriptor or memory leaks (fd count back to baseline, no server
# socket left open: the same checks on io_uring, whose connections are not
# fds), other clients unaffected.
. "$(dirname "$0")/lib.sh"
# sockets of the server's side of PORT the server has not closed (ones it
# closed may still be in FIN-WAIT or TIME-WAIT: the kernel's, not a leak)
server_conns() { ss -Htn state established state close-wait "( sport = :$1 )" | wc -l; }
for arch in "single" "reuseport --loops 2" "workerpool --workers 2"; do
    port=$((21100 + RANDOM % 50))
    # shellcheck disable=SC2086
    start_server $port --proto echo --arch $arch || { bad "$arch: server did not start"; continue; }
    sleep 0.2
    base=$(fd_count "$SPID")
    out=$(timeout 30 "$TC" reset $port 500)
    check "$arch: 500 resetting clients ($out)" test $? -eq 0
    out=$(timeout 30 "$TC" half $port 300 100)
    check "$arch: 300 half-closing clients get the whole echo, then EOF ($out)" test $? -eq 0
    timeout 30 "$TC" hold $port 400 3 >/dev/null &
    hold=$!
    # counted by the kernel's sockets, not the server's fds: on io_uring
    # connections are direct descriptors, not open files
    for _ in $(seq 25); do held=$(server_conns $port); [ "$held" -ge 400 ] && break; sleep 0.1; done
    check "$arch: holds 400 idle connections ($held)" test "$held" -ge 400
    wait $hold  # the client process exits: every socket closes at once
    rss0=$(rss_kb "$SPID")
    timeout 30 "$TC" noread $port 2 >/dev/null &
    nr=$!
    out=$(timeout 30 "$TC" echo $port 200 1.5 64)
    check "$arch: echo clients unaffected by a client that never reads ($out)" test $? -eq 0
    wait $nr
    rss1=$(rss_kb "$SPID")
    check "$arch: a client that never reads does not grow memory without bound (RSS $rss0 -> $rss1 KiB)" \
        test "${rss1:-gone}" -lt $((${rss0:-0} + 65536))
    for _ in $(seq 50); do [ "$(fd_count "$SPID")" -le "$base" ] && break; sleep 0.1; done
    check "$arch: fd count back to baseline ($base -> $(fd_count "$SPID"))" test "$(fd_count "$SPID")" -le "$base"
    for _ in $(seq 50); do [ "$(server_conns $port)" -eq 0 ] && break; sleep 0.1; done
    check "$arch: no connection left open ($(server_conns $port))" test "$(server_conns $port)" -eq 0
    stop_server
    check "$arch: exits 0" test "$SRC" -eq 0
done
finish
