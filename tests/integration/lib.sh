# Shared helpers for the integration scripts (sourced). Each script gets
# the build directory as $1, starts only its own processes, remembers their
# PIDs, kills only those, and ends with "N passed, M failed".
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh" # wait_port
B=${1:?usage: $0 BUILD_DIR}
C1M=$B/c1m
TC=$B/tests/testclient
PASS=0
FAIL=0
PIDS=()

ok()   { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # check "description" command...
    local what=$1; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

EXIT_HOOKS=()
TMP=
cleanup() {
    for h in "${EXIT_HOOKS[@]}"; do $h; done
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
# on_exit FUNCTION: run it first at exit (e.g. a graceful stop of a peer)
on_exit() { EXIT_HOOKS+=("$1"); }
# make_tmp NAME: a private directory in $TMP, removed at exit
make_tmp() { TMP=$(mktemp -d "/tmp/c1m_$1.XXXXXX"); }

# jcheck FILE PYTHON-EXPR DESCRIPTION [KEYS]: ok when the expression, which
# sees the JSON document as d, is true; on failure print d's KEYS (a
# Python tuple of names) to show what was measured.
jcheck() {
    if python3 -c "import json,sys; d=json.load(open('$1')); sys.exit(0 if ($2) else 1)" 2>/dev/null; then
        ok "$3"
    else
        bad "$3 ($2)"
        [ -n "${4:-}" ] && python3 -c "import json; d=json.load(open('$1')); print({k: d.get(k) for k in $4})" 2>/dev/null
    fi
}


# start_server PORT ARGS...: c1m serve in the background; sets SPID. With
# C1M_BACKEND set (epoll, uring) the server runs on that backend
# (tests/run_integration.sh runs the engine's suites on both).
start_server() {
    local port=$1; shift
    "$C1M" serve --port "$port" --quiet ${C1M_BACKEND:+--backend "$C1M_BACKEND"} "$@" \
        2>>"${LOG:-/dev/null}" &
    SPID=$!
    PIDS+=("$SPID")
    wait_port "$port"
}

# stop_server: SIGTERM, wait at most 15 s; sets SRC to the exit status
stop_server() {
    kill -TERM "$SPID" 2>/dev/null
    for _ in $(seq 150); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SPID" 2>/dev/null; then
        kill -9 "$SPID"; wait "$SPID" 2>/dev/null; SRC=137 # did not stop: a failure
        return
    fi
    wait "$SPID"; SRC=$? # this server's status (not a value left by an earlier call)
}

fd_count() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }
rss_kb() { awk '/VmRSS/ {print $2}' /proc/"$1"/status; }
kv() { # kv KEY "line": the value of KEY=value in a key=value line
    echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'
}

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
