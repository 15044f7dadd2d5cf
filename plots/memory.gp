# memory.gp: bytes of the stored weights per scheme, against fp16 and fp32.
#
# Reads from dir: mem.tsv (x, codes, scales, outliers, total in `unit`, % of fp16,
# scheme, label). Variables: nbar, unit ('MiB' | 'KiB'), fp16, fp32 (reference bytes
# in `unit`). Stacks take the scheme's colour; the pattern names the component.
load scripts.'/style.gp'

set title title_of('Weight memory: codes + scales + outlier columns')
set ylabel sprintf('weight storage (%s)', unit)
set xlabel ''
set yrange [0:fp32 * 1.15]
set xrange [-0.7:nbar - 0.3]
set boxwidth 0.7
set xtics rotate by 35 right scale 0 font f9
set grid noxtics
plot dir.'/mem.tsv' using 1:5:(scol_int(strcol(7))) with boxes fs pattern 4 border lc rgb variable lw 1.5 \
         lc rgb variable notitle, \
     '' using 1:($2 + $3):(scol_int(strcol(7))) with boxes fs pattern 1 border lc rgb variable lw 1.5 \
         lc rgb variable notitle, \
     '' using 1:2:(scol_int(strcol(7))):xtic(8) with boxes fs solid 0.75 border lc rgb variable lw 1.5 \
         lc rgb variable notitle, \
     '' using 1:5:(sprintf('%.1f%%', $6)) with labels offset 0, 0.7 font f9 notitle, \
     NaN with boxes fs solid 0.75 lc rgb '#555555' title 'codes', \
     NaN with boxes fs pattern 1 lc rgb '#555555' title 'scales + zero points', \
     NaN with boxes fs pattern 4 lc rgb '#555555' title 'outlier columns (fp16)', \
     fp16 with lines lw ref_lw lc rgb col_fp16 dt dt_fp16 title 'fp16 weights (100%)', \
     fp32 with lines lw ref_lw lc rgb col_fp32 dt 3 title 'fp32 weights'
