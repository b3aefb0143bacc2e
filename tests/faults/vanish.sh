#!/bin/bash
# Clients that vanish without a FIN or RST (issue 12): N connections from
# a network namespace of this test over a veth pair; once the server holds
# them all and they are sending, the server's end of the link goes down
# and the clients are killed (-9: their FINs and RSTs are lost), so every
# peer just disappears. The server's idle/read/write timeouts (2 s; 20 s
# in the soak, where 50,000 connects take longer than 2 s and the first
# would idle out before the bench starts sending) must
# reclaim every one; it keeps running, and serves again once the link is
# back. Short: 2,000 connections; soak: 50,000 (a prefork server of 4, a
# bench of 3 processes under this machine's 20,000 open files each).
. "$(dirname "$0")/lib.sh"
port=21430
N=$(pick 2000 50000)
to=$(pick 2 20)
make_tmp faults_vanish
LOG=$TMP/serve.log
if [ "$(id -u)" != 0 ]; then skip "vanishing peers" "needs root for a network namespace"; finish; exit; fi
ns=c1m-fv$$ vs=fvs$$ vc=fvc$$
cleanup_ns() { ip netns del "$ns" 2>/dev/null; ip link del "$vs" 2>/dev/null; }
on_exit cleanup_ns
ip netns add "$ns" && ip link add "$vs" type veth peer name "$vc" && ip link set "$vc" netns "$ns" &&
    ip addr add 198.18.0.1/16 dev "$vs" && ip link set "$vs" up &&
    ip netns exec "$ns" ip link set lo up && ip netns exec "$ns" ip link set "$vc" up &&
    for a in 1.1 1.2 1.3 1.4 2.1; do ip netns exec "$ns" ip addr add 198.18.$a/16 dev "$vc" || exit 1; done ||
    { bad "network namespace set-up"; finish; exit 1; }
start_server $port --proto echo --arch prefork --procs 4 --backend epoll \
    --idle-timeout ${to}s --read-timeout ${to}s --write-timeout ${to}s || { bad "server did not start"; finish; exit 1; }
sleep 0.5
base=$(tree_fds "$SPID"); rss0=$(tree_rss "$SPID")
bench() { # bench SOURCES CONNS DURATION JSON: from the client namespace
    ip netns exec "$ns" "$C1M" bench --host 198.18.0.1 --port $port --proto echo \
        --source "$1" --conns "$2" --duration "$3" --warmup 0 --grace 1s --quiet --json "$4"
}
bench 198.18.1.1-198.18.1.4 "$N" 120s "$TMP/b1.json" >"$TMP/b1.out" 2>&1 &
bp=$!
PIDS+=("$bp")
held() { test $(( $(tree_fds "$SPID") - base )) -ge "$N"; }
wait_until 90 held
check "server holds $N connections ($(( $(tree_fds "$SPID") - base )))" held
sleep 1 # requests in flight on every connection
rss1=$(tree_rss "$SPID")
ip link set "$vs" down              # the link drops: nothing gets through either way
kill -9 "$bp" $(descendants "$bp") 2>/dev/null # the clients die; their FINs/RSTs are lost
wait "$bp" 2>/dev/null
t0=$(date +%s.%N)
back() { test "$(tree_fds "$SPID")" -le "$base"; }
wait_until $((to + 30)) back
t1=$(date +%s.%N)
left=$(( $(tree_fds "$SPID") - base ))
echo "     $N vanished peers: $left left after $(echo "$t1 - $t0" | bc) s (timeouts $to s); RSS $rss0 -> $rss1 KiB held"
check "server alive" kill -0 "$SPID"
check "the timeouts reclaimed every vanished peer ($left left)" test "$left" -le 0
ip link set "$vs" up
sleep 0.5
bench 198.18.2.1 200 1s "$TMP/b2.json" >"$TMP/b2.out" 2>&1
rc=$?
check "served again once the link is back ($(tail -1 "$TMP/b2.out"))" test $rc -eq 0
jcheck "$TMP/b2.json" "d['requests'] > 0 and d['lost'] == 0 and d['errors'] == 0 and d['mismatches'] == 0" \
    "nothing lost or wrong after the link is back" "('requests', 'lost', 'errors', 'mismatches')"
stop_check "after $N vanished peers"
finish
