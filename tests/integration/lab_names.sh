#!/bin/bash
# c1m lab runs as root and must not trust names it reads (issue 12 item 4):
# --out is refused unless it is a plain path; a stale-looking entry in
# /run/netns whose name holds shell syntax is neither run through a shell
# nor touched (the lab no longer uses a shell at all: argument vectors).
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/c1m-lab-names.XXXXXX)
MARK=/tmp/c1m_lab_names_pwned.$$
EVIL=
trap 'cleanup; rm -rf "$T" "$MARK"; [ -n "$EVIL" ] && rm -f "$EVIL"' EXIT

"$C1M" lab --dry-run --conns 100 --archs single --out "$T/x';touch $MARK;'" >"$T/out1" 2>&1
rc=$?
check "--out with shell syntax refused (exit $rc)" test $rc -ne 0
check "... with a message naming --out" grep -q -- "--out" "$T/out1"
check "... and nothing ran" test ! -e "$MARK"
"$C1M" lab --dry-run --conns 100 --archs single --out "$T/plain-dir_1" >"$T/out2" 2>&1
check "a plain --out path is accepted" test $? -eq 0

if [ "$(id -u)" = 0 ] && mkdir -p /run/netns 2>/dev/null; then
    # looks like a namespace left by a dead lab (pid 4000000 cannot exist)
    # (a file name holds no '/': the shell would touch it in the lab's cwd)
    EVIL="/run/netns/c1m-lab-4000000-\$(touch\${IFS}${MARK##*/})"
    : > "$EVIL"
    C1M_ABS=$(readlink -f "$C1M")
    cd "$T" || exit 1
    "$C1M_ABS" lab --conns 100 --archs single --duration 2s --warmup 0s --port 65411 \
        --no-plots --out "$T/run" >"$T/out3" 2>&1 &
    lp=$!
    PIDS+=("$lp")
    # the row's server listens on the clients' address, not 0.0.0.0
    laddr=
    for _ in $(seq 150); do
        laddr=$(ss -Hltn 'sport = :65411' 2>/dev/null | awk '{print $4}' | head -1)
        [ -n "$laddr" ] && break
        sleep 0.1
    done
    check "the lab's server listens on 127.0.0.1 only ($laddr)" test "$laddr" = "127.0.0.1:65411"
    wait $lp
    check "lab run with a hostile /run/netns name: exit 0 ($?)" test $? -eq 0
    check "no shell ran the name (no ${MARK##*/})" test ! -e "$T/${MARK##*/}"
    cd - >/dev/null || exit 1
    check "the entry was not touched" test -e "$EVIL"
    check "the lab said why it left it" grep -q "unexpected characters" "$T/out3"
    # --hosts refuses when 198.18.0.0/15 is in use (here: an address in a
    # namespace of this test, where the lab's pre-flight runs)
    NS=c1m-labnames-$$
    if ip netns add $NS 2>/dev/null; then
        ip -n $NS link set lo up
        ip -n $NS addr add 198.18.77.7/32 dev lo
        ip netns exec $NS "$C1M" lab --dry-run --conns 100 --archs single --hosts 1 >"$T/out4" 2>&1
        rc=$?
        ip netns del $NS
        check "--hosts with 198.18.77.7 in use: refused (exit $rc)" test $rc -ne 0
        check "... saying why" grep -q "198.18.0.0/15 to be free, but address 198.18.77.7" "$T/out4"
    else
        bad "cannot create a network namespace: the --hosts check cannot run here"
    fi
else
    bad "not root or no /run/netns: the /run/netns check cannot run here"
fi
finish
