#!/bin/bash
# smaps of every prefork child before/after N idle subscribers, summed by mapping kind
B=$1; N=${2:-100000}; T=$(mktemp -d /tmp/wsmem-sp.XXXXXX)
ulimit -n 20000
C1M_BACKEND=epoll $B/c1m serve --proto http --arch prefork --procs 6 --port 18989 --quiet --timeouts off 2>$T/serve.log &
S=$!
sleep 2
snap() { for k in $(pgrep -P $S); do awk -v pid=$k '/^[0-9a-f]+-/ {name=$6; if (name=="") name="[anon]"} /^Rss:/ {r[name]+=$2} END {for (n in r) print pid, n, r[n]}' /proc/$k/smaps; done; awk '/VmRSS/ {print "sup", "rss", $2}' /proc/$S/status; }
snap > $T/a
C1M_BACKEND=epoll $B/c1m bench --proto ws --push --port 18989 --conns $N --warmup 1s --duration 2s --connect-timeout 30s --json $T/b.json >/dev/null 2>$T/bench.log &
bp=$!
for _ in $(seq 900); do grep -q measuring $T/bench.log && break; sleep 0.1; done
sleep 1.5
snap > $T/b
wait $bp
/usr/bin/python3 - $T/a $T/b <<'PY'
import sys, collections
def load(f):
    d = collections.defaultdict(int)
    for l in open(f):
        pid, name, kb = l.split()
        d[name] += int(kb)
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
for k in sorted(set(a)|set(b), key=lambda k: -(b[k]-a[k])):
    if b[k]-a[k]: print("%8d KiB  %s" % (b[k]-a[k], k))
PY
grep -o '"conns_established":[0-9]*' $T/b.json
kill $S; wait $S 2>/dev/null; rm -rf $T
