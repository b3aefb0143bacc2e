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
err=$("$C1M" serve --port $port --quiet 2>&1)
rc=$?
check "port in use: exit 1 ($err)" test $rc -eq 1
check "port in use: one line naming the port" sh -c "[ \$(echo '$err' | wc -l) -eq 1 ] && echo '$err' | grep -q $port"
stop_server
err=$("$C1M" serve --port $((port + 1)) --max-conns 100000 2>&1)
rc=$?
check "--max-conns beyond one process: exit 1" test $rc -eq 1
check "... and says how many processes are needed ($err)" sh -c "echo '$err' | grep -q 'at least [0-9]* processes'"
err=$(timeout 5 "$C1M" serve --port $((port + 2)) --max-conns 100000 --procs 2 2>&1)
check "--max-conns 100000 --procs 2 still does not fit" sh -c "echo '$err' | grep -q 'processes'"
finish
