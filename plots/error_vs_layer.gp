# error_vs_layer.gp: relative error of each layer's output, per scheme.
#
# Reads from dir: s1.tsv .. s<nser>.tsv (layer index, rel_err, cosine; header = legend
# text). Variables: nser, sch/grn/dec, iso (1 for an isolated-mode series). Propagated
# series keep their scheme's line; isolated ones are thin and dotted, same colour.
load scripts.'/style.gp'

set title title_of('Error propagation across layers')
set xlabel 'layer index (execution order)'
set ylabel 'relative error of the layer output'
set logscale y
set format y '%.0e'
set autoscale xfix
set offsets 0.3, 0.3, 0, 0
isolated(i) = int(word(iso, i))
l_lw(i) = isolated(i) ? 1.2 : 2
l_ps(i) = isolated(i) ? 0.8 : 1.2
l_dt(i) = isolated(i) ? 3 : s_dt(i)
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints \
         lw l_lw(i) ps l_ps(i) lc rgb s_col(i) dt l_dt(i) pt s_pt(i) title columnheader(2)
