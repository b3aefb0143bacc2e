#!/bin/bash
# bench/arch.sh — every c1m architecture against the floor (a minimal epoll
# echo loop, bench/floor_server.c; beside it the io_uring floor,
# bench/uring_floor.c) in one run, driven by the same minimal closed-loop
# client (bench/floor_client.c): 8-byte messages, one in flight per
# connection. Prints, per architecture, TPS and the server's CPU per
# message (utime + stime of the server and its child processes from /proc,
# over the measured window only: connects and the final resets are left
# out), each with its ratio to the epoll floor with the same number of
# server threads (and the CPU also to the uring floor). The *-uring rows
# run c1m on its io_uring backend. Numbers, not assertions.
#
#   bench/arch.sh [BUILD_DIR] [SECONDS] [ROUNDS] [CONNS...]
#   defaults: build 5 3 1000 10000
#   ONLY="floor-1t workerpool" runs just the named targets.
#   EXTRA="name|threads|command with PORT" adds a target (e.g. an older
#   build, for a before/after comparison in one run); several, one a line.
#
# Client and server share this machine's cores, so rounds are interleaved
# (every target once per round, the order rotated each round) and the
# median is reported. TPS moves with the client's share of the cores; the
# CPU per message is the steadier figure.
set -u
. "$(dirname "$0")/../scripts/lib.sh" # wait_port, median
B=${1:-build}
D=${2:-5}
R=${3:-3}
shift 3 2>/dev/null
CONNS=("$@")
[ ${#CONNS[@]} -eq 0 ] && CONNS=(1000 10000)
for f in "$B/c1m" "$B/bench/floor_server" "$B/bench/uring_floor" "$B/bench/floor_client"; do
    [ -x "$f" ] || { echo "missing $f: run make && make bench" >&2; exit 1; }
done
PORT=${PORT:-23972}
PIDS=()

# name | server threads | command (PORT substituted)
TARGETS=(
  "floor-1t|1|$B/bench/floor_server -q -p PORT -t 1"
  "floor-2t|2|$B/bench/floor_server -q -p PORT -t 2"
  "uring-floor-1t|1|$B/bench/uring_floor -q -p PORT -t 1"
  "uring-floor-2t|2|$B/bench/uring_floor -q -p PORT -t 2"
  "single|1|$B/c1m serve --quiet --port PORT --arch single --backend epoll"
  "reuseport|2|$B/c1m serve --quiet --port PORT --arch reuseport --loops 2 --backend epoll"
  "dispatch|2|$B/c1m serve --quiet --port PORT --arch dispatch --loops 2 --backend epoll"
  "exclusive|2|$B/c1m serve --quiet --port PORT --arch exclusive --loops 2 --backend epoll"
  "prefork|2|$B/c1m serve --quiet --port PORT --arch prefork --procs 2 --backend epoll"
  "workerpool|1|$B/c1m serve --quiet --port PORT --arch workerpool --workers 2 --backend epoll"
  "single-uring|1|$B/c1m serve --quiet --port PORT --arch single --backend uring"
  "reuseport-uring|2|$B/c1m serve --quiet --port PORT --arch reuseport --loops 2 --backend uring"
  "dispatch-uring|2|$B/c1m serve --quiet --port PORT --arch dispatch --loops 2 --backend uring"
  "exclusive-uring|2|$B/c1m serve --quiet --port PORT --arch exclusive --loops 2 --backend uring"
  "prefork-uring|2|$B/c1m serve --quiet --port PORT --arch prefork --procs 2 --backend uring"
  "workerpool-uring|1|$B/c1m serve --quiet --port PORT --arch workerpool --workers 2 --backend uring"
)


# EXTRA: one target, or several on lines of their own
while IFS= read -r t; do [ -n "$t" ] && TARGETS+=("$t"); done <<<"${EXTRA:-}"
if [ -n "${ONLY:-}" ]; then
    keep=()
    for t in "${TARGETS[@]}"; do
        [[ " $ONLY " == *" ${t%%|*} "* ]] && keep+=("$t")
    done
    TARGETS=("${keep[@]}")
fi

HZ=$(getconf CLK_TCK)
# cpu_ticks PID: utime+stime of PID's threads and of its child processes
cpu_ticks() {
    local t=0 p
    for p in "$1" $(pgrep -P "$1"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
now() { date +%s.%N; }
TMP=$(mktemp -d)
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

declare -A TPS CPU
for n in "${CONNS[@]}"; do
    for r in $(seq "$R"); do
        nt=${#TARGETS[@]}
        for k in $(seq 0 $((nt - 1))); do
            t=${TARGETS[$(((k + r - 1) % nt))]}
            IFS='|' read -r name threads cmd <<<"$t"
            PORT=$((PORT + 1))
            # shellcheck disable=SC2086
            ${cmd//PORT/$PORT} &
            sp=$!
            PIDS+=("$sp")
            wait_port $PORT || { echo "$name did not start" >&2; continue; }
            "$B/bench/floor_client" -v -c "$n" -t 1 -d "$D" -p $PORT -S 127.0.$((r + 10)).2 \
                >"$TMP/out" 2>"$TMP/err" &
            cp=$!
            # the client prints "running" when every connection is up:
            # the CPU window is inside its measured D seconds
            for _ in $(seq 1200); do
                grep -q running "$TMP/err" && break
                kill -0 $cp 2>/dev/null || break
                sleep 0.05
            done
            sleep 0.1
            c0=$(cpu_ticks $sp) t0=$(now)
            sleep "$(awk -v d="$D" 'BEGIN { print d - 0.4 }')"
            c1=$(cpu_ticks $sp) t1=$(now)
            wait $cp
            out=$(cat "$TMP/out")
            kill -TERM $sp; wait $sp 2>/dev/null
            tps=$(echo "$out" | tr ' ' '\n' | awk -F= '$1 == "tps" {print $2}')
            err=$(echo "$out" | tr ' ' '\n' | awk -F= '$1 == "errors" {print $2}')
            [ "${err:-1}" != 0 ] && echo "warning: $name $n conns: $out $(cat "$TMP/err")" >&2
            us=$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v a="$t0" -v b="$t1" -v x="${tps:-0}" \
                'BEGIN { m = x * (b - a); if (m > 0) printf "%.2f", c / hz * 1e6 / m; else print 0 }')
            TPS[$name,$n]="${TPS[$name,$n]:-} ${tps:-0}"
            CPU[$name,$n]="${CPU[$name,$n]:-} $us"
            echo "round $r, $n conns, $name: tps $tps, server CPU $us us/msg (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
        done
    done
done

echo
echo "| architecture | server threads | $(printf '%s conns TPS | vs floor | CPU us/msg | vs floor | vs uring floor | ' "${CONNS[@]}")"
echo "|---|---|$(printf -- '---:|---:|---:|---:|---:|%.0s' "${CONNS[@]}")"
for t in "${TARGETS[@]}"; do
    IFS='|' read -r name threads cmd <<<"$t"
    row="| $name | $threads |"
    for n in "${CONNS[@]}"; do
        m=$(echo "${TPS[$name,$n]}" | median)
        f=$(echo "${TPS[floor-${threads}t,$n]:-}" | median)
        cm=$(echo "${CPU[$name,$n]}" | median)
        cf=$(echo "${CPU[floor-${threads}t,$n]:-}" | median)
        ratio=$(awk -v a="$m" -v b="$f" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        cu=$(echo "${CPU[uring-floor-${threads}t,$n]:-}" | median)
        cratio=$(awk -v a="$cm" -v b="$cf" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        uratio=$(awk -v a="$cm" -v b="$cu" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        row="$row $(printf '%.0f' "$m") | $ratio | $cm | $cratio | $uratio |"
    done
    echo "$row"
done
echo
echo "median of $R interleaved rounds of ${D}s; client: floor_client -t 1, 8-byte messages;"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
