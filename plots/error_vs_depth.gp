# error_vs_depth.gp: relative error at the end of a chain of layers vs its depth.
#
# Reads from dir: s1.tsv .. s<nser>.tsv (depth, rel_err; header = legend text).
# Variables: nser, sch/grn/dec/smo, iso (optional: 1 for an isolated-mode series,
# drawn thin and dotted in its scheme's colour).
load scripts.'/style.gp'

if (!exists("iso")) iso = ''
isolated(i) = (words(iso) >= i) ? int(word(iso, i)) : 0
l_lw(i) = isolated(i) ? 1.2 : 2
l_ps(i) = (isolated(i) ? 0.9 : 1.2) * pss
l_dt(i) = isolated(i) ? 3 : s_dt(i)
set title title_of('Error vs chain depth')
set xlabel 'chain depth (layers)'
set ylabel 'relative error of the final output'
set logscale xy
set logscale x 2
set format x '%g'
set format y '%.0e'
set offsets graph 0.03, graph 0.03, 0, 0
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints lw l_lw(i) ps l_ps(i) \
         lc rgb s_col(i) dt l_dt(i) pt s_pt(i) title columnheader(2)
