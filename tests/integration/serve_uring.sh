#!/bin/bash
# The io_uring backend (--backend uring): echo (2,000 connections, verified
# bytes, zero lost replies) and ts8 (frames split across reads) on the
# architectures it runs, clean SIGTERM; its connections are direct
# descriptors, not open files of the server process; HTTP answers; the
# access log names each peer (recorded at accept: a direct descriptor has
# no getpeername); an unknown backend name is refused; the default (auto)
# picks uring and says so (echo and ts8 with a write timeout too, HTTP
# with its default timeouts and the access log), or epoll for what uring
# does not run (--edge), and says why;
# one process holds 25,000 connections with RLIMIT_NOFILE at 10,000.
. "$(dirname "$0")/lib.sh"
port=21900
OUT=$(mktemp /tmp/c1m_serve_uring.XXXXXX)
trap 'cleanup; rm -f "$OUT" "$OUT".*' EXIT
fds() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }
run_arch() {
    local name=$1; shift
    local pe=$((port + 1)) pt=$((port + 2)) es ts
    port=$pt
    if ! start_server $pe --backend uring --proto echo "$@"; then bad "$name: echo server did not start"; return; fi
    es=$SPID
    if ! start_server $pt --backend uring --proto ts8 "$@"; then bad "$name: ts8 server did not start"; return; fi
    ts=$SPID
    local f0
    f0=$(fds $es)
    { timeout 60 "$TC" echo $pe 2000 2 64 > "$OUT.echo"; echo $? > "$OUT.echo.rc"; } &
    local ce=$!
    { timeout 60 "$TC" ts8 $pt 500 1 > "$OUT.ts8"; echo $? > "$OUT.ts8.rc"; } &
    local c8=$!
    if [ "$name" = single ]; then # while the 2,000 connections are open
        sleep 1
        local f1
        f1=$(fds $es)
        check "$name: 2000 connections add no fd to the server ($f0 -> $f1 fds)" \
            test $((f1 - f0)) -lt 50
    fi
    wait $ce $c8
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
run_arch single     --arch single
run_arch reuseport  --arch reuseport --loops 2
run_arch exclusive  --arch exclusive --loops 2
run_arch prefork    --arch prefork --procs 2
run_arch workerpool --arch workerpool --workers 2
run_arch dispatch   --arch dispatch --loops 2

# --access-log on uring: the peer's address, from two source addresses
# (one listener: single-shot accepts; dispatch: the fd's getpeername)
for arch in single dispatch; do
    port=$((port + 1))
    port_free $port || bad "[access log $arch] port $port taken"
    "$C1M" serve --backend uring --proto http --arch $arch --access-log --port $port --quiet \
        > "$OUT.access" 2>/dev/null &
    SPID=$!
    PIDS+=("$SPID")
    if server_up $port; then
        curl -s --max-time 5 http://127.0.0.1:$port/hello/a > /dev/null
        curl -s --max-time 5 --interface 127.0.0.3 http://127.0.0.1:$port/hello/b > /dev/null
        stop_server
        check "[access log $arch] uring: each line names its peer ($(tr '\n' '|' < "$OUT.access"))" \
            sh -c "grep -q '^127.0.0.1 - - .*GET /hello/a ' '$OUT.access' && grep -q '^127.0.0.3 - - .*GET /hello/b ' '$OUT.access'"
    else
        bad "[access log $arch] uring server did not start"
    fi
done

# The default, --backend auto: uring here, said in one line; what uring does
# not run (--edge) sends auto to epoll with the reason, and the command
# works as it did before the default changed.
auto_serve() { # auto_serve NAME PORT EXPECT ARGS...: starts it (no --backend)
    local name=$1 p=$2 expect=$3; shift 3
    C1M_BACKEND= "$C1M" serve --port "$p" "$@" > "$OUT.auto" 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    if server_up "$p"; then
        check "auto, $name: says '$expect'" grep -q -- "$expect" "$OUT.auto"
        check "auto, $name: one backend line" test "$(grep -c 'backend .* (auto:' "$OUT.auto")" -eq 1
    else
        bad "auto, $name: did not start: $(cat "$OUT.auto")"
    fi
}
port=$((port + 1))
auto_serve echo $port "backend uring (auto: io_uring: SINGLE_ISSUER" --proto echo
r=$("$TC" echo $port 50 1 64)
check "auto, echo: echoes on uring ($r)" test $? -eq 0
stop_server
port=$((port + 1))
auto_serve "http --access-log" $port "backend uring (auto: io_uring: SINGLE_ISSUER" \
    --proto http --access-log
out=$(curl -s --max-time 5 http://127.0.0.1:$port/)
check "auto, --access-log: answers ($out)" test "$out" = "Welcome!"
stop_server
check "auto, --access-log: logged the request" grep -q '"GET / HTTP/1.1" 200' "$OUT.auto"
port=$((port + 1))
auto_serve "echo --write-timeout" $port "backend uring (auto: io_uring" --proto echo --write-timeout 5s
r=$("$TC" echo $port 50 1 64)
check "auto, echo --write-timeout: echoes on uring ($r)" test $? -eq 0
stop_server
port=$((port + 1))
C1M_BACKEND=uring "$C1M" serve --port $port --proto http --access-log > "$OUT.env" 2>&1 &
SPID=$!
PIDS+=("$SPID")
if server_up $port; then
    curl -s --max-time 5 http://127.0.0.1:$port/hello/env > /dev/null
    stop_server
    check "C1M_BACKEND=uring --access-log: runs on uring and logs the peer" \
        sh -c "grep -q 'arch single, 1 loop, backend uring' '$OUT.env' && grep -q '^127.0.0.1 - - .*GET /hello/env ' '$OUT.env'"
else
    bad "C1M_BACKEND=uring --access-log did not start: $(cat "$OUT.env")"
fi
port=$((port + 1))
auto_serve "--edge" $port "backend epoll (auto: --edge" --proto echo --edge
r=$("$TC" echo $port 50 1 64)
check "auto, --edge: echoes on epoll ($r)" test $? -eq 0
stop_server
msg=$(timeout 1 "$C1M" serve --backend uring --edge --port $port 2>&1)
check "--edge with --backend uring: ignored, saying so ($msg)" grep -q "edge is an epoll mode: ignored" <<<"$msg"

# HTTP: a request and a keep-alive pair through the uring backend
port=$((port + 1))
if start_server $port --backend uring --proto http; then
    out=$(curl -s --max-time 5 http://127.0.0.1:$port/ http://127.0.0.1:$port/)
    check "http on uring answers twice on one connection" test "$out" = "Welcome!
Welcome!"
    stop_server
    check "http server exits 0 on SIGTERM" test "$SRC" -eq 0
else
    bad "http server on uring did not start"
fi

# More connections than the fd limit in ONE process: with RLIMIT_NOFILE at
# 10,000 (hard and soft) the server runs enough loops, one ring of direct
# descriptors each, for 25,000 connections; three bench processes (8,334
# each, under the limit) connect all of them, each sends in a closed loop
# and none may lose a reply (every connection answered) or be closed (so
# the server held all 25,000 at the end of the window); its fds stay few.
port=$((port + 1))
prlimit --nofile=10000:10000 -- "$C1M" serve --backend uring --procs 1 --max-conns 25000 \
    --proto echo --port $port > "$OUT.big.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
if wait_port $port; then
    check "the server runs with RLIMIT_NOFILE 10000" \
        grep -Eq "^Max open files +10000 +10000" /proc/$SPID/limits
    f0=$(fds $SPID)
    timeout 120 "$C1M" bench --proto echo --port $port --conns 25000 --procs 3 --duration 4s \
        --warmup 0 --quiet --json "$OUT.big.json" > "$OUT.big.out" 2>&1 &
    bp=$!
    fmax=$f0
    while kill -0 $bp 2>/dev/null; do
        f=$(fds $SPID)
        [ "${f:-0}" -gt "$fmax" ] && fmax=$f
        sleep 0.5
    done
    wait $bp
    check "bench of 25,000 connections exits 0" test $? -eq 0
    jcheck "$OUT.big.json" "d['conns_established'] == 25000 and d['conns_failed'] == 0" \
        "25,000 connections established" "('conns_established','conns_failed')"
    jcheck "$OUT.big.json" "d['conns_closed_by_peer'] == 0 and d['conns_closed_on_error'] == 0" \
        "the server closed none of them" "('conns_closed_by_peer','conns_closed_on_error')"
    jcheck "$OUT.big.json" "d['lost'] == 0 and d['mismatches'] == 0 and d['errors'] == 0 and d['sent'] - d['requests'] == 25000" \
        "every connection answered, bytes verified" "('lost','mismatches','errors','sent','requests')"
    check "the server's fds stayed few ($f0 -> at most $fmax)" test $((fmax - f0)) -lt 50
    check "the server says why it runs more loops" grep -q "need [0-9]* rings of" "$OUT.big.log"
    stop_server
    check "the 25,000-connection server exits 0 on SIGTERM" test "$SRC" -eq 0
else
    bad "the 25,000-connection uring server did not start: $(cat "$OUT.big.log")"
fi

msg=$("$C1M" serve --backend kqueue 2>&1)
check "an unknown backend is refused by name ($msg)" grep -q "epoll or uring" <<<"$msg"
finish
