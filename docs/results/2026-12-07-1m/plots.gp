set terminal pngcairo size 1000,600 font ',10'
set grid ytics
set output 'tps.png'
set title 'c1m lab: ts8, 1000000 connections, loopback: TPS'
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set yrange [0:*]
set ylabel 'requests/s (window)'
set xtics rotate by -20
plot 'tps.dat' using 2:xtic(1) notitle lc rgb '#3070b0', '' using 0:2:(sprintf('%.0f',$2)) with labels offset 0,0.7 notitle
reset
set grid
set output 'latency.png'
set title 'c1m lab: ts8, 1000000 connections, loopback: latency by percentile'
set logscale x
set logscale y
set xlabel 'percentile'
set ylabel 'latency (ms)'
set xtics ('0%%' 1, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000, '99.9999%%' 1000000)
set key top left
plot 'latency_article.dat' using 2:3 with steps lw 2 title 'single, 1-loop client', \
     'latency_single.dat' using 2:3 with steps lw 2 title 'single', \
     'latency_reuseport.dat' using 2:3 with steps lw 2 title 'reuseport', \
     'latency_dispatch.dat' using 2:3 with steps lw 2 title 'dispatch', \
     'latency_exclusive.dat' using 2:3 with steps lw 2 title 'exclusive', \
     'latency_prefork.dat' using 2:3 with steps lw 2 title 'prefork', \
     'latency_workerpool.dat' using 2:3 with steps lw 2 title 'workerpool'
reset
set grid
set output 'tps_time.png'
set title 'c1m lab: ts8, 1000000 connections, loopback: TPS over time (1 s intervals, warm-up included)'
set xlabel 'seconds'
set ylabel 'requests/s'
set yrange [0:*]
set y2label 'errors, reconnects per interval'
set y2range [0:*]
set y2tics
set key outside right
plot 'tps_time_article.dat' using 1:2 with linespoints lw 2 title 'single, 1-loop client', '' using 1:4 axes x1y2 with impulses lw 3 title 'single, 1-loop client errors', '' using 1:5 axes x1y2 with points pt 2 title 'single, 1-loop client reconnects', \
     'tps_time_single.dat' using 1:2 with linespoints lw 2 title 'single', '' using 1:4 axes x1y2 with impulses lw 3 title 'single errors', '' using 1:5 axes x1y2 with points pt 2 title 'single reconnects', \
     'tps_time_reuseport.dat' using 1:2 with linespoints lw 2 title 'reuseport', '' using 1:4 axes x1y2 with impulses lw 3 title 'reuseport errors', '' using 1:5 axes x1y2 with points pt 2 title 'reuseport reconnects', \
     'tps_time_dispatch.dat' using 1:2 with linespoints lw 2 title 'dispatch', '' using 1:4 axes x1y2 with impulses lw 3 title 'dispatch errors', '' using 1:5 axes x1y2 with points pt 2 title 'dispatch reconnects', \
     'tps_time_exclusive.dat' using 1:2 with linespoints lw 2 title 'exclusive', '' using 1:4 axes x1y2 with impulses lw 3 title 'exclusive errors', '' using 1:5 axes x1y2 with points pt 2 title 'exclusive reconnects', \
     'tps_time_prefork.dat' using 1:2 with linespoints lw 2 title 'prefork', '' using 1:4 axes x1y2 with impulses lw 3 title 'prefork errors', '' using 1:5 axes x1y2 with points pt 2 title 'prefork reconnects', \
     'tps_time_workerpool.dat' using 1:2 with linespoints lw 2 title 'workerpool', '' using 1:4 axes x1y2 with impulses lw 3 title 'workerpool errors', '' using 1:5 axes x1y2 with points pt 2 title 'workerpool reconnects'
