#!/bin/bash
# Prefork with the shared (inherited) listener spreads connections evenly
# (issue 12 item 8): 4,000 connections over 4 children, each child holds
# within +-20 % of 1,000 (counted as open sockets in /proc/PID/fd, minus
# the child's idle baseline), in each of three rounds; so a killed child
# loses only its share. Prints the per-child counts.
. "$(dirname "$0")/lib.sh"
port=21340
make_tmp prefork_balance
LOG=$TMP/serve.log
# epoll: the balance fixed here is epoll's accept path, and the per-child
# count reads the children's fds (io_uring connections are not fds)
start_server $port --proto echo --arch prefork --procs 4 --backend epoll || { bad "prefork did not start"; finish; exit 1; }
sleep 0.5
kids=$(pgrep -P "$SPID" | sort -n)
check "4 children running" test "$(echo "$kids" | wc -l)" -eq 4
socks() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'socket:'; }
declare -A base
for k in $kids; do base[$k]=$(socks "$k"); done
for round in 1 2 3; do
    timeout 60 "$C1M" bench --port $port --proto echo --conns 4000 --duration 4s --warmup 0s \
        --quiet --json "$TMP/b$round.json" >"$TMP/b$round.out" 2>&1 &
    bp=$!
    PIDS+=("$bp")
    # count while the bench holds its 4,000 connections
    counts=
    for _ in $(seq 60); do
        sleep 0.1
        counts=
        tot=0
        for k in $kids; do
            n=$(( $(socks "$k") - base[$k] ))
            counts="$counts $n"
            tot=$((tot + n))
        done
        [ "$tot" -ge 4000 ] && break
    done
    echo "     round $round: per-child connections:$counts (total $tot)"
    check "round $round: 4,000 connections held" test "$tot" -eq 4000
    # Within +-20 % of an even share in every round (issue 12): children
    # above their share leave the wait queue (engine/share.h). Measured
    # with this test: before, +-38 % on a loaded machine (5 of 9 rounds
    # outside +-20 %); after, at most +-16 % in 12 rounds at load 9-11.
    for n in $counts; do
        check "round $round: child holds $n, within +-20 % of 1,000" \
            test "$n" -ge 800 -a "$n" -le 1200
    done
    wait $bp
done
stop_server
finish
