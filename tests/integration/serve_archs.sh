#!/bin/bash
# Every architecture serves echo (2,000 connections, verified bytes, zero
# lost replies) and ts8 (frames split across reads) for a bounded time.
. "$(dirname "$0")/lib.sh"
port=21000
run_arch() {
    local name=$1; shift
    port=$((port + 1))
    if ! start_server $port --proto echo "$@"; then bad "$name: echo server did not start"; return; fi
    out=$(timeout 60 "$TC" echo $port 2000 2 64)
    check "$name: echo 2000 conns verified ($out)" test $? -eq 0
    check "$name: replies flowed" test "$(kv replies "$out")" -gt 2000
    stop_server
    check "$name: echo server exits 0 on SIGTERM" test "$SRC" -eq 0
    port=$((port + 1))
    if ! start_server $port --proto ts8 "$@"; then bad "$name: ts8 server did not start"; return; fi
    out=$(timeout 60 "$TC" ts8 $port 500 1)
    check "$name: ts8 500 conns, split frames ($out)" test $? -eq 0
    stop_server
    check "$name: ts8 server exits 0 on SIGTERM" test "$SRC" -eq 0
}
run_arch single           --arch single
run_arch single-edge      --arch single --edge
run_arch reuseport        --arch reuseport --loops 2
run_arch reuseport-edge   --arch reuseport --loops 2 --edge
run_arch dispatch-rr      --arch dispatch --loops 2 --balance rr
run_arch dispatch-least   --arch dispatch --loops 2 --balance least
run_arch exclusive        --arch exclusive --loops 2
run_arch workerpool       --arch workerpool --workers 4
run_arch workerpool-sleep --arch workerpool --workers 8 --work sleep:100us
run_arch prefork          --arch prefork --procs 2
run_arch prefork-reuseport --arch prefork --procs 2 --prefork-reuseport
run_arch prefork-loops    --arch prefork --procs 2 --loops 2
run_arch procs-dispatch   --arch dispatch --procs 2 --loops 2
finish
