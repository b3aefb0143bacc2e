#!/bin/bash
# Install Node's `ws` package (the version pinned in node/package.json)
# into tests/integration/node/node_modules, once. Needs npm (scripts/install-deps.sh).
set -eu
cd "$(dirname "$0")/integration/node"
[ -f node_modules/ws/package.json ] && exit 0
command -v npm >/dev/null || { echo "ws_node_setup: npm missing (scripts/install-deps.sh)" >&2; exit 1; }
npm install --no-audit --no-fund --loglevel=error >/dev/null
