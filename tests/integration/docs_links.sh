#!/bin/bash
# Every relative link of every committed Markdown file (README.md, docs/,
# docs/results/, bench/, ...) resolves to a file or folder committed to
# the repository, as a forge's web view resolves it: relative to the
# linking file, a leading / from the top of the repository. A link to an
# ignored or uncommitted file (results/ of a local run) fails here, not in
# a reader's browser. So does a path written `docs/results/...` in the text
# (evidence named without a link). Needs no build; the build directory
# argument is only lib.sh's convention. Without git (a tarball) it skips.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
make_tmp docs_links

if ! git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    skip "links of the Markdown files" "not a git checkout: what is committed is unknown"
    finish
    exit
fi
# what is committed: tracked files (an ignored file never is)
git -C "$ROOT" ls-files >"$TMP/tracked"

# links FILE: one target per line: inline links [text](target) and
# ![alt](target), outside code blocks and code spans, without a title or
# #fragment; then repo-relative `docs/results/...` code spans, marked "/"
links() {
    /usr/bin/python3 - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # code blocks
spans = re.findall(r"`([^`\n]+)`", text)
prose = re.sub(r"`[^`\n]+`", "", text)
for t in re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", prose):
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", t) or t.startswith("#"):
        continue  # http:, mailto:, an anchor in the same page
    t = t.split("#", 1)[0]
    if t:
        print(t)
for s in spans:
    if re.match(r"^docs/results/[^\s*?]*$", s):
        print("/" + s)
EOF
}

# resolve MDFILE TARGET: the repository path it names (may end in /)
resolve() {
    local dir t=$2
    if [[ $t == /* ]]; then
        t=${t#/}
    else
        dir=$(dirname "$1")
        [ "$dir" = . ] || t=$dir/$t
    fi
    /usr/bin/python3 -c 'import posixpath, sys; p = posixpath.normpath(sys.argv[1]); print("" if p == "." else p)' "$t"
}

committed() { # PATH: a tracked file, or a folder holding one
    local p=${1%/}
    [ -z "$p" ] && return 0 # the top of the repository
    case "$p" in .. | ../*) return 1 ;; esac
    grep -qxF -- "$p" "$TMP/tracked" && [ -e "$ROOT/$p" ] && return 0
    awk -v d="$p/" 'index($0, d) == 1 {f = 1; exit} END {exit !f}' "$TMP/tracked"
}

nfiles=0
nlinks=0
while IFS= read -r md; do
    nfiles=$((nfiles + 1))
    broken=
    n=0
    while IFS= read -r t; do
        n=$((n + 1))
        p=$(resolve "$md" "$t")
        committed "$p" || broken="$broken $t"
    done < <(links "$ROOT/$md")
    nlinks=$((nlinks + n))
    [ $n -eq 0 ] && continue
    check "$md: $n relative links resolve to committed files${broken:+ (broken:$(echo "$broken" | cut -c1-400))}" \
        test -z "$broken"
done < <(grep -E '\.md$' "$TMP/tracked")
# the file that cites the evidence must have been read, with its links
check "Markdown files read ($nfiles), links checked ($nlinks)" test $nfiles -ge 5 -a $nlinks -ge 30
n=$(links "$ROOT/docs/RESULTS.md" | grep -c 'results/')
check "docs/RESULTS.md links into docs/results/ ($n)" test "$n" -ge 20
finish
