#!/bin/bash
# bench/arch.sh — every c1m architecture against the floor (a minimal epoll
# echo loop, bench/floor_server.c) in one run, driven by the same minimal
# closed-loop client (bench/floor_client.c): 8-byte messages, one in flight
# per connection. Prints TPS per architecture and the ratio to the floor
# with the same number of server threads. Numbers, not assertions.
#
#   bench/arch.sh [BUILD_DIR] [SECONDS] [ROUNDS] [CONNS...]
#   defaults: build 5 3 1000 10000
#   ONLY="floor-1t workerpool" runs just the named targets.
#   EXTRA="name|threads|command with PORT" adds a target (e.g. an older
#   build, for a before/after comparison in one run).
#
# Client and server share this machine's cores, so rounds are interleaved
# (every target once per round) and the median is reported.
set -u
. "$(dirname "$0")/../scripts/lib.sh" # wait_port, median
B=${1:-build}
D=${2:-5}
R=${3:-3}
shift 3 2>/dev/null
CONNS=("$@")
[ ${#CONNS[@]} -eq 0 ] && CONNS=(1000 10000)
for f in "$B/c1m" "$B/bench/floor_server" "$B/bench/floor_client"; do
    [ -x "$f" ] || { echo "missing $f: run make && make bench" >&2; exit 1; }
done
PORT=${PORT:-23972}
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT

# name | server threads | command (PORT substituted)
TARGETS=(
  "floor-1t|1|$B/bench/floor_server -q -p PORT -t 1"
  "floor-2t|2|$B/bench/floor_server -q -p PORT -t 2"
  "single|1|$B/c1m serve --quiet --port PORT --arch single"
  "reuseport|2|$B/c1m serve --quiet --port PORT --arch reuseport --loops 2"
  "dispatch|2|$B/c1m serve --quiet --port PORT --arch dispatch --loops 2"
  "exclusive|2|$B/c1m serve --quiet --port PORT --arch exclusive --loops 2"
  "prefork|2|$B/c1m serve --quiet --port PORT --arch prefork --procs 2"
  "workerpool|1|$B/c1m serve --quiet --port PORT --arch workerpool --workers 2"
)


[ -n "${EXTRA:-}" ] && TARGETS+=("$EXTRA")
if [ -n "${ONLY:-}" ]; then
    keep=()
    for t in "${TARGETS[@]}"; do
        [[ " $ONLY " == *" ${t%%|*} "* ]] && keep+=("$t")
    done
    TARGETS=("${keep[@]}")
fi

declare -A TPS
for n in "${CONNS[@]}"; do
    for r in $(seq "$R"); do
        for t in "${TARGETS[@]}"; do
            IFS='|' read -r name threads cmd <<<"$t"
            PORT=$((PORT + 1))
            # shellcheck disable=SC2086
            ${cmd//PORT/$PORT} &
            sp=$!
            PIDS+=("$sp")
            wait_port $PORT || { echo "$name did not start" >&2; continue; }
            out=$("$B/bench/floor_client" -c "$n" -t 1 -d "$D" -p $PORT -S 127.0.$((r + 10)).2)
            kill -TERM $sp; wait $sp 2>/dev/null
            tps=$(echo "$out" | tr ' ' '\n' | awk -F= '$1 == "tps" {print $2}')
            err=$(echo "$out" | tr ' ' '\n' | awk -F= '$1 == "errors" {print $2}')
            [ "${err:-1}" != 0 ] && echo "warning: $name $n conns: $out" >&2
            TPS[$name,$n]="${TPS[$name,$n]:-} ${tps:-0}"
            echo "round $r, $n conns, $name: $tps" >&2
        done
    done
done


echo
echo "| architecture | server threads | $(printf '%s conns TPS | vs floor | ' "${CONNS[@]}")"
echo "|---|---|$(printf -- '---:|---:|%.0s' "${CONNS[@]}")"
for t in "${TARGETS[@]}"; do
    IFS='|' read -r name threads cmd <<<"$t"
    row="| $name | $threads |"
    for n in "${CONNS[@]}"; do
        m=$(echo "${TPS[$name,$n]}" | median)
        f=$(echo "${TPS[floor-${threads}t,$n]}" | median)
        ratio=$(awk -v a="$m" -v b="$f" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        row="$row $(printf '%.0f' "$m") | $ratio |"
    done
    echo "$row"
done
echo
echo "median of $R interleaved rounds of ${D}s; client: floor_client -t 1, 8-byte messages;"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
