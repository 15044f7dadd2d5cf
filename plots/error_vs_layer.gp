# error_vs_layer.gp: relative error of each layer's output, per scheme.
#
# Reads from dir: s1.tsv .. s<nser>.tsv (layer index, rel_err, cosine; header = legend
# text); with dump=1 also ticks.tsv (layer index, short layer name).
# Variables: nser, sch/grn/dec/smo (style keys), iso (1 for an isolated-mode series),
# two (1: propagated and isolated series both present, drawn as two panels on one
# y scale with one legend), leg (with two=1: 1 for the series that carry the legend
# entry), ylo/yhi (smallest and largest error drawn), dump (1: points of a layer
# dump, x = the dump's layers by name), nlayer.
# Series keep their scheme's line in both panels; in one panel with both modes
# (two=0) isolated series are thin and dotted, same colour.
load scripts.'/style.gp'

if (!exists("two")) two = 0
if (!exists("dump")) dump = 0
if (!exists("leg")) leg = ''
isolated(i) = int(word(iso, i))
legend(i) = (words(leg) >= i) ? int(word(leg, i)) : 1
set ylabel 'relative error of the layer output'
set logscale y
set format y '%.0e'
set autoscale xfix
set offsets 0.3, 0.3, 0, 0
# the range of the errors drawn (a series far below them is left under the axis)
if (exists("ylo") && exists("yhi") && ylo > 0 && yhi > ylo) set yrange [ylo / 1.6 : yhi * 1.6]

if (dump) {
    set title title_of('Error of each layer of a dump')
    set xlabel 'layer (execution order)'
    set xtics rotate by 60 right font f8
    set grid xtics
    plot dir.'/ticks.tsv' using 1:(NaN):xtic(2) notitle, \
         for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints lw 1.6 ps 1.0*pss \
             lc rgb s_col(i) dt s_dt(i) pt s_pt(i) title columnheader(2)
    exit
}

set xlabel 'layer index (execution order)'
if (!two) {
    set title title_of('Error propagation across layers')
    l_lw(i) = isolated(i) ? 1.2 : 2
    l_ps(i) = (isolated(i) ? 0.8 : 1.2) * pss
    l_dt(i) = isolated(i) ? 3 : s_dt(i)
    plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints \
             lw l_lw(i) ps l_ps(i) lc rgb s_col(i) dt l_dt(i) pt s_pt(i) title columnheader(2)
    exit
}

# Two panels on one y scale: propagated (the quantized forward end to end) and
# isolated (every layer fed the reference hidden state: only its own error).
# the legend column gets a quarter of the width: labels such as
# "zeropoint x=row w=channel t=6" must not run off the right edge
# One column (narrow): the panels share the full width and the legend goes below
# them in two columns.
if (narrow) {
    set key at screen 0.03, screen 0.2 left top vertical maxrows 5 width -1 font f8
    p_l1 = 0.14; p_r1 = 0.54; p_l2 = 0.57; p_r2 = 0.97; p_b = 0.32
    lab1 = 'propagated'; lab2 = 'isolated'
} else {
    set key at screen 0.735, screen 0.86 left top
    p_l1 = 0.08; p_r1 = 0.375; p_l2 = 0.425; p_r2 = 0.72; p_b = 0.10
    lab1 = 'propagated: quantized forward end to end'; lab2 = 'isolated: each layer fed the reference input'
}
set multiplot title title_of('Error propagation across layers')
set tmargin at screen 0.83
set bmargin at screen p_b
set lmargin at screen p_l1
set rmargin at screen p_r1
set label 1 lab1 at graph 0.5, graph 1.03 center font f9
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:(isolated(i) ? NaN : $2) with linespoints lw 1.8 ps 1.1*pss \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i) notitle
set lmargin at screen p_l2
set rmargin at screen p_r2
set ylabel ''
set label 1 lab2 at graph 0.5, graph 1.03 center font f9
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:(isolated(i) ? $2 : NaN) with linespoints lw 1.8 ps 1.1*pss \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i) notitle, \
     for [i=1:nser] dir.'/s'.i.'.tsv' using 1:(legend(i) ? NaN : NaN) with linespoints lw 1.8 ps 1.1*pss \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i) title (legend(i) ? columnhead(2) : '')
unset multiplot
