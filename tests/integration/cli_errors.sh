#!/bin/bash
# What a user sees when a command line is wrong (issue 13's rough edges),
# for every subcommand: an unknown option is one line with the c1m prefix
# and a hint, not the whole usage; the two messages that were wrong
# (`lab --hosts 4 --conns 2` said "bad value ''", `merge /nonexistent.json`
# said "line -1"); a port takes no suffix; each subcommand has --version.
# Nothing here starts a server or a lab (the lab's cases are dry runs).
. "$(dirname "$0")/lib.sh"
make_tmp cli_errors

# run ARGS...: sets RC, OUT (stdout) and ERR (stderr)
run() {
    "$C1M" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
}
lines() { [ -z "$1" ] && echo 0 || printf '%s\n' "$1" | wc -l; }

VERSION=$("$C1M" --version | sed -n 's/^c1m \([0-9][0-9.]*\).*/\1/p')
check "c1m --version names a version ($VERSION)" test -n "$VERSION"

for cmd in serve bench lab merge; do
    run "$cmd" --no-such-option
    check "$cmd: an unknown option exits 2 with two lines on stderr, none on stdout ($RC, $(lines "$ERR") + $(lines "$OUT"))" \
        test $RC -eq 2 -a "$(lines "$ERR")" -eq 2 -a -z "$OUT"
    check "$cmd: ... which name it with the c1m prefix and give the hint" \
        test "$ERR" = "c1m $cmd: unrecognized option '--no-such-option'
try 'c1m $cmd --help'"
    run "$cmd" --version
    check "$cmd --version: exit 0, 'c1m $VERSION' ($OUT)" \
        bash -c "[ $RC -eq 0 ] && [[ '$OUT' == 'c1m $VERSION'* ]]"
done

for cmd in serve bench lab; do
    for p in 9k 70000 0; do
        # should the port pass, nothing starts: lab stops at its plan, and
        # serve and bench refuse --dry-run
        run "$cmd" --port $p --dry-run
        check "$cmd --port $p: exit 2, 'a port number from 1 to 65535' ($ERR)" \
            bash -c "[ $RC -eq 2 ] && [[ \"\$1\" == \"c1m $cmd: bad value '$p' for --port: a port number from 1 to 65535\" ]]" _ "$ERR"
    done
done
run bench --url http://127.0.0.1:9k/ --conns 1
check "bench --url with port 9k: exit 2, names the port ($ERR)" \
    bash -c "[ $RC -eq 2 ] && [[ \"\$1\" == *\"bad port '9k'\"* ]]" _ "$ERR"

run lab --hosts 4 --conns 2 --dry-run
check "lab --hosts 4 --conns 2: exit 2, says each host needs a connection ($ERR)" \
    bash -c "[ $RC -eq 2 ] && [[ \"\$1\" == *'--conns 2 is fewer than --hosts 4'* ]] && [[ \"\$1\" != *\"bad value ''\"* ]]" _ "$ERR"

run merge /nonexistent.json
check "merge /nonexistent.json: exit 1, 'cannot read /nonexistent.json: No such file...' ($ERR)" \
    bash -c "[ $RC -eq 1 ] && [[ \"\$1\" == 'c1m merge: cannot read /nonexistent.json: No such file or directory' ]]" _ "$ERR"
echo '{"not": "a bench result"' >"$TMP/broken.json"
run merge "$TMP/broken.json"
check "merge of broken JSON: exit 1, names the file and a real line ($ERR)" \
    bash -c "[ $RC -eq 1 ] && [[ \"\$1\" == *broken.json* ]] && [[ \"\$1\" != *'line -1'* ]]" _ "$ERR"

run no-such-command
check "an unknown command: exit 2, one line and the hint ($ERR)" \
    test $RC -eq 2 -a "$ERR" = "c1m: unknown command 'no-such-command'
try 'c1m --help'"
run
check "no command: exit 2 with the usage" bash -c "[ $RC -eq 2 ] && [[ \"\$1\$2\" == *'usage: c1m COMMAND'* ]]" _ "$OUT" "$ERR"
run bench --conns 1m
check "bench --conns 1m: exit 2, the message says to write 1M ($ERR)" \
    bash -c "[ $RC -eq 2 ] && [[ \"\$1\" == *'write 1M'* ]]" _ "$ERR"
finish
