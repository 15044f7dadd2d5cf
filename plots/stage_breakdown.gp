# stage_breakdown.gp: where the time of the LLM.int8() pipeline goes, per k.
#
# Reads from dir: stages.tsv (k, quantize X, int8 GEMM, outlier GEMM, dequantize +
# merge, fp16 GEMM, total; medians in µs; header = legend text). Stacked bars per k,
# the fp16 GEMM of the same shape as a marker for comparison.
load scripts.'/style.gp'

set title title_of('LLM.int8() pipeline: time per stage')
set xlabel 'inner dimension k'
set ylabel 'median time per stage (µs)'
set style data histograms
set style histogram rowstacked gap 1
set boxwidth 0.6
set yrange [0:*]
set grid noxtics
set xtics scale 0
set key below horizontal maxrows 2 width 2
# greys of distinct lightness plus patterns: stages stay apart in greyscale print
stage_col = "#0072B2 #56B4E9 #D55E00 #999999"
stage_pat = "3 5 4 1"
plot for [st=2:5] dir.'/stages.tsv' using st:xtic(1) title columnheader(st) \
         lc rgb word(stage_col, st - 1) fs pattern int(word(stage_pat, st - 1)) border lc rgb '#333333', \
     dir.'/stages.tsv' using 0:6 with points pt 9 ps 2*pss lc rgb '#000000' title columnheader(6)
