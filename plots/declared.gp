# declared.gp: a figure declared in an experiment config (`plots:`), drawn by
# harness/report/plot_fig_declared.c.
#
# Reads from dir: s1.tsv .. s<nser>.tsv (x, y, lo, hi; header = legend text). Variables:
# nser, logx, logy (1: log axis), has_err (1: repeated draws, lo/hi the 95 % interval),
# xl, yl (axis names), what (the figure's title), bysch (1: series styled by scheme
# from sch, grn, dec, smo, var as style.gp reads them), xt (with logx and at most 12 distinct
# x values: those values, where the x ticks go; else empty).
load scripts.'/style.gp'

set title title_of(what)
set xlabel xl
set ylabel yl
if (logx) { set logscale x }
if (logy) { set logscale y; set format y '%.0e' }
set key below horizontal maxrows 3 width 2 samplen 6
if (logx) { set autoscale xfix; set offsets 0, 0, 0, 0 } else { set offsets graph 0.03, graph 0.03, 0, 0 }
if (logx && strlen(xt) > 0) {
    set xtics ()
    do for [i=1:words(xt)] { set xtics add (word(xt, i) real(word(xt, i))) }
    # a little room either side, so that the end ticks are not lost on the border
    set xrange [real(word(xt, 1)) / 1.06 : real(word(xt, words(xt))) * 1.06]
}
palette = "#0072B2 #D55E00 #009E73 #CC79A7 #E69F00 #56B4E9 #555555 #A6761D"
col(i) = word(palette, (i - 1) % 8 + 1)
# bysch: series named by their scheme, styled as in the built-in figures (style.gp's
# sch/grn/dec/smo/var lists); else the palette in order.
lcol(i) = bysch ? s_col(i) : col(i)
lpt(i) = bysch ? s_pt(i) : (i % 7) + 4
ldt(i) = bysch ? s_dt(i) : 1
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints lw 2 ps 1.1*pss \
         pt lpt(i) dt ldt(i) lc rgb lcol(i) title columnheader(2), \
     for [i=1:nser*has_err] dir.'/s'.i.'.tsv' using 1:2:3:4 with yerrorbars lw 1.2 ps 0 lc rgb lcol(i) notitle
