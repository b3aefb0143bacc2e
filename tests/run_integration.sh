#!/bin/bash
# Run every tests/integration/*.sh (and, against a release build, the short
# form of the fault suite, tests/faults/*.sh) against one or more build
# directories;
# print each script's FAIL and SKIP lines (with their reasons) and its
# summary, then a total "N passed, M failed, K skipped" line and every skip
# again.
#
#   tests/run_integration.sh [-j N] BUILD_DIR...
#   C1M_ONLY="serve_archs http_proto" tests/run_integration.sh build   (some suites)
#
# -j N runs N suites at a time (default: C1M_TEST_JOBS, else 3 when network
# namespaces can be made, else 1). Suites use fixed ports, so with N > 1
# each suite runs in a network namespace of its own (needs root and `ip
# netns`; made and deleted here); without them the suites run one at a time
# in the current namespace, and that is said. Node's `ws` package (npm,
# tests/ws_node_setup.sh) is installed first, from this namespace: the
# suites' namespaces have no network.
#
# A script that exits non-zero, or whose last line is not a summary, counts
# as a failure. With CI set, a missing tool that scripts/install-deps.sh
# installs is a failure inside the scripts (tests/integration/lib.sh:
# skip_dep); skips that remain are properties of the machine.
set -u
here=$(cd "$(dirname "$0")" && pwd)
jobs=${C1M_TEST_JOBS:-}
while getopts j: o; do
    case $o in
    j) jobs=$OPTARG ;;
    *) echo "usage: $0 [-j N] BUILD_DIR..." >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-j N] BUILD_DIR..." >&2; exit 2; }
for B in "$@"; do
    [ -x "$B/c1m" ] || { echo "run_integration: no $B/c1m (build it first)" >&2; exit 2; }
done

# Network namespaces: one per running suite, when we may make them.
ns_ok=0
probe=c1m-it-probe-$$
if [ "$(id -u)" = 0 ] && ip netns add "$probe" 2>/dev/null; then
    ip netns del "$probe"
    ns_ok=1
fi
if [ -z "$jobs" ]; then
    jobs=1
    [ $ns_ok = 1 ] && jobs=3
fi
[[ $jobs =~ ^[1-9][0-9]?$ ]] || { echo "run_integration: bad -j '$jobs' (1-99)" >&2; exit 2; }
if [ "$jobs" -gt 1 ] && [ $ns_ok = 0 ]; then
    echo "run_integration: cannot make network namespaces (not root, or no 'ip netns'): one suite at a time"
    jobs=1
fi
echo "run_integration: $jobs suite(s) at a time$([ "$jobs" -gt 1 ] && echo ", each in its own network namespace")"

# Suites that test the command line, the documentation's examples, the
# process hand-over of an upgrade, two that measure the load generator
# (the bench's intervals, broadcast delivery counts in a window: thresholds
# for an optimised build), and two that are mostly load (25,000 bench
# connections; 20,000 prefork subscribers: the bus is unit-tested under
# ASan, test_ws_bus) run against the release build only: the suites are
# CPU-bound on 2 cores (~20 CPU-minutes in 12 minutes), and the sanitizer
# build would add minutes to CI without reaching code the other suites do
# not already run under it. Said, not hidden. Also the lab's timer
# experiment (its servers' three timer designs are unit-tested under ASan,
# test_timers) and the install check (a release anyone installs): 104 s of
# suite time under ASan, ~35 s of CI's wall time, which was 900 s. And
# docs_links, which reads Markdown and git, not the build.
RELEASE_ONLY="docs_links.sh docs_examples.sh upgrade.sh bench_intervals.sh ws_broadcast.sh bench_scale.sh ws_prefork.sh lab_timers.sh install.sh"
# Every suite runs once with the commands' default backend (auto: io_uring
# where the kernel allows it and the features fit, else epoll). The suites that exercise the engine run again
# with the other backend forced (C1M_BACKEND, which tests/integration/lib.sh's
# start_server passes as --backend): SUITE:BACKEND. Not under ASan (CI
# time): there the default pass covers uring (every protocol), and the
# unit tests run the loop on both backends.
EXTRA_RUNS="serve_archs:epoll serve_timeouts:epoll serve_faults:epoll http_proto:epoll"
EXTRA_RUNS_ASAN=""
# Suites that would take turns: none. (A lab run may change kernel settings
# that are not per namespace, which two labs at once would restore out of
# order; the lab suites run dry runs and small counts, for which the lab
# changes none: tools/lab.c, tune_kernel.) Names listed here run one at a
# time.
LAB_SUITES=""
# Suites that check what the load generator achieves over time (a --rate
# met, intervals, deliveries at a push rate, how evenly prefork children
# share a load): they run alone, first, with the machine to themselves.
# lab_cleanup too: it leaves a killed lab's namespace in /run/netns (shared by
# every namespace) and checks it is still there, and any other lab run
# removes such stale namespaces (seen in a CI run).
SOLO_SUITES="bench_intervals.sh bench_faults.sh ws_broadcast.sh serve_prefork_balance.sh lab_cleanup.sh"
# The longest suites start first, so that the last ones to finish are short.
FIRST="docs_examples.sh upgrade.sh http_timeouts.sh install.sh ws_prefork.sh lab_run.sh lab_timers.sh serve_archs.sh"

# The runs, "SCRIPT|BUILD|BACKEND": the longest first (every build's), so
# that the last ones to finish are short.
head=() tail=()
for B in "$@"; do
    asan=0
    case $B in *asan*) asan=1 ;; esac
    [ $asan = 1 ] && echo "not run against $B (release build only, see tests/run_integration.sh): $RELEASE_ONLY"
    for t in "$here"/integration/*.sh; do
        name=$(basename "$t")
        [ "$name" = lib.sh ] && continue
        [ -n "${C1M_ONLY:-}" ] && case " $C1M_ONLY " in *" ${name%.sh} "*) ;; *) continue ;; esac
        [ $asan = 1 ] && case " $RELEASE_ONLY " in *" $name "*) continue ;; esac
        if [ "$name" = docs_examples.sh ]; then
            # the longest suite, mostly lab runs: its three sources side by side
            for src in README help man; do head+=("$t|$B||DOCS_ONLY=$src"); done
            continue
        fi
        case " $SOLO_SUITES $FIRST " in
        *" $name "*) head+=("$t|$B|") ;;
        *) tail+=("$t|$B|") ;;
        esac
    done
    # the fault suite's short form (tests/faults/, `make soak` is the long
    # one): against the release build
    if [ $asan = 0 ]; then
        for t in "$here"/faults/*.sh; do
            name=$(basename "$t")
            case $name in lib.sh | run.sh) continue ;; esac
            [ -n "${C1M_ONLY:-}" ] && case " $C1M_ONLY " in *" ${name%.sh} "*) ;; *) continue ;; esac
            tail+=("$t|$B|")
        done
    fi
    extra=$EXTRA_RUNS
    [ $asan = 1 ] && extra=$EXTRA_RUNS_ASAN
    for x in $extra; do
        s=${x%%:*}
        [ -n "${C1M_ONLY:-}" ] && case " $C1M_ONLY " in *" $s "*) ;; *) continue ;; esac
        head+=("$here/integration/$s.sh|$B|${x#*:}")
    done
done
runs=("${head[@]}" "${tail[@]}")
is_lab() { case " $LAB_SUITES " in *" $(basename "${runs[$1]%%|*}") "*) return 0 ;; esac; return 1; }
is_solo() { case " $SOLO_SUITES " in *" $(basename "${runs[$1]%%|*}") "*) return 0 ;; esac; return 1; }
# solo suites first (each alone), then the others
sorted=()
for i in "${!runs[@]}"; do is_solo "$i" && sorted+=("${runs[$i]}"); done
for i in "${!runs[@]}"; do is_solo "$i" || sorted+=("${runs[$i]}"); done
runs=("${sorted[@]}")

out_dir=$(mktemp -d /tmp/c1m-itest.XXXXXX)
netns_made=()
# killtree PID: PID and everything below it (a suite's servers and clients;
# they share no process group of their own to signal)
killtree() {
    local c
    for c in $(pgrep -P "$1"); do killtree "$c"; done
    kill -TERM "$1" 2>/dev/null
}
cleanup() {
    local p
    for p in "${!pid_of[@]}"; do [ -e "$out_dir/${pid_of[$p]}.rc" ] || killtree "$p"; done
    wait 2>/dev/null
    for n in "${netns_made[@]}"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$out_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_one I: suite run I in the background; its output in $out_dir/I.out,
# its status in I.rc, its seconds in I.secs
run_one() {
    local i=$1 t B be env
    IFS='|' read -r t B be env <<<"${runs[$1]}"
    local name ns= pre=()
    name=$(basename "$t")
    if [ "$jobs" -gt 1 ]; then
        ns=c1m-it-$$-$i
        ip netns add "$ns" && ip netns exec "$ns" ip link set lo up || return 1
        netns_made+=("$ns")
        pre=(ip netns exec "$ns")
    fi
    (
        t0=$SECONDS
        env C1M_BACKEND="$be" $env timeout 900 "${pre[@]}" bash "$t" "$B" >"$out_dir/$i.out" 2>&1
        echo $? >"$out_dir/$i.rc"
        echo $((SECONDS - t0)) >"$out_dir/$i.secs"
        [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    ) &
    pid_of[$!]=$i
}

pass=0 fail=0 skipped=0 scripts_failed=() skips=()
summary_re='^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$'
report() { # report I: print run I's result and add it to the totals
    local i=$1 t B be env
    IFS='|' read -r t B be env <<<"${runs[$1]}"
    local name out rc last p f k
    name="$(basename "$t")${be:+ (backend $be)}${env:+ ($env)}"
    out=$(cat "$out_dir/$i.out" 2>/dev/null)
    rc=$(cat "$out_dir/$i.rc" 2>/dev/null || echo 1)
    echo "== $name ($B)"
    echo "   $(cat "$out_dir/$i.secs" 2>/dev/null || echo '?') s"
    echo "$out" | grep -E '^(FAIL|SKIP)'
    while IFS= read -r l; do skips+=("$name ($B): ${l#SKIP - }"); done < <(echo "$out" | grep -E '^SKIP')
    last=$(echo "$out" | tail -1)
    echo "$last"
    if [[ $last =~ $summary_re ]]; then
        p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} k=${BASH_REMATCH[4]:-0}
    else
        p=0 f=1 k=0
        echo "   (no summary line: counted as a failure)"
    fi
    pass=$((pass + p)); fail=$((fail + f)); skipped=$((skipped + k))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        scripts_failed+=("$name ($B)")
        [ "$f" -eq 0 ] && fail=$((fail + 1))
        echo "$out" | tail -40
    fi
}

# Node's ws for ws_peers.sh, from this namespace (the suites' have no
# network); a failure here is reported by ws_peers.sh itself
if [ -x "$here/ws_node_setup.sh" ] && command -v npm >/dev/null; then
    "$here/ws_node_setup.sh" || echo "run_integration: tests/ws_node_setup.sh failed (ws_peers.sh will say)"
fi

declare -A pid_of=()
started=()
t_start=$SECONDS
left=${#runs[@]} running=0 lab_running=-1 solo_running=-1
# pick: the first run not started; a lab suite only when no other lab
# suite runs; a solo suite only when nothing runs, and nothing beside it
pick() {
    local i
    [ $solo_running -ge 0 ] && return 1
    for ((i = 0; i < ${#runs[@]}; i++)); do
        [ -n "${started[$i]:-}" ] && continue
        if is_lab $i && [ $lab_running -ge 0 ]; then continue; fi
        if is_solo $i && [ $running -gt 0 ]; then continue; fi
        echo $i
        return 0
    done
    return 1
}
while [ $left -gt 0 ]; do
    while [ $running -lt "$jobs" ] && i=$(pick); do
        started[$i]=1
        if run_one "$i"; then
            running=$((running + 1))
            is_lab "$i" && lab_running=$i
            is_solo "$i" && solo_running=$i
        else
            echo "run_integration: cannot make a network namespace for ${runs[$i]}" >&2
            echo 1 >"$out_dir/$i.rc"
            report "$i"
            left=$((left - 1))
        fi
    done
    [ $running -gt 0 ] || continue
    done_pid=
    wait -n -p done_pid
    [ -n "$done_pid" ] && [ -n "${pid_of[$done_pid]:-}" ] || continue
    i=${pid_of[$done_pid]}
    running=$((running - 1)) left=$((left - 1))
    [ "$lab_running" = "$i" ] && lab_running=-1
    [ "$solo_running" = "$i" ] && solo_running=-1
    report "$i"
done
if [ ${#skips[@]} -gt 0 ]; then
    echo "skipped checks:"
    printf '   %s\n' "${skips[@]}"
fi
[ ${#scripts_failed[@]} -gt 0 ] && printf 'failed: %s\n' "${scripts_failed[@]}"
times >"$out_dir/times" # (a builtin's redirection runs in this shell; $(times) would not)
echo "integration ($*): $pass passed, $fail failed, $skipped skipped in $((SECONDS - t_start)) s ($jobs at a time; CPU user, system of the suites: $(tail -1 "$out_dir/times"))"
[ ${#scripts_failed[@]} -eq 0 ]
