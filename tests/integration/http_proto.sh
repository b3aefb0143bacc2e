#!/bin/bash
# c1m serve --proto http with real clients, under several architectures:
# the Go-timers article's routes, keep-alive (curl re-uses the connection), HEAD,
# chunked upload, Expect: 100-continue, redirect, 405 + Allow, bad
# requests (status + close), pipelining in order, HTTP/1.0, smuggling
# attempts, /metrics (promtool when installed).
. "$(dirname "$0")/lib.sh"
LOG=$(mktemp /tmp/c1m_http_proto.XXXXXX)
TMPD=$(mktemp -d /tmp/c1m_http_proto.d.XXXXXX)
trap 'cleanup; rm -rf "$LOG" "$TMPD"' EXIT

# raw PORT DATA [SECS]: send DATA (printf %b escapes) on one connection and
# print everything the server sends until it closes (exit 124: it did not
# close within SECS).
raw() {
    D="$2" timeout "${3:-3}" bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 || exit 9; printf "%b" "$D" >&3; cat <&3' "$1"
}
# status line code of a raw answer
code_of() { head -1 | awk '{print $2}'; }

run_arch() { # run_arch PORT ARGS...
    local port=$1; shift
    local name="$*"
    start_server "$port" --proto http "$@" || { bad "[$name] server did not start"; return; }
    local u=http://127.0.0.1:$port

    check "[$name] GET / = Welcome!" test "$(curl -s $u/)" = "Welcome!"
    check "[$name] GET /hello/gopher" test "$(curl -s $u/hello/gopher)" = "hello, gopher!"
    local v
    v=$(curl -sv $u/ $u/hello/x 2>&1)
    check "[$name] keep-alive: curl re-uses the connection" grep -q "Re-using existing connection" <<<"$v"
    check "[$name] keep-alive: both answers" sh -c "echo '$v' | grep -q 'Welcome!' && echo '$v' | grep -q 'hello, x!'"

    v=$(curl -sI $u/)
    check "[$name] HEAD /: 200 with Content-Length: 9" sh -c "echo '$v' | grep -q '^HTTP/1.1 200' && echo '$v' | grep -qi '^Content-Length: 9'"
    v=$(raw $port 'HEAD /hello/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | od -c | tail -3)
    local hb
    hb=$(raw $port 'HEAD /hello/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | tail -c 4 | od -An -c | tr -d ' ')
    check "[$name] HEAD: no body after the header" test "$hb" = '\r\n\r\n'
    check "[$name] HEAD: same Content-Length as GET" sh -c "curl -sI $u/hello/abc | grep -qi '^Content-Length: 12'"

    head -c 3000 /dev/urandom | base64 -w 76 > "$TMPD/body"
    v=$(curl -s -T - -X POST -H 'Transfer-Encoding: chunked' $u/echo < "$TMPD/body")
    check "[$name] chunked upload echoed (POST /echo, curl -T -)" test "$v" = "$(cat "$TMPD/body")"
    v=$(curl -sv -H 'Expect: 100-continue' --data-binary @"$TMPD/body" $u/echo 2>&1)
    check "[$name] Expect: 100-continue -> 100 Continue" grep -q "HTTP/1.1 100 Continue" <<<"$v"
    check "[$name] ... then the body echoed" sh -c "curl -s -H 'Expect: 100-continue' --data-binary @$TMPD/body $u/echo | cmp -s - $TMPD/body"
    v=$(raw $port 'POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n')
    check "[$name] 100-continue to a 404: final answer at once, no 100, closed" sh -c "echo '$v' | head -1 | grep -q '404' && ! echo '$v' | grep -q '100 Continue'"

    v=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' $u/hello/bob/)
    check "[$name] trailing slash: 301 to /hello/bob ($v)" test "$v" = "301 $u/hello/bob"
    v=$(curl -s -D - -o /dev/null -X DELETE $u/)
    check "[$name] DELETE /: 405" grep -q "^HTTP/1.1 405" <<<"$v"
    check "[$name] ... with Allow: GET, OPTIONS" grep -qi "^Allow: GET, OPTIONS" <<<"$v"
    check "[$name] 404 for an unknown path" test "$(curl -s -o /dev/null -w '%{http_code}' $u/nope)" = 404
    v=$(curl -s -D - -o /dev/null -X OPTIONS $u/echo)
    check "[$name] OPTIONS /echo: 200 Allow: OPTIONS, POST" grep -qi "^Allow: OPTIONS, POST" <<<"$v"

    # bad requests: the parser's status, then the connection closes
    local big
    big=$(head -c 9000 /dev/zero | tr '\0' a)
    local cases=(
        "400|GARBAGE\r\n\r\n"
        "400|GET / HTTP/1.1\r\n\r\n"
        "505|GET / HTTP/2.0\r\nHost: x\r\n\r\n"
        "414|GET /$big HTTP/1.1\r\nHost: x\r\n\r\n"
        "431|GET / HTTP/1.1\r\nHost: x\r\nX-Big: $big\r\n\r\n"
        "413|POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
        "501|POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
        "400|POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        "400|GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
        "400|GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"
    )
    for cs in "${cases[@]}"; do
        local want=${cs%%|*} req=${cs#*|}
        v=$(raw $port "$req"); local rc=$?
        local got
        got=$(echo "$v" | code_of)
        check "[$name] bad request -> $want, closed (got $got, rc $rc): ${req:0:40}" sh -c "[ '$got' = '$want' ] && [ $rc -eq 0 ]"
    done

    # pipelining: three requests in one write, answered in order; the
    # last asks to close
    v=$(raw $port 'GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\nGET /hello/b HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET /hello/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /hello/NEVER HTTP/1.1\r\nHost: x\r\n\r\n')
    local order
    order=$(echo "$v" | grep -oE 'hello, [A-Za-z]+!|xyz' | tr '\n' ' ')
    check "[$name] pipelined: answered in order, nothing after Connection: close ($order)" test "$order" = "hello, a! hello, b! xyz hello, c! "
    # a body that is not read by its handler is still framed (405 first)
    v=$(raw $port 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\nGET /hello/smuggled HTTP/1.1\r\nGET /hello/d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    check "[$name] body of a 405 is skipped, not parsed as a request" sh -c "echo '$v' | grep -q 'hello, d!' && ! echo '$v' | grep -q smuggled"

    # HTTP/1.0
    v=$(raw $port 'GET / HTTP/1.0\r\n\r\n'); local rc=$?
    check "[$name] HTTP/1.0: answered and closed" sh -c "[ $rc -eq 0 ] && echo '$v' | grep -q 'Welcome!' && echo '$v' | grep -qi '^Connection: close'"
    v=$(raw $port 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello/ten HTTP/1.0\r\n\r\n'); rc=$?
    check "[$name] HTTP/1.0 keep-alive: two answers on one connection" sh -c "[ $rc -eq 0 ] && echo '$v' | grep -qi '^Connection: keep-alive' && echo '$v' | grep -q 'hello, ten!'"

    # metrics
    curl -s $u/metrics > "$TMPD/metrics"
    # this server answered at least 20 requests with 200 above (curl, raw)
    local n200
    n200=$(awk '/^c1m_http_requests_total\{code="200"\} / {print $2}' "$TMPD/metrics")
    check "[$name] /metrics counts 200s (${n200:-none} >= 20)" test "${n200:-0}" -ge 20
    check "[$name] /metrics has the latency histogram" grep -q 'c1m_http_request_duration_seconds_bucket{le="+Inf"}' "$TMPD/metrics"
    if command -v promtool >/dev/null; then
        check "[$name] promtool check metrics accepts /metrics" sh -c "promtool check metrics < $TMPD/metrics"
    else
        skip_dep promtool "[$name] promtool check metrics accepts /metrics"
    fi
    kill -0 "$SPID" 2>/dev/null
    check "[$name] server still alive" test $? -eq 0
    stop_check "[$name]"
}

port=21500
for a in "--arch single" "--arch reuseport --loops 2" "--arch dispatch --loops 2" \
         "--arch exclusive --loops 2" "--arch workerpool --workers 2" "--arch prefork --procs 2" \
         "--arch single --edge"; do
    run_arch $port $a
    port=$((port + 1))
done

# prefork: /metrics sums every child, whichever child answers. 40 requests
# on 40 connections spread over 3 children (--prefork-reuseport: by hash);
# every one of 6 scrapes (each on a new connection, so any child) must see
# all 40, and a child killed with -9 keeps its counts but no open connection.
start_server 21520 --proto http --arch prefork --procs 3 --prefork-reuseport ||
    bad "[prefork metrics] server did not start"
for i in $(seq 40); do curl -s http://127.0.0.1:21520/hello/m$i > /dev/null; done
seen=""
for i in $(seq 6); do
    seen="$seen $(curl -s http://127.0.0.1:21520/metrics | awk '/^c1m_http_requests_total\{code="200"\}/ {print $2}')"
done
check "[prefork metrics] every scrape counts all 40 requests of 3 children (saw:$seen)" \
    sh -c "for v in $seen; do [ \$v -ge 40 ] || exit 1; done; [ \$(echo $seen | wc -w) -eq 6 ]"
exec 7<>/dev/tcp/127.0.0.1/21520 # one connection held open in some child
sleep 0.3
children=$(pgrep -P "$SPID" | tr '\n' ' ')
live() { curl -s http://127.0.0.1:21520/metrics | awk '/^c1m_http_connections / {print $2}'; }
before=$(live)
for c in $children; do kill -9 "$c"; done # all of them: the held connection dies too
exec 7<&-
for _ in $(seq 50); do [ "$(pgrep -P "$SPID" | wc -l)" -eq 3 ] && curl -s -o /dev/null http://127.0.0.1:21520/ && break; sleep 0.1; done
after=$(curl -s http://127.0.0.1:21520/metrics)
n200=$(echo "$after" | awk '/^c1m_http_requests_total\{code="200"\}/ {print $2}')
nlive=$(echo "$after" | awk '/^c1m_http_connections / {print $2}')
check "[prefork metrics] counts survive restarted children ($n200 >= 46)" test "${n200:-0}" -ge 46
check "[prefork metrics] dead children hold no open connection (open before: $before, after: $nlive)" \
    test "${before:-0}" -ge 2 -a "${nlive:-9}" -le 1
stop_check "[prefork metrics]"

# access log: off by default, one line per request with --access-log
# (started by hand: stdout is the access log; server_up checks it is ours)
port_free 21510 || bad "--access-log: port 21510 taken"
"$C1M" serve --proto http --port 21510 --quiet --access-log > "$TMPD/access" 2>>"$LOG" &
SPID=$!; PIDS+=("$SPID")
check "--access-log: server up" server_up 21510
curl -s http://127.0.0.1:21510/hello/log > /dev/null
curl -s -X DELETE http://127.0.0.1:21510/ > /dev/null
stop_check "--access-log"
check "--access-log: a line per request ($(head -1 "$TMPD/access"))" sh -c "grep -q '^127.0.0.1 - - .*\"GET /hello/log HTTP/1.1\" 200 12 ' $TMPD/access && grep -q '\"DELETE / HTTP/1.1\" 405 ' $TMPD/access"
port_free 21511 || bad "no access log: port 21511 taken"
"$C1M" serve --proto http --port 21511 --quiet > "$TMPD/noaccess" 2>>"$LOG" &
SPID=$!; PIDS+=("$SPID")
check "no access log: server up" server_up 21511
# the request must have been answered, or an empty log proves nothing
check "no access log: GET / answered" test "$(curl -s http://127.0.0.1:21511/)" = "Welcome!"
stop_check "no access log"
check "no access log by default" test ! -s "$TMPD/noaccess"
# the default HTTP port
port_free 8998 || bad "port 8998 is taken by another process"
"$C1M" serve --proto http --quiet 2>>"$LOG" &
SPID=$!; PIDS+=("$SPID")
if server_up 8998; then
    check "--proto http listens on 8998 by default" test "$(curl -s http://127.0.0.1:8998/)" = "Welcome!"
else
    bad "--proto http listens on 8998 by default"
fi
stop_check "default port"
finish
