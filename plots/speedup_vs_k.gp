# speedup_vs_k.gp: latency and speedup over fp16 against the model dimension k.
#
# Reads from dir: s1.tsv .. s<nser>.tsv (k, speedup_vs_fp16, median_us; header =
# legend text), fp16.tsv (k, fp16 GEMM median_us). Variables: nser, sch/grn/dec,
# kticks (the k values, space-separated).
# Top panel: latency (log-log); bottom: speedup with the 1.0 break-even line.
load scripts.'/style.gp'

set multiplot title title_of('Latency and speedup over the fp16 GEMM vs model dimension')
set logscale x 2
set autoscale xfix
set offsets graph 0.04, graph 0.04, 0, 0
# One column (narrow): the panels take the full width, the legend goes below them.
p_l = narrow ? 0.15 : 0.09; p_r = narrow ? 0.96 : 0.66
p_t1 = 0.86; p_b1 = narrow ? 0.63 : 0.52
p_t2 = narrow ? 0.60 : 0.49
set lmargin at screen p_l
set rmargin at screen p_r

# top: latency; the x tick labels only on the bottom panel
set tmargin at screen p_t1
set bmargin at screen p_b1
set key off
set xtics ()
do for [w in kticks] { set xtics add ("" w + 0) }
set logscale y
set ylabel 'median latency (µs)'
set format y '%g'
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:3 with linespoints lw 2 ps 1.2*pss \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i), \
     dir.'/fp16.tsv' using 1:2 with linespoints lw ref_lw ps 1*pss lc rgb col_fp16 dt dt_fp16 pt pt_fp16

# bottom: speedup (carries the legend of both panels)
set tmargin at screen p_t2
set bmargin at screen (narrow ? 0.34 : 0.12)
set xtics ()
do for [w in kticks] { set xtics add (w w + 0) }
unset logscale y
set xlabel 'inner dimension k'
set ylabel 'speedup over fp16 (×)'
set yrange [0:*]
set format y '%.1f'
if (narrow) {
    set key at screen 0.03, screen 0.16 left top horizontal maxcols 2 reverse Left samplen 3 font f8
} else {
    set key at screen 0.68, screen 0.86 left top vertical reverse Left samplen 3.5 font f9
}
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints lw 2 ps 1.2*pss \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i) title columnheader(2), \
     dir.'/fp16.tsv' using 1:(1.0) with linespoints lw ref_lw ps 1*pss lc rgb col_fp16 dt dt_fp16 pt pt_fp16 \
         title 'fp16 GEMM (speedup 1.0)'
unset multiplot
