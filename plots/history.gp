# history.gp: one metric of one point over runs (`qlab history`, harness/history.c).
#
# Inputs (gnuplot -e): tsv  the TSV qlab history wrote (header line; columns commit,
# date, device, value, noise, step, file);  metric  the column's name;  ttl  what is
# followed;  out, term, scripts  as for every figure (see style.gp).
# Runs are in start-time order along x, labelled by commit and start time (runs of one
# commit would otherwise share a label). The error bars are each
# run's own noise (half its interquartile range; none for exact metrics); a run whose
# value moved by more than three times the noise around it is circled as a step.
load scripts.'/style.gp'
# font sizes from style.gp where it defines them
if (!exists("f8")) f8 = ',8'
if (!exists("f9")) f9 = ',9'
if (!exists("f11")) f11 = ',11'

set title 'qlab history: '.ttl font f11
set xlabel 'run (commit, start month-day hour:minute UTC; oldest first)'
set ylabel metric
set xtics rotate by 45 right font f8
set offsets graph 0.04, graph 0.04, graph 0.08, graph 0.08
set key inside top left vertical Left reverse font f9

# A step is drawn at its run; NaN elsewhere leaves those points out. The legend names
# steps only where there is one.
step_y(s, v) = (s > 0) ? v : NaN
stats tsv skip 1 using 6 nooutput
n_steps = STATS_sum
run_label(c, d) = c.' '.substr(d, 6, 10).' '.substr(d, 12, 16)

plot tsv skip 1 using 0:4:5:xtic(run_label(stringcolumn(1), stringcolumn(2))) with yerrorbars lc rgb '#0072B2' pt 7 ps 0.9*pss title 'value (bar: run noise)', \
     tsv skip 1 using 0:4 with lines lc rgb '#0072B2' lw 1.5 notitle, \
     tsv skip 1 using 0:(step_y($6, $4)) with points lc rgb '#D55E00' pt 6 ps 2.6*pss lw 2 \
         title (n_steps > 0 ? 'step change' : '')
