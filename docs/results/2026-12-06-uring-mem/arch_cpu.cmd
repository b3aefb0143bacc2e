cd /work/wt-umem
export ONLY="uring-floor-1t single-uring single-uring-before rings21-uring rings21-uring-before"
export EXTRA="single-uring-before|1|/tmp/umem/base/build/c1m serve --quiet --port PORT --arch single --backend uring
rings21-uring|1|prlimit --nofile=10000:10000 -- build/c1m serve --quiet --port PORT --arch single --backend uring --max-conns 100000
rings21-uring-before|1|prlimit --nofile=10000:10000 -- /tmp/umem/base/build/c1m serve --quiet --port PORT --arch single --backend uring --max-conns 100000"
date -u
flock /tmp/c1m-bench.lock bash bench/arch.sh build 5 5 10000
date -u
