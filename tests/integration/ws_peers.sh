#!/bin/bash
# WebSocket on c1m serve --proto http with real peers: python3-websockets
# (Debian; /usr/bin/python3) and Node's `ws` (npm, pinned in node/).
# Echo of text and binary of several sizes, fragmentation, ping/pong, close
# codes, a table of bad inputs each with its exact close code, handshake
# refusals (426 + Sec-WebSocket-Version: 13, 400), keep-alive pings, and
# /ws/push subscribers, under single, reuseport and prefork.
. "$(dirname "$0")/lib.sh"
LOG=$(mktemp /tmp/c1m_ws_peers.XXXXXX)
here=$(cd "$(dirname "$0")" && pwd)
on_exit "rm -f $LOG"

# peer NAME COMMAND...: run a peer script, count its ok/FAIL lines
peer() {
    local name=$1; shift
    local out
    out=$("$@" 2>&1)
    local rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok   - "*) ok "[$name] ${line#ok   - }" ;;
            "FAIL - "*) bad "[$name] ${line#FAIL - }" ;;
        esac
    done <<<"$out"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL' <<<"$out"; then
        bad "[$name] peer exited $rc: $(tail -3 <<<"$out")"
    fi
}

if ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    bad "python3-websockets missing (scripts/install-deps.sh)"
fi
"$here/../ws_node_setup.sh" || bad "Node's ws could not be installed"

PORT=18961
for arch in "--arch single" "--arch reuseport --loops 2" "--arch prefork --procs 2"; do
    start_server $PORT --proto http $arch --push-every 50ms || { bad "[$arch] server did not start"; continue; }
    peer "$arch python" /usr/bin/python3 "$here/ws_peer.py" $PORT
    peer "$arch node" node "$here/ws_peer.js" $PORT
    stop_server
    check "[$arch] server stopped cleanly" test "$SRC" = 0
done

start_server $PORT --proto http --ws-ping 200ms || bad "keep-alive server did not start"
peer "keep-alive python" /usr/bin/python3 "$here/ws_peer.py" $PORT keepalive
stop_server

# under the worker pool the handshake is refused (handlers run on workers)
start_server $PORT --proto http --arch workerpool || bad "workerpool server did not start"
v=$(curl -s -o /dev/null -w '%{http_code}' -H 'Upgrade: websocket' -H 'Connection: Upgrade' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Version: 13' \
    http://127.0.0.1:$PORT/ws)
check "[workerpool] handshake answered 501 (got $v)" test "$v" = 501
stop_server
finish
