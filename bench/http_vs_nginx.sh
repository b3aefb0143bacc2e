#!/usr/bin/env bash
# c1m's HTTP server (the Go-timers article's app, four timeouts on) against nginx and
# against itself with --timeouts off, on this machine, in one run.
#
#   bench/http_vs_nginx.sh [BUILD_DIR] [ROUNDS] [DURATION] [CONNS]
#   defaults: build 5 10s 1000; PIN=1 also measures the pinned pair below
#
# Load: wrk -t2 -cCONNS -dDURATION http://127.0.0.1:PORT/ (keep-alive,
# GET / -> "Welcome!\n"). The servers run side by side, idle when not
# measured. Each round runs wrk once against each server, the order
# rotated every round; ROUNDS rounds. Servers and wrk share the machine's
# 2 cores and the machine's speed drifts (the same server measured 50K and
# 100K req/s a minute apart), so ratios are computed within each round
# (paired: slow drift cancels) and reported as median (min .. max).
#
#   c1m:        c1m serve --proto http --arch reuseport --loops 2
#               (defaults = the Go-timers article's server: read 5s, write 10s,
#                header 10s, idle 10s)
#   c1m-off:    the same with --timeouts off
#   nginx:      Debian nginx-light, worker_processes 2, access_log off,
#               location / { return 200 "Welcome!\n"; }, client_header_timeout
#               10s, client_body_timeout 5s, send_timeout 10s,
#               keepalive_timeout 10s, keepalive_requests 1e8 (Go has no
#               per-connection request limit; nginx's default is 1000)
#   PIN=1:      nginx-pin (worker_cpu_affinity auto) and c1m-pin
#               (--cpu-affinity auto): each loop/worker on its own CPU
#   c1m-uring:  c1m on the io_uring backend (--backend uring), timeouts on
#               (URING=0: off)
#   floor-epoll, floor-uring: bench/http_floor (-t 2, epoll / io_uring), a
#               server that parses nothing and answers every "\r\n\r\n" with
#               a fixed response: what the kernel alone costs (FLOORS=0: off)
#
# CPU per request: the server's utime+stime (all its threads and child
# processes, from /proc) and wrk's (bash's time), each divided by the
# requests wrk completed. Client and servers share the 2 cores, so req/s
# is bounded by 2 CPU-seconds / (wrk's + the server's CPU per request):
# the last table turns the 1.3x target into the server CPU per request it
# would need, given wrk's measured cost.
set -u
# The numbers in docs/RESULTS.md were measured on epoll; the c1m commands now
# default to io_uring where the kernel allows it. C1M_BACKEND=uring to measure that.
export C1M_BACKEND=${C1M_BACKEND:-epoll}
. "$(dirname "$0")/../scripts/lib.sh" # wait_port, median
B=${1:-build}
ROUNDS=${2:-5}
DUR=${3:-10s}
CONNS=${4:-1000}
C1M=$B/c1m
P_NGINX=19280 P_C1M=19281 P_OFF=19282 P_NGPIN=19283 P_PIN=19284 P_FE=19285 P_FU=19286 P_UR=19287
HZ=$(getconf CLK_TCK)
TMP=$(mktemp -d /tmp/c1m_http_vs_nginx.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

for t in wrk nginx; do
    command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "$t not installed (apt-get install $t)"; exit 1; }
done
[ -x "$C1M" ] || { echo "no $C1M (make)"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)


# nginx_conf DIR PORT EXTRA: a configuration of our own in DIR
nginx_conf() {
    mkdir -p "$1"
    cat > "$1/nginx.conf" <<EOF2
worker_processes 2;
$3
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    client_header_timeout 10s;
    client_body_timeout 5s;
    send_timeout 10s;
    keepalive_timeout 10s;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$2;
        location / { return 200 "Welcome!\n"; }
    }
}
EOF2
    "$NGINX" -p "$1" -e "$1/error.log" -c "$1/nginx.conf" &
    PIDS+=($!)
}

names=(nginx c1m c1m-off)
ports=($P_NGINX $P_C1M $P_OFF)
spids=()
nginx_conf "$TMP/nginx" $P_NGINX ""
spids+=($!)
"$C1M" serve --proto http --arch reuseport --loops 2 --port $P_C1M --quiet &
PIDS+=($!) spids+=($!)
"$C1M" serve --proto http --arch reuseport --loops 2 --port $P_OFF --timeouts off --quiet &
PIDS+=($!) spids+=($!)
if [ "${PIN:-0}" = 1 ]; then
    nginx_conf "$TMP/nginx-pin" $P_NGPIN "worker_cpu_affinity auto;"
    spids+=($!)
    "$C1M" serve --proto http --arch reuseport --loops 2 --port $P_PIN --cpu-affinity auto --quiet &
    PIDS+=($!) spids+=($!)
    names+=(nginx-pin c1m-pin)
    ports+=($P_NGPIN $P_PIN)
fi
if [ "${FLOORS:-1}" = 1 ] && [ -x "$B/bench/http_floor" ]; then
    "$B/bench/http_floor" -q -t 2 -p $P_FE &
    PIDS+=($!) spids+=($!)
    "$B/bench/http_floor" -q -t 2 -u -p $P_FU &
    PIDS+=($!) spids+=($!)
    names+=(floor-epoll floor-uring)
    ports+=($P_FE $P_FU)
fi
if [ "${URING:-1}" = 1 ]; then
    "$C1M" serve --proto http --arch reuseport --loops 2 --port $P_UR --backend uring --quiet &
    PIDS+=($!) spids+=($!)
    names+=(c1m-uring)
    ports+=($P_UR)
fi
N=${#names[@]}
for p in "${ports[@]}"; do wait_port $p || { echo "nothing listens on $p"; exit 1; }; done
for p in "${ports[@]}"; do
    [ "$(curl -s http://127.0.0.1:$p/)" = "Welcome!" ] || { echo "port $p does not answer Welcome!"; exit 1; }
done

# cpu_ticks PID: utime+stime of PID's threads and of its child processes
cpu_ticks() {
    local t=0 p
    for p in "$1" $(pgrep -P "$1"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

declare -A R SCPU WCPU
echo "# wrk -t2 -c$CONNS -d$DUR http://127.0.0.1:PORT/, $ROUNDS rounds, order rotated ($(nproc) cores, $(uname -r))"
for r in $(seq "$ROUNDS"); do
    for j in $(seq 0 $((N - 1))); do
        i=$(( (j + r - 1) % N ))
        t0=$(cpu_ticks "${spids[$i]}")
        TIMEFORMAT='%U %S'
        { time wrk -t2 -c"$CONNS" -d"$DUR" "http://127.0.0.1:${ports[$i]}/" > "$TMP/wrk.out" 2>&1; } 2> "$TMP/wrk.time"
        t1=$(cpu_ticks "${spids[$i]}")
        out=$(cat "$TMP/wrk.out")
        rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
        nreq=$(echo "$out" | awk '/requests in/ {print $1}')
        errs=$(echo "$out" | awk '/Socket errors|Non-2xx/ {print}' | tr '\n' ' ')
        R[$i,$r]=${rps:-0}
        SCPU[$i,$r]=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="${nreq:-0}" 'BEGIN { if (n > 0) printf "%.2f", d / hz * 1e6 / n; else print 0 }')
        WCPU[$i,$r]=$(awk -v n="${nreq:-0}" '{ if (n > 0) printf "%.2f", ($1 + $2) * 1e6 / n; else print 0 }' "$TMP/wrk.time")
        echo "round $r ${names[$i]}: ${rps:-?} req/s, CPU/request: server ${SCPU[$i,$r]} us, wrk ${WCPU[$i,$r]} us ${errs}(loadavg $(cut -d' ' -f1 /proc/loadavg))"
        sleep 1
    done
done

echo
printf '| server |'; for r in $(seq "$ROUNDS"); do printf ' round %d |' "$r"; done
printf ' median req/s | server CPU us/req | wrk CPU us/req |\n'
printf '|---|'; for r in $(seq "$ROUNDS"); do printf -- '---:|'; done; printf -- '---:|---:|---:|\n'
col() { for r in $(seq "$ROUNDS"); do eval echo "\${$1[$2,$r]}"; done | median; }
for i in $(seq 0 $((N - 1))); do
    printf '| %s |' "${names[$i]}"
    for r in $(seq "$ROUNDS"); do printf ' %.0f |' "${R[$i,$r]}"; done
    printf ' %.0f | %.2f | %.2f |\n' "$(col R "$i")" "$(col SCPU "$i")" "$(col WCPU "$i")"
done
echo
# ratio A B: A/B within each round; "median (min .. max)"
ratio() {
    local vals med lo hi
    vals=$(for r in $(seq "$ROUNDS"); do
        awk -v a="${R[$1,$r]}" -v b="${R[$2,$r]}" 'BEGIN { if (b > 0) printf "%.4f\n", a / b }'
    done)
    med=$(echo "$vals" | median)
    lo=$(echo "$vals" | sort -g | head -1)
    hi=$(echo "$vals" | sort -g | tail -1)
    printf '%.3fx (%.2f .. %.2f)' "$med" "$lo" "$hi"
}
# cpu_ratio A B: server CPU per request of A / of B within each round
cpu_ratio() {
    local vals med lo hi
    vals=$(for r in $(seq "$ROUNDS"); do
        awk -v a="${SCPU[$1,$r]}" -v b="${SCPU[$2,$r]}" 'BEGIN { if (b > 0) printf "%.4f\n", a / b }'
    done)
    med=$(echo "$vals" | median)
    lo=$(echo "$vals" | sort -g | head -1)
    hi=$(echo "$vals" | sort -g | tail -1)
    printf '%.3fx (%.2f .. %.2f)' "$med" "$lo" "$hi"
}
echo "| server CPU per request, ratio within a round: median (min .. max) | value |"
echo "|---|---:|"
echo "| c1m (timeouts on) / nginx | $(cpu_ratio 1 0) |"
for i in $(seq 3 $((N - 1))); do
    case ${names[$i]} in
    c1m-uring|floor-*) echo "| ${names[$i]} / nginx | $(cpu_ratio "$i" 0) |" ;;
    esac
done
echo
echo "| ratio within a round: median (min .. max) | value | target |"
echo "|---|---:|---:|"
echo "| c1m (timeouts on) / nginx | $(ratio 1 0) | >= 1.30x |"
echo "| c1m (timeouts on) / c1m --timeouts off | $(ratio 1 2) | >= 0.98x |"
for i in $(seq 3 $((N - 1))); do
    case ${names[$i]} in
    c1m-pin) echo "| c1m-pin / nginx-pin (both pinned) | $(ratio "$i" 3) | |"
             echo "| c1m-pin / nginx (nginx defaults) | $(ratio "$i" 0) | |" ;;
    floor-*) echo "| ${names[$i]} / nginx (what no parsing buys) | $(ratio "$i" 0) | |" ;;
    c1m-uring) echo "| c1m-uring / nginx | $(ratio "$i" 0) | |" ;;
    esac
done
echo
# The 2-core bound: req/s <= 2e6 / (wrk us/req + server us/req).
nginx_rps=$(col R 0)
wrk_us=$(for i in $(seq 0 $((N - 1))); do col WCPU "$i"; done | median)
awk -v r="$nginx_rps" -v w="$wrk_us" -v s="$(col SCPU 0)" -v c="$(col SCPU 1)" 'BEGIN {
    need = 2e6 / (1.3 * r) - w
    printf "| CPU budget (2 cores shared with wrk) | us per request |\n|---|---:|\n"
    printf "| wrk (median over all servers) | %.2f |\n", w
    printf "| nginx | %.2f |\n| c1m (timeouts on) | %.2f |\n", s, c
    printf "| server cost that 1.3x nginx (%.0f req/s) leaves | %.2f |\n", 1.3 * r, need
    printf "| ceiling with a server that costs nothing | %.0f req/s = %.2fx nginx |\n", 2e6 / w, 2e6 / w / r
}'
