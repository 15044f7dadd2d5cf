# speedup_vs_k.gp: latency and speedup over fp16 against the model dimension k.
#
# Reads from dir: s1.tsv .. s<nser>.tsv (k, speedup_vs_fp16, median_us; header =
# legend text), fp16.tsv (k, fp16 GEMM median_us). Variables: nser, sch/grn/dec.
# Top panel: latency (log-log); bottom: speedup with the 1.0 break-even line.
load scripts.'/style.gp'

set multiplot title title_of('Latency and speedup over the fp16 GEMM vs model dimension')
set logscale x 2
set format x '%g'
set xtics 2
set offsets graph 0.03, graph 0.03, 0, 0

# top: latency
set lmargin 11
set rmargin 3
set tmargin at screen 0.88
set bmargin at screen 0.58
set key off
set xlabel ''
set format x ''
set logscale y
set ylabel 'median latency (µs)'
set format y '%g'
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:3 with linespoints lw 2 ps 1.2 \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i), \
     dir.'/fp16.tsv' using 1:2 with linespoints lw ref_lw ps 1 lc rgb col_fp16 dt dt_fp16 pt pt_fp16

# bottom: speedup (keeps the legend for both panels)
set tmargin at screen 0.55
set bmargin at screen 0.25
unset logscale y
set format x '%g'
set xlabel 'model dimension k (= n)'
set ylabel 'speedup over fp16 (x)'
set yrange [0:*]
set format y '%.1f'
set key at screen 0.5, screen 0.13 center center horizontal maxrows 3 samplen 3
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints lw 2 ps 1.2 \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i) title columnheader(2), \
     dir.'/fp16.tsv' using 1:(1.0) with linespoints lw ref_lw ps 1 lc rgb col_fp16 dt dt_fp16 pt pt_fp16 \
         title 'fp16 GEMM (1.0 = break-even)'
unset multiplot
