#!/usr/bin/env bash
# WebSocket push: c1m serve against Go gorilla/websocket and Node `ws`, on
# this machine, in one run. Not part of CI. Run it in a network namespace
# of your own (fixed ports 18991..18993), as root:
#
#   ip netns exec NS bench/ws_push_vs_peers.sh OUTDIR [BUILD_DIR]
#   env: CONNS (10000) ROUNDS (3; 0 = skip part 1) EVERY_MS (100) SIZE (64)
#        WINDOW (5) IDLE_CONNS (19000; 0 = skip part 2)
#        C1M_IDLE_CONNS (0 = skip part 3; e.g. 100000)
#
# Servers (each one process, 2 cores to use):
#   c1m:   c1m serve --proto http --arch reuseport --loops 2 --push-every
#   go:    bench/peers/ws_push_go (gorilla/websocket from Debian's
#          golang-github-gorilla-websocket-dev, GOPATH=/usr/share/gocode,
#          no network): reader goroutine per connection, PreparedMessage
#          (framed once), GOMAXPROCS sender goroutines over shards
#   node:  bench/peers/ws_push_node.js (ws from tests/ws_node_setup.sh):
#          ws's broadcast example, client.send per subscriber
# Each pushes a SIZE-byte binary message (sequence number, timestamp) to
# every subscriber every EVERY_MS; the subscribers are c1m bench --proto ws
# --push (CONNS connections).
#
# 1. CPU per delivered message: per round, each server in turn (order
#    rotated every round): start it, connect CONNS subscribers, after a 1 s
#    warm-up read the server's utime+stime (/proc, all threads) at the start
#    and the end of bench's WINDOW-second window; divide by the deliveries
#    bench counted in that window. Ratios are taken within a round (drift
#    cancels) and reported as median (min .. max) over ROUNDS.
# 2. Idle memory: each server with no publisher, IDLE_CONNS subscribers
#    (one server process holds at most the 20,000-file cap here), RSS after
#    they connected minus RSS before, per connection (user space: the
#    kernel's socket memory is not in RSS).
# 3. c1m alone at C1M_IDLE_CONNS idle subscribers: no process may hold more
#    than 20,000 files here, so c1m serve --arch prefork --procs
#    ceil(C1M_IDLE_CONNS / 18,000) and bench picks its processes; RSS summed
#    over the supervisor and the children, after minus before, per
#    connection. (Go and Node are one process each: they stop at part 2.)
#
# The machine is shared (other agents run builds and tests): the lock
# /tmp/c1m-bench.lock is taken around the measurements, yet other work
# still runs beside them; only the ratios within a round mean much.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh" # wait_port, median
OUT=${1:?usage: ws_push_vs_peers.sh OUTDIR [BUILD_DIR]}
B=${2:-$here/../build}
C1M=$B/c1m
CONNS=${CONNS:-10000}
ROUNDS=${ROUNDS:-3}
EVERY_MS=${EVERY_MS:-100}
SIZE=${SIZE:-64}
WINDOW=${WINDOW:-5}
IDLE_CONNS=${IDLE_CONNS:-19000}
mkdir -p "$OUT"
[ -x "$C1M" ] || { echo "no $C1M (make)" >&2; exit 1; }
[ -d "$here/../tests/integration/node/node_modules/ws" ] ||
    { echo "Node ws missing: tests/ws_node_setup.sh (root namespace: npm needs the network)" >&2; exit 1; }
GODIR=$(mktemp -d /tmp/ws_push_go.XXXXXX) # not into OUT: the results stay small
GOBIN=$GODIR/ws_push_go
(cd "$here/peers/ws_push_go" && GO111MODULE=off GOPATH=/usr/share/gocode go build -o "$GOBIN" .) ||
    { echo "go build failed (apt-get install golang-go golang-github-gorilla-websocket-dev)" >&2; exit 1; }
ulimit -n 20000 2>/dev/null

SPID=0
cleanup() { [ "$SPID" != 0 ] && kill "$SPID" 2>/dev/null; rm -rf "$GODIR"; }
trap cleanup EXIT

# start NAME PORT EVERY_MS: the server in the background, SPID its pid
start() {
    case $1 in
    c1m) "$C1M" serve --proto http --arch reuseport --loops 2 --port "$2" --quiet \
            --timeouts off ${3:+--push-every ${3}ms --push-size $SIZE} 2>>"$OUT/servers.log" & ;;
    go) GOMAXPROCS=2 "$GOBIN" -addr 127.0.0.1:"$2" -every "${3:-3600000}ms" -size "$SIZE" \
            2>>"$OUT/servers.log" & ;;
    node) node "$here/peers/ws_push_node.js" "$2" "${3:-3600000}" "$SIZE" 2>>"$OUT/servers.log" & ;;
    esac
    SPID=$!
    wait_port "$2" || { echo "$1 did not start" >&2; exit 1; }
}
stop() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=0; }
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; } # this process, every thread
rss_kb() { awk '/VmRSS/ {print $2}' /proc/"$1"/status; }
tck=$(getconf CLK_TCK)

# bench_wait LOG: until bench says it connected everything and measures
bench_wait() {
    for _ in $(seq 1200); do
        grep -q measuring "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

exec 9>/tmp/c1m-bench.lock
flock 9
{
    echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# c1m $("$C1M" --version 2>&1 | head -1); $(go version); node $(node --version);" \
         "ws $(node -p "require('$here/../tests/integration/node/node_modules/ws/package.json').version")"
    echo "# CONNS=$CONNS ROUNDS=$ROUNDS EVERY_MS=$EVERY_MS SIZE=$SIZE WINDOW=$WINDOW IDLE_CONNS=$IDLE_CONNS"
} | tee "$OUT/summary.txt"

servers=(c1m go node)
declare -A port=([c1m]=18991 [go]=18992 [node]=18993)
declare -A per_round
for r in $(seq 1 "$ROUNDS"); do
    order=("${servers[@]:$(( (r - 1) % 3 ))}" "${servers[@]:0:$(( (r - 1) % 3 ))}")
    for s in "${order[@]}"; do
        p=${port[$s]}
        start "$s" "$p" "$EVERY_MS"
        log=$OUT/round$r-$s.bench.log
        json=$OUT/round$r-$s.json
        "$C1M" bench --proto ws --push --port "$p" --conns "$CONNS" --loops 2 --warmup 1s \
            --duration "${WINDOW}s" --connect-timeout 20s --json "$json" >"$OUT/round$r-$s.bench.txt" 2>"$log" &
        bp=$!
        bench_wait "$log" || { echo "round $r $s: bench did not connect" >&2; }
        sleep 1.1 # the warm-up (bench's window starts on a 100 ms boundary)
        c0=$(cpu_ticks "$SPID")
        sleep "$WINDOW"
        c1=$(cpu_ticks "$SPID")
        wait $bp
        stop
        v=$(/usr/bin/python3 - "$json" "$c0" "$c1" "$tck" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
c0, c1, tck = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
p = d["push"]
cpu_ns = (c1 - c0) * 1e9 / tck
print("%d %d %d %d %d %.3f %.1f" % (d["conns_established"], p["deliveries"], p["lost"],
      p["reach_50_us"], p["reach_99_us"], cpu_ns / 1e9, cpu_ns / max(p["deliveries"], 1)))
EOF
)
        read -r conns deliv lost r50 r99 cpus nsmsg <<<"$v"
        per_round[$r,$s]=$nsmsg
        printf 'round %d %-5s conns %6d deliveries %8d lost %d reach50 %8d us reach99 %8d us server_cpu %6.3f s  cpu/msg %7.1f ns\n' \
            "$r" "$s" "$conns" "$deliv" "$lost" "$r50" "$r99" "$cpus" "$nsmsg" | tee -a "$OUT/summary.txt"
        sleep 1
    done
done
[ "$ROUNDS" -gt 0 ] && {
    for s in go node; do
        rs=()
        for r in $(seq "$ROUNDS"); do
            rs+=("$(awk -v a="${per_round[$r,c1m]}" -v b="${per_round[$r,$s]}" 'BEGIN {printf "%.3f", a / b}')")
        done
        med=$(printf '%s\n' "${rs[@]}" | median)
        printf 'c1m cpu/msg vs %-4s: median %s (rounds: %s)\n' "$s" "$med" "${rs[*]}"
    done
    for s in "${servers[@]}"; do
        vals=()
        for r in $(seq "$ROUNDS"); do vals+=("${per_round[$r,$s]}"); done
        printf '%-4s cpu/msg ns: median %s (rounds: %s)\n' "$s" "$(printf '%s\n' "${vals[@]}" | median)" "${vals[*]}"
    done
} | tee -a "$OUT/summary.txt"

# 2. idle memory per connection
if [ "$IDLE_CONNS" -gt 0 ]; then
    for s in "${servers[@]}"; do
        p=${port[$s]}
        start "$s" "$p" ""
        sleep 0.5
        m0=$(rss_kb "$SPID")
        log=$OUT/idle-$s.bench.log
        "$C1M" bench --proto ws --push --port "$p" --conns "$IDLE_CONNS" --warmup 1s --duration 2s \
            --connect-timeout 20s --json "$OUT/idle-$s.json" >"$OUT/idle-$s.bench.txt" 2>"$log" &
        bp=$!
        bench_wait "$log" || echo "idle $s: bench did not connect" >&2
        sleep 1.5
        m1=$(rss_kb "$SPID")
        est=$(/usr/bin/python3 -c "import json; print(json.load(open('$OUT/idle-$s.json'))['conns_established'])" 2>/dev/null ||
              grep -o 'connected [0-9]*' "$log" | awk '{print $2}')
        wait $bp
        est=$(/usr/bin/python3 -c "import json; print(json.load(open('$OUT/idle-$s.json'))['conns_established'])")
        stop
        printf 'idle %-4s conns %6d rss before %7d KiB after %7d KiB: %6.0f B/conn\n' "$s" "$est" "$m0" "$m1" \
            "$(awk -v a="$m0" -v b="$m1" -v n="$est" 'BEGIN {print (b - a) * 1024 / n}')" | tee -a "$OUT/summary.txt"
        sleep 1
    done
fi

# 3. c1m at C1M_IDLE_CONNS over prefork children
C1M_IDLE_CONNS=${C1M_IDLE_CONNS:-0}
if [ "$C1M_IDLE_CONNS" -gt 0 ]; then
    procs=$(( (C1M_IDLE_CONNS + 17999) / 18000 ))
    p=${port[c1m]}
    "$C1M" serve --proto http --arch prefork --procs $procs --port $p --quiet --timeouts off \
        2>>"$OUT/servers.log" &
    SPID=$!
    wait_port $p || { echo "c1m prefork did not start" >&2; exit 1; }
    sleep 1
    tree_rss() { local t=$(rss_kb "$SPID"); for k in $(pgrep -P "$SPID"); do t=$((t + $(rss_kb "$k"))); done; echo $t; }
    m0=$(tree_rss)
    log=$OUT/idle-c1m-big.bench.log
    "$C1M" bench --proto ws --push --port $p --conns "$C1M_IDLE_CONNS" --warmup 1s --duration 2s \
        --connect-timeout 30s --json "$OUT/idle-c1m-big.json" >"$OUT/idle-c1m-big.bench.txt" 2>"$log" &
    bp=$!
    bench_wait "$log" || echo "idle c1m big: bench did not connect" >&2
    sleep 1.5
    m1=$(tree_rss)
    per=$(for k in $(pgrep -P "$SPID"); do echo -n "$(ls /proc/$k/fd | wc -l) "; done)
    wait $bp
    stop
    est=$(/usr/bin/python3 -c "import json; print(json.load(open('$OUT/idle-c1m-big.json'))['conns_established'])")
    printf 'idle c1m prefork %d children (fds each: %s) conns %6d rss before %7d KiB after %7d KiB: %6.0f B/conn\n' \
        "$procs" "$per" "$est" "$m0" "$m1" \
        "$(awk -v a="$m0" -v b="$m1" -v n="$est" 'BEGIN {print (b - a) * 1024 / n}')" | tee -a "$OUT/summary.txt"
fi
