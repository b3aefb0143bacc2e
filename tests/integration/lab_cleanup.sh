#!/bin/bash
# c1m lab cleans up after itself: stopped mid-run by SIGTERM or SIGINT, no
# process of the run and no network namespace or link of the lab remains;
# killed with SIGKILL, its server and clients still go (parent-death
# signal) and the next lab run removes the namespaces it left.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/c1m-lab-test.XXXXXX)
trap 'cleanup; rm -rf "$T"' EXIT

# procs_of PORT: c1m serve/bench processes of a lab run on PORT
procs_of() { ps -eo args | grep -c "^c1m [s]erve .*--port $1\|^c1m [b]ench .*\(--port\|:\)$1"; }
# wait_started FILE: until the lab's first row has begun (30 s at most)
wait_started() {
    for _ in $(seq 300); do grep -q '^c1m lab: \[1/' "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
# gone PORT: no process of the run after at most 10 s
gone() {
    for _ in $(seq 100); do [ "$(procs_of "$1")" -eq 0 ] && return 0; sleep 0.1; done
    return 1
}
LPIDS=()
netns_ok=0
if [ "$(id -u)" = 0 ] && ip netns add "c1m-labtest-$$" 2>/dev/null; then
    ip netns del "c1m-labtest-$$"; netns_ok=1
fi

run_and_signal() { # run_and_signal SIG PORT EXTRA...: sets LPID and LRC
    local sig=$1 port=$2; shift 2
    "$C1M" lab --conns 2000 --archs single,reuseport,prefork --duration 4s --warmup 1s \
        --port "$port" --out "$T/$sig" "$@" >"$T/$sig.out" 2>&1 &
    LPID=$!
    PIDS+=("$LPID")
    LPIDS+=("$LPID")
    wait_started "$T/$sig.out" || bad "lab $sig: did not start"
    sleep 1.5
    kill -"$sig" "$LPID"
    wait "$LPID"; LRC=$?
}

run_and_signal TERM 65402
check "SIGTERM mid-run: exit 130 ($LRC)" test "$LRC" -eq 130
check "SIGTERM: no c1m process of the run remains" gone 65402
check "SIGTERM: says it was interrupted" grep -q 'interrupted' "$T/TERM.out"

if [ $netns_ok = 1 ]; then
    run_and_signal INT 65403 --hosts 2
    check "SIGINT mid-run with --hosts 2: exit 130 ($LRC)" test "$LRC" -eq 130
    check "SIGINT: no c1m process of the run remains" gone 65403
    check "SIGINT: no namespace of the lab remains" \
        test "$(ip netns list | grep -c "^c1m-lab-$LPID-")" -eq 0
    check "SIGINT: no link of the lab remains" \
        test "$(ip -o link | grep -c ": c1m\(b\)\?$LPID")" -eq 0

    run_and_signal KILL 65404 --hosts 1
    check "SIGKILL: server and clients go too (parent-death signal)" gone 65404
    stale=$(ip netns list | grep -c "^c1m-lab-$LPID-")
    check "SIGKILL: the namespace is left behind ($stale)" test "$stale" -ge 1
    "$C1M" lab --conns 100 --archs single --duration 1s --warmup 0s --port 65405 \
        --no-plots --out "$T/after" >"$T/after.out" 2>&1
    check "the next lab run succeeds" test $? -eq 0
    check "... and removed the stale namespace" \
        test "$(ip netns list | grep -c "^c1m-lab-$LPID-")" -eq 0
    check "... and the stale links" test "$(ip -o link | grep -c ": c1m\(b\)\?$LPID")" -eq 0
    check "... and said so" grep -q "removing stale" "$T/after.out"
    left=0
    for p in "${LPIDS[@]}"; do
        left=$((left + $(ip netns list | grep -c "^c1m-lab-$p-")))
    done
    check "no namespace of any lab run of this test remains ($left)" test "$left" -eq 0
else
    skip "lab --hosts clean-up (SIGINT, SIGKILL, stale namespaces)" \
        "network namespaces not available here (needs root and ip netns)"
fi
finish
