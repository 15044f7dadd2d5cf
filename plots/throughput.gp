# throughput.gp: TOPS and GB/s against the matmul shape, where latency was measured.
#
# Reads from dir: shapes.tsv (x, "m x k x n"), s1.tsv .. s<nser>.tsv (x, tops, gbps;
# header = legend text). Variables: nser, nshape, sch/grn/dec, has_gbps (0 when no
# GB/s value can be drawn: the lower panel says so instead of plotting nothing,
# which gnuplot refuses).
load scripts.'/style.gp'

if (!exists("has_gbps")) has_gbps = 1

set multiplot title title_of('Throughput vs shape')
set xrange [-0.3:nshape - 0.7]
# One column (narrow): the panels take the full width, the legend goes below them.
p_l = narrow ? 0.15 : 0.09; p_r = narrow ? 0.96 : 0.66
p_t1 = 0.86; p_b1 = narrow ? 0.63 : 0.52
p_t2 = narrow ? 0.60 : 0.49
set lmargin at screen p_l
set rmargin at screen p_r
set grid noxtics

set tmargin at screen p_t1
set bmargin at screen p_b1
set key off
set logscale y
set format y '%g'
set ylabel 'TOPS (10^12 op/s)'
set xtics scale 0.6
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints lw 2 ps 1.2*pss \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i), \
     dir.'/shapes.tsv' using 1:(NaN):xtic("") notitle

set tmargin at screen p_t2
set bmargin at screen (narrow ? 0.34 : 0.14)
# more than 4 shapes: slanted labels, which would otherwise run into each other
if (nshape > 4) {
    set xtics rotate by 25 right
    set bmargin at screen (narrow ? 0.38 : 0.2)
}
set ylabel narrow ? 'GB/s' : 'GB/s (X, W as stored + fp32 Y)'
set xlabel 'shape m × k × n (ascending 2mnk)'
if (narrow) {
    set key at screen 0.03, screen 0.16 left top horizontal maxcols 2 reverse Left samplen 3 font f8
} else {
    set key at screen 0.68, screen 0.86 left top vertical reverse Left samplen 3.5 font f9
}
if (!has_gbps) {
    set yrange [1:10]
    set ytics ()
    set label 2 'no GB/s value to draw (0, NaN or infinite)' at graph 0.5, graph 0.5 center font f9
}
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:3 with linespoints lw 2 ps 1.2*pss \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i) title columnheader(2), \
     dir.'/shapes.tsv' using 1:(NaN):xtic(2) notitle
unset multiplot
