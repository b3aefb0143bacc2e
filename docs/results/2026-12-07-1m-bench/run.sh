#!/bin/bash
# One million ts8 connections from c1m bench against c1m serve --arch prefork,
# kernel defaults (no tuning), in a network namespace of its own (NS).
# Usage (as root, repository root): docs/results/2026-12-07-1m-bench/run.sh NS
set -u
ns=$1 out=docs/results/2026-12-07-1m-bench
ip netns exec "$ns" build/c1m serve --arch prefork --procs 60 --port 26000 --quiet --proto ts8 > $out/serve.log 2>&1 &
sp=$!
sleep 2
ip netns exec "$ns" build/c1m bench --proto ts8 --port 26000 --conns 1000000 --duration 10s --warmup 25s \
    --json $out/m1.json > $out/bench.out 2>&1
echo "bench exit $?" >> $out/bench.out
kill -TERM $sp; wait $sp
