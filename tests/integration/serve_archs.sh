#!/bin/bash
# Every architecture serves echo (2,000 connections, verified bytes, zero
# lost replies) and ts8 (frames split across reads) for a bounded time.
. "$(dirname "$0")/lib.sh"
port=21000
OUT=$(mktemp /tmp/c1m_serve_archs.XXXXXX)
trap 'cleanup; rm -f "$OUT" "$OUT".*' EXIT
run_arch() { # the echo and the ts8 server of an architecture run side by side
    local name=$1; shift
    local pe=$((port + 1)) pt=$((port + 2)) es ts
    port=$pt
    if ! start_server $pe --proto echo "$@"; then bad "$name: echo server did not start"; return; fi
    es=$SPID
    if ! start_server $pt --proto ts8 "$@"; then bad "$name: ts8 server did not start"; return; fi
    ts=$SPID
    { timeout 60 "$TC" echo $pe 2000 2 64 > "$OUT.echo"; echo $? > "$OUT.echo.rc"; } &
    local ce=$!
    { timeout 60 "$TC" ts8 $pt 500 1 > "$OUT.ts8"; echo $? > "$OUT.ts8.rc"; } &
    wait $ce $!
    out=$(cat "$OUT.echo")
    check "$name: echo 2000 conns verified ($out)" test "$(cat "$OUT.echo.rc")" -eq 0
    check "$name: replies flowed" test "$(kv replies "$out")" -gt 2000
    out=$(cat "$OUT.ts8")
    check "$name: ts8 500 conns, split frames ($out)" test "$(cat "$OUT.ts8.rc")" -eq 0
    SPID=$es stop_server
    check "$name: echo server exits 0 on SIGTERM" test "$SRC" -eq 0
    SPID=$ts stop_server
    check "$name: ts8 server exits 0 on SIGTERM" test "$SRC" -eq 0
    rm -f "$OUT".*
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
