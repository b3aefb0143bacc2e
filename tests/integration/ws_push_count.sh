#!/usr/bin/env bash
# c1m serve --push-count N: the publisher stops after N broadcasts, in one
# process (a timer on its first loop) and under prefork (the supervisor's
# thread on the bus); --push-count without --push-every is refused.
# Usage: tests/integration/ws_push_count.sh BUILD_DIR   (port 19174)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
make_tmp ws_push_count
PORT=19174

if [ ! -x "$C1M" ]; then
    bad "no $C1M: build first"; finish; exit 1
fi

"$C1M" serve --proto http --push-count 3 --port $PORT >/dev/null 2>&1
check "--push-count without --push-every: exit 2" test $? -eq 2

# 2 broadcasts every 100 ms, then 1.5 s more: a publisher that went on
# would have made ~15
for arch in single prefork; do
    LOG="$TMP/$arch.log" start_server $PORT --proto http --arch $arch --push-every 100ms \
        --push-count 2
    # a subscriber, so that the hub counts its broadcasts
    /usr/bin/python3 -c "
import socket,time
s=socket.create_connection(('127.0.0.1',$PORT))
s.sendall(b'GET /ws/push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
          b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
time.sleep(1.7)" &
    sub=$!
    sleep 1.8
    wait $sub
    stop_check "$arch: --push-every 100ms --push-count 2"; [ "$SRC" = 0 ] || cat "$TMP/$arch.log"
    if [ $arch = single ]; then
        n=$(sed -n 's/.*ws: broadcasts \([0-9]*\) .*/\1/p' "$TMP/$arch.log")
        check "$arch: 2 broadcasts in 1.8 s (${n:-none})" test "${n:-0}" = 2
    else
        n=$(sed -n 's/.*ws bus: published \([0-9]*\) .*/\1/p' "$TMP/$arch.log")
        check "$arch: the supervisor published 2 in 1.8 s (${n:-none})" test "${n:-0}" = 2
    fi
done
finish
