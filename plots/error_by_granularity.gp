# error_by_granularity.gp: grouped bars of relative error, scheme x granularity, t = 0.
#
# Reads from dir: bars.tsv (x, rel_err, scheme, granularity index), ticks.tsv (cluster
# centre, scheme). Variables: floor (fp16 rel_err, <= 0 when absent), xmax (last bar
# position), ngran, gids (granularity indices present), glabs (their legend text).
# Bars take their scheme's colour; the fill pattern names the granularity.
load scripts.'/style.gp'

set title title_of('Relative error by scheme and granularity')
set xlabel ''
set key below horizontal maxrows 2 width 2
set ylabel 'relative error  ||Y - Y_ref||_F / ||Y_ref||_F'
set logscale y
set format y '%.0e'
set xrange [-0.8:xmax + 0.8]
set boxwidth 0.9
set xtics scale 0 font f11

g(j) = int(word(gids, j))
plot for [j=1:ngran] dir.'/bars.tsv' using 1:($4 == g(j) ? $2 : NaN):(scol_int(strcol(3))) \
         with boxes fs pattern gpat(g(j)) border lc rgb variable lw 1.5 lc rgb variable notitle, \
     for [j=1:ngran] NaN with boxes fs pattern gpat(g(j)) border lc rgb '#000000' lw 1.5 \
         lc rgb '#000000' title word(glabs, j), \
     dir.'/bars.tsv' using 1:2:(sprintf('%.2g', $2)) with labels offset 0, 0.6 font f8 notitle, \
     dir.'/ticks.tsv' using 1:(NaN):xtic(2) notitle, \
     for [j=1:(floor > 0)] floor with lines lw ref_lw lc rgb col_fp16 dt dt_fp16 title 'fp16 (floor)'
