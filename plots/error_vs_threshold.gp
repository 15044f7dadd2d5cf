# error_vs_threshold.gp: relative error vs the LLM.int8() outlier threshold.
#
# Reads from dir (written by harness/report/plot_fig_error.c): s1.tsv .. s<nser>.tsv (threshold,
# rel_err, outlier_frac; header = legend text), frac.tsv (threshold, outlier columns
# in % of k). Variables: nser, sch/grn/dec (style keys), floor (fp16 rel_err, <= 0
# when absent), has_frac (1 when any outlier column was found), frac_log (1 when the
# fraction spans decades: log right axis), has_err (1: repeated draws, s<i>.tsv columns 4
# and 5 hold the 95 % interval, drawn as error bars). A blank line after t = 0 keeps
# "no decomposition" apart from the thresholds, and its markers are drawn open (the
# series' filled marker means the decomposition is on).
# one column: a line of legend per series below the plot; the canvas grows with them
nscale = 1.0 + 0.07 * (nser > 4 ? nser - 4 : 0)
load scripts.'/style.gp'

set title title_of('Relative error vs LLM.int8() outlier threshold')
# The legend below the plot, in columns: the plot keeps the figure's whole width
# (a legend column at the right took a third of it).
set key below horizontal maxrows 3 width 2
set xlabel narrow ? 'outlier threshold t  (t = 0: no decomposition)' : \
    'outlier threshold t  (columns with |x| >= t take the fp16 path; t = 0: no decomposition)'
set ylabel 'relative error  ||Y - Y_ref||_F / ||Y_ref||_F'
set logscale y
set format y '%.0e'
set autoscale xfix
set offsets 0.3, 0.3, 0, 0
set mxtics 2
if (has_frac) {
    set y2label 'outlier columns (% of k)'
    set y2tics
    set format y2 '%g'
    if (frac_log) {
        set logscale y2
        set y2label 'outlier columns (% of k, log scale)'
    } else {
        set y2range [0:*]
    }
}

if (!exists("has_err")) has_err = 0
# With repeats (has_err), each series carries the 95 % interval of its draws as error bars.
plot for [i=1:nser] dir.'/s'.i.'.tsv' using 1:2 with linespoints lw 2 ps 1.3*pss \
         lc rgb s_col(i) dt s_dt(i) pt s_pt(i) title columnheader(2), \
     for [i=1:nser*has_err] dir.'/s'.i.'.tsv' using 1:2:4:5 with yerrorbars lw 1.2 ps 0 \
         lc rgb s_col(i) notitle, \
     NaN with points ps 1.3*pss lw 2 pt 6 lc rgb '#555555' title 'open marker: t = 0, no decomposition', \
     for [j=1:(floor > 0)] floor with lines lw ref_lw lc rgb col_fp16 dt dt_fp16 title 'fp16 (floor)', \
     for [j=1:has_frac] dir.'/frac.tsv' using 1:2 axes x1y2 with linespoints lw 1.2 ps 0.8*pss \
         lc rgb '#777777' dt (6,4) pt 7 title columnheader(2), \
     for [i=1:nser] dir.'/s'.i.'.tsv' using 1:($1 == 0 ? $2 : NaN) with points ps 1.3*pss \
         pt s_pt(i) lc rgb '#ffffff' notitle, \
     for [i=1:nser] dir.'/s'.i.'.tsv' using 1:($1 == 0 ? $2 : NaN) with points ps 1.3*pss lw 2 \
         pt (s_pt(i) - 1) lc rgb s_col(i) notitle
