# bench/compare.gp — the plot of docs/performance.md, from the data files
# bench_compare --dat writes. bench/compare --write-docs runs it:
#   gnuplot -e "lat='P-lat.dat'; rate='P-rate.dat'; out='docs/performance.png'" bench/compare.gp
# Each file: "label" median min max, one row per line. Bars are medians,
# whiskers the min–max over repetitions; both panels on log scales.
set encoding utf8
set terminal pngcairo noenhanced size 1100,1000 font "sans,10" background rgb "white"
set output out
set multiplot layout 2,1
set bmargin 8
set style fill solid 0.8 border -1
set boxwidth 0.6
set logscale y
set grid ytics
set xtics rotate by 30 right nomirror
set key off
set title "sequential round trip and connect: p50 (µs, lower is better)"
set ylabel "µs"
plot lat using 0:2:xtic(1) with boxes lc rgb "#4477aa", \
     lat using 0:2:3:4 with yerrorbars lc rgb "black" pt 0
set title "calls in flight on one connection: throughput (thousand calls/s, higher is better)"
set ylabel "thousand/s"
plot rate using 0:2:xtic(1) with boxes lc rgb "#cc6677", \
     rate using 0:2:3:4 with yerrorbars lc rgb "black" pt 0
unset multiplot
