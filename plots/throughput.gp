# throughput.gp: TOPS and GB/s against the matmul shape, where latency was measured.
#
# Reads from dir: shapes.tsv (x, "m x k x n"), s1.tsv .. s<nser>.tsv (x, tops, gbps;
# header = legend text). Variables: nser, nshape, sch/grn/dec.
load scripts.'/style.gp'

set multiplot title title_of('Throughput vs shape')
set xrange [-0.4:nshape - 0.6]
set lmargin 11
set rmargin 3
set grid noxtics

set tmargin at screen 0.88
set bmargin at screen 0.58
set key off
set logscale y
set format y '%g'
set ylabel 'TOPS (2mnk / time, 10^12 op/s)'
set xtics scale 0 format ''
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints lw 2 ps 1.2 \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i), \
     dir.'/shapes.tsv' using 1:(NaN):xtic('') notitle

set tmargin at screen 0.55
set bmargin at screen 0.25
set ylabel 'GB/s (operand + output bytes / time)'
set xlabel 'shape m x k x n'
set format x '%g'
set key at screen 0.5, screen 0.1 center center horizontal maxrows 3 samplen 3
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:3 with linespoints lw 2 ps 1.2 \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i) title columnheader(2), \
     dir.'/shapes.tsv' using 1:(NaN):xtic(2) notitle
unset multiplot
