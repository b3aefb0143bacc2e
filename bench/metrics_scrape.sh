#!/usr/bin/env bash
# What a client that scrapes /metrics 1,000 times a second costs the
# server's other clients (issue 12: at most 10 % of their req/s).
#
#   [SERVE='--arch prefork --procs 4'] bench/metrics_scrape.sh [BUILD_DIR] [ROUNDS]
#       [DURATION] [CONNS] [OTHER_BUILD]
#   defaults: build 5 8s 50 (none); SERVE='--arch single'
#
# Server: c1m serve --proto http $SERVE (single: one loop, the scrapes and
# the other clients share one thread; prefork: every scrape sums the
# slots of every child). Other clients: wrk
# -t1 -cCONNS -dDURATION http://127.0.0.1:PORT/ (GET / -> "Welcome!\n").
# Scraper: c1m bench --url http://127.0.0.1:PORT/metrics --conns 1
# --pipeline 10 --rate 1000 (open loop, 10 scrapes in flight), started
# before wrk and stopped after it. Each round measures wrk alone, then wrk
# with the scraper, on the same server; the ratio is taken within the
# round (the machine is shared and drifts) and reported as median
# (min .. max). OTHER_BUILD (e.g. an older build) is measured the same way
# in the same rounds, on its own server, for comparison.
set -u
. "$(dirname "$0")/../scripts/lib.sh" # wait_port, median
B=${1:-build}
ROUNDS=${2:-5}
DUR=${3:-8s}
CONNS=${4:-50}
OTHER=${5:-}
SERVE=${SERVE:---arch single}
PORTS=(19390 19391)
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
wrk_rps() { wrk -t1 -c"$CONNS" -d"$DUR" "http://127.0.0.1:$1/" 2>&1 | awk '/^Requests\/sec:/ {print $2}'; }

echo "# c1m serve --proto http $SERVE; wrk -t1 -c$CONNS -d$DUR GET /, with and without 1,000 /metrics scrapes/s (pipeline 10); $ROUNDS rounds ($(nproc) cores, $(uname -r))"
declare -A ALONE WITH SCR
for r in $(seq 1 "$ROUNDS"); do
    for i in "${!builds[@]}"; do
        port=${PORTS[$i]}
        ALONE[$i,$r]=$(wrk_rps "$port")
        "${builds[$i]}/c1m" bench --url "http://127.0.0.1:$port/metrics" --conns 1 --pipeline 10 \
            --rate 1000 --warmup 1s --duration "$((secs + 2))s" --interval 60s --json "$TMP/scr.json" \
            --quiet > "$TMP/scr.out" 2>&1 &
        sp=$!
        sleep 1.5
        WITH[$i,$r]=$(wrk_rps "$port")
        wait "$sp"
        SCR[$i,$r]=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.0f" % (d.get("tps") or d.get("summary",{}).get("tps",0)))' "$TMP/scr.json" 2>/dev/null || echo "?")
        echo "round $r ${builds[$i]}: alone ${ALONE[$i,$r]} req/s, with scraper ${WITH[$i,$r]} req/s (scrapes/s ${SCR[$i,$r]}) (loadavg $(cut -d' ' -f1 /proc/loadavg))"
    done
done
echo
printf '%-24s | %-12s | %-14s | %-26s\n' build "alone req/s" "with scraper" "with/alone: median (min..max)"
for i in "${!builds[@]}"; do
    a=$(for r in $(seq 1 "$ROUNDS"); do echo "${ALONE[$i,$r]}"; done | median)
    w=$(for r in $(seq 1 "$ROUNDS"); do echo "${WITH[$i,$r]}"; done | median)
    ratios=$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${ALONE[$i,$r]}" -v w="${WITH[$i,$r]}" 'BEGIN {printf "%.3f\n", w / a}'; done)
    rm_=$(echo "$ratios" | median)
    lo=$(echo "$ratios" | sort -g | head -1)
    hi=$(echo "$ratios" | sort -g | tail -1)
    printf '%-24s | %12.0f | %14.0f | %.3f (%s..%s)\n' "${builds[$i]}" "$a" "$w" "$rm_" "$lo" "$hi"
done
