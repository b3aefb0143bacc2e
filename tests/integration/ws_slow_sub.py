#!/usr/bin/python3
"""A /ws/push subscriber that never reads for SECS seconds, then reads
for up to 3 s: prints "closed" if the server closed it (EOF or reset after the
data), "open" if it was still open, and the sequence numbers it saw.

    /usr/bin/python3 ws_slow_sub.py PORT SECS"""
import base64, os, socket, struct, sys, time

port, secs = int(sys.argv[1]), float(sys.argv[2])
# The default receive buffer (tcp_rmem's default; it grows only as the
# application reads, so a sleeping one stays small). A tiny SO_RCVBUF would
# make the reads afterwards crawl (a few KB per window, probes backing off).
s = socket.create_connection(("127.0.0.1", port))
k = base64.b64encode(os.urandom(16))
s.sendall(b"GET /ws/push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: " + k + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
time.sleep(secs)
# then read for at most 3 s: to the end if the server closed it; a
# subscriber left open keeps receiving new messages, so stop at the deadline
s.settimeout(0.5)
buf, state = b"", "open"
end = time.monotonic() + 3.0
try:
    while time.monotonic() < end:
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            continue
        if not d:
            state = "closed"
            break
        buf += d
except ConnectionResetError:
    state = "closed"
head, _, rest = buf.partition(b"\r\n\r\n")
seqs, codes = [], []
while len(rest) >= 2:
    op, n, off = rest[0] & 15, rest[1] & 127, 2
    if n == 126:
        n, off = struct.unpack(">H", rest[2:4])[0], 4
    elif n == 127:
        n, off = struct.unpack(">Q", rest[2:10])[0], 10
    if len(rest) < off + n:
        break
    p = rest[off:off + n]
    if op == 2 and n >= 8:
        seqs.append(struct.unpack(">Q", p[:8])[0])
    if op == 8 and n >= 2:
        codes.append(struct.unpack(">H", p[:2])[0])
    rest = rest[off + n:]
gaps = sum(1 for a, b in zip(seqs, seqs[1:]) if b != a + 1)
print(state, "messages=%d gaps=%d close=%s" % (len(seqs), gaps, codes))
