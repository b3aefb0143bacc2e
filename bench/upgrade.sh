#!/bin/bash
# An upgrade under load, as docs/RESULTS.md shows it: c1m bench (HTTP, CONNS
# keep-alive connections, closed loop, 250 ms intervals) against
#   c1m serve --proto http ARCH...
# with one SIGUSR2 (binary upgrade: the same binary) at 4 s into the run.
# Prints the bench's interval lines (TPS, p50/p99/max, and the connect
# errors, resets, requests without an answer and reconnects of each
# interval), the servers' upgrade and drain lines, how long the switch
# took (SIGUSR2 to the new server ready, ready to the old one drained, from
# the old server's log), the slowest request of the run, and the p99/max of
# the intervals that overlap the upgrade (from the SIGUSR2 to the old
# server's drain summary), from the JSON. These are the time figures that
# tests/integration/upgrade.sh does not check.
#
#   bench/upgrade.sh [BUILD_DIR] [CONNS] [PORT] -- ARCH ARGS...
#   e.g. bench/upgrade.sh build 1000 19150 -- --arch reuseport --loops 2
#   PROTO=echo DRAIN=2s bench/upgrade.sh build 10000 19150 -- --arch single
#     (echo clients never close: the old server closes them at DRAIN)
#
# Run under the integration lock (it binds a port). Every process started
# here is remembered by PID and only those are stopped.
set -u
. "$(dirname "$0")/../scripts/lib.sh" # wait_port
B=${1:-build}; CONNS=${2:-1000}; PORT=${3:-19150}
shift 3 2>/dev/null; [ "${1:-}" = "--" ] && shift
PROTO=${PROTO:-http}; DRAIN=${DRAIN:-5s}
TMP=$(mktemp -d /tmp/c1m_upgrade_bench.XXXXXX)
PF=$TMP/pid
cleanup() {
    # the new server stops (and says so), then the old one, which watches it
    [ -s "$PF" ] && kill -TERM "$(cat "$PF")" 2>/dev/null
    kill -TERM "$OLD" 2>/dev/null
    sleep 1; rm -rf "$TMP"
}
trap cleanup EXIT
"$B/c1m" serve --proto "$PROTO" --port "$PORT" --pid-file "$PF" --drain-timeout "$DRAIN" \
    --metrics-interval 1h "$@" >"$TMP/serve.log" 2>&1 &
OLD=$!
wait_port "$PORT" || { echo "server did not start"; cat "$TMP/serve.log"; exit 1; }
sleep 0.3
"$B/c1m" bench --proto "$PROTO" --port "$PORT" --conns "$CONNS" --duration 8s --warmup 1s \
    --interval 250ms --json "$TMP/bench.json" >"$TMP/bench.out" 2>&1 &
BP=$!
sleep 4.1 # connect + warm-up + 3 s
T0=$(date +%s%N)
kill -USR2 "$OLD"
# log time (HH:MM:SS.us, today) of the first line matching PATTERN, in ns
logtime() {
    local t; t=$(grep -m1 -E "$1" "$TMP/serve.log" | cut -d' ' -f1)
    [ -n "$t" ] && date -d "$t" +%s%N
}
for _ in $(seq 3000); do grep -q 'drained: ' "$TMP/serve.log" && break; sleep 0.01; done
wait $BP
TR=$(logtime 'is ready'); T1=$(logtime 'drained: ')
T1=${T1:-$(date +%s%N)}
echo "# c1m serve --proto $PROTO --drain-timeout $DRAIN $* ; one SIGUSR2 at $(date -d @$((T0 / 1000000000)) +%T).$(( (T0 / 1000000) % 1000 ))"
cat "$TMP/bench.out"
grep -E 'upgrade|drained' "$TMP/serve.log"
[ -n "$TR" ] && echo "new server ready $(( (TR - T0) / 1000000 )) ms after the SIGUSR2; old server drained $(( (T1 - TR) / 1000000 )) ms after that (deadline $DRAIN)"
python3 - "$TMP/bench.json" "$T0" "$T1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); t0 = int(sys.argv[2]) / 1e9; t1 = int(sys.argv[3]) / 1e9
print("slowest request of the run: %.2f ms" % (d['latency_us']['max'] / 1e3))
iv = [v for v in d['intervals'] if v['t'] + 0.25 > t0 and v['t'] < t1]
rest = [v for v in d['intervals'] if not v['warmup'] and v['secs'] >= 0.2 and v not in iv]
if iv:
    print("upgrade window: %d intervals, tps %.0f (others %.0f), p99 up to %.2f ms, max %.2f ms, "
          "lost %d, resets %d, connect errors %d, reconnects %d" % (
          len(iv), sum(v['requests'] for v in iv) / sum(v['secs'] for v in iv),
          sum(v['requests'] for v in rest) / max(1e-9, sum(v['secs'] for v in rest)),
          max(v['p99_us'] for v in iv) / 1e3, max(v['max_us'] for v in iv) / 1e3,
          sum(v['lost'] for v in iv), sum(v['resets'] for v in iv),
          sum(v['connect_errors'] for v in iv), sum(v['reconnects'] for v in iv)))
PY
