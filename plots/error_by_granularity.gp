# error_by_granularity.gp: grouped bars of relative error, scheme x granularity, t = 0.
#
# Reads from dir: bars.tsv (x, rel_err, scheme, granularity index, SmoothQuant flag),
# ticks.tsv (cluster centre, cluster name). Variables: floor and floor_bf16 (fp16 and
# bf16 rel_err, <= 0 when absent), xmax (last bar position), ngran, gids (granularity
# indices present), glabs (their legend text), nbar, nclust.
# Bars take their scheme's colour (darker for SmoothQuant); the fill pattern names
# the granularity. They rise from the fp16 floor where there is one (on a log axis a
# bar from an arbitrary bottom has a meaningless length).
load scripts.'/style.gp'

if (!exists("floor_bf16")) floor_bf16 = -1
if (!exists("nbar")) nbar = 0
if (!exists("nclust")) nclust = 0
set title title_of('Relative error by scheme and granularity')
set xlabel ''
set key below horizontal maxrows 2 width 2
set ylabel 'relative error  ||Y - Y_ref||_F / ||Y_ref||_F'
set logscale y
set format y '%.0e'
set xrange [-0.8:xmax + 0.8]
set boxwidth 0.9
# many clusters: slanted names so that neighbours do not run into each other
if (nclust > 7) {
    set xtics scale 0 font f9 rotate by 30 right
} else {
    set xtics scale 0 font f11
}

g(j) = int(word(gids, j))
# On a log axis a bar needs a meaningful base: bars rise from the fp16 floor (their
# length is then the factor over fp16); without one, from a third of the smallest bar.
stats dir.'/bars.tsv' using 2 nooutput
base = (floor > 0) ? floor : STATS_min / 3
b_lo(v) = v < base ? v : base
b_hi(v) = v < base ? base : v
# value labels: upright above the bar while they fit, turned when bars are narrow
lab_opts = (nbar > 16) ? 'rotate by 90 left offset 0, 0.3' : 'center offset 0, 0.6'
plot for [j=1:ngran] dir.'/bars.tsv' \
         using 1:($4 == g(j) ? $2 : NaN):($1 - 0.45):($1 + 0.45):(b_lo($2)):(b_hi($2)):(scol_int2(strcol(3), int($5))) \
         with boxxyerror fs pattern gpat(g(j)) border lc rgb variable lw 1.5 lc rgb variable notitle, \
     for [j=1:ngran] NaN with boxes fs pattern gpat(g(j)) border lc rgb '#000000' lw 1.5 \
         lc rgb '#000000' title word(glabs, j), \
     dir.'/bars.tsv' using 1:2:(sprintf('%#.2g', $2)) with labels @lab_opts font f8 notitle, \
     dir.'/ticks.tsv' using 1:(NaN):xtic(2) notitle, \
     for [j=1:(floor > 0)] floor with lines lw ref_lw lc rgb col_fp16 dt dt_fp16 title 'fp16 (floor; bars rise from it)', \
     for [j=1:(floor_bf16 > 0)] floor_bf16 with lines lw ref_lw lc rgb col_bf16 dt dt_bf16 title 'bf16'
