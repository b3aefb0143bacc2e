#!/usr/bin/env bash
# c1m bench --proto http against a real server: nginx from Debian's
# packages, started here on 127.0.0.1:19180 with its own configuration in a
# temporary directory (nothing is installed; skipped when nginx is absent).
# Checks status counts (200, 404), chunked bodies, HEAD, keep-alive
# connections the server ends (keepalive_requests) and echo mismatches.
# Usage: tests/integration/bench_http.sh BUILD_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PORT=19180
make_tmp bench_http
NGINX_PID=
KEYS="('conns_established','requests','errors_by_kind','mismatches','lost','http','reconnects')"

stop_nginx() {
    if [ -n "$NGINX_PID" ]; then
        kill "$NGINX_PID" 2>/dev/null   # the master stops its workers
        for _ in $(seq 1 30); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$NGINX_PID" 2>/dev/null
    fi
}
on_exit stop_nginx

NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null)
if [ -z "$NGINX" ]; then
    skip_dep nginx "c1m bench --proto http against nginx (the whole script)"
    finish; exit
fi
if [ ! -x "$C1M" ]; then
    bad "no $C1M: build first"; finish; exit 1
fi

mkdir -p "$TMP/www/static" "$TMP/tmp"
for i in $(seq 1 100); do echo "line $i of a static file xxxx"; done >"$TMP/www/static/page.txt"
# nginx's workers drop root privileges: let them read the files
chmod 755 "$TMP" "$TMP/www" "$TMP/www/static"
chmod 644 "$TMP/www/static/page.txt"
cat >"$TMP/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 4096;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
daemon off;
events { worker_connections 2048; }
http {
    access_log off;
    client_body_temp_path $TMP/tmp/body;
    proxy_temp_path $TMP/tmp/proxy;
    fastcgi_temp_path $TMP/tmp/fcgi;
    uwsgi_temp_path $TMP/tmp/uwsgi;
    scgi_temp_path $TMP/tmp/scgi;
    keepalive_requests 50;
    server {
        listen 127.0.0.1:$PORT;
        location = / { return 200 "hello from nginx\n"; }
        location = /missing { return 404; }
        location /plain/ { alias $TMP/www/static/; }
        # sub_filter rewrites the body, so nginx sends it chunked
        location /chunked/ { alias $TMP/www/static/; sub_filter 'xxxx' 'yyyy';
                             sub_filter_once off; sub_filter_types text/plain; }
    }
}
CONF
"$NGINX" -c "$TMP/nginx.conf" -p "$TMP" >"$TMP/nginx.out" 2>&1 &
NGINX_PID=$!
up=
for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && { up=1; break; }
    sleep 0.1
done
if [ -z "$up" ]; then
    bad "nginx did not start on port $PORT"; cat "$TMP/nginx.out" "$TMP/error.log" 2>/dev/null
    finish; exit 1
fi

run() { # NAME ARGS...: bench into $TMP/NAME.json
    local name=$1; shift
    timeout 60 "$C1M" bench --conns 100 --duration 2s --warmup 500ms --quiet \
        --json "$TMP/$name.json" "$@" >"$TMP/$name.out" 2>&1
}

run ok --url http://127.0.0.1:$PORT/
[ $? -eq 0 ] && ok "GET /: exit 0" || { bad "GET /: failed"; cat "$TMP/ok.out"; }
jcheck "$TMP/ok.json" "d['requests'] > 0 and d['http']['codes'].get('200') == d['requests'] and d['http']['non_2xx'] == 0" \
    "GET /: every response counted as 200"
jcheck "$TMP/ok.json" "d['errors'] == d['errors_by_kind']['source_unavailable'] and d['lost'] == 0" \
    "GET /: no errors, nothing lost"
jcheck "$TMP/ok.json" "d['reconnects'] > 0 and d['conns_closed_by_peer'] == 0" \
    "GET /: keep-alive connections ended by nginx (keepalive_requests 50) are reopened"

run missing --url http://127.0.0.1:$PORT/missing --pipeline 2
[ $? -eq 0 ] && ok "GET /missing: exit 0" || bad "GET /missing: failed"
jcheck "$TMP/missing.json" "d['requests'] > 0 and d['http']['codes'] == {'404': d['requests']} and d['http']['classes']['4xx'] == d['requests'] and d['http']['non_2xx'] == d['requests']" \
    "GET /missing (pipelined): every response counted as 404"

run chunked --url http://127.0.0.1:$PORT/chunked/page.txt --loops 2
jcheck "$TMP/chunked.json" "d['requests'] > 0 and d['http']['codes'].get('200') == d['requests'] and d['errors_by_kind']['bad_response'] == 0" \
    "chunked bodies parsed"
if command -v curl >/dev/null; then
    curl -s -D - -o /dev/null http://127.0.0.1:$PORT/chunked/page.txt | grep -qi "transfer-encoding: chunked" \
        && ok "nginx really answered chunked" || bad "nginx did not use chunked encoding"
else
    skip_dep curl "nginx really answered chunked"
fi

run head --url http://127.0.0.1:$PORT/plain/page.txt --method HEAD --header "X-Test: 1"
jcheck "$TMP/head.json" "d['requests'] > 0 and d['http']['codes'].get('200') == d['requests'] and d['errors'] == d['errors_by_kind']['source_unavailable']" \
    "HEAD with Content-Length and no body"

# the echo client against an HTTP server: replies differ, and that must show
run echo --proto echo --port $PORT --size 64 --retries 0
rc=$?
[ $rc -ne 0 ] && ok "echo against nginx: non-zero exit ($rc)" || bad "echo against nginx: exit 0"
jcheck "$TMP/echo.json" "d['mismatches'] > 0" "echo against nginx: mismatches counted"

timeout 10 "$C1M" bench --url "http://127.0.0.1:$PORT" --method "G T" --quiet >/dev/null 2>&1
[ $? -eq 2 ] && ok "bad --method: exit 2" || bad "bad --method accepted"

finish
