#!/usr/bin/env bash
# WebSocket echo: c1m serve (one loop and two loops) against Go
# gorilla/websocket and Node `ws`, on this machine, in one run: server CPU
# per echoed message. Not part of CI. Run it in a network namespace of your
# own (fixed ports 18994..18997), as root:
#
#   ip netns exec NS bench/ws_echo_vs_peers.sh OUTDIR [BUILD_DIR]
#   env: CONNS (10000) ROUNDS (3) SIZE (64) WINDOW (5)
#        RATE (20000 messages/s in total, open loop; 0 = closed loop)
#        BASE_BUILD (unset): also run base-1, c1m-1 from that build
#        directory, to compare two builds in one run (ratio c1m-1 / base-1)
#        SERVERS (c1m-1 c1m-2 go node, plus base-1 with BASE_BUILD): which
#        to run
#
# Servers (each one process, 2 cores to use):
#   c1m-1: c1m serve --proto http --arch reuseport --loops 1 (route /ws)
#   c1m-2: the same with --loops 2
#   go:    bench/peers/ws_echo_go (gorilla/websocket from Debian's
#          golang-github-gorilla-websocket-dev, GOPATH=/usr/share/gocode,
#          no network), GOMAXPROCS=2: a goroutine per connection,
#          ReadMessage then WriteMessage (gorilla's echo example)
#   node:  bench/peers/ws_echo_node.js (ws from tests/ws_node_setup.sh):
#          ws's echo example
# The client is c1m bench --proto ws (echo mode: SIZE-byte binary messages,
# each checked when it comes back), CONNS connections over 2 loops; with
# RATE the same offered load for every server (open loop, so no server is
# pushed to saturation and batching does not favour the faster one), with
# RATE=0 closed loop (one message in flight per connection).
#
# Per round, each server in turn (order rotated every round): start it,
# connect CONNS clients, after bench's 1 s warm-up read the server's
# utime+stime (/proc, all threads) at the start and the end of a
# WINDOW-second window; divide by the messages bench counted in its
# window. Ratios are taken within a round (drift cancels) and reported as
# median (min .. max) over ROUNDS. Each line also shows what bench counted:
# unsent (open loop: sends the client itself was too late for), bad
# (mismatched or lost echoes: must be 0), errors (connection errors, e.g. a
# source port still in TIME_WAIT, retried).
#
# The machine is shared (other agents run builds and tests): the lock
# /tmp/c1m-bench.lock is taken around the measurements, yet other work
# still runs beside them; only the ratios within a round mean much.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh" # wait_port, median
OUT=${1:?usage: ws_echo_vs_peers.sh OUTDIR [BUILD_DIR]}
B=${2:-$here/../build}
C1M=$B/c1m
CONNS=${CONNS:-10000}
ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-64}
WINDOW=${WINDOW:-5}
RATE=${RATE:-20000}
mkdir -p "$OUT"
[ -x "$C1M" ] || { echo "no $C1M (make)" >&2; exit 1; }
[ -d "$here/../tests/integration/node/node_modules/ws" ] ||
    { echo "Node ws missing: tests/ws_node_setup.sh (root namespace: npm needs the network)" >&2; exit 1; }
GODIR=$(mktemp -d /tmp/ws_echo_go.XXXXXX) # not into OUT: the results stay small
GOBIN=$GODIR/ws_echo_go
(cd "$here/peers/ws_echo_go" && GO111MODULE=off GOPATH=/usr/share/gocode go build -o "$GOBIN" .) ||
    { echo "go build failed (apt-get install golang-go golang-github-gorilla-websocket-dev)" >&2; exit 1; }
ulimit -n 20000 2>/dev/null

SPID=0
cleanup() { [ "$SPID" != 0 ] && kill "$SPID" 2>/dev/null; rm -rf "$GODIR"; }
trap cleanup EXIT

# start NAME PORT: the server in the background, SPID its pid
start() {
    case $1 in
    c1m-1) "$C1M" serve --proto http --arch reuseport --loops 1 --port "$2" --quiet \
            --timeouts off 2>>"$OUT/servers.log" & ;;
    base-1) "$BASE_BUILD/c1m" serve --proto http --arch reuseport --loops 1 --port "$2" --quiet \
            --timeouts off 2>>"$OUT/servers.log" & ;;
    c1m-2) "$C1M" serve --proto http --arch reuseport --loops 2 --port "$2" --quiet \
            --timeouts off 2>>"$OUT/servers.log" & ;;
    go) GOMAXPROCS=2 "$GOBIN" -addr 127.0.0.1:"$2" 2>>"$OUT/servers.log" & ;;
    node) node "$here/peers/ws_echo_node.js" "$2" 2>>"$OUT/servers.log" & ;;
    esac
    SPID=$!
    wait_port "$2" || { echo "$1 did not start" >&2; exit 1; }
}
stop() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=0; }
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; } # this process, every thread
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
    echo "# CONNS=$CONNS ROUNDS=$ROUNDS SIZE=$SIZE WINDOW=$WINDOW RATE=$RATE SERVERS=${SERVERS:-}"
    [ -z "$BASE_BUILD" ] || echo "# base-1: $("$BASE_BUILD/c1m" --version 2>&1 | head -1) ($BASE_BUILD)"
} | tee "$OUT/summary.txt"

BASE_BUILD=${BASE_BUILD:-}
[ -z "$BASE_BUILD" ] || [ -x "$BASE_BUILD/c1m" ] || { echo "no $BASE_BUILD/c1m" >&2; exit 1; }
read -r -a servers <<<"${SERVERS:-c1m-1 c1m-2 go node${BASE_BUILD:+ base-1}}"
declare -A port=([c1m-1]=18994 [c1m-2]=18995 [go]=18996 [node]=18997 [base-1]=18990)
declare -A per_round
ratearg=()
[ "$RATE" -gt 0 ] && ratearg=(--rate "$RATE")
ns=${#servers[@]}
for r in $(seq 1 "$ROUNDS"); do
    k=$(( (r - 1) % ns ))
    order=("${servers[@]:$k}" "${servers[@]:0:$k}")
    for s in "${order[@]}"; do
        p=${port[$s]}
        start "$s" "$p"
        log=$OUT/round$r-$s.bench.log
        json=$OUT/round$r-$s.json
        "$C1M" bench --proto ws --port "$p" --conns "$CONNS" --loops 2 --size "$SIZE" "${ratearg[@]}" \
            --warmup 1s --duration "${WINDOW}s" --connect-timeout 20s --json "$json" \
            >"$OUT/round$r-$s.bench.txt" 2>"$log" &
        bp=$!
        bench_wait "$log" || { echo "round $r $s: bench did not connect" >&2; }
        sleep 1.1 # the warm-up (bench's window starts on a 100 ms boundary)
        c0=$(cpu_ticks "$SPID")
        sleep "$WINDOW"
        c1=$(cpu_ticks "$SPID")
        wait $bp
        stop
        v=$(/usr/bin/python3 - "$json" "$c0" "$c1" "$tck" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c0, c1, tck = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cpu_ns = (c1 - c0) * 1e9 / tck
print("%d %d %d %d %d %.3f %.1f" % (d["conns_established"], d["requests"],
      d["mismatches"] + d["lost"], d["errors"], d["unsent"], cpu_ns / 1e9,
      cpu_ns / max(d["requests"], 1)))
PY
)
        read -r conns msgs bad errs unsent cpus nsmsg <<<"$v"
        per_round[$r,$s]=$nsmsg
        printf 'round %d %-5s conns %6d messages %8d (%7.0f/s) unsent %6d bad %d errors %d server_cpu %6.3f s  cpu/msg %7.1f ns\n' \
            "$r" "$s" "$conns" "$msgs" "$(awk -v m="$msgs" -v w="$WINDOW" 'BEGIN {print m / w}')" "$unsent" \
            "$bad" "$errs" "$cpus" "$nsmsg" | tee -a "$OUT/summary.txt"
        sleep 1
    done
done
{
    for a in c1m-1 c1m-2; do
        for s in go node base-1; do
            [ -n "${per_round[1,$a]:-}" ] && [ -n "${per_round[1,$s]:-}" ] || continue
            [ "$a" = c1m-2 ] && [ "$s" = base-1 ] && continue
            rs=()
            for r in $(seq "$ROUNDS"); do
                rs+=("$(awk -v a="${per_round[$r,$a]}" -v b="${per_round[$r,$s]}" 'BEGIN {printf "%.3f", a / b}')")
            done
            med=$(printf '%s\n' "${rs[@]}" | median)
            mm=$(printf '%s\n' "${rs[@]}" | sort -g | sed -n '1p;$p' | paste -sd' ')
            printf '%s cpu/msg vs %-4s: median %s (min..max %s) (rounds: %s)\n' "$a" "$s" "$med" \
                "${mm/ /..}" "${rs[*]}"
        done
    done
    for s in "${servers[@]}"; do
        vals=()
        for r in $(seq "$ROUNDS"); do vals+=("${per_round[$r,$s]}"); done
        printf '%-5s cpu/msg ns: median %s (rounds: %s)\n' "$s" "$(printf '%s\n' "${vals[@]}" | median)" "${vals[*]}"
    done
} | tee -a "$OUT/summary.txt"
