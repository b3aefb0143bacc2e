#!/bin/bash
# prefork supervision: kill -9 one child under load; the parent restarts
# it; the other children's connections keep echoing.
. "$(dirname "$0")/lib.sh"
port=21300
LOG=$(mktemp)
start_server $port --proto echo --arch prefork --procs 3 || { bad "prefork did not start"; finish; exit 1; }
sleep 0.3
kids0=$(pgrep -P "$SPID" | sort)
check "3 children running" test "$(echo "$kids0" | wc -l)" -eq 3
out_file=$(mktemp)
# echoterm: the killed child's connections close (counted in resets), but
# no reply may be corrupted or cut off, and every open one is answered
timeout 60 "$TC" echoterm $port 1500 6 32 >"$out_file" &
cl=$!
sleep 2
victim=$(echo "$kids0" | head -1)
kill -9 "$victim"
wait $cl
out=$(cat "$out_file"); rm -f "$out_file"
echo "client: $out"
check "connections of the killed child were reset" test "$(kv resets "$out")" -gt 0
check "no mismatch, no cut-off or lost reply on the others" \
    test "$(kv mismatches "$out")" = 0 -a "$(kv cut "$out")" = 0 -a "$(kv lost "$out")" = 0
check "every surviving connection kept echoing to the end (stalled=0)" test "$(kv stalled "$out")" = 0
check "some connections survived on the other children" test "$(kv resets "$out")" -lt 1500
for _ in $(seq 50); do [ "$(pgrep -P "$SPID" | wc -l)" -eq 3 ] && break; sleep 0.1; done
kids1=$(pgrep -P "$SPID" | sort)
check "the parent restarted the child: 3 children again" test "$(echo "$kids1" | wc -l)" -eq 3
check "the dead child was replaced by a new process" sh -c "! echo '$kids1' | grep -qx '$victim'"
check "the parent logged the death" grep -q "killed by signal 9" "$LOG"
out=$(timeout 30 "$TC" echo $port 300 1 8)
check "new clients are served after the restart ($out)" test $? -eq 0

stop_server
check "parent exits 0 after its children drain" test "$SRC" -eq 0
check "no child left behind" test -z "$(echo "$kids1" | xargs -r ps -o pid= -p 2>/dev/null)"
rm -f "$LOG"
finish
