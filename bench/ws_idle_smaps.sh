#!/usr/bin/env bash
# Where an idle WebSocket connection's bytes go: c1m serve (reuseport, 2
# loops) with N idle /ws/push subscribers from c1m bench, RSS before and
# after as in bench/ws_push_vs_peers.sh part 2, plus the change of each
# mapping's Rss (/proc/PID/smaps): the connection slab (anonymous, 128 KiB
# chunks), the loops' malloc arenas (per-connection WebSocket state), and
# any library code paged in by the first handshake (a one-time cost that
# the before/after difference charges to the connections). Not part of CI;
# run it in a network namespace of your own (port 18998), as root:
#
#   ip netns exec NS bench/ws_idle_smaps.sh [BUILD_DIR] [N (19000)]
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh" # wait_port
B=${1:-$here/../build}
N=${2:-19000}
T=$(mktemp -d /tmp/ws_idle_smaps.XXXXXX)
ulimit -n 20000 2>/dev/null
"$B/c1m" serve --proto http --arch reuseport --loops 2 --port 18998 --quiet --timeouts off 2>"$T/serve.log" &
S=$!
trap 'kill $S 2>/dev/null; rm -rf "$T"' EXIT
wait_port 18998 || { echo "server did not start" >&2; exit 1; }
sleep 0.5
rss() { awk '/VmRSS/ {print $2}' /proc/$S/status; }
m0=$(rss)
cp /proc/$S/smaps "$T/smaps0"
"$B/c1m" bench --proto ws --push --port 18998 --conns "$N" --warmup 1s --duration 2s \
    --connect-timeout 20s --json "$T/b.json" >/dev/null 2>"$T/bench.log" &
bp=$!
for _ in $(seq 600); do grep -q measuring "$T/bench.log" && break; sleep 0.1; done
sleep 1.5
m1=$(rss)
cp /proc/$S/smaps "$T/smaps1"
wait $bp
n=$(/usr/bin/python3 -c "import json; print(json.load(open('$T/b.json'))['conns_established'])")
echo "# $("$B/c1m" --version 2>&1 | head -1); conns $n; rss $m0 -> $m1 KiB:" \
     "$(awk -v a="$m0" -v b="$m1" -v n="$n" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}') B/conn"
/usr/bin/python3 - "$T/smaps0" "$T/smaps1" "$n" <<'PY'
import re, sys
def load(f):
    d, name = {}, None
    for line in open(f):
        m = re.match(r'^([0-9a-f]+)-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$', line)
        if m:
            name = (m.group(1), m.group(2), m.group(3) or '[anon]')
        elif line.startswith('Rss:'):
            d[name] = int(line.split()[1])
    return d
a, b, n = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
rows = sorted(((b.get(k, 0) - a.get(k, 0), k) for k in set(a) | set(b)), reverse=True)
for dd, k in rows:
    if dd:
        print("%7d KiB %6.0f B/conn  %s %s %s" % (dd, dd * 1024 / n, *k))
print("%7d KiB %6.0f B/conn  total" % (sum(r[0] for r in rows), sum(r[0] for r in rows) * 1024 / n))
PY
