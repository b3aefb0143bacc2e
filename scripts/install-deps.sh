#!/bin/bash
# Install the Debian packages c1m needs to build, test and benchmark (as
# root; skips what is already there). Debian 12.
set -eu
PKGS=(
  build-essential   # gcc, make
  pkg-config        # building the examples against an installed libc1m (c1m.pc)
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
)
missing=()
for p in "${PKGS[@]}"; do
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
