#!/usr/bin/python3
"""Slow readers for the fault suite: N connections to 127.0.0.1:PORT, each
sends up to BYTES (echo: the server owes it as much) and never reads. Then
waits at most HOLD seconds for the server to close each one (FIN or RST).
Prints one line: conns= sent= closed= first_close_s= last_close_s=.
Everything bounded: the sending phase ends when every connection has sent
BYTES or made no progress for 0.5 s (the server stopped reading it), at
most 10 s."""
import select, socket, sys, time

port, n, nbytes, hold = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks, left = [], {}
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once: the server's output waits
    s.bind(("127.0.%d.%d" % (3 + i // 250, 2 + i % 250), 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    socks.append(s)
    left[s.fileno()] = nbytes
by_fd = {s.fileno(): s for s in socks}
chunk = b"x" * 65536
sent = 0
p = select.poll()
for s in socks:
    p.register(s, select.POLLOUT)
t0 = time.monotonic()
progress = {fd: t0 for fd in left}
# until each has sent everything or is blocked (no progress for 0.5 s: the
# server stopped reading, its output waits), at most 10 s
while left and time.monotonic() - t0 < 10:
    for fd, ev in p.poll(100):
        if fd not in left:
            continue
        try:
            k = by_fd[fd].send(chunk[: min(len(chunk), left[fd])])
        except (BlockingIOError, ConnectionError):
            k = 0
        sent += k
        left[fd] -= k
        if k:
            progress[fd] = time.monotonic()
        if left[fd] <= 0 or ev & (select.POLLERR | select.POLLHUP):
            del left[fd]
            p.unregister(fd)
    now = time.monotonic()
    for fd in [fd for fd in left if now - progress[fd] >= 0.5]:
        del left[fd]  # blocked: the server holds output for it
        p.unregister(fd)
# now only watch for the server's close (never reading); times from the start
t1 = t0
p = select.poll()
for s in socks:
    p.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
open_fds = set(by_fd)
first = last = None
while open_fds and time.monotonic() - t1 < 10 + hold:
    for fd, ev in p.poll(100):
        if fd in open_fds and ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
            open_fds.discard(fd)
            p.unregister(fd)
            t = time.monotonic() - t1
            first = t if first is None else first
            last = t
print("conns=%d sent=%d closed=%d first_close_s=%.2f last_close_s=%.2f"
      % (n, sent, n - len(open_fds), first or -1, last or -1))
sys.exit(0 if not open_fds else 1)
