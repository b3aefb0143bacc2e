#!/usr/bin/env bash
# User memory per connection when one uring server process holds more
# connections than its fd limit (many rings, one loop thread each): the
# million-connection lab's situation at a size that runs in a minute.
#
# One `c1m serve --backend uring --procs 1 --max-conns N` under a lowered
# RLIMIT_NOFILE (so it runs ceil(N / what a ring holds) rings), one
# `c1m bench --backend uring --procs 1` client. Phases, each a new bench
# run (the server stays up, so memory it kept is still counted):
#   start     no connection
#   idle/2    N/2 connections, 10 requests/s in all (open loop)
#   idle      N connections, 10 requests/s
#   echoing   N connections, closed loop (every connection echoing), at
#             the window's end
# For each: the server's RSS, split by /proc/PID/smaps into the rings'
# SQ/CQ mmaps, thread stacks (static TLS included), and the rest (heap,
# malloc arenas, large anonymous allocations: connection slabs, slot
# tables, buffer rings, send buffers); RSS/conn as `c1m lab` reports it
# (all of RSS / connections), what the idle connections added over the
# start, and the slope between idle/2 and idle (what one more idle
# connection costs; an underestimate where the second run reuses pages the
# first one touched).
#
# Not part of CI. Run it in a network namespace of your own (port 21960),
# as root:
#
#   ip netns exec NS bench/uring_mem.sh [BUILD_DIR] [N (100000)] [NOFILE (10000)] [PROTO (ts8)]
#
# Set RAW=DIR to keep the server log, the bench outputs and the phase
# figures there.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh" # wait_port
B=${1:-$here/../build}
N=${2:-100000}
NOFILE=${3:-10000}
PROTO=${4:-ts8}
PORT=${PORT:-21960}
DUR=${DUR:-10}
T=$(mktemp -d /tmp/uring_mem.XXXXXX)
S=
# RAW: the logs, bench outputs and phase figures (not the smaps: 0.4 MiB each)
trap '[ -n "$S" ] && kill $S 2>/dev/null; [ -n "${RAW:-}" ] && mkdir -p "$RAW" &&
      cp "$T"/serve.log "$T"/phases "$T"/*.out "$T"/*.json "$RAW"/; rm -rf "$T"' EXIT

prlimit --nofile="$NOFILE:$NOFILE" -- "$B/c1m" serve --backend uring --procs 1 --max-conns "$N" \
    --proto "$PROTO" --port "$PORT" --quiet 2>"$T/serve.log" &
S=$!
for _ in 1 2 3 4 5 6; do wait_port "$PORT" && break; done # 21 rings on a busy machine: seconds
wait_port "$PORT" || { echo "server did not start" >&2; cat "$T/serve.log" >&2; exit 1; }
sleep 0.5

# KiB by kind, from smaps: total io_uring stacks libs rest
split() {
    /usr/bin/python3 - "/proc/$S/smaps" <<'PY'
import re, sys
v = {"ring": 0, "stack": 0, "lib": 0, "rest": 0}
k = "rest"
for line in open(sys.argv[1]):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
    if m:
        kb, name = (int(m.group(2), 16) - int(m.group(1), 16)) // 1024, m.group(3)
        k = ("ring" if "io_uring" in name else "stack" if not name and kb == 8192
             else "lib" if name.startswith("/") else "rest")
    elif line.startswith("Rss:"):
        v[k] += int(line.split()[1])
print(sum(v.values()), v["ring"], v["stack"], v["lib"], v["rest"])
PY
}

# bench N' connections; once connected wait, then sample (SECS after connecting)
phase() { # name conns rate-args sample-after-seconds
    local name=$1 n=$2 rate=$3 after=$4
    "$B/c1m" bench --backend uring --procs 1 --proto "$PROTO" --port "$PORT" --conns "$n" $rate \
        --warmup 0 --duration "${DUR}s" --interval 5s --connect-timeout 20s \
        --json "$T/$name.json" >"$T/$name.out" 2>&1 &
    local bp=$!
    for _ in $(seq 1200); do grep -q measuring "$T/$name.out" && break; sleep 0.1; done
    sleep "$after"
    local m; m=$(split)
    cp "/proc/$S/smaps" "$T/$name.smaps"
    wait $bp
    local est tps
    est=$(/usr/bin/python3 -c "import json; print(json.load(open('$T/$name.json'))['conns_established'])" 2>/dev/null || echo 0)
    tps=$(grep -m1 '^requests:' "$T/$name.out" | sed 's/.* in the window, \([0-9.]*\) per second.*/\1/')
    echo "$name $est $m ${tps:-0}"
}

{
    echo "start 0 $(split) 0"
    phase idle2 $((N / 2)) "--rate 10" 2
    phase idle "$N" "--rate 10" 2
    phase echoing "$N" "" $((DUR - 1))
} >"$T/phases"

rings=$(sed -n 's/.*need \([0-9]*\) rings.*/\1/p' "$T/serve.log" | head -1)
echo "# $("$B/c1m" --version 2>&1 | head -1)"
echo "# $PROTO, one uring server process, RLIMIT_NOFILE $NOFILE, --max-conns $N: ${rings:-1} rings"
grep -m1 'rings' "$T/serve.log" | sed 's/^[0-9:.]* /# server: /'
awk -v rings="${rings:-1}" '
    { name[NR] = $1; n[NR] = $2; t[NR] = $3; ring[NR] = $4; st[NR] = $5; lib[NR] = $6; rest[NR] = $7; tps[NR] = $8 }
    END {
        printf "%-8s %7s %9s %9s %9s %9s %9s %9s %10s\n", "phase", "conns", "RSS KiB", "SQ/CQ", "stacks", "libs", "rest", "RSS/conn", "TPS"
        for (i = 1; i <= NR; i++)
            printf "%-8s %7d %9d %9d %9d %9d %9d %9s %10s\n", name[i], n[i], t[i], ring[i], st[i], lib[i], rest[i],
                   n[i] ? sprintf("%.0f B", t[i] * 1024 / n[i]) : "-", tps[i]
        if (n[3] > n[2]) {
            printf "idle connections: (RSS idle - RSS start) / conns = %.0f B each\n", (t[3] - t[1]) * 1024 / n[3]
            printf "one more idle connection (slope idle/2 -> idle): %.0f B (SQ/CQ %.0f, stacks %.0f, rest %.0f)\n",
                   (t[3] - t[2]) * 1024 / (n[3] - n[2]), (ring[3] - ring[2]) * 1024 / (n[3] - n[2]),
                   (st[3] - st[2]) * 1024 / (n[3] - n[2]), (rest[3] - rest[2]) * 1024 / (n[3] - n[2])
            printf "per ring, fixed: SQ/CQ mmaps %.0f KiB, stack+TLS %.0f KiB\n", ring[1] / rings, st[3] / rings
            printf "echoing - idle (buffer rings touched, send buffers): %d KiB = %.0f KiB per ring = %.0f B per connection\n",
                   t[4] - t[3], (t[4] - t[3]) / rings, (t[4] - t[3]) * 1024 / n[4]
        }
    }' "$T/phases"
