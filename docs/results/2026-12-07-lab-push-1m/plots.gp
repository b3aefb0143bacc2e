set terminal pngcairo size 1000,600 font ',10'
set grid
set key top left
set output 'push_reach.png'
set title 'c1m lab: WebSocket push, loopback: time for a broadcast to reach X % of the connections'
set logscale x
set logscale y
set xlabel 'connections'
set ylabel 'ms'
plot 'push.dat' using 1:2 with linespoints lw 2 title 'reach 50 %', '' using 1:3 with linespoints lw 2 title 'reach 99 % (p99)', '' using 1:4 with linespoints lw 2 title 'reach 100 %'
reset
set grid
set output 'push_cost.png'
set title 'c1m lab: WebSocket push, loopback: server cost'
set logscale x
set xlabel 'connections'
set ylabel 'server CPU per delivered message (us)'
set yrange [0:*]
set y2label 'bytes per connection'
set y2range [0:*]
set y2tics
set key top left
plot 'push.dat' using 1:6 with linespoints lw 2 title 'CPU/msg (us)', '' using 1:7 axes x1y2 with linespoints lw 2 title 'server RSS/conn (B)', '' using 1:8 axes x1y2 with linespoints lw 2 title 'kernel/conn (B)'
reset
set grid
set output 'latency.png'
set title 'c1m lab: WebSocket push, loopback: delivery latency by percentile'
set logscale x
set logscale y
set xlabel 'percentile'
set ylabel 'latency (ms)'
set xtics ('0%%' 1, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000, '99.9999%%' 1000000)
set key top left
plot 'latency_push-1000000.dat' using 2:3 with steps lw 2 title '1.00M connections'
