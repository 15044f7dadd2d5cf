# memory.gp: stored weight bits per weight per scheme, against fp16 and fp32.
#
# Reads from dir: mem.tsv (x, codes, scales, second-level scales, outlier columns,
# unsplit remainder, total, all in bits per weight; % of fp16, scheme, label, the
# parts as label text, the total as label text).
# Variables: nbar, ymax (largest total), has_scales2, has_outl, has_unsplit (1 when
# that part is present anywhere). Stacks take the scheme's colour; the fill pattern
# names the part: codes solid, scales hatched, second-level scales dense hatch,
# outlier columns the other hatch.
load scripts.'/style.gp'

set title title_of('Weight memory: bits per weight (codes + scales + outlier columns)')
set ylabel narrow ? 'bits per stored weight' : 'bits per stored weight  (8 w_bytes / weights)'
set y2label '% of fp16'
set xlabel ''
# room above the fp16 line for the four-line legend, so it never hides the line
top = (ymax >= 32) ? ymax * 1.25 : (ymax > 16 ? ymax : 16) * (narrow ? 1.35 : 1.5)
set yrange [0:top]
set y2range [0:top / 16 * 100]
set ytics nomirror
set y2tics 25 nomirror
set xrange [-0.7:nbar - 0.3]
set boxwidth 0.7
set xtics rotate by 35 right scale 0 font f9
# one column: upright names beyond 8 bars, at the legend's size (6.4 pt printed; 6.5
# shrank to 5.2 pt, below what a printed page keeps legible)
if (narrow && nbar > 8) set xtics rotate by 90 right scale 0 font f8
set grid noxtics
# the legend sits right, under the fp32 line when there is one, else above the fp16
# line, clear of the bars (no bar but fp32 reaches above 16 bits)
key_top = (ymax >= 32) ? 32 / top - 0.03 : 0.99
set key inside right top at graph 0.99, graph key_top opaque
if (narrow) set key below horizontal noopaque
set style textbox opaque noborder margins 0.5, 0.3
# value labels: bits per weight split into its parts (codes + scales [+ dq] [+ outl],
# a line each in column 11; narrow bars get turned labels of the total, column 12)
# and % of fp16
if (!exists("lab_lines")) lab_lines = 2
# a label of n lines is centred on its point: lift it by half its height, plus a gap
# (one column: turned labels beyond 6 bars)
turn = (nbar > (narrow ? 6 : 14))
lab_opts = turn ? 'rotate by 90 left offset 0, 0.3' : sprintf('center offset 0, %g', 0.5 * lab_lines + 0.9)
lab_fmt = turn ? "%s (%.1f%%)" : "%s\n%.1f%%"

plot dir.'/mem.tsv' using 1:7:(scol_int(strcol(9))) with boxes fs pattern 5 border lc rgb variable lw 1.5 \
         lc rgb variable notitle, \
     '' using 1:($2 + $3 + $4 + $5):(scol_int(strcol(9))) with boxes fs pattern 4 border lc rgb variable \
         lw 1.5 lc rgb variable notitle, \
     '' using 1:($2 + $3 + $4):(scol_int(strcol(9))) with boxes fs pattern 2 border lc rgb variable lw 1.5 \
         lc rgb variable notitle, \
     '' using 1:($2 + $3):(scol_int(strcol(9))) with boxes fs pattern 1 border lc rgb variable lw 1.5 \
         lc rgb variable notitle, \
     '' using 1:2:(scol_int(strcol(9))):xtic(10) with boxes fs solid 0.75 border lc rgb variable lw 1.5 \
         lc rgb variable notitle, \
     '' using 1:7:(sprintf(lab_fmt, (turn ? strcol(12) : strcol(11)), $8)) with labels boxed @lab_opts font f8 notitle, \
     NaN with boxes fs solid 0.75 lc rgb '#555555' title 'codes', \
     NaN with boxes fs pattern 1 lc rgb '#555555' title 'scales + zero points', \
     for [j=1:has_scales2] NaN with boxes fs pattern 2 lc rgb '#555555' title 'second-level scales', \
     for [j=1:has_outl] NaN with boxes fs pattern 4 lc rgb '#555555' title 'outlier columns (fp16)', \
     for [j=1:has_unsplit] NaN with boxes fs pattern 5 lc rgb '#555555' title 'scales + outliers (not split)', \
     16 with lines lw ref_lw lc rgb col_fp16 dt dt_fp16 title 'fp16 weights (16 bits)', \
     for [j=1:(ymax >= 32)] 32 with lines lw ref_lw lc rgb col_fp32 dt 3 title 'fp32 weights (32 bits)'
