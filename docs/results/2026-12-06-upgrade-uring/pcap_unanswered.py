# pcap_unanswered.py FILE.pcap PORT [N]: per client connection (by port), the
# ones whose server sent a FIN while the last request it received had no
# answer yet; prints N of them packet by packet. Standard library only.
import struct, sys, collections
f = open(sys.argv[1], 'rb'); PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 19140
gh = f.read(24)
magic = struct.unpack('<I', gh[:4])[0]
linktype = struct.unpack('<I', gh[20:24])[0]
conns = collections.OrderedDict()
def C(p):
    if p not in conns: conns[p] = dict(ev=[])
    return conns[p]
while True:
    h = f.read(16)
    if len(h) < 16: break
    ts, tu, incl, orig = struct.unpack('<IIII', h)
    d = f.read(incl)
    t = ts + tu / 1e6
    if linktype == 1: d = d[14:]
    elif linktype == 113: d = d[16:]
    elif linktype == 276: d = d[20:]
    if (d[0] >> 4) != 4: continue
    ihl = (d[0] & 15) * 4; tot = struct.unpack('>H', d[2:4])[0]
    tcp = d[ihl:]
    sp, dp, seq, ack, off, fl = struct.unpack('>HHIIBB', tcp[:14])
    doff = (off >> 4) * 4
    plen = tot - ihl - doff
    if dp == PORT: c = C(sp); side = 'c'
    else: c = C(dp); side = 's'
    flags = ''.join(n for b, n in ((2,'S'),(1,'F'),(4,'R'),(8,'P'),(16,'.')) if fl & b)
    c['ev'].append((t, side, flags, plen))
bad = []
for p, c in conns.items():
    # walk: outstanding = client bytes after last server data
    pending = 0; sfin = None; cfin = None; lastc = None
    syns = 0
    for t, side, fl, n in c['ev']:
        if 'S' in fl and side == 'c':
            if syns and (sfin or cfin): pass
            syns += 1
        if side == 'c' and n: pending = 1; lastc = t
        if side == 's' and n: pending = 0
        if side == 's' and 'F' in fl and sfin is None: sfin = (t, pending)
        if side == 'c' and 'F' in fl and cfin is None: cfin = t
        if 'R' in fl: c.setdefault('rst', []).append((t, side))
    if sfin and sfin[1] and (cfin is None or cfin > sfin[0]):
        bad.append((p, c))
print('conns', len(conns), 'server FIN with an unanswered request:', len(bad))
import time
def T(t): return time.strftime('%H:%M:%S', time.gmtime(t)) + ('%.6f' % (t % 1))[1:]
for p, c in bad[:int(sys.argv[3]) if len(sys.argv) > 3 else 5]:
    print('port', p)
    for t, side, fl, n in c['ev']:
        print('  ', T(t), side, fl, n)
