#!/usr/bin/env bash
# The last interval of a bench run is measured like the others (issue 12
# item 7): replies that arrive after the window (the grace period's) are not
# counted in it. The window is made to end a quarter of the way into an
# interval (--start-at on a whole second, 500 ms intervals, warm-up 0.5 s,
# window 3.25 s) with many requests in flight (1,000 connections x
# pipeline 16), so counting the late replies would inflate that short
# interval's TPS far beyond the others': 16,000 late replies in a 0.25 s
# interval add 64,000 TPS to a steady 50,000-100,000 (a ratio of 1.6 or
# more). Check: the last interval lasts 0.25 s and its TPS is at most 1.4x
# the median of the steady (full, not warm-up) intervals. No lower bound:
# a loaded machine slows any interval (0.6x was seen), which is not the bug.
# Usage: tests/integration/bench_intervals.sh BUILD_DIR   (port 19131)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PORT=19131
make_tmp bench_intervals

start_server $PORT --arch single --proto ts8 || bad "server did not start"
for round in 1 2; do
    at=$(( $(date +%s) + 3 ))
    timeout 60 "$C1M" bench --port $PORT --proto ts8 --conns 1000 --pipeline 16 \
        --start-at "@$at" --warmup 500ms --duration 3250ms --interval 500ms --quiet \
        --json "$TMP/r$round.json" >"$TMP/r$round.out" 2>&1 || bad "round $round: bench failed"
    python3 - "$TMP/r$round.json" >"$TMP/r$round.check" <<'PYEOF'
import json, sys, statistics
d = json.load(open(sys.argv[1]))
iv = [v for v in d["intervals"] if not v["warmup"]]
last, steady = iv[-1], [v for v in iv[:-1] if v["secs"] > 0.49]
med = statistics.median(v["tps"] for v in steady)
ratio = last["tps"] / med
print("last %.2fs %.0f tps, steady median %.0f tps (%d intervals): ratio %.3f"
      % (last["secs"], last["tps"], med, len(steady), ratio))
sys.exit(0 if ratio <= 1.4 and abs(last["secs"] - 0.25) < 0.01 else 1)
PYEOF
    rc=$?
    echo "     round $round: $(cat "$TMP/r$round.check")"
    check "round $round: last interval (0.25 s) not inflated by late replies (<= 1.4x the steady median)" test $rc -eq 0
done
stop_server
finish
