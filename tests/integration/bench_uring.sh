#!/bin/bash
# c1m bench on io_uring (--backend uring) and the auto default:
#  - one bench process with RLIMIT_NOFILE 10,000 (hard and soft) holds
#    25,000 echo connections to a uring server, every one answered, its
#    open files staying few (connections are direct sockets of its rings);
#    on epoll the same limit refuses the run (the cap is real);
#  - explicit source addresses are used as given;
#  - auto: uring where io_uring works, said in one line; under a seccomp
#    filter that fails io_uring_setup (a container's profile) bench and
#    serve fall back to epoll, say why, and work; an explicit --backend
#    uring there is refused with the reason.
# About 15 s.
. "$(dirname "$0")/lib.sh"
make_tmp bench_uring
port=19431
fds() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }
rings() { ls -l /proc/"$1"/fd 2>/dev/null | grep -c 'anon_inode:\[io_uring\]'; }
descendants() { # PID and every process under it
    echo "$1"
    local c
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do descendants "$c"; done
}

# 1. 25,000 connections from one bench process under a 10,000-file limit
if start_server $port --backend uring --proto echo --max-conns 26000; then
    prlimit --nofile=10000:10000 -- timeout 120 "$C1M" bench --backend uring --procs 1 \
        --proto echo --port $port --conns 25000 --duration 3s --warmup 0 \
        --json "$TMP/big.json" > "$TMP/big.out" 2>&1 &
    bp=$!
    PIDS+=("$bp")
    # the most open files of any process of the bench (prlimit execs
    # timeout, which runs c1m bench, whose child runs the loops)
    # (and the most rings seen in one, so the sampling is known to have
    # caught the process that holds the connections)
    fmax=0 rmax=0
    while kill -0 $bp 2>/dev/null; do
        for p in $(descendants $bp); do
            f=$(fds $p)
            [ "${f:-0}" -gt "$fmax" ] && fmax=$f
            r=$(rings $p)
            [ "${r:-0}" -gt "$rmax" ] && rmax=$r
        done
        sleep 0.3
    done
    wait $bp
    rc=$?
    check "bench of 25,000 connections in one process (RLIMIT_NOFILE 10000) exits 0 (rc $rc)" \
        test $rc -eq 0
    check "... in 1 process with 3 loops, a ring each, and says why" \
        grep -q "need 3 rings of" "$TMP/big.out"
    jcheck "$TMP/big.json" "d['conns_established'] == 25000 and d['conns_failed'] == 0" \
        "25,000 connections established" "('conns_established','conns_failed')"
    jcheck "$TMP/big.json" "d['conns_closed_by_peer'] == 0 and d['conns_closed_on_error'] == 0" \
        "none of them closed" "('conns_closed_by_peer','conns_closed_on_error')"
    jcheck "$TMP/big.json" "d['lost'] == 0 and d['mismatches'] == 0 and d['errors'] == 0 and d['sent'] - d['requests'] == 25000" \
        "every connection answered, bytes verified" "('lost','mismatches','errors','sent','requests')"
    check "the bench's loop process was sampled while it held its rings ($rmax)" \
        test "$rmax" -ge 1
    check "the bench's open files stayed few (at most $fmax in one process)" \
        test "$fmax" -lt 100
    stop_server
    check "the uring server exits 0 on SIGTERM" test "$SRC" -eq 0
else
    bad "uring server did not start"
fi
prlimit --nofile=10000:10000 -- timeout 10 "$C1M" bench --backend epoll --procs 1 \
    --port $port --conns 25000 > "$TMP/epoll.out" 2>&1
rc=$?
check "on epoll the same limit refuses 25,000 in one process (rc $rc)" \
    sh -c "test $rc -eq 1 && grep -q 'need at least 3 processes' '$TMP/epoll.out'"

# 2. explicit sources, and the default (auto) saying uring
port=$((port + 1))
if start_server $port --backend uring --proto echo; then
    C1M_BACKEND= timeout 60 "$C1M" bench --proto echo --port $port --conns 400 --duration 2s --warmup 0 \
        --source 127.0.0.5-127.0.0.6 --json "$TMP/src.json" > "$TMP/src.out" 2>&1 &
    bp=$!
    PIDS+=("$bp")
    sleep 1.2
    peers=$(ss -Htn state established "( sport = :$port )" | awk '{print $4}' | cut -d: -f1 | sort | uniq -c)
    wait $bp
    check "auto chose uring and said so in one line" \
        grep -q "backend uring (auto: io_uring" "$TMP/src.out"
    jcheck "$TMP/src.json" "d['conns_established'] == 400 and d['mismatches'] == 0 and d['requests'] > 0" \
        "400 connections from given sources, echoing" "('conns_established','mismatches','requests')"
    check "the server saw them from 127.0.0.5-127.0.0.6 only ($(echo $peers))" \
        test "$(echo "$peers" | awk '$2 == "127.0.0.5" || $2 == "127.0.0.6" {n += $1} END {print n+0}')" -eq 400
    stop_server
else
    bad "uring server (sources) did not start"
fi

# 3. io_uring forbidden by a seccomp filter: auto falls back, says why
# (C1M_BACKEND= : the default is auto whatever the run's backend)
port=$((port + 1))
C1M_BACKEND= "$TC" nouring 1 "$C1M" serve --port $port --proto echo --quiet > "$TMP/nou.serve" 2>&1 &
SPID=$!
PIDS+=("$SPID")
if server_up $port; then
    check "serve under the filter: epoll, and why" \
        grep -q "backend epoll (auto: io_uring is not usable here: .*seccomp" "$TMP/nou.serve"
    r=$("$TC" echo $port 20 1 64)
    check "... and it echoes ($r)" test $? -eq 0
    C1M_BACKEND= "$TC" nouring 1 timeout 60 "$C1M" bench --proto echo --port $port --conns 100 --duration 1s \
        --warmup 0 --json "$TMP/nou.json" > "$TMP/nou.bench" 2>&1
    check "bench under the filter exits 0" test $? -eq 0
    check "... on epoll, saying why" \
        grep -q "backend epoll (auto: io_uring is not usable here: .*seccomp" "$TMP/nou.bench"
    jcheck "$TMP/nou.json" "d['conns_established'] == 100 and d['mismatches'] == 0 and d['requests'] > 0" \
        "... and its 100 connections echo" "('conns_established','mismatches','requests')"
    stop_server
else
    bad "serve under a seccomp filter did not start: $(cat "$TMP/nou.serve")"
fi
out=$(C1M_BACKEND= "$TC" nouring 1 timeout 10 "$C1M" bench --backend uring --port $port --conns 10 2>&1)
check "explicit bench --backend uring under the filter: refused with the reason" \
    sh -c "echo \"\$1\" | grep -q 'backend uring: .*seccomp'" _ "$out"
out=$(C1M_BACKEND= "$TC" nouring 1 timeout 10 "$C1M" serve --backend uring --port $port 2>&1)
rc=$?
check "explicit serve --backend uring under the filter: exits non-zero with the reason (rc $rc)" \
    sh -c "test $rc -ne 0 && echo \"\$1\" | grep -q 'cannot use io_uring: .*seccomp'" _ "$out"

# 4. $C1M_BACKEND sets the default (tests/run_integration.sh runs suites on
# each backend with it); a bad value is refused
out=$(C1M_BACKEND=epoll timeout 10 "$C1M" bench --port 1 --conns 1 --duration 1s --warmup 0 --retries 0 2>&1)
check "C1M_BACKEND=epoll: bench runs on epoll, no auto line" \
    sh -c "! echo \"\$1\" | grep -q '(auto:'" _ "$out"
out=$(C1M_BACKEND=kqueue "$C1M" serve --port 1 2>&1)
rc=$?
check "C1M_BACKEND=kqueue: refused with exit 2, by name (rc $rc)" \
    sh -c "test $rc -eq 2 && echo \"\$1\" | grep -q \"'kqueue' for C1M_BACKEND\"" _ "$out"
finish
