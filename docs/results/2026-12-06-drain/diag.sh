#!/bin/bash
# diagnostic form of tests/faults/sigterm.sh (soak size): timestamps of each drain step
. /work/wt-drain/tests/faults/lib.sh
SOAK=1
port=21440
N=${N:-50000}
P=$(( (N + 16999) / 17000 ))
drain=${DRAIN:-10}
make_tmp faults_sigterm_diag
LOG=$TMP/serve.log
C1M_DIAG=1 start_server $port --proto echo --arch prefork --procs 4 --backend epoll --drain-timeout ${drain}s ||
    { bad "server did not start"; finish; exit 1; }
sleep 0.5
base=$(tree_fds "$SPID")
cl=()
for i in $(seq "$P"); do
    nice -n ${CLNICE:-10} timeout 120 "$TC" echoterm $port $((N / P)) $((drain + 12)) 64 >"$TMP/c$i.out" 2>&1 &
    cl+=($!)
    PIDS+=($!)
done
held() { test $(( $(tree_fds "$SPID") - base )) -ge $(( N / P * P )); }
wait_until 90 held
check "server holds $((N / P * P)) connections ($(( $(tree_fds "$SPID") - base )))" held
sleep 1
echo "T SIGTERM sent $(date +%H:%M:%S.%N)"
t0=$(date +%s%N)
kill -TERM "$SPID"
kids=$(pgrep -P "$SPID" | tr '\n' ' ')
( end=$(( $(date +%s) + drain + 15 )); while [ $(date +%s) -lt $end ]; do
    read -r _ pr < <(grep procs_running /proc/stat); echo "$EPOCHREALTIME R $pr"
    for c in "${cl[@]}"; do for t in $(pgrep -P $c) $c; do [ -r /proc/$t/schedstat ] && read -r a b x </proc/$t/schedstat 2>/dev/null && echo "$EPOCHREALTIME C$c $t $a $b $x"; done; done
    for k in $kids; do for t in /proc/$k/task/*; do [ -r $t/schedstat ] && read -r a b c <$t/schedstat 2>/dev/null && echo "$EPOCHREALTIME $k ${t##*/} $a $b $c"; done; done
    sleep 0.1; done >"$TMP/sched.txt" 2>/dev/null ) &
SAMPLER=$!
if [ -n "${PERF:-}" ]; then
    k1=${kids%% *}
    ( sleep $((drain - 1)).8; perf record -g -o /tmp/drain/perf.data -p $k1 -- sleep 6 >/dev/null 2>&1 ) &
fi
if [ "${STOPCL:-0}" = 1 ]; then
    ( sleep $(( drain * 1000 - ${STOPLEAD:-2100} ))e-3; echo "T clients stopped $(date +%H:%M:%S.%N)"; kill -STOP "${cl[@]}" ) &
fi
gone() { ! kill -0 "$SPID" 2>/dev/null; }
wait_until $((drain + 30)) gone
gone || kill -9 "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
SRC=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "T gone $(date +%H:%M:%S.%N)"
kill $SAMPLER 2>/dev/null; cp "$TMP/sched.txt" /tmp/drain/sched-${TAG:-x}.txt
[ "${STOPCL:-0}" = 1 ] && kill -CONT "${cl[@]}"
echo "     $((N / P * P)) connections: exit status $SRC after $ms ms (--drain-timeout ${drain}s: $((ms - drain * 1000)) ms past it)"
grep -E 'DIAG|drained|stopping' "$LOG" | sed 's/^/   L /'
for p in "${cl[@]}"; do wait "$p"; done
cat "$TMP"/c*.out | sed 's/^/     /'
finish
