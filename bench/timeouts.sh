#!/bin/bash
# The Go-timers article's experiment on c1m's own code: echo (8-byte closed loop,
# build/bench/floor_client) at CONNS connections against
#   c1m serve --arch reuseport --loops 2
# with the four timeouts off, then on (that article's Go server values: read 5s,
# write 10s, header 10s, idle 10s; every request refreshes them: echo marks
# each read as a request begin / header done / end) under each design:
#   wheel        per-loop timing wheel, lazy re-arm (c1m's design)
#   heap         a heap per loop, re-positioned on every deadline change (libuv)
#   global-heap  one heap + one mutex for both loops (Go 1.9)
# Runs are interleaved (off, wheel, heap, global-heap) ROUNDS times, since
# the client and the server share the machine's cores; the table reports
# medians and the ratio to "off".
#
#   bench/timeouts.sh [BUILD_DIR] [CONNS] [SECONDS] [ROUNDS] [CLIENT_THREADS]
#   (defaults: build 10000 8 3 2)
#
# The table gives medians over rounds, the median of per-round ratios to
# "off", and the server's CPU time per request (utime + stime from
# /proc/PID/stat over the client's run, divided by the requests served).
# If $B/bench/conn_timeouts exists (make BUILD=$B $B/bench/conn_timeouts),
# the per-request bookkeeping cost without I/O is printed too.
#
# Every process started here is remembered by PID and only those are
# stopped. Needs build/bench/floor_client (make build/bench/floor_client).
set -u
# The numbers in docs/RESULTS.md were measured on epoll; the c1m commands now
# default to io_uring where the kernel allows it. C1M_BACKEND=uring to measure that.
export C1M_BACKEND=${C1M_BACKEND:-epoll}
. "$(dirname "$0")/../scripts/lib.sh" # wait_port, median
B=${1:-build}
CONNS=${2:-10000}
SECS=${3:-8}
ROUNDS=${4:-3}
CT=${5:-2}
C1M=$B/c1m
FC=${FC:-build/bench/floor_client}
PORT=${PORT:-$((23500 + RANDOM % 100))}
TIMEOUTS="--read-timeout 5s --write-timeout 10s --header-timeout 10s --idle-timeout 10s"
[ -x "$C1M" ] || { echo "no $C1M (make BUILD=$B)"; exit 1; }
[ -x "$FC" ] || { echo "no $FC (make build/bench/floor_client)"; exit 1; }

SPID=
cleanup() { [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT


HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; } # utime + stime of the server
declare -A TPS INS CPU RATIO
OFF_TPS=1
run() { # run NAME ARGS...
    local name=$1; shift
    local log=/tmp/c1m_timeouts_bench.$$.log
    # shellcheck disable=SC2068
    "$C1M" serve --port "$PORT" --bind 127.0.0.1 --proto echo --arch reuseport --loops 2 \
        --metrics-interval 3600s $@ 2>"$log" &
    SPID=$!
    wait_port "$PORT" || { echo "server did not start: $(cat "$log")"; exit 1; }
    local out c0 c1
    c0=$(cpu_ticks "$SPID")
    out=$("$FC" -c "$CONNS" -t "$CT" -d "$SECS" -p "$PORT" -S 127.0.0.2 2>&1 | tail -1)
    c1=$(cpu_ticks "$SPID")
    kill -TERM "$SPID"
    wait "$SPID"
    SPID=
    local tps ops ins lazy
    tps=$(echo "$out" | tr ' ' '\n' | awk -F= '$1 == "tps" {print $2}')
    ops=$(grep -o 'stopped: [0-9]*' "$log" | awk '{print $2}')
    ins=$(grep -o 'timer_inserts=[0-9]*' "$log" | cut -d= -f2)
    lazy=$(grep -o 'timer_lazy=[0-9]*' "$log" | cut -d= -f2)
    to=$(grep -o 'timeouts=[0-9]*' "$log" | cut -d= -f2)
    local us
    us=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v o="${ops:-1}" 'BEGIN { printf "%.3f", t * 1e6 / hz / (o ? o : 1) }')
    printf '%-12s tps=%-10s server: ops=%s cpu_us/op=%s timer_inserts=%s timer_lazy=%s timeouts=%s\n' \
        "$name" "$tps" "$ops" "$us" "$ins" "$lazy" "$to"
    CPU[$name]="${CPU[$name]:-} $us"
    # paired with the "off" run of the same round (load from other
    # processes on the machine drifts between rounds)
    [ "$name" = off ] && OFF_TPS=$tps
    RATIO[$name]="${RATIO[$name]:-} $(awk -v a="$tps" -v b="$OFF_TPS" 'BEGIN { printf "%.4f", a / b }')"
    TPS[$name]="${TPS[$name]:-} $tps"
    INS[$name]="${INS[$name]:-} $(awk -v i="${ins:-0}" -v l="${lazy:-0}" -v o="${ops:-1}" \
        'BEGIN { printf "%.2f/%.2f", i / (o ? o : 1), l / (o ? o : 1) }')"
    rm -f "$log"
}

echo "# c1m timer experiment: echo 8 B closed loop, $CONNS connections, ${SECS}s per run," \
     "$ROUNDS rounds, client floor_client -t $CT, server --arch reuseport --loops 2"
echo "# timeouts on: $TIMEOUTS"
for r in $(seq "$ROUNDS"); do
    run off --timers wheel
    run wheel --timers wheel $TIMEOUTS
    run heap --timers heap $TIMEOUTS
    run global-heap --timers global-heap $TIMEOUTS
done

off=$(echo "${TPS[off]}" | median)
echo
coff=$(echo "${CPU[off]}" | median)
echo "| timeouts (4 per conn, refreshed per request) | median TPS | vs off (medians) | median of per-round ratios to off | server CPU µs/request (median) | vs off | TPS of each run | structure ops / lazy stores per request |"
echo "|---|---|---|---|---|---|---|---|"
for m in off wheel heap global-heap; do
    med=$(echo "${TPS[$m]}" | median)
    cmed=$(echo "${CPU[$m]}" | median)
    rmed=$(echo "${RATIO[$m]}" | median)
    printf '| %s | %.0f | %s | %s | %.3f | %s | %s | %s |\n' "$m" "$med" \
        "$(awk -v a="$med" -v b="$off" 'BEGIN { printf "%+.1f %%", (a / b - 1) * 100 }')" \
        "$(awk -v r="$rmed" 'BEGIN { printf "%+.1f %%", (r - 1) * 100 }')" "$cmed" \
        "$(awk -v a="$cmed" -v b="$coff" 'BEGIN { printf "%+.1f %%", (a / b - 1) * 100 }')" \
        "$(echo "${TPS[$m]}" | xargs | tr ' ' ',')" "$(echo "${INS[$m]}" | awk '{print $1}')"
done
if [ -x "$B/bench/conn_timeouts" ]; then
    echo
    echo "# the same bookkeeping without I/O ($B/bench/conn_timeouts):"
    "$B/bench/conn_timeouts" -n 4000 -r 100
fi
