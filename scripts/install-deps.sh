#!/bin/bash
# Install the Debian 12 packages c1m needs (as root; skips what is there).
#
#   scripts/install-deps.sh          what building and running c1m need
#   scripts/install-deps.sh --test   also the test and benchmark peers
#                                    (cmocka, clang, nginx, wrk, prometheus, ...)
#
# Some peers are daemons (nginx, prometheus). The tests start their own
# copies on their own ports; the packages' services must not run. So while
# installing, a policy-rc.d forbids every service start, and afterwards the
# services of the packages installed here are disabled (and stopped, where
# systemd runs): nothing is left listening on port 80 or 9090.
set -eu

usage() { echo "usage: $0 [--test]"; }
TEST=0
for a in "$@"; do
    case "$a" in
    --test) TEST=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-deps: unknown argument '$a'" >&2; usage >&2; exit 2 ;;
    esac
done

PKGS=(
  build-essential   # gcc, make
  libjansson-dev    # JSON results (c1m bench --json, c1m merge, c1m lab)
  nettle-dev        # SHA-1 + base64 of the WebSocket handshake
  liburing-dev      # the io_uring backend (engine/backend_uring.c): libc1m links -luring
  scdoc             # the man page, c1m(1)
  iproute2          # ip netns (c1m lab --hosts, --netns)
  gnuplot-nox       # plots (c1m lab)
)
TEST_PKGS=(
  pkg-config        # building the examples against an installed libc1m (c1m.pc)
  libcmocka-dev     # unit tests
  clang             # libFuzzer targets (make fuzz)
  libhttp-parser-dev # parser micro-benchmark peer
  curl              # HTTP tests: a real client
  nginx-light       # HTTP peer in tests and benchmarks (its service stays off)
  wrk               # HTTP load peer in benchmarks
  procps            # pgrep, ps
  python3           # small protocol clients in the integration tests
  jq                # reading JSON results in the integration tests
  prometheus        # promtool: the /metrics format check (its service stays off)
  libwslay-dev      # WebSocket framing peer in bench/ws_frame.c
  python3-websockets # WebSocket peer client in the integration tests
  nodejs            # Node's `ws` package: WebSocket peer in the integration tests
  npm               # installs `ws` into tests/integration/node (tests/integration/ws_node_setup.sh)
  golang-go         # Go WebSocket push peer (bench/ws_push_vs_peers.sh, built offline)
  golang-github-gorilla-websocket-dev # gorilla/websocket for that peer (GOPATH=/usr/share/gocode)
)
# package -> the service it would start
declare -A SERVICES=( [nginx-light]=nginx [prometheus]=prometheus )

[ $TEST -eq 1 ] && PKGS+=("${TEST_PKGS[@]}")
missing=()
for p in "${PKGS[@]}"; do
    # a nodejs build that ships its own npm (NodeSource) conflicts with Debian's
    [ "$p" = npm ] && command -v npm >/dev/null && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; run as root (sudo $0 $*)" >&2
    exit 1
fi

# No service may start while packages are installed (invoke-rc.d asks
# policy-rc.d; 101 = action forbidden). Ours only if there was none.
POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e $POLICY ]; then
    printf '#!/bin/sh\n# c1m install-deps: no service starts during installation\nexit 101\n' >$POLICY
    chmod 755 $POLICY
    own_policy=1
    trap 'rm -f $POLICY' EXIT
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The services of daemons installed just now: disabled, and stopped if
# systemd runs (a service a user had before stays as it was).
for p in "${missing[@]}"; do
    s=${SERVICES[$p]:-}
    [ -n "$s" ] || continue
    if command -v systemctl >/dev/null 2>&1; then
        if [ -d /run/systemd/system ]; then
            systemctl disable --now "$s" >/dev/null 2>&1 || true
        else
            systemctl disable "$s" >/dev/null 2>&1 || true
        fi
    fi
    if [ -x "/etc/init.d/$s" ]; then
        [ -d /run/systemd/system ] || "/etc/init.d/$s" stop >/dev/null 2>&1 || true
        update-rc.d "$s" disable >/dev/null 2>&1 || true
    fi
    echo "install-deps: $s (from $p) installed with its service disabled and stopped"
done
[ $own_policy -eq 1 ] && rm -f $POLICY
exit 0
