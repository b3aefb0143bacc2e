#!/usr/bin/env bash
# c1m's HTTP server (the seed's app, four timeouts on) against nginx and
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
#               (defaults = the seed's Go server: read 5s, write 10s,
#                header 10s, idle 10s)
#   c1m-off:    the same with --timeouts off
#   nginx:      Debian nginx-light, worker_processes 2, access_log off,
#               location / { return 200 "Welcome!\n"; }, client_header_timeout
#               10s, client_body_timeout 5s, send_timeout 10s,
#               keepalive_timeout 10s, keepalive_requests 1e8 (Go has no
#               per-connection request limit; nginx's default is 1000)
#   PIN=1:      nginx-pin (worker_cpu_affinity auto) and c1m-pin
#               (--cpu-affinity auto): each loop/worker on its own CPU
set -u
B=${1:-build}
ROUNDS=${2:-5}
DUR=${3:-10s}
CONNS=${4:-1000}
C1M=$B/c1m
P_NGINX=19280 P_C1M=19281 P_OFF=19282 P_NGPIN=19283 P_PIN=19284
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

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on $1"; exit 1
}

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
nginx_conf "$TMP/nginx" $P_NGINX ""
"$C1M" serve --proto http --arch reuseport --loops 2 --port $P_C1M --quiet &
PIDS+=($!)
"$C1M" serve --proto http --arch reuseport --loops 2 --port $P_OFF --timeouts off --quiet &
PIDS+=($!)
if [ "${PIN:-0}" = 1 ]; then
    nginx_conf "$TMP/nginx-pin" $P_NGPIN "worker_cpu_affinity auto;"
    "$C1M" serve --proto http --arch reuseport --loops 2 --port $P_PIN --cpu-affinity auto --quiet &
    PIDS+=($!)
    names+=(nginx-pin c1m-pin)
    ports+=($P_NGPIN $P_PIN)
fi
N=${#names[@]}
for p in "${ports[@]}"; do wait_port $p; done
for p in "${ports[@]}"; do
    [ "$(curl -s http://127.0.0.1:$p/)" = "Welcome!" ] || { echo "port $p does not answer Welcome!"; exit 1; }
done

declare -A R
echo "# wrk -t2 -c$CONNS -d$DUR http://127.0.0.1:PORT/, $ROUNDS rounds, order rotated ($(nproc) cores, $(uname -r))"
for r in $(seq "$ROUNDS"); do
    for j in $(seq 0 $((N - 1))); do
        i=$(( (j + r - 1) % N ))
        out=$(wrk -t2 -c"$CONNS" -d"$DUR" "http://127.0.0.1:${ports[$i]}/" 2>&1)
        rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
        errs=$(echo "$out" | awk '/Socket errors|Non-2xx/ {print}' | tr '\n' ' ')
        R[$i,$r]=${rps:-0}
        echo "round $r ${names[$i]}: ${rps:-?} req/s ${errs}(loadavg $(cut -d' ' -f1 /proc/loadavg))"
        sleep 1
    done
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo
printf '| server |'; for r in $(seq "$ROUNDS"); do printf ' round %d |' "$r"; done; printf ' median req/s |\n'
printf '|---|'; for r in $(seq "$ROUNDS"); do printf -- '---:|'; done; printf -- '---:|\n'
for i in $(seq 0 $((N - 1))); do
    printf '| %s |' "${names[$i]}"
    for r in $(seq "$ROUNDS"); do printf ' %.0f |' "${R[$i,$r]}"; done
    printf ' %.0f |\n' "$(for r in $(seq "$ROUNDS"); do echo "${R[$i,$r]}"; done | median)"
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
echo "| ratio within a round: median (min .. max) | value | target |"
echo "|---|---:|---:|"
echo "| c1m (timeouts on) / nginx | $(ratio 1 0) | >= 1.30x |"
echo "| c1m (timeouts on) / c1m --timeouts off | $(ratio 1 2) | >= 0.98x |"
if [ "$N" -gt 3 ]; then
    echo "| c1m-pin / nginx-pin (both pinned) | $(ratio 4 3) | |"
    echo "| c1m-pin / nginx (nginx defaults) | $(ratio 4 0) | |"
fi
