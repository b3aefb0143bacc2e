cd /work/wt-umem
for cfg in "10000 21rings" "2000 102rings"; do
  set -- $cfg
  for which in before after; do
    b=build; [ $which = before ] && b=/tmp/umem/base/build
    echo "## $which: RAW=docs/results/2026-12-06-uring-mem/$2-$which bench/uring_mem.sh $b 100000 $1 ts8   ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
    RAW=docs/results/2026-12-06-uring-mem/$2-$which bash bench/uring_mem.sh $b 100000 $1 ts8
    echo
  done
done
