#!/bin/bash
# bench/client_vs_peers.sh — c1m bench against other load generators, same
# server, same connection count, in one run (interleaved rounds, medians):
#   1. HTTP: c1m bench --proto http vs wrk, against c1m serve --proto http
#   2. 8-byte echo: c1m bench --proto ts8 vs the minimal closed-loop client
#      (bench/floor_client.c), against the floor server (bench/floor_server.c)
# Client and server share the machine's cores: read the ratios.
#
#   bench/client_vs_peers.sh [BUILD_DIR] [SECONDS] [ROUNDS] [CONNS]
set -u
. "$(dirname "$0")/../scripts/lib.sh" # wait_port, median
B=${1:-build}; D=${2:-8}; R=${3:-3}; N=${4:-1000}
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT
jget() { jq -r "$2" "$1"; }
TMP=$(mktemp -d)

HP=$((24000 + RANDOM % 500))
"$B/c1m" serve --proto http --timeouts off --arch reuseport --loops 2 --port $HP --quiet &
PIDS+=($!); wait_port $HP || { echo "http server did not start" >&2; exit 1; }
FP=$((24600 + RANDOM % 300))
"$B/bench/floor_server" -q -p $FP -t 1 &
PIDS+=($!); wait_port $FP || { echo "floor server did not start" >&2; exit 1; }

wrk_rps=() c1m_http=() floor_tps=() c1m_ts8=()
for r in $(seq "$R"); do
    w=$(wrk -t2 -c"$N" -d"${D}s" "http://127.0.0.1:$HP/" | awk '/Requests\/sec/ {print $2}')
    "$B/c1m" bench --quiet --url "http://127.0.0.1:$HP/" --conns "$N" --loops 2 --procs 1 \
        --duration "${D}s" --warmup 1s --source 127.0.$((40 + r)).2 --json "$TMP/h.json" >/dev/null
    h=$(jget "$TMP/h.json" .tps)
    f=$("$B/bench/floor_client" -c "$N" -t 1 -d "$D" -p $FP -S 127.0.$((50 + r)).2 | tr ' ' '\n' | awk -F= '$1=="tps" {print $2}')
    "$B/c1m" bench --quiet --proto ts8 --port $FP --conns "$N" --loops 1 --procs 1 \
        --duration "${D}s" --warmup 1s --source 127.0.$((60 + r)).2 --json "$TMP/t.json" >/dev/null
    t=$(jget "$TMP/t.json" .tps)
    echo "round $r: wrk $w, c1m bench http $h, floor_client $f, c1m bench ts8 $t" >&2
    wrk_rps+=("$w"); c1m_http+=("$h"); floor_tps+=("$f"); c1m_ts8+=("$t")
done
mw=$(echo "${wrk_rps[*]}" | median); mh=$(echo "${c1m_http[*]}" | median)
mf=$(echo "${floor_tps[*]}" | median); mt=$(echo "${c1m_ts8[*]}" | median)
echo
echo "| client | server | conns | median req/s | ratio |"
echo "|---|---|---:|---:|---:|"
echo "| wrk -t2 | c1m serve --proto http (reuseport, 2 loops) | $N | $(printf '%.0f' "$mw") | 1.00 |"
echo "| c1m bench --proto http --loops 2 | same | $N | $(printf '%.0f' "$mh") | $(awk -v a="$mh" -v b="$mw" 'BEGIN {printf "%.2f", a/b}') |"
echo "| floor_client -t 1 (8-byte closed loop) | floor_server -t 1 | $N | $(printf '%.0f' "$mf") | 1.00 |"
echo "| c1m bench --proto ts8 --loops 1 | same | $N | $(printf '%.0f' "$mt") | $(awk -v a="$mt" -v b="$mf" 'BEGIN {printf "%.2f", a/b}') |"
echo
echo "median of $R interleaved rounds of ${D}s; $(nproc) cores"
rm -rf "$TMP"
