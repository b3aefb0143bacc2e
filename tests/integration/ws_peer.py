#!/usr/bin/python3
"""WebSocket checks against c1m serve --proto http with python3-websockets
(Debian) as the peer, plus raw-socket bad inputs that no library sends.

    /usr/bin/python3 ws_peer.py PORT [keepalive]

Prints one "ok - ..." or "FAIL - ..." line per check. `keepalive` runs the
keep-alive checks only (the server must run with --ws-ping 200ms)."""
import asyncio
import base64
import os
import socket
import struct
import sys
import time

import websockets

PORT = int(sys.argv[1])
URL = "ws://127.0.0.1:%d" % PORT
FAILS = 0


def check(what, cond, detail=""):
    global FAILS
    if cond:
        print("ok   - " + what)
    else:
        FAILS += 1
        print("FAIL - %s %s" % (what, detail))


# ---- raw socket helpers ---------------------------------------------------

def handshake(sock, extra=b"", version=b"13", key=True):
    k = base64.b64encode(os.urandom(16))
    req = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           + (b"Sec-WebSocket-Key: " + k + b"\r\n" if key else b"")
           + (b"Sec-WebSocket-Version: " + version + b"\r\n" if version else b"")
           + b"\r\n")
    sock.sendall(req + extra)
    head = b""
    while b"\r\n\r\n" not in head:
        d = sock.recv(4096)
        if not d:
            break
        head += d
    h, _, rest = head.partition(b"\r\n\r\n")
    return h.decode("latin1"), rest


def frame(b0, payload, masked=True, len_form=None, highbit=False):
    n = len(payload)
    out = bytes([b0])
    m = 0x80 if masked else 0
    if len_form == 64 or n > 0xFFFF:
        out += bytes([m | 127]) + struct.pack(">Q", n | (1 << 63 if highbit else 0))
    elif len_form == 16 or n >= 126:
        out += bytes([m | 126]) + struct.pack(">H", n)
    else:
        out += bytes([m | n])
    if masked:
        key = os.urandom(4)
        out += key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    else:
        out += payload
    return out


def read_frames(sock, rest=b"", timeout=3.0):
    """Frames the server sends until it closes: [(opcode, payload)]."""
    sock.settimeout(timeout)
    buf = rest
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                break
            buf += d
    except (socket.timeout, ConnectionResetError):
        pass
    frames = []
    while len(buf) >= 2:
        op, n = buf[0] & 0x0F, buf[1] & 0x7F
        off = 2
        if n == 126:
            n, off = struct.unpack(">H", buf[2:4])[0], 4
        elif n == 127:
            n, off = struct.unpack(">Q", buf[2:10])[0], 10
        if len(buf) < off + n:
            break
        frames.append((op, buf[off:off + n]))
        buf = buf[off + n:]
    return frames


def close_code_for(data):
    s = socket.create_connection(("127.0.0.1", PORT))
    head, rest = handshake(s)
    if " 101 " not in head.split("\r\n")[0]:
        return "no 101: " + head.split("\r\n")[0]
    s.sendall(data)
    frames = read_frames(s, rest)
    s.close()
    closes = [p for op, p in frames if op == 8]
    if not closes or len(closes[0]) < 2:
        return "no close frame (frames: %r)" % [(op, len(p)) for op, p in frames]
    return struct.unpack(">H", closes[0][:2])[0]


BAD = [
    ("unmasked client frame", frame(0x81, b"hi", masked=False), 1002),
    ("RSV1 set", frame(0xC1, b"hi"), 1002),
    ("RSV3 set", frame(0x91, b"hi"), 1002),
    ("unknown data opcode 3", frame(0x83, b"hi"), 1002),
    ("unknown control opcode 0xB", frame(0x8B, b""), 1002),
    ("fragmented ping", frame(0x09, b"p"), 1002),
    ("ping of 126 bytes", frame(0x89, b"x" * 126), 1002),
    ("invalid UTF-8 in text", frame(0x81, b"a\xffb"), 1007),
    ("invalid UTF-8 across fragments", frame(0x01, b"\xe2\x82") + frame(0x80, b"A"), 1007),
    ("invalid UTF-8 in a close reason", frame(0x88, b"\x03\xe8\xc3"), 1007),
    ("close code 1005 sent by a peer", frame(0x88, b"\x03\xed"), 1002),
    ("64-bit length with the high bit", frame(0x82, b"abc", len_form=64, highbit=True), 1002),
    ("continuation without a start", frame(0x80, b"abc"), 1002),
    ("new message inside a fragmented one", frame(0x01, b"ab") + frame(0x81, b"cd"), 1002),
    ("a frame declaring 17 MiB (limit 16 MiB)",
     bytes([0x82, 0xFF]) + struct.pack(">Q", 17 << 20) + b"\x01\x02\x03\x04" + b"\0" * 64, 1009),
]


def raw_checks():
    for name, data, code in BAD:
        got = close_code_for(data)
        check("bad input: %s -> close %d" % (name, code), got == code, "(got %r)" % (got,))
    # split a valid frame byte by byte: the server resumes at any byte
    s = socket.create_connection(("127.0.0.1", PORT))
    head, rest = handshake(s)
    f = frame(0x81, "split \u20ac".encode())
    for b in f:
        s.sendall(bytes([b]))
        time.sleep(0.002)
    s.sendall(frame(0x88, b"\x03\xe8"))
    frames = read_frames(s, rest)
    s.close()
    check("a frame sent byte by byte is echoed whole",
          frames[:1] == [(1, "split \u20ac".encode())], repr(frames))
    check("close 1000 answered with close 1000",
          len(frames) > 1 and frames[1][0] == 8 and frames[1][1][:2] == b"\x03\xe8", repr(frames))
    # handshake refusals
    for name, kw, status, hdr in [
        ("Sec-WebSocket-Version: 8", {"version": b"8"}, "426", "Sec-WebSocket-Version: 13"),
        ("no Sec-WebSocket-Version", {"version": None}, "426", "Sec-WebSocket-Version: 13"),
        ("no Sec-WebSocket-Key", {"key": False}, "400", None),
    ]:
        s = socket.create_connection(("127.0.0.1", PORT))
        head, _ = handshake(s, **kw)
        s.close()
        line = head.split("\r\n")[0]
        check("handshake with %s -> %s" % (name, status), (" %s " % status) in line, line)
        if hdr:
            check("  ... and %s" % hdr, hdr.lower() in head.lower(), head)


async def lib_checks():
    async with websockets.connect(URL + "/ws", max_size=None) as ws:
        for n in (0, 1, 125, 126, 127, 65535, 65536, 1 << 20):
            t = "\u00e9" * (n // 2)  # 2-byte code points: n bytes of UTF-8
            await ws.send(t)
            check("text of %d chars echoed" % len(t), await ws.recv() == t)
            b = os.urandom(n)
            await ws.send(b)
            check("binary of %d bytes echoed" % n, await ws.recv() == b)
        await ws.send(["frag", "men", "", "ted \u20ac"])
        check("fragmented text echoed whole", await ws.recv() == "fragmented \u20ac")
        await ws.send([b"\x00", b"\x01" * 70000, b"\x02"])
        check("fragmented binary echoed whole", await ws.recv() == b"\x00" + b"\x01" * 70000 + b"\x02")
        t0 = time.monotonic()
        pong = await ws.ping(b"ping-data")
        await asyncio.wait_for(pong, 3)
        check("ping answered with pong (same payload)", True)
        await ws.close(code=4001, reason="bye")
    check("close 4001 answered with 4001", ws.close_code == 4001, "(got %r)" % ws.close_code)


async def keepalive_checks():
    # a library client answers the server's pings: still open after 1 s
    async with websockets.connect(URL + "/ws") as ws:
        await asyncio.sleep(1.0)
        await ws.send("still here")
        check("keep-alive: a client that answers pings stays open",
              await asyncio.wait_for(ws.recv(), 3) == "still here")
    # a raw client that never answers gets a ping, then is closed
    s = socket.create_connection(("127.0.0.1", PORT))
    head, rest = handshake(s)
    frames = read_frames(s, rest, timeout=3.0)
    check("keep-alive: the server pings an idle connection", any(op == 9 for op, _ in frames),
          repr(frames))
    check("keep-alive: no answer to the ping -> closed (no more than the ping)",
          [op for op, _ in frames] == [9], repr(frames))


if len(sys.argv) > 2 and sys.argv[2] == "keepalive":
    asyncio.run(keepalive_checks())
else:
    asyncio.run(lib_checks())
    raw_checks()
print("python peer: %d failed" % FAILS)
sys.exit(1 if FAILS else 0)
