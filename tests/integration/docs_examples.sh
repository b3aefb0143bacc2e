#!/bin/bash
# Every documented example runs: the c1m command lines of the README, of the
# EXAMPLES section of each --help (serve, bench, lab, merge) and of the man
# page, with small counts (--conns 200, --duration 1s, --warmup 0s) so that
# they cannot rot. serve examples must listen, answer a bench and stop with
# exit 0 on SIGTERM; bench examples run against a c1m serve of their
# protocol; merge examples get their inputs from a bench run; lab examples
# must exit 0 (--hosts needs root: without it, the refusal is checked). Also:
# every option of every --help is in the man page and the bash completion.
# DOCS_ONLY=README (or help, or man) runs only the examples of that source.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
C1M=$(cd "$(dirname "$C1M")" && pwd)/c1m
make_tmp docs
LOG=$TMP/serve.log
cd "$TMP" || exit 1

# ---- collect the examples --------------------------------------------------
examples=()
# README: command lines in ```sh blocks that run build/c1m
while IFS= read -r line; do
    line=${line%%#*}
    line=${line//&&/;}
    IFS=';' read -ra parts <<<"$line"
    for p in "${parts[@]}"; do
        p=$(echo "$p" | sed 's/^ *//; s/ *$//')
        case "$p" in build/c1m\ *) examples+=("README|${p#build/}") ;; esac
    done
done < <(awk '/^```sh/ {on=1; next} /^```/ {on=0} on' "$ROOT/README.md")
# --help EXAMPLES sections
for cmd in serve bench lab merge; do
    n=0
    while IFS= read -r line; do
        examples+=("$cmd --help|$(echo "$line" | sed 's/^ *//')")
        n=$((n + 1))
    done < <("$C1M" "$cmd" --help | awk '/^EXAMPLES/ {on=1; next} /^[A-Z]/ {on=0} on && /^  c1m /')
    check "$cmd --help has an EXAMPLES section ($n examples)" test "$n" -ge 2
    check "$cmd --help has an EXIT STATUS section" sh -c "'$C1M' $cmd --help | grep -q '^EXIT STATUS'"
done
# the man page's EXAMPLES block
while IFS= read -r line; do
    examples+=("man page|$line")
done < <(awk '/^# EXAMPLES/ {s=1} s && /^```/ {if (on) exit; on=1; next} on && /^c1m /' \
         "$ROOT/man/c1m.1.scd")
check "examples found (${#examples[@]})" test "${#examples[@]}" -ge 15

# ---- small counts ---------------------------------------------------------------
shrink() { # the example with small counts, as words on stdout
    local out=() w prev= dry=0 lab=0
    for w in $1; do [ "$w" = --dry-run ] && dry=1; done
    set -- $1
    [ "$2" = lab ] && lab=1
    for w in "$@"; do
        case "$prev" in
        --conns) [ $dry -eq 0 ] && w=200 ;;
        --duration) w=1s ;;
        --warmup) w=0s ;;
        --start-at) w=+1s ;;
        --rounds) w=1 ;;
        esac
        out+=("$w")
        prev=$w
    done
    if [ $lab -eq 1 ] && [ $dry -eq 0 ]; then
        [[ " $* " == *" --conns "* ]] || out+=(--conns 200)
        [[ " $* " == *" --duration "* ]] || out+=(--duration 1s)
        [[ " $* " == *" --warmup "* ]] || out+=(--warmup 0s)
        [[ " $* " == *" --out "* ]] || out+=(--out "$TMP/lab.$RANDOM")
        [[ " $* " != *" --experiment timers "* || " $* " == *" --rounds "* ]] || out+=(--rounds 1)
    fi
    echo "${out[@]:1}" # without the leading "c1m"
}

port_of() { # the port a serve example listens on
    local a=($1) i
    for ((i = 0; i < ${#a[@]}; i++)); do
        [ "${a[i]}" = --port ] && { echo "${a[i+1]}"; return; }
    done
    [[ " $1 " == *" --proto http "* ]] && echo 8998 || echo 8972
}

run_serve() { # where, example
    local args port proto rc
    args=$(shrink "$2")
    port=$(port_of "$2")
    proto=echo
    [[ " $2 " == *" --proto ts8 "* ]] && proto=ts8
    [[ " $2 " == *" --proto http "* ]] && proto=http
    "$C1M" $args --quiet 2>>"$LOG" &
    SPID=$!
    PIDS+=("$SPID")
    if ! wait_port "$port"; then
        bad "$1: '$2' listens on $port"
        stop_server
        return
    fi
    if [ $proto = http ]; then
        "$C1M" bench --url "http://127.0.0.1:$port/" --conns 20 --duration 1s --warmup 0s --quiet \
            >/dev/null 2>&1
    else
        "$C1M" bench --proto $proto --port "$port" --conns 20 --duration 1s --warmup 0s --quiet \
            >/dev/null 2>&1
    fi
    rc=$?
    stop_server
    check "$1: '$2' answers a bench (rc $rc) and stops with 0 on SIGTERM (rc $SRC)" \
        test $rc -eq 0 -a "$SRC" -eq 0
}

run_bench() { # where, example: against a c1m serve of its protocol and port
    local args port=8972 proto=ts8 rc url
    args=$(shrink "$2")
    [[ " $2 " == *" --proto echo "* ]] && proto=echo
    url=$(echo "$2" | grep -o 'http://[^ ]*')
    if [ -n "$url" ]; then
        proto=http
        port=$(echo "$url" | sed -E 's|http://[^:/]*:?([0-9]*).*|\1|')
        port=${port:-80}
    fi
    start_server "$port" --proto $proto || { bad "$1: server for '$2'"; return; }
    timeout 60 "$C1M" $args --quiet >"$TMP/bench.out" 2>&1
    rc=$?
    stop_server
    check "$1: '$2' exits 0 (rc $rc)" test $rc -eq 0
}

run_plain() { # where, example, timeout: exit 0 (lab, merge, --help, --version)
    local args rc
    args=$(shrink "$2")
    timeout "$3" "$C1M" $args >"$TMP/out" 2>&1
    rc=$?
    if [[ " $2 " == *" --hosts "* ]] && [ "$(id -u)" -ne 0 ]; then
        check "$1: '$2' without root is refused (rc $rc)" \
            sh -c "[ $rc -eq 1 ] && grep -q 'needs root' '$TMP/out'"
        return
    fi
    check "$1: '$2' exits 0 (rc $rc)" test $rc -eq 0
    [ $rc -eq 0 ] || tail -5 "$TMP/out"
}

# merge examples read part1.json and part2.json: two bench results
start_server 8972 --proto ts8 || bad "server for the merge inputs"
for p in part1 part2; do
    "$C1M" bench --proto ts8 --conns 20 --duration 1s --warmup 0s --quiet --json "$p.json" >/dev/null 2>&1
done
stop_server
check "merge inputs written" test -s part1.json -a -s part2.json

declare -A ran_in ran_fail # an example written in several places runs once
for e in "${examples[@]}"; do
    where=${e%%|*} ex=${e#*|}
    [[ -z "${DOCS_ONLY:-}" || "$where" == *"${DOCS_ONLY}"* ]] || continue
    if [ -n "${ran_in[$ex]:-}" ]; then
        check "$where: '$ex' (the same command as in ${ran_in[$ex]}, run there)" \
            test "${ran_fail[$ex]}" -eq 0
        continue
    fi
    ran_in[$ex]=$where
    f0=$FAIL
    case "$ex" in
    *--help*|*--version*) run_plain "$where" "$ex" 10 ;;
    "c1m serve"*) run_serve "$where" "$ex" ;;
    "c1m bench"*) run_bench "$where" "$ex" ;;
    "c1m merge"*) run_plain "$where" "$ex" 30 ;;
    "c1m lab"*) run_plain "$where" "$ex" 300 ;;
    *) bad "$where: '$ex' is not a c1m command this test knows" ;;
    esac
    ran_fail[$ex]=$((FAIL - f0))
done

# ---- the README's two commands: the script and targets they name exist ------
check "README: scripts/install-deps.sh and --test are documented there" \
    sh -c "grep -q 'scripts/install-deps.sh && make -j2 && build/c1m lab' '$ROOT/README.md' &&
           grep -q 'scripts/install-deps.sh --test && make test' '$ROOT/README.md'"
check "install-deps.sh --help exits 0" "$ROOT/scripts/install-deps.sh" --help
# The first command (install-deps.sh without --test) must install what
# building needs: every library the Makefile links into libc1m and c1m
# comes from a package of its base list (libc6-dev comes with
# build-essential). Debian's dpkg names the package of each -lNAME.
if command -v dpkg >/dev/null; then
    base=" $(sed -n '/^PKGS=(/,/^)/p' "$ROOT/scripts/install-deps.sh" | awk 'NR > 1 && $1 != ")" {printf "%s ", $1}') libc6-dev "
    libs=$( { sed -n 's/^LIB_LIBS *:= *\([^#]*\).*/\1/p' "$ROOT/Makefile"
              grep -A1 '^$(C1M):' "$ROOT/Makefile"; } | grep -oE -- '-l[a-z0-9_]+' | sort -u)
    notbase=
    for l in $libs; do
        f=$(realpath -s "$(cc -print-file-name="lib${l#-l}.so")")
        pkg=$(dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1)
        [[ -n $pkg && $base == *" $pkg "* ]] || notbase="$notbase $l(${pkg:-no package})"
    done
    check "install-deps.sh (no --test) installs the package of every library the build links ($(echo $libs))${notbase:+; not in its base list:$notbase}" \
        test -n "$libs" -a -z "$notbase"
fi
check "the Makefile has the targets the README names (all, test)" \
    sh -c "grep -q '^all:' '$ROOT/Makefile' && grep -q '^test:' '$ROOT/Makefile'"

# ---- every option of every --help is in the man page and the completion -------
for cmd in serve bench lab merge; do
    missing=
    for o in $("$C1M" "$cmd" --help | grep -oE '^  --[a-z][a-z-]*' | sort -u); do
        grep -q -- "\*$o\*" "$ROOT/man/c1m.1.scd" || missing="$missing man:$o"
        grep -q -- "$o" "$ROOT/completion/c1m.bash" || missing="$missing completion:$o"
    done
    check "$cmd: every --help option in the man page and the completion${missing:+ (missing$missing)}" \
        test -z "$missing"
done
check "--version prints 'c1m X.Y.Z'" sh -c "'$C1M' --version | grep -qE '^c1m [0-9]+\.[0-9]+\.[0-9]+'"
finish
