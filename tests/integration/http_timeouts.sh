#!/bin/bash
# Go's four server timeouts on c1m serve --proto http, with real sockets:
# a slowloris client (header trickled one byte per second) is cut at
# ReadHeaderTimeout with a 408 while normal clients are served; a stalled
# body gets a 408 at ReadTimeout; an idle keep-alive connection is closed
# at IdleTimeout; a client that does not read is cut at WriteTimeout;
# --timeouts off turns them off. Under several architectures.
. "$(dirname "$0")/lib.sh"
LOG=$(mktemp /tmp/c1m_http_to.XXXXXX)
PY=$(mktemp /tmp/c1m_http_to.XXXXXX.py)
trap 'cleanup; rm -f "$LOG" "$PY"' EXIT
cat > "$PY" <<'PYEOF'
import socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 10
s = socket.create_connection(("127.0.0.1", port))
t0 = time.monotonic()
got = b""
def drain(timeout):
    global got
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return "eof"
            got += d
    except socket.timeout:
        return "open"
    except ConnectionResetError:
        return "reset"
if mode == "slowloris":      # one header byte per second
    req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    state = "open"
    for i, ch in enumerate(req):
        try:
            s.send(bytes([ch]))
        except (BrokenPipeError, ConnectionResetError):
            state = "reset"; break
        state = drain(1.0)
        if state != "open" or time.monotonic() - t0 > limit:
            break
elif mode == "body":         # head, 3 body bytes of 10, then nothing
    s.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    state = drain(limit)
elif mode == "idle":         # one request, then silence
    s.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    state = drain(limit)
elif mode == "noread":       # many pipelined requests, never read
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 20000)
    except Exception:
        pass
    # Without reading (reading would let output flow and move the write
    # deadline): watch the TCP state until the server's FIN or RST arrives.
    import struct
    state, t_cut = "open", None
    while time.monotonic() - t0 < limit + 5:
        st = struct.unpack("B", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]
        if st != 1:          # no longer ESTABLISHED
            t_cut = time.monotonic(); break
        time.sleep(0.05)
    if t_cut is not None:
        state = drain(0.5)
        while state == "open" and time.monotonic() - t0 < limit + 5:
            state = drain(0.5)
        t0 = time.monotonic() - (t_cut - t0)   # report when it was cut
    got = got[:60]
first = got.split(b"\r\n", 1)[0].decode(errors="replace")
print("%s %.1f %s" % (state, time.monotonic() - t0, first.replace(" ", "_") or "-"))
PYEOF

# probe OUT MODE PORT LIMIT: a probe client in the background, its line
# into $LOG.OUT; probes_wait N waits for the last N started
probe() { local out=$1; shift; python3 "$PY" "$@" > "$LOG.$out" & PIDS+=($!); }
probes_wait() { wait "${PIDS[@]: -$1}" 2>/dev/null; }

in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

run_arch() { # run_arch PORT ARGS...
    local port=$1; shift
    local name="$*"
    start_server "$port" --proto http --header-timeout 2s --read-timeout 3s \
        --idle-timeout 1s --write-timeout 4s "$@" || { bad "[$name] server did not start"; return; }
    local u=http://127.0.0.1:$port
    # ten slowloris clients, a stalled body, an idle keep-alive connection
    # and a client that never reads, all at once; meanwhile, normal requests
    local outs=() i
    for i in $(seq 10); do
        probe s$i slowloris $port 8
    done
    probe body body $port 6
    probe idle idle $port 6
    probe noread noread $port 5
    sleep 0.5
    local okc=0 t0 t1
    t0=$(date +%s%N)
    for i in $(seq 20); do
        [ "$(curl -s -m 5 $u/hello/n$i)" = "hello, n$i!" ] && okc=$((okc + 1))
    done
    t1=$(date +%s%N)
    check "[$name] normal clients served during the slowloris ($okc/20 in $(( (t1 - t0) / 1000000 )) ms)" test $okc -eq 20
    probes_wait 13
    local r st t code cut=0
    for i in $(seq 10); do
        read -r st t code < "$LOG.s$i"
        [ "$code" = "HTTP/1.1_408_Request_Timeout" ] && { [ "$st" = eof ] || [ "$st" = reset ]; } && in_range "$t" 1.9 3.6 && cut=$((cut + 1))
    done
    read -r st t code < "$LOG.s1"
    check "[$name] slowloris: 408 and closed at the 2 s header timeout ($cut/10; e.g. $st $t $code)" test $cut -eq 10

    read -r st t code < "$LOG.body"
    check "[$name] stalled body: 408 at the 3 s read timeout ($st $t $code)" \
        sh -c "[ '$code' = 'HTTP/1.1_408_Request_Timeout' ] && { [ '$st' = eof ] || [ '$st' = reset ]; } && awk 'BEGIN{exit !($t >= 2.9 && $t <= 4.5)}'"
    read -r st t code < "$LOG.idle"
    check "[$name] idle keep-alive connection closed at the 1 s idle timeout ($st $t $code)" \
        sh -c "[ '$code' = 'HTTP/1.1_200_OK' ] && [ '$st' = eof ] && awk 'BEGIN{exit !($t >= 0.9 && $t <= 3.5)}'"
    read -r st t code < "$LOG.noread"
    check "[$name] a client that never reads is cut at the 4 s write timeout ($st $t)" \
        sh -c "{ [ '$st' = eof ] || [ '$st' = reset ]; } && awk 'BEGIN{exit !($t >= 3.5 && $t <= 8)}'"
    rm -f "$LOG".*
    local m
    m=$(curl -s $u/metrics)
    check "[$name] /metrics counts header timeouts" grep -q '^c1m_http_timeouts_total{kind="header"} [1-9]' <<<"$m"
    check "[$name] /metrics counts read timeouts" grep -q '^c1m_http_timeouts_total{kind="read"} [1-9]' <<<"$m"
    check "[$name] /metrics counts 408s" grep -q '^c1m_http_requests_total{code="408"} [1-9]' <<<"$m"
    check "[$name] server alive" kill -0 "$SPID"
    stop_server
    check "[$name] clean exit" test "$SRC" -eq 0
}

port=21600
for a in "--arch single" "--arch reuseport --loops 2" "--arch workerpool --workers 2" \
         "--arch prefork --procs 2" "--arch dispatch --loops 2"; do
    run_arch $port $a
    port=$((port + 1))
done

# --timeouts off: the slowloris is not cut; the defaults are on (the
# probes of each server run side by side)
start_server 21620 --proto http --timeouts off || bad "server did not start"
probe a slowloris 21620 4
probe b idle 21620 3
probes_wait 2
read -r st t code < "$LOG.a"
check "--timeouts off: a slowloris is still open after 4 s ($st $t)" test "$st" = open
read -r st t code < "$LOG.b"
check "--timeouts off: an idle connection stays open ($st $t)" test "$st" = open
stop_check "--timeouts off"
start_server 21621 --proto http --header-timeout 1s || bad "server did not start"
probe a idle 21621 3
probe b slowloris 21621 5
probes_wait 2
read -r st t code < "$LOG.a"
check "defaults: idle (10 s) not yet reached after 3 s ($st $t)" test "$st" = open
read -r st t code < "$LOG.b"
check "--header-timeout 1s given, the others default: slowloris cut ($st $t $code)" test "$code" = HTTP/1.1_408_Request_Timeout
stop_check "--header-timeout 1s"
rm -f "$LOG".*
finish
