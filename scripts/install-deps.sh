#!/bin/bash
# Install the Debian packages c1m needs to build, test and benchmark (as
# root; skips what is already there). Debian 12.
set -eu
PKGS=(
  build-essential   # gcc, make
  libcmocka-dev     # unit tests
  libjansson-dev    # JSON results (c1m bench --json, c1m merge, c1m check)
  clang             # libFuzzer targets (make fuzz)
  libhttp-parser-dev # parser micro-benchmark peer
  liburing-dev      # io_uring floor in bench/http_floor.c
  curl              # HTTP tests: a real client
  nginx-light       # HTTP peer in tests and benchmarks
  wrk               # HTTP load peer in benchmarks
  iproute2          # ss, ip netns
  procps            # pgrep, ps
  gnuplot-nox       # plots (c1m lab)
  python3           # small protocol clients in the integration tests
  jq                # reading JSON results in the integration tests
  prometheus        # promtool: the /metrics exposition format check
  libssl-dev        # libcrypto: SHA-1 + base64 of the WebSocket handshake
  libwslay-dev      # WebSocket framing peer in bench/ws_frame.c
  python3-websockets # WebSocket peer client in the integration tests
  nodejs            # Node's `ws` package: WebSocket peer in the integration tests
  npm               # installs `ws` into tests/integration/node (tests/integration/ws_node_setup.sh)
)
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
    echo "install-deps: missing ${missing[*]}; run as root (sudo $0)" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
