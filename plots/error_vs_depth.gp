# error_vs_depth.gp: relative error at the end of a chain of layers vs its depth.
#
# Reads from dir: s1.tsv .. s<nser>.tsv (depth, rel_err; header = legend text).
# Variables: nser, sch/grn/dec.
load scripts.'/style.gp'

set title title_of('Error vs chain depth')
set xlabel 'chain depth (layers)'
set ylabel 'relative error of the final output'
set logscale xy
set logscale x 2
set format x '%g'
set format y '%.0e'
set offsets graph 0.03, graph 0.03, 0, 0
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints lw 2 ps 1.2 \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i) title columnheader(2)
