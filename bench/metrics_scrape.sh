#!/usr/bin/env bash
# What a client that scrapes /metrics 1,000 times a second costs the
# server's other clients (issue 12: at most 10 % of their req/s), and
# what one scrape costs the server in CPU.
#
#   [SERVE='--arch prefork --procs 4'] bench/metrics_scrape.sh [BUILD_DIR] [ROUNDS]
#       [DURATION] [CONNS] [OTHER_BUILD]
#   defaults: build 5 8s 50 (none); SERVE='--arch single'
#
# Server: c1m serve --proto http $SERVE (single: one loop, the scrapes and
# the other clients share one thread; prefork: every scrape sums the
# slots of every child). Other clients: wrk -t1 -cCONNS -dDURATION
# http://127.0.0.1:PORT/ (GET / -> "Welcome!\n"). Scraper: c1m bench --url
# http://127.0.0.1:PORT/metrics --conns 1 --pipeline 10 --rate 1000 (open
# loop, 10 scrapes in flight), started before wrk and stopped after it.
# Each round measures wrk alone and wrk with the scraper on the same
# server, in alternating order (the machine drifts), and takes the ratio
# within the round; then the scraper alone for DURATION, with the
# server's CPU time (utime+stime of it and its child processes, /proc)
# over that window divided by the scrapes answered: CPU per scrape,
# which includes the request's parsing and the response's TCP work.
# Reported as median (min .. max). OTHER_BUILD (e.g. an older build) is
# measured the same way in the same rounds, on its own server.
set -u
# The numbers in docs/RESULTS.md were measured on epoll; the c1m commands now
# default to io_uring where the kernel allows it. C1M_BACKEND=uring to measure that.
export C1M_BACKEND=${C1M_BACKEND:-epoll}
. "$(dirname "$0")/../scripts/lib.sh" # wait_port, median
B=${1:-build}
ROUNDS=${2:-5}
DUR=${3:-8s}
CONNS=${4:-50}
OTHER=${5:-}
SERVE=${SERVE:---arch single}
PORTS=(19390 19391)
HZ=$(getconf CLK_TCK)
TMP=$(mktemp -d /tmp/c1m_metrics_scrape.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)"; exit 1; }
builds=("$B")
[ -n "$OTHER" ] && builds+=("$OTHER")
for i in "${!builds[@]}"; do
    [ -x "${builds[$i]}/c1m" ] || { echo "no ${builds[$i]}/c1m (make)"; exit 1; }
    # shellcheck disable=SC2086
    "${builds[$i]}/c1m" serve --proto http $SERVE --port "${PORTS[$i]}" --quiet \
        > /dev/null 2> "$TMP/serve$i.err" &
    PIDS+=($!)
    wait_port "${PORTS[$i]}" || { echo "server ${builds[$i]} did not start"; cat "$TMP/serve$i.err"; exit 1; }
done
secs=${DUR%s}

# cpu_ticks PID: utime+stime of PID's threads and of its child processes
cpu_ticks() {
    local t=0 p
    for p in "$1" $(pgrep -P "$1"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
wrk_rps() { wrk -t1 -c"$CONNS" -d"$DUR" "http://127.0.0.1:$1/" 2>&1 | awk '/^Requests\/sec:/ {print $2}'; }
# scraper BUILD PORT SECONDS: 1,000 scrapes/s in the background (JSON in $TMP/scr.json)
scraper() {
    "$1/c1m" bench --url "http://127.0.0.1:$2/metrics" --conns 1 --pipeline 10 --rate 1000 \
        --warmup 1s --duration "$3s" --interval 60s --json "$TMP/scr.json" --quiet \
        > "$TMP/scr.out" 2>&1 &
    SP=$!
}
scr_requests() {
    /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' \
        "$TMP/scr.json" 2>/dev/null || echo 0
}
with_scraper() {
    scraper "$1" "$2" "$((secs + 2))"
    sleep 1.5
    wrk_rps "$2"
    wait "$SP"
}

echo "# c1m serve --proto http $SERVE; wrk -t1 -c$CONNS -d$DUR GET /, with and without 1,000 /metrics scrapes/s (pipeline 10); $ROUNDS rounds ($(nproc) cores, $(uname -r))"
declare -A ALONE WITH CPU
for r in $(seq 1 "$ROUNDS"); do
    for i in "${!builds[@]}"; do
        b=${builds[$i]} port=${PORTS[$i]}
        if [ $((r % 2)) -eq 1 ]; then
            ALONE[$i,$r]=$(wrk_rps "$port")
            WITH[$i,$r]=$(with_scraper "$b" "$port")
        else
            WITH[$i,$r]=$(with_scraper "$b" "$port")
            ALONE[$i,$r]=$(wrk_rps "$port")
        fi
        # the scraper alone: server CPU per scrape over the measured window
        scraper "$b" "$port" "$secs"
        sleep 1 # its warm-up
        t0=$(cpu_ticks "${PIDS[$i]}")
        wait "$SP"
        t1=$(cpu_ticks "${PIDS[$i]}")
        n=$(scr_requests)
        CPU[$i,$r]=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", d / hz * 1e6 / n; else print 0 }')
        echo "round $r $b: alone ${ALONE[$i,$r]} req/s, with scraper ${WITH[$i,$r]} req/s; scraper alone: $n scrapes, server CPU ${CPU[$i,$r]} us/scrape (loadavg $(cut -d' ' -f1 /proc/loadavg))"
    done
done
echo
col() { for r in $(seq 1 "$ROUNDS"); do eval "echo \${$1[$2,\$r]}"; done; }
printf '%-22s | %11s | %12s | %-26s | %s\n' build "alone req/s" "with scraper" "with/alone: median (min..max)" "server CPU us/scrape: median (min..max)"
for i in "${!builds[@]}"; do
    ratios=$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${ALONE[$i,$r]}" -v w="${WITH[$i,$r]}" 'BEGIN {printf "%.3f\n", w / a}'; done)
    cpus=$(col CPU "$i")
    printf '%-22s | %11.0f | %12.0f | %.3f (%s..%s) | %s (%s..%s)\n' "${builds[$i]}" \
        "$(col ALONE "$i" | median)" "$(col WITH "$i" | median)" \
        "$(echo "$ratios" | median)" "$(echo "$ratios" | sort -g | head -1)" "$(echo "$ratios" | sort -g | tail -1)" \
        "$(echo "$cpus" | median)" "$(echo "$cpus" | sort -g | head -1)" "$(echo "$cpus" | sort -g | tail -1)"
done
