# Shared helpers of the fault suite (sourced after the integration
# helpers): SOAK=1 runs the long form (make soak), else the short one.
# shellcheck source=../integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
SOAK=${SOAK:-0}
# pick SHORT LONG: the value for this run's form
pick() { if [ "$SOAK" = 1 ]; then echo "$2"; else echo "$1"; fi; }
# tree_fds PID, tree_rss PID: open files (readdir only: cheap at 50,000)
# and RSS of PID and its children
tree_fds() {
    local n; n=$(fd_count "$1")
    for k in $(pgrep -P "$1"); do n=$((n + $(fd_count "$k"))); done
    echo "$n"
}
tree_rss() {
    local n; n=$(rss_kb "$1")
    for k in $(pgrep -P "$1"); do n=$((n + $(rss_kb "$k"))); done
    echo "$n"
}
# fds_at_most PID N: PID has at most N open files (a command for
# wait_until: "$(...)" in wait_until's arguments would be read only once)
fds_at_most() { test "$(fd_count "$1")" -le "$2"; }
# wait_until SECONDS CMD...: poll every 0.1 s until CMD succeeds, at most
# SECONDS by the clock (a slow CMD cannot stretch it)
wait_until() {
    local end; end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
    while [ $(( $(date +%s%N) / 1000000 )) -lt "$end" ]; do "$@" && return 0; sleep 0.1; done
    "$@"
}
# descendants PID: every process below PID (children first)
descendants() {
    local k
    for k in $(pgrep -P "$1"); do echo "$k"; descendants "$k"; done
}
# in_own_netns "SYSCTL=VALUE"...: run this script again inside a network
# namespace of its own (root), with these sysctls set there only (e.g.
# small TCP buffers), then remove the namespace; returns its status. The
# caller: `in_own_netns ... ; exit $?` unless FAULTS_NETNS is set.
in_own_netns() {
    local ns=c1m-f$$ rc
    ip netns add "$ns" || return 1
    ip netns exec "$ns" ip link set lo up
    for kv in "$@"; do ip netns exec "$ns" sysctl -q -w "$kv" || { ip netns del "$ns"; return 1; }; done
    FAULTS_NETNS=$ns ip netns exec "$ns" bash "$0" "$B"
    rc=$?
    ip netns del "$ns"
    return $rc
}
