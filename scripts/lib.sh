# Shell helpers shared by bench/*.sh and tests/integration/lib.sh (sourced).

# wait_port PORT: until something accepts on 127.0.0.1:PORT (5 s at most)
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# median: of the numbers on stdin (separated by spaces or newlines); the
# mean of the two middle ones when there is an even count. No numbers: prints
# nothing and fails (a median of nothing is not 0).
median() {
    tr ' ' '\n' | grep -v '^$' | sort -g |
        awk '{a[NR]=$1} END {if (NR == 0) exit 1; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
