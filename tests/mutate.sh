#!/bin/bash
# Mutation check: apply each tests/mutations/*.mut to a scratch copy of the
# tree, rebuild, run the tests it names, and report killed / SURVIVED /
# ERROR (see tests/mutations/README.md). Exit 0 only when every mutation
# was killed. Usage: tests/mutate.sh [NAME...]
# Integration tests take /tmp/c1m-itest.lock one script at a time; to hold
# it once for the whole run: flock /tmp/c1m-itest.lock env C1M_ITEST_LOCKED=1 tests/mutate.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCK=/tmp/c1m-itest.lock
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for m in "$ROOT"/tests/mutations/*.mut; do names+=("$(basename "$m" .mut)"); done
fi
S=$(mktemp -d /tmp/c1m_mutate.XXXXXX)
trap 'rm -rf "$S"' EXIT
t_start=$SECONDS

# The scratch tree: the sources as they are now (tracked and new files),
# built once; each mutant then rebuilds only what its file touches.
(cd "$ROOT" && git ls-files -co --exclude-standard -z | grep -zv '^build/' |
     xargs -0 tar cf - ) | (cd "$S" && tar xf -)
echo "mutate: building the scratch copy in $S"
if ! make -C "$S" -j2 all unit >"$S/build.log" 2>&1; then
    echo "mutate: the unmutated tree does not build or its unit tests fail:"
    tail -20 "$S/build.log"
    exit 2
fi

# apply FILE MUT: replace the old text by the new one; fails (with a
# message) when the old text is missing or not unique
apply() {
    python3 - "$1" "$2" <<'PY'
import sys
path, mut = sys.argv[1], sys.argv[2]
text = open(mut).read().split("\n")
i = text.index("--- old"); j = text.index("--- new")
old = "\n".join(text[i + 1:j]); new = "\n".join(text[j + 1:]).rstrip("\n")
src = open(path).read()
n = src.count(old)
if n != 1:
    print("old text found %d times in %s" % (n, path.split("/", 3)[-1])); sys.exit(1)
open(path, "w").write(src.replace(old, new))
PY
}

killed=0 survived=0 errors=0 report=() lockwait=0
say() { report+=("$1"); echo "$1"; }
for name in "${names[@]}"; do
    mut=$ROOT/tests/mutations/$name.mut
    t0=$SECONDS
    if [ ! -f "$mut" ]; then
        say "ERROR    $name: no such mutation"; errors=$((errors + 1)); continue
    fi
    file=$(awk '/^file: / {print $2; exit}' "$mut")
    tests=$(awk '/^tests: / {sub(/^tests: /, ""); print; exit}' "$mut")
    if [ -z "$file" ] || [ -z "$tests" ] || [ ! -f "$S/$file" ]; then
        say "ERROR    $name: bad header (file: '$file', tests: '$tests')"
        errors=$((errors + 1)); continue
    fi
    cp -p "$S/$file" "$S/$file.orig"
    if ! why=$(apply "$S/$file" "$mut"); then
        say "ERROR    $name: $why: update the mutation to the code"
        errors=$((errors + 1)); mv "$S/$file.orig" "$S/$file"; continue
    fi
    bins=()
    for t in $tests; do [ "${t%%:*}" = unit ] && bins+=("build/tests/${t#unit:}"); done
    verdict=
    if ! make -C "$S" -j2 all "${bins[@]}" >"$S/mutant.log" 2>&1; then
        verdict="ERROR    $name: the mutant does not compile ($(grep -m1 'error:' "$S/mutant.log"))"
        errors=$((errors + 1))
    else
        by=
        for t in $tests; do
            case $t in
            unit:*) (cd "$S" && timeout 300 "build/tests/${t#unit:}") >"$S/test.log" 2>&1 ;;
            itest:*) # the time spent waiting for the lock is reported apart
                     w0=$(date +%s)
                     lock=(flock "$LOCK")
                     [ "${C1M_ITEST_LOCKED:-}" = 1 ] && lock=() # the caller holds it
                     (cd "$S" && "${lock[@]}" bash -c 'date +%s > "$0"; exec timeout 900 bash "$1" build' \
                          "$S/locked" "tests/integration/${t#itest:}.sh") >"$S/test.log" 2>&1
                     rc=$?
                     lockwait=$((lockwait + $(cat "$S/locked" 2>/dev/null || echo "$w0") - w0))
                     (exit $rc) ;;
            faults:*) # the fault suite's short form (tests/faults/, root for its namespaces)
                     (cd "$S" && timeout 900 bash "tests/faults/${t#faults:}.sh" build) >"$S/test.log" 2>&1 ;;
            *) echo "unknown test kind: $t" >"$S/test.log"; false ;;
            esac
            rc=$?
            if [ $rc -ne 0 ]; then
                by="$t ($(grep -m1 -E '^FAIL|\[  FAILED  \]|ERROR|Assertion|error' "$S/test.log" | cut -c1-110))"
                break
            fi
        done
        if [ -n "$by" ]; then
            verdict="killed   $name: by $by"; killed=$((killed + 1))
        else
            verdict="SURVIVED $name: $tests all passed"; survived=$((survived + 1))
        fi
    fi
    say "$verdict [$((SECONDS - t0)) s]"
    # back to the original (a fresh mtime: make rebuilds it for the next one)
    mv "$S/$file.orig" "$S/$file"; touch "$S/$file"
done
echo "---"
printf '%s\n' "${report[@]}"
echo "mutate: ${#names[@]} mutations: $killed killed, $survived survived, $errors errors in $((SECONDS - t_start)) s ($lockwait s of it waiting for $LOCK)"
[ $survived -eq 0 ] && [ $errors -eq 0 ]
