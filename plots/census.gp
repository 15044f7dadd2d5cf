# census.gp: the outlier census of a ViT (`qlab census vit-s14`): how many feature
# columns of each linear input hold a value with |x| >= t.
#
# gnuplot -e "data='census.tsv'; out='census.png'" plots/census.gp
# Inputs: data  the TSV `qlab census` writes (header line; columns block, input, k,
#               tokens, max_abs, std, t, cols, col_frac, token_frac; rows grouped by
#               block, then input (qkv, attn_out, fc1, fc2), then t ascending);
#         out, term ('png' | 'pdf'), ttl (a line naming the photos), scripts (the
#         folder holding style.gp; default plots).
# Left: the fraction of columns with an outlier against t, one line per block, for the
# input of fc1 (the norm2 output) and of query/key/value (the norm1 output). Right: at
# t = 6 (LLM.int8()'s threshold), that fraction per block for all four inputs.
if (!exists("scripts")) scripts = 'plots'
if (!exists("data")) data = 'census.tsv'
if (!exists("ttl")) ttl = ''
sub = ''
load scripts.'/style.gp'

nt = 15          # thresholds per (block, input): vit_census.c's QLAB_CENSUS_N_T
ninp = 4
row0(b, i) = (b * ninp + i) * nt       # first data row of block b, input i (0-based)
blockcol(b) = sprintf('#%02x%02x%02x', int(230 - 200 * b / 11.0), int(120 + 60 * b / 11.0), int(30 + 200 * b / 11.0))

set multiplot layout 1, 2 title title_of('Outlier columns of the ViT-S/14 linear inputs') font f11
set key inside right top vertical noreverse Right samplen 2 spacing 1.0 font f8
set xlabel 'threshold t  (|x| >= t)'
set ylabel 'columns holding an outlier (fraction of k)'
set logscale xy
set xrange [1:200]
set yrange [1e-3:1.05]
set format y '%g'
set title 'by block: fc1 input (solid), q/k/v input (dashed)' font f9
plot for [b=0:11] data skip 1 every ::row0(b, 2)::row0(b, 2) + nt - 1 using 7:($9 > 0 ? $9 : 1/0) \
        with linespoints lw 1.5 pt 7 ps 0.4*pss lc rgb blockcol(b) title sprintf('block %d', b), \
     for [b=0:11] data skip 1 every ::row0(b, 0)::row0(b, 0) + nt - 1 using 7:($9 > 0 ? $9 : 1/0) \
        with lines lw 1.2 dt 2 lc rgb blockcol(b) notitle

unset logscale
set logscale y
set xrange [-0.5:11.5]
set xtics 1
set xlabel 'block'
set ylabel 'columns with |x| >= 6 (fraction of k, log)'
set yrange [1e-3:1.05]
set title 'at t = 6 (LLM.int8()), per input; 0 not drawn' font f9
it6 = 5          # t = 6 is the 6th threshold
inp(i) = word('q/k/v attn.output fc1 fc2', i + 1)
colr(i) = word('#0072B2 #009E73 #D55E00 #CC79A7', i + 1)
plot for [i=0:3] data skip 1 using ((int($0) % nt == it6 && int($0 / nt) % ninp == i) ? $1 : 1/0):($9 > 0 ? $9 : 1/0) \
        with points pt 7 ps 0.9*pss lc rgb colr(i) title inp(i)
unset multiplot
