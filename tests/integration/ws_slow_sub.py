#!/usr/bin/python3
"""A /ws/push subscriber that never reads for SECS seconds, then reads
everything: prints "closed" if the server closed it (EOF or reset after the
data), "open" if it was still open, and the sequence numbers it saw.

    /usr/bin/python3 ws_slow_sub.py PORT SECS"""
import base64, os, socket, struct, sys, time

port, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
k = base64.b64encode(os.urandom(16))
s.sendall(b"GET /ws/push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: " + k + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
time.sleep(secs)
s.settimeout(1.0)
buf, state = b"", "open"
try:
    while True:
        d = s.recv(1 << 20)
        if not d:
            state = "closed"
            break
        buf += d
except socket.timeout:
    pass
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
