# error_vs_bits.gp: what each bit of weight memory buys in accuracy. One row per
# scheme configuration, fewest bits at the top: the row's label names the
# configuration, the dot sits at its relative error, the right axis gives its stored
# bits per weight (codes + scales + outlier columns). Dashed lines separate storage
# widths (4-bit, 8-bit, 16, 32). A filled dot is on the Pareto front: no other
# configuration has at most its bits and at most its error, one of them lower.
#
# The two invisible plots only carry the tic labels.
#
# Reads dir/rows.tsv (row, rel_err, bits, scheme, smooth flag, front flag,
# configuration; a header line, then one line per row). Variables: xmin, xmax (x
# range), nrow, n_front, hscale (canvas height
# factor, read by style.gp), and the separators as `set arrow` statements.
load scripts.'/style.gp'

set title title_of('Relative error vs weight memory')
set xlabel 'relative error  ||Y - Y_ref||_F / ||Y_ref||_F  (log scale)'
set ylabel ''
set y2label 'bits per stored weight'
set logscale x
set format x '%.0e'
set grid xtics ytics
set yrange [0.5 : nrow + 0.5]
set link y2
set ytics scale 0 font f9
set y2tics scale 0 font f9
set key below horizontal width 2
if (narrow) set xlabel 'relative error (log scale)'
# The x range spans the quantized rows (xmin, xmax); a row far below them (fp32) is
# drawn at the left edge with its error written beside it.
set xrange [xmin:xmax]
xd(v) = v < xmin ? xmin : v
mps = 1.6 * pss   # marker size
colour(i) = scol_int2(strcol(4), int(column(5)))
plot dir.'/rows.tsv' skip 1 using (xd(column(2))):1:ytic(strcol(7)) with points ps 0 lc rgb '#FFFFFFFF' notitle, \
     dir.'/rows.tsv' skip 1 using (xd(column(2))):1:y2tic(sprintf('%.2f', column(3))) axes x1y2 with points ps 0 \
         lc rgb '#FFFFFFFF' notitle, \
     dir.'/rows.tsv' skip 1 using (xd(column(2))):(column(6) > 0 ? column(1) : NaN):(colour(0)) with points pt 7 ps mps \
         lc rgb variable notitle, \
     dir.'/rows.tsv' skip 1 using (xd(column(2))):(column(6) > 0 ? NaN : column(1)):(colour(0)) with points pt 6 ps mps \
         lw 2 lc rgb variable notitle, \
     dir.'/rows.tsv' skip 1 using (xmin):(column(2) < xmin ? column(1) : NaN):(sprintf('%.1e (off scale)', column(2))) \
         with labels left offset char 1.2, 0 font f8 notitle, \
     NaN with points pt 7 ps mps lc rgb '#444444' \
         title (narrow ? 'Pareto front' : 'on the Pareto front (no other has at most its bits and error, one of them lower)'), \
     NaN with points pt 6 ps mps lw 2 lc rgb '#444444' title (narrow ? 'dominated' : 'dominated (colour: the scheme)')
