#!/usr/bin/python3
"""K /ws/push subscribers read for SECS seconds and compare what they got:
a message with a given sequence number must carry the same timestamp on
every connection (one publisher made it, whichever server process the
connection is on), and each connection's sequence has no gap and no
repeat. While connected it asks ss which server processes hold the other
ends. Prints one JSON line.

    /usr/bin/python3 ws_fanout.py PORT K SECS"""
import base64, json, os, re, select, socket, struct, subprocess, sys, time

port, k, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(k):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /ws/push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
              b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    socks.append(s)
bufs = {s: b"" for s in socks}
up = {s: False for s in socks}
msgs = {s: [] for s in socks}  # (seq, ts)
asked = None
end = time.monotonic() + secs
while time.monotonic() < end:
    r, _, _ = select.select(socks, [], [], 0.2)
    for s in r:
        d = s.recv(1 << 16)
        if not d:
            print(json.dumps({"error": "a subscriber was closed"}))
            sys.exit(1)
        b = bufs[s] + d
        if not up[s]:
            if b"\r\n\r\n" not in b:
                bufs[s] = b
                continue
            head, _, b = b.partition(b"\r\n\r\n")
            if b" 101 " not in head.split(b"\r\n")[0]:
                print(json.dumps({"error": "handshake: " + head.decode(errors="replace")}))
                sys.exit(1)
            up[s] = True
        while len(b) >= 2:
            n, off = b[1] & 127, 2
            if n == 126:
                if len(b) < 4:
                    break
                n, off = struct.unpack(">H", b[2:4])[0], 4
            elif n == 127:
                if len(b) < 10:
                    break
                n, off = struct.unpack(">Q", b[2:10])[0], 10
            if len(b) < off + n:
                break
            if b[0] & 15 == 2 and n >= 16:
                msgs[s].append(struct.unpack(">QQ", b[off:off + 16]))
            b = b[off + n:]
        bufs[s] = b
    # once every connection has had a message: who holds the server ends
    if asked is None and all(msgs[s] for s in socks):
        out = subprocess.run(["ss", "-Htnp", "state", "established", "( sport = :%d )" % port],
                             capture_output=True, text=True).stdout
        mine = {s.getsockname()[1] for s in socks}
        pids = set()
        for line in out.splitlines():
            f = line.split()
            m = re.search(r"pid=(\d+)", line)
            # columns: Recv-Q Send-Q Local Peer Process
            if m and len(f) >= 4 and int(f[3].rsplit(":", 1)[1]) in mine:
                pids.add(int(m.group(1)))
        asked = sorted(pids)
ts_of, disagree, gaps, repeats = {}, 0, 0, 0
for s in socks:
    seqs = [q for q, _ in msgs[s]]
    gaps += sum(1 for a, b in zip(seqs, seqs[1:]) if b > a + 1)
    repeats += sum(1 for a, b in zip(seqs, seqs[1:]) if b <= a)
    for q, t in msgs[s]:
        if ts_of.setdefault(q, t) != t:
            disagree += 1
common = set.intersection(*[set(q for q, _ in msgs[s]) for s in socks])
print(json.dumps({"conns": k, "min_msgs": min(len(msgs[s]) for s in socks),
                  "common": len(common), "disagree": disagree, "gaps": gaps,
                  "repeats": repeats, "server_pids": asked or []}))
