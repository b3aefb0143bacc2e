#!/bin/bash
# The fault suite (issue 12): every tests/faults/*.sh against BUILD_DIR,
# each in a network namespace of its own when run as root (fixed ports).
# SOAK=1 runs the long forms (make soak: 50,000 connections, a 30 s kill
# storm, 1,000 slow readers); else the short ones (make faults, ~1.5 min).
# Prints each script's checks and time; exits 1 if any check failed.
B=${1:?usage: $0 BUILD_DIR}
cd "$(dirname "$0")/../.." || exit 2
fail=0
for t in tests/faults/*.sh; do
    case $(basename "$t") in lib.sh | run.sh) continue ;; esac
    name=$(basename "$t" .sh)
    echo "== $name${SOAK:+ (soak)}"
    t0=$(date +%s)
    if [ "$(id -u)" = 0 ]; then
        ns=c1m-faults-$$-$name
        ip netns add "$ns" && ip netns exec "$ns" ip link set lo up &&
            ip netns exec "$ns" timeout 900 bash "$t" "$B"
        rc=$?
        ip netns del "$ns" 2>/dev/null
    else
        timeout 900 bash "$t" "$B"
        rc=$?
    fi
    echo "== $name: $([ $rc -eq 0 ] && echo ok || echo FAILED) in $(( $(date +%s) - t0 )) s"
    [ $rc -eq 0 ] || fail=1
done
exit $fail
