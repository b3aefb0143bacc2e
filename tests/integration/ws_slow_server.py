#!/usr/bin/env python3
"""A deliberately slow WebSocket push server for bench_ws_pacing.sh.

It answers at most RATE upgrades per second (one accept, one handshake at
a time) behind a listen backlog of BACKLOG, like a server whose cores are
busy: connections arriving faster wait in the kernel's accept queue, and
when that overflows the kernel drops SYNs and handshake ACKs. Every
subscriber gets a push every 100 ms (16 bytes: sequence number and wall
clock ns, as c1m serve --push-every). With --close-first K, the first K
upgrade requests are closed with no answer (a server that sheds load
during a handshake storm; their retries come later and are answered).
Connections that send no upgrade (a port probe) are not counted. Before each accept it reads
the accept queue's length (TCP_INFO on the listener: tcpi_unacked). On
SIGTERM it writes one line to --stats: "accepted=A upgraded=U closed=C
maxqueue=Q".

usage: ws_slow_server.py PORT --rate N --backlog N [--close-first K] --stats FILE
"""
import argparse
import base64
import hashlib
import select
import signal
import socket
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--backlog", type=int, required=True)
    ap.add_argument("--close-first", type=int, default=0)
    ap.add_argument("--stats", required=True)
    a = ap.parse_args()

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(a.backlog)
    subs = []
    st = {"accepted": 0, "upgraded": 0, "closed": 0, "maxqueue": 0}
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))

    gap = 1.0 / a.rate
    next_accept = time.monotonic()
    next_push = time.monotonic()
    seq = 0
    while running[0]:
        now = time.monotonic()
        if now >= next_push:
            seq += 1
            frame = b"\x82\x10" + struct.pack(">QQ", seq, time.time_ns())
            for s in subs[:]:
                try:
                    s.send(frame)
                except OSError:
                    subs.remove(s)
                    s.close()
            next_push = now + 0.1
        if now < next_accept:
            time.sleep(min(next_accept, next_push) - now)
            continue
        next_accept = now + gap
        info = ls.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        st["maxqueue"] = max(st["maxqueue"], struct.unpack_from("I", info, 24)[0])
        r, _, _ = select.select([ls], [], [], 0)
        if not r:
            continue
        c, _ = ls.accept()
        c.settimeout(2.0)
        req = b""
        try:
            while b"\r\n\r\n" not in req:
                d = c.recv(4096)
                if not d:
                    break
                req += d
        except OSError:
            pass
        key = None
        for line in req.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip()
        if key is None:
            c.close()
            continue
        st["accepted"] += 1
        if st["accepted"] <= a.close_first:
            st["closed"] += 1
            c.close()
            continue
        acc = base64.b64encode(hashlib.sha1(key + GUID).digest())
        try:
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n")
        except OSError:
            c.close()
            continue
        c.setblocking(False)
        subs.append(c)
        st["upgraded"] += 1
    with open(a.stats, "w") as f:
        f.write("accepted=%d upgraded=%d closed=%d maxqueue=%d\n" %
                (st["accepted"], st["upgraded"], st["closed"], st["maxqueue"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
