# Shared helpers for the integration scripts (sourced). Each script gets
# the build directory as $1, starts only its own processes, remembers their
# PIDs, kills only those, and ends with "N passed, M failed, K skipped"
# (tests/run_integration.sh and CI read that line).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh" # wait_port
B=${1:?usage: $0 BUILD_DIR}
C1M=$B/c1m
TC=$B/tests/testclient
PASS=0
FAIL=0
SKIP=0
PIDS=()

ok()   { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
# skip WHAT WHY: a check not run because of a property of this machine (no
# root for namespaces, one CPU, no io_uring): counted and shown, never silent
skip() { SKIP=$((SKIP + 1)); echo "SKIP - $1: $2"; }
# skip_dep TOOL WHAT: a check not run because TOOL is missing. Every such
# tool is in scripts/install-deps.sh, so in CI (CI set and not false/0) the
# missing tool is a failure of the set-up, not a skip.
in_ci() { [ -n "${CI:-}" ] && [ "$CI" != false ] && [ "$CI" != 0 ]; }
skip_dep() {
    if in_ci; then
        bad "$2: $1 is not installed (CI: scripts/install-deps.sh should have installed it)"
    else
        skip "$2" "$1 is not installed (scripts/install-deps.sh installs it)"
    fi
}
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
    # C1M_KEEP_TMP=1: keep it (what a failed check saw), and say where
    if [ -n "$TMP" ] && [ -n "${C1M_KEEP_TMP:-}" ]; then echo "kept $TMP"; elif [ -n "$TMP" ]; then rm -rf "$TMP"; fi
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


# port_free PORT: nothing accepts on 127.0.0.1:PORT
port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

# server_up PORT: after starting $SPID, the port accepts and it is ours:
# the port was free before (checked by the caller), and $SPID still runs
# once it accepts (a server that failed to bind has exited by then).
server_up() {
    wait_port "$1" || { echo "# server on port $1: nothing accepts" >&2; return 1; }
    kill -0 "$SPID" 2>/dev/null || { echo "# server on port $1: pid $SPID died" >&2; return 1; }
}

# start_server PORT ARGS...: c1m serve in the background; sets SPID; fails
# when the port is taken before the start, or when it is not this server
# that accepts on it. With C1M_BACKEND set (epoll, uring) the server runs on
# that backend (tests/run_integration.sh runs the engine's suites on both).
start_server() {
    local port=$1; shift
    if ! port_free "$port"; then
        echo "# port $port is taken by another process" >&2
        SPID=0
        return 1
    fi
    "$C1M" serve --port "$port" --quiet ${C1M_BACKEND:+--backend "$C1M_BACKEND"} "$@" \
        2>>"${LOG:-/dev/null}" &
    SPID=$!
    PIDS+=("$SPID")
    server_up "$port"
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

# stop_check WHAT: stop_server, and a check that it exited 0
stop_check() {
    stop_server
    check "$1: exits 0 on SIGTERM (status $SRC)" test "$SRC" -eq 0
}

# fd_count PID, rss_kb PID: print nothing (and fail) for a process that is
# gone, so that "back to baseline" cannot pass on a dead server
fd_count() { [ -d /proc/"$1"/fd ] && ls /proc/"$1"/fd 2>/dev/null | wc -l; }
rss_kb() { [ -r /proc/"$1"/status ] && awk '/VmRSS/ {print $2}' /proc/"$1"/status; }
kv() { # kv KEY "line": the value of KEY=value in a key=value line
    echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'
}

finish() {
    echo "$PASS passed, $FAIL failed, $SKIP skipped"
    [ "$FAIL" -eq 0 ]
}
