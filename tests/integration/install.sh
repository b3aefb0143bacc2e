#!/bin/bash
# install: the release anyone can install (issue 10, items 5 and 6).
#
#  - make install PREFIX=$tmp (and DESTDIR staging): static and shared
#    library with its soname and symlinks, the public headers, c1m, c1m.pc;
#  - the shared library exports exactly the API: only c1m_ symbols, none
#    c1m__, every function declared with C1M_API in include/c1m/*.h, and
#    nothing that is not declared there; the histogram's calls by name;
#  - each installed header compiles on its own (C and C++);
#  - each examples/*.c, copied out of the tree, builds against the
#    installed library with pkg-config (shared, and static with --static)
#    and serves real traffic;
#  - docs/API.md's two examples build as printed; the histogram one runs
#    (p50/p99 and its .hgrm);
#  - make uninstall leaves no file behind.
#
# With an ASan build directory (build/asan) the library installed is the
# sanitized one and the examples are built with the same sanitizers (the
# static variant then links libc1m.a by name: -static and ASan do not mix).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case $B in
*asan*) MODE=asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" ;;
*) MODE=release SAN= ;;
esac
make_tmp install
P=$TMP/prefix
PCP=$P/lib/pkgconfig
# a make of our own: not a job of a parent make (make test)
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT" MODE=$MODE BUILD="$B" "$@"; }
pc() { PKG_CONFIG_PATH=$PCP pkg-config "$@" c1m; }

# ---- install ---------------------------------------------------------------
check "make install PREFIX=$P" mk install PREFIX="$P"
VERSION=$(pc --modversion 2>/dev/null)
check "pkg-config finds c1m $VERSION" test -n "$VERSION"
check "libc1m.so.$VERSION installed" test -f "$P/lib/libc1m.so.$VERSION"
check "libc1m.so.0 -> libc1m.so.$VERSION" test "$(readlink "$P/lib/libc1m.so.0")" = "libc1m.so.$VERSION"
check "libc1m.so -> libc1m.so.0" test "$(readlink "$P/lib/libc1m.so")" = libc1m.so.0
check "soname libc1m.so.0" bash -c "readelf -d '$P/lib/libc1m.so.$VERSION' | grep -q 'SONAME.*\[libc1m.so.0\]'"
check "libc1m.a installed" test -f "$P/lib/libc1m.a"
check "installed c1m --version says $VERSION ($("$P/bin/c1m" --version 2>&1 | head -1))" \
    bash -c "'$P/bin/c1m' --version | grep -q '^c1m $VERSION\b'"
want_hdr=$(cd "$ROOT/include/c1m" && ls *.h)
check "headers installed: $(echo $want_hdr)" test "$(cd "$P/include/c1m" && ls *.h)" = "$want_hdr"
check "c1m.pc: -lc1m, -I$P/include" bash -c "[[ '$(pc --cflags --libs)' == *-I$P/include*-lc1m* ]]"
check "c1m.pc: Libs.private has -pthread -lm" bash -c "[[ '$(pc --static --libs)' == *-pthread*-lm* ]]"
if [ -f "$ROOT/man/c1m.1.scd" ]; then
    check "man page installed" test -s "$P/share/man/man1/c1m.1"
fi
if [ -f "$ROOT/completion/c1m.bash" ]; then
    check "bash completion installed" test -s "$P/share/bash-completion/completions/c1m"
fi

# ---- what the shared library exports ---------------------------------------
SO=$P/lib/libc1m.so.$VERSION
nm -D --defined-only "$SO" | awk '{print $NF}' | sort -u >"$TMP/exported"
# every function declared with C1M_API: the identifier before the first '('
grep -hv '^[[:space:]]*#' "$ROOT"/include/c1m/*.h | tr '\n' ' ' |
    grep -oE 'C1M_API[^;(]*\(' | grep -oE '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\($' |
    tr -d '( ' | sort -u >"$TMP/declared"
check "C1M_API declarations found ($(wc -l <"$TMP/declared"))" test "$(wc -l <"$TMP/declared")" -ge 40
bad_prefix=$(grep -v '^c1m_' "$TMP/exported")
check "exports only c1m_ symbols${bad_prefix:+ (also: $(echo $bad_prefix | cut -c1-300))}" test -z "$bad_prefix"
private=$(grep '^c1m__' "$TMP/exported")
check "exports no c1m__ symbol${private:+ (exported: $(echo $private | cut -c1-300))}" test -z "$private"
missing=$(comm -23 "$TMP/declared" "$TMP/exported")
check "exports every C1M_API function${missing:+ (missing $(echo "$missing" | wc -l): $(echo $missing | cut -c1-300))}" test -z "$missing"
extra=$(comm -13 "$TMP/declared" "$TMP/exported")
check "exports nothing undeclared in include/c1m${extra:+ ($(echo "$extra" | wc -l): $(echo $extra | cut -c1-300))}" test -z "$extra"
# the latency histogram is API (c1m/hist.h): its calls must stay exported
# even if its header lost them (the two checks above compare with the
# headers only)
hist_api="c1m_hist_init c1m_hist_reset c1m_hist_record_n c1m_hist_merge c1m_hist_count
  c1m_hist_min c1m_hist_max c1m_hist_saturated c1m_hist_mean c1m_hist_stddev
  c1m_hist_percentile c1m_hist_nbuckets c1m_hist_bucket_low c1m_hist_bucket_high
  c1m_hist_bucket_count c1m_hist_add_bucket c1m_hist_set_stats c1m_hist_write_hgrm"
missing=$(for f in $hist_api; do grep -qx "$f" "$TMP/exported" || echo "$f"; done)
check "exports the histogram API ($(echo $hist_api | wc -w) calls)${missing:+ (missing: $(echo $missing))}" test -z "$missing"

# ---- the examples, built outside the tree ------------------------------------
mkdir -p "$TMP/src" "$TMP/bin"
cp "$ROOT"/examples/*.c "$TMP/src/"
# cc_quiet ARGS...: compile; on failure show the first lines only
cc_quiet() {
    cc "$@" 2>"$TMP/cc.err" && return 0
    head -8 "$TMP/cc.err" | sed 's/^/# /'
    return 1
}

# ---- each installed header on its own ---------------------------------------
# (C, and C++ when there is a compiler: the headers say extern "C")
for h in $want_hdr; do
    check "<c1m/$h> compiles alone (C)" bash -c "echo '#include <c1m/$h>' |
        cc -std=gnu11 -Wall -Wextra -Werror -fsyntax-only $(pc --cflags) -x c - 2>'$TMP/cc.err' || { head -8 '$TMP/cc.err'; false; }"
    if command -v c++ >/dev/null; then
        check "<c1m/$h> compiles alone (C++)" bash -c "echo '#include <c1m/$h>' |
            c++ -Wall -Wextra -Werror -fsyntax-only $(pc --cflags) -x c++ - 2>'$TMP/cc.err' || { head -8 '$TMP/cc.err'; false; }"
    fi
done
build_example() { # NAME: a shared and a static binary of examples/NAME.c
    local n=$1 src=$TMP/src/$1.c
    check "$n builds with pkg-config (shared)" \
        cc_quiet $SAN -std=gnu11 -Wall -Wextra -Werror -o "$TMP/bin/$n" "$src" $(pc --cflags --libs)
    check "$n: needs libc1m.so.0, found in $P/lib" bash -c \
        "LD_LIBRARY_PATH='$P/lib' ldd '$TMP/bin/$n' | grep -q 'libc1m.so.0 => $P/lib/libc1m.so.0'"
    if [ $MODE = release ]; then
        check "$n builds with pkg-config --static (-static)" \
            cc_quiet -static -std=gnu11 -Wall -Wextra -Werror -o "$TMP/bin/$n.static" "$src" $(pc --static --cflags --libs)
    else
        check "$n builds with pkg-config --static (libc1m.a)" \
            cc_quiet $SAN -std=gnu11 -Wall -Wextra -Werror -o "$TMP/bin/$n.static" "$src" \
            $(pc --static --cflags --libs | sed 's/-lc1m\b/-l:libc1m.a/')
    fi
    check "$n.static does not need libc1m.so" bash -c \
        "readelf -d '$TMP/bin/$n.static' >'$TMP/dyn' 2>&1 || grep -q 'no dynamic section' '$TMP/dyn' ; \
         test -x '$TMP/bin/$n.static' && ! grep -q 'libc1m.so' '$TMP/dyn'"
}

# run_example NAME VARIANT ARGS...: start it, wait for "port N"; sets EPID
# and EPORT (0 when it did not come up)
run_example() {
    local n=$1 v=$2; shift 2
    local bin=$TMP/bin/$n out=$TMP/$n$v.out
    [ "$v" = static ] && bin=$bin.static
    : >"$out"
    EPORT=0
    [ -x "$bin" ] || { echo "# $bin was not built"; return; }
    LD_LIBRARY_PATH=$P/lib "$bin" "$@" >"$out" 2>"$TMP/$n$v.err" &
    EPID=$!
    PIDS+=("$EPID")
    EPORT=0
    for _ in $(seq 100); do
        EPORT=$(grep -oE 'port [0-9]+' "$out" | head -1 | cut -d' ' -f2)
        [ -n "$EPORT" ] && return 0 # printed once it listens
        sleep 0.05
    done
    EPORT=0
    echo "# $n ($v) did not start:"; cat "$out" "$TMP/$n$v.err"
}

# stop_example NAME VARIANT: SIGINT; it must exit 0 within 15 s
stop_example() {
    kill -INT "$EPID" 2>/dev/null
    local rc=137
    for _ in $(seq 150); do
        kill -0 "$EPID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$EPID" 2>/dev/null; then kill -9 "$EPID"; wait "$EPID" 2>/dev/null; else wait "$EPID"; rc=$?; fi
    check "$1 ($2) stops on SIGINT with status 0 (got $rc)" test $rc -eq 0
    [ $rc -eq 0 ] || tail -20 "$TMP/$1$2.err"
}

# echo: verified closed-loop echo from 100 connections (testclient), then
# 4 MiB of random bytes on one connection, which must come back exactly
# (more than the output high watermark: exercises backpressure).
test_echo() {
    local v=$1
    run_example echo_server "$v" 0
    if [ "$EPORT" = 0 ]; then bad "echo_server ($v) listens"; return; fi
    check "echo_server ($v): c1m_version() matches c1m.pc ($VERSION)" grep -q "c1m $VERSION," "$TMP/echo_server$v.out"
    local out rc
    out=$("$TC" echo "$EPORT" 100 2 1000)
    rc=$?
    check "echo_server ($v): 100 connections echo verified ($out)" test $rc -eq 0
    check "echo_server ($v): 4 MiB come back byte for byte" /usr/bin/python3 - "$EPORT" <<'EOF'
import os, socket, sys
data = os.urandom(4 << 20)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
got = bytearray()
sent = 0
s.setblocking(False)
import selectors
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
while len(got) < len(data):
    ev = sel.select(20)
    if not ev:
        sys.exit("timeout: sent %d got %d" % (sent, len(got)))
    for _, mask in ev:
        if mask & selectors.EVENT_WRITE and sent < len(data):
            sent += s.send(data[sent:sent + 65536])
            if sent == len(data):
                sel.modify(s, selectors.EVENT_READ)
        if mask & selectors.EVENT_READ:
            d = s.recv(1 << 16)
            if not d:
                sys.exit("closed early: got %d" % len(got))
            got += d
sys.exit(0 if bytes(got) == data else "bytes differ")
EOF
    stop_example echo_server "$v"
}

# push: 2,000 clients that answer every tick and 100 silent ones. Each
# active client must receive 3 ticks and stay open; each silent one must
# be closed by the server (idle timeout 6 s: an active client that answers a tick a second
# late on a loaded machine must not be mistaken for a silent one); the gateway's own count of
# idle closes must be exactly the silent ones.
test_push() {
    local v=$1 nact=2000 nsil=100
    run_example push_gateway "$v" 0 2 6000
    if [ "$EPORT" = 0 ]; then bad "push_gateway ($v) listens"; return; fi
    local out
    out=$(/usr/bin/python3 - "$EPORT" $nact $nsil <<'EOF'
import selectors, socket, sys, time
port, nact, nsil = map(int, sys.argv[1:4])
sel = selectors.DefaultSelector()
conns = []
for i in range(nact + nsil):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    c = {"s": s, "active": i < nact, "buf": b"", "ticks": 0, "closed": False}
    sel.register(s, selectors.EVENT_READ, c)
    conns.append(c)
bad_lines = 0
deadline = time.time() + 40
def done():
    return all(c["ticks"] >= 3 for c in conns if c["active"]) and \
           all(c["closed"] for c in conns if not c["active"])
while time.time() < deadline and not done():
    for key, _ in sel.select(0.2):
        c = key.data
        try:
            d = c["s"].recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            c["closed"] = True
            sel.unregister(c["s"])
            continue
        c["buf"] += d
        while b"\n" in c["buf"]:
            line, c["buf"] = c["buf"].split(b"\n", 1)
            if not line.startswith(b"tick "):
                bad_lines += 1
                continue
            c["ticks"] += 1
            if c["active"]:
                c["s"].send(b"ping\n")
act = [c for c in conns if c["active"]]
sil = [c for c in conns if not c["active"]]
print("active_3ticks=%d active_closed=%d silent_closed=%d min_ticks=%d bad_lines=%d" % (
    sum(c["ticks"] >= 3 for c in act), sum(c["closed"] for c in act),
    sum(c["closed"] for c in sil), min(c["ticks"] for c in act), bad_lines))
ok = done() and bad_lines == 0 and not any(c["closed"] for c in act)
for c in conns:
    c["s"].close()
sys.exit(0 if ok else 1)
EOF
)
    local rc=$?
    echo "# $out"
    check "push_gateway ($v): $nact clients got 3 ticks each, none closed" \
        test "$(kv active_3ticks "$out")" = $nact -a "$(kv active_closed "$out")" = 0 -a "$(kv bad_lines "$out")" = 0
    check "push_gateway ($v): $nsil silent clients closed by the idle timeout" test "$(kv silent_closed "$out")" = $nsil
    check "push_gateway ($v): client run clean" test $rc -eq 0
    sleep 0.3 # the active clients' closes reach the gateway
    stop_example push_gateway "$v"
    local summary
    summary=$(grep accepted= "$TMP/push_gateway$v.out")
    check "push_gateway ($v): accepted=$((nact + nsil)) closed_idle=$nsil ($summary)" \
        test "$(kv accepted "$summary")" = $((nact + nsil)) -a "$(kv closed_idle "$summary")" = $nsil
}

# http: the route with its parameter, the middleware's header on routed
# and unrouted answers (ids increasing), and /metrics counting exactly the
# requests made between two scrapes.
metric() { # metric URL SERIES: the value of one series of a scrape
    curl -s "$1" | awk -v s="$2" '$1 == s {print $2}'
}
test_http() {
    local v=$1
    run_example http_service "$v" 0
    if [ "$EPORT" = 0 ]; then bad "http_service ($v) listens"; return; fi
    local base=http://127.0.0.1:$EPORT ok200='c1m_http_requests_total{code="200"}'
    local ok404='c1m_http_requests_total{code="404"}'
    local m0 n0 body code id1 id2 m1 n1
    m0=$(metric "$base/metrics" "$ok200")
    n0=$(metric "$base/metrics" "$ok404")
    body=$(curl -s -D "$TMP/h1" "$base/hello/world")
    check "http_service ($v): GET /hello/world -> 'hello, world!' ($body)" test "$body" = "hello, world!"
    id1=$(tr -d '\r' <"$TMP/h1" | awk -F': ' 'tolower($1) == "x-request-id" {print $2}')
    check "http_service ($v): the middleware's X-Request-Id on a routed answer ($id1)" test -n "$id1"
    code=$(curl -s -o /dev/null -D "$TMP/h2" -w '%{http_code}' "$base/nothing/here")
    id2=$(tr -d '\r' <"$TMP/h2" | awk -F': ' 'tolower($1) == "x-request-id" {print $2}')
    check "http_service ($v): 404 for an unknown path, with X-Request-Id ($code, $id2)" \
        test "$code" = 404 -a -n "$id2"
    check "http_service ($v): request ids increase ($id1 < $id2)" test "${id1:-0}" -lt "${id2:-0}"
    curl -s "$base/hello/a" "$base/hello/b" "$base/hello/c" >/dev/null # one keep-alive connection
    m1=$(metric "$base/metrics" "$ok200")
    n1=$(metric "$base/metrics" "$ok404")
    # Between the value read in the first scrape and the one in the third:
    # the first scrape's own answer (counted after its text was made), the
    # second scrape, /hello/world and the three hellos; whichever way the
    # server orders counting and rendering, six 200s.
    check "http_service ($v): /metrics counted the 200s ($m0 -> $m1: 4 hellos + 2 scrapes)" \
        test "$(( ${m1:-0} - ${m0:-0} ))" -eq 6
    check "http_service ($v): /metrics counted the 404 ($n0 -> $n1)" test "$(( ${n1:-0} - ${n0:-0} ))" -eq 1
    stop_example http_service "$v"
}

for ex in echo_server push_gateway http_service; do
    build_example $ex
done
# the 20-line example of docs/API.md must build as printed
awk '/^## An example in 20 lines/ {on = 1} on && /^```c$/ {code = 1; next}
     code && /^```$/ {exit} code {print}' "$ROOT/docs/API.md" >"$TMP/src/api_example.c"
check "docs/API.md's example ($(wc -l <"$TMP/src/api_example.c") lines) builds" \
    cc_quiet $SAN -std=gnu11 -Wall -Wextra -Werror -o "$TMP/bin/api_example" "$TMP/src/api_example.c" $(pc --cflags --libs)
# docs/API.md's histogram example: built as printed, it times 1,000
# sleeps of 100 µs, prints p50/p99 and writes latency.hgrm (in ms)
awk '/^### A latency histogram in 10 lines/ {on = 1} on && /^```c$/ {code = 1; next}
     code && /^```$/ {exit} code {print}' "$ROOT/docs/API.md" >"$TMP/src/hist_example.c"
check "docs/API.md's histogram example ($(wc -l <"$TMP/src/hist_example.c") lines) builds" \
    cc_quiet $SAN -std=gnu11 -Wall -Wextra -Werror -o "$TMP/bin/hist_example" "$TMP/src/hist_example.c" $(pc --cflags --libs)
mkdir -p "$TMP/hist"
hout=$(cd "$TMP/hist" && LD_LIBRARY_PATH=$P/lib "$TMP/bin/hist_example" 2>&1)
hrc=$?
p50=$(sed -n 's/^p50 \([0-9]*\) us, p99 \([0-9]*\) us$/\1/p' <<<"$hout")
p99=$(sed -n 's/^p50 \([0-9]*\) us, p99 \([0-9]*\) us$/\2/p' <<<"$hout")
check "histogram example: exit 0, 100 <= p50 <= p99 ($hout)" \
    test $hrc -eq 0 -a "${p50:-0}" -ge 100 -a "${p99:-0}" -ge "${p50:-1}"
H=$TMP/hist/latency.hgrm
check "histogram example: latency.hgrm has the header, 1000 values at percentile 1.0 and the footer" bash -c "
    head -1 '$H' | grep -q 'Value *Percentile *TotalCount *1/(1-Percentile)' &&
    grep -qE '^ *[0-9.]+ 1\.000000000000 +1000\$' '$H' &&
    grep -qE '^#\[Max += +[0-9.]+, Total count += +1000\]' '$H' &&
    grep -q '^#\[Buckets = *33, SubBuckets *= *256\]' '$H'"
hp50=$(awk '$2 == "0.500000000000" {print $1 * 1000; exit}' "$H" 2>/dev/null)
check "histogram example: the .hgrm's 50 % row ($hp50 us) is within 1 % of the printed p50 ($p50 us)" \
    awk -v a="${hp50:-0}" -v b="${p50:-0}" 'BEGIN { exit !(b > 0 && a >= b * 0.99 && a <= b * 1.01) }'

for v in shared static; do
    test_echo $v
    test_push $v
    test_http $v
done

# ---- DESTDIR staging and uninstall ---------------------------------------------
check "make uninstall PREFIX=$P" mk uninstall PREFIX="$P"
left=$(find "$P" \( -type f -o -type l \) 2>/dev/null)
check "uninstall leaves no file behind${left:+ (left: $(echo $left | cut -c1-300))}" test -z "$left"
check "uninstall removes include/c1m" test ! -e "$P/include/c1m"

S=$TMP/stage
check "make install DESTDIR=$S PREFIX=/opt/c1m" mk install DESTDIR="$S" PREFIX=/opt/c1m
check "staged c1m.pc says prefix=/opt/c1m" grep -qx 'prefix=/opt/c1m' "$S/opt/c1m/lib/pkgconfig/c1m.pc"
check "staged libc1m.so.0 link" test -L "$S/opt/c1m/lib/libc1m.so.0"
check "make uninstall DESTDIR=$S PREFIX=/opt/c1m" mk uninstall DESTDIR="$S" PREFIX=/opt/c1m
left=$(find "$S" \( -type f -o -type l \) 2>/dev/null)
check "staged uninstall leaves no file behind${left:+ (left: $(echo $left | cut -c1-300))}" test -z "$left"

finish
