#!/bin/bash
# Command-line contract: usage errors exit 2, a taken port is one line
# naming it, a connection count that cannot fit says how many processes.
. "$(dirname "$0")/lib.sh"
"$C1M" serve --help | grep -q -- "--arch"
check "serve --help prints the options" test $? -eq 0
"$C1M" serve --no-such-flag 2>/dev/null
check "unknown flag exits 2" test $? -eq 2
"$C1M" serve --arch nope 2>/dev/null
check "bad --arch exits 2" test $? -eq 2
"$C1M" serve --port 70000 2>/dev/null
check "bad --port exits 2" test $? -eq 2
"$C1M" nosuchcommand 2>/dev/null
check "unknown command exits 2" test $? -eq 2
port=21400
start_server $port --arch single || bad "server did not start"
err=$("$C1M" serve --backend epoll --port $port --quiet 2>&1)
rc=$?
check "port in use: exit 1 ($err)" test $rc -eq 1
check "port in use: one line naming the port" sh -c "[ \$(echo '$err' | wc -l) -eq 1 ] && echo '$err' | grep -q $port"
stop_check "the first server"
err=$("$C1M" serve --backend epoll --port $((port + 1)) --max-conns 100000 2>&1)
rc=$?
check "--max-conns beyond one process: exit 1" test $rc -eq 1
check "... and says how many processes are needed ($err)" sh -c "echo '$err' | grep -q 'at least [0-9]* processes'"
err=$(timeout 5 "$C1M" serve --backend epoll --port $((port + 2)) --max-conns 100000 --procs 2 2>&1)
check "--max-conns 100000 --procs 2 still does not fit" sh -c "echo '$err' | grep -q 'processes'"
"$C1M" serve --cpu-affinity sometimes 2>/dev/null
check "bad --cpu-affinity exits 2" test $? -eq 2
# --cpu-affinity auto: each loop thread on a CPU of its own (echo, not only http)
if [ "$(nproc)" -ge 2 ]; then
    start_server $((port + 3)) --arch reuseport --loops 2 --cpu-affinity auto || bad "pinned server did not start"
    pinned=$(for t in /proc/$SPID/task/*; do awk '/Cpus_allowed_list/ {print $2}' "$t/status"; done |
             grep -E '^[0-9]+$' | sort -u | wc -l)
    check "--cpu-affinity auto: 2 loop threads on 2 distinct single CPUs (got $pinned)" test "$pinned" -eq 2
    stop_server
    check "--cpu-affinity auto: clean exit" test "$SRC" -eq 0
else
    skip "--cpu-affinity auto: 2 loop threads on 2 distinct CPUs" "this machine has one CPU"
fi
finish
