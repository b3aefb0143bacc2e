#!/bin/bash
# Slow readers (issue 12): N clients each send up to 1 MiB to the echo
# server (which owes it back) and never read. The server's memory stays
# within its bound (per connection --out-high plus two 64 KiB reads, the
# one being echoed and its input buffer: reading pauses at the high
# watermark), the write timeout (2 s) closes every one
# of them, clients that read are served meanwhile, and the fd count returns
# to its baseline. single and workerpool. Short: 200; soak: 1,000.
# In a network namespace of its own with small TCP buffers (64 KiB at
# most), so that the output the server owes stays in the server, not in
# the kernel's socket buffers (4 MiB each by default would take it all).
. "$(dirname "$0")/lib.sh"
if [ -z "${FAULTS_NETNS:-}" ]; then
    [ "$(id -u)" = 0 ] || { skip "slow readers" "needs root for a network namespace"; finish; exit; }
    in_own_netns "net.ipv4.tcp_wmem=4096 16384 65536" "net.ipv4.tcp_rmem=4096 16384 65536"
    exit $?
fi
port=21450
N=$(pick 200 1000)
high_kib=64
make_tmp faults_slow
for arch in single "workerpool --workers 2"; do
    # shellcheck disable=SC2086
    start_server $port --proto echo --arch $arch --backend epoll --out-high ${high_kib}KiB \
        --write-timeout 2s || { bad "$arch: did not start"; continue; }
    sleep 0.2
    base=$(fd_count "$SPID"); rss0=$(rss_kb "$SPID")
    /usr/bin/python3 "$(dirname "$0")/slowreader.py" $port "$N" 1048576 20 >"$TMP/slow.out" 2>&1 &
    sr=$!
    PIDS+=("$sr")
    timeout 30 "$TC" echo $port 100 3 64 >"$TMP/echo.out" 2>&1 &
    ec=$!
    peak=$rss0 # the server's largest RSS while the slow readers are open
    while kill -0 $sr 2>/dev/null; do
        r=$(rss_kb "$SPID"); [ "${r:-0}" -gt "$peak" ] && peak=$r
        sleep 0.1
    done
    wait $sr
    rc=$?
    check "$arch: the write timeout closed every slow reader ($(cat "$TMP/slow.out"))" test $rc -eq 0
    wait $ec
    rc=$?
    check "$arch: 100 readers served alongside $N slow readers ($(cat "$TMP/echo.out"))" test $rc -eq 0
    bound=$(( N * (high_kib + 2 * 64) ))
    echo "     $arch: RSS $rss0 -> $peak KiB with $N slow readers (bound $bound KiB: $((  (peak - rss0) / N )) KiB each)"
    case $B in
    *asan*|*tsan*) # freed memory stays in the sanitizer's quarantine: RSS says nothing
        skip "$arch: RSS growth within the bound" "a sanitizer build ($B) keeps freed memory" ;;
    *) check "$arch: RSS growth within the bound ($((peak - rss0)) <= $bound KiB)" test $((peak - rss0)) -le $bound ;;
    esac
    wait_until 5 fds_at_most "$SPID" "$base"
    check "$arch: fd count back to its baseline ($base -> $(fd_count "$SPID"))" test "$(fd_count "$SPID")" -eq "$base"
    stop_check "$arch after slow readers"
done
finish
