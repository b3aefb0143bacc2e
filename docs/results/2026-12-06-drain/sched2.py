import sys, collections
f, t0, a, b = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])  # window [a,b] s after SIGTERM
rows = collections.defaultdict(list); R=[]
for l in open(f):
    p = l.split()
    if p[1] == 'R': R.append((float(p[0]) - t0, int(p[2]))); continue
    if len(p) < 6: continue
    rows[(p[1], p[2])].append((float(p[0]) - t0, int(p[3]), int(p[4])))
def win(r):
    r = [x for x in r if a <= x[0] <= b]
    if len(r) < 2: return None
    dt = r[-1][0] - r[0][0]
    return dt, (r[-1][1]-r[0][1])/1e9, (r[-1][2]-r[0][2])/1e9
rr = [x[1] for x in R if a <= x[0] <= b]
print("window %.1f-%.1f s after SIGTERM; procs_running (machine) mean %.1f max %d" % (a, b, sum(rr)/max(1,len(rr)), max(rr or [0])))
tot = collections.defaultdict(lambda: [0,0,0])
for k, r in sorted(rows.items()):
    w = win(r)
    if not w: continue
    kind = 'client' if k[0].startswith('C') else ('server-control' if k[0] == k[1] else 'server-loop')
    if kind == 'server-loop':
        print("  loop thread %s: %.2f s wall: on CPU %.3f s (%.0f%%), runnable waiting %.3f s (%.0f%%)" % (k[1], w[0], w[1], 100*w[1]/w[0], w[2], 100*w[2]/w[0]))
    t = tot[kind]; t[0] = w[0]; t[1] += w[1]; t[2] += w[2]
for kind, t in tot.items():
    print("  all %s threads: on CPU %.3f s, waiting %.3f s (over %.2f s)" % (kind, t[1], t[2], t[0]))
