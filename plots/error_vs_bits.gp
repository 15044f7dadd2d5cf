# error_vs_bits.gp: relative error against stored bits per weight, one point per
# scheme configuration: what each bit of weight memory buys in accuracy.
#
# Reads from dir: s1.tsv .. s<nser>.tsv (x, rel_err, bits per weight; one row; header =
# the configuration; x is bits spread sideways by scheme within one storage width),
# front.tsv (the Pareto front: x, rel_err). Variables: nser,
# sch/grn/dec/smo (style keys), ylo, yhi (error range drawn), usch/ulab (the schemes
# present and their legend text), gids/glabs (granularity indices and their text),
# dec_lab, smo_lab (legend text of filled and darker markers, '' when absent).
# The legend explains the encoding instead of naming every point: colour = scheme,
# marker shape = granularity, filled = outlier decomposition, darker = SmoothQuant.
load scripts.'/style.gp'

set title title_of('Relative error vs weight memory')
set xlabel 'bits per stored weight, codes + scales + outliers  (log scale; the schemes of one width spread sideways)'
set key below horizontal width 2
set ylabel 'relative error  ||Y - Y_ref||_F / ||Y_ref||_F'
set logscale xy
set logscale x 2
set xrange [3.4:40]
set xtics ('4' 4, '4.5' 4.5, '8' 8, '16' 16, '32' 32)
set mxtics 4
set grid xtics ytics
set format y '%.0e'
if (ylo > 0 && yhi > ylo) set yrange [ylo / 2 : yhi * 2]
u_pt(s) = exists('pt_'.s) ? value('pt_'.s) : 7
plot dir.'/front.tsv' using 1:2 with lines lw 1.2 lc rgb '#aaaaaa' dt (6,4) title columnheader(2), \
     for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with points ps 1.7 lw 2 \
         lc rgb s_col(i) pt s_pt(i) notitle, \
     for [j=1:words(usch)] NaN with points ps 1.4 lw 2 lc rgb scol(word(usch, j)) \
         pt u_pt(word(usch, j)) title word(ulab, j), \
     for [j=1:words(gids)] NaN with points ps 1.4 lw 1.5 lc rgb '#444444' \
         pt int(word(gran_pt, int(word(gids, j)))) title word(glabs, j), \
     for [j=1:(dec_lab ne '')] NaN with points ps 1.4 lc rgb '#444444' pt 7 title dec_lab, \
     for [j=1:(smo_lab ne '')] NaN with points ps 1.4 lc rgb scol_dark('absmax') pt 7 title smo_lab
