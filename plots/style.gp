# style.gp: the look shared by every qlab figure; each plots/<figure>.gp loads it first.
#
# Inputs (gnuplot -e, set by `qlab plot`, see harness/report/plot.c and plot_draw.c):
#   term  'png' (pngcairo, README and screens) | 'pdf' (pdfcairo, papers)
#   out   output file;  ttl  experiment, backend, device;  sub  what the figure holds
#   sch, grn, dec  per series, space-separated: scheme name, granularity combination
#                  index (1..8), 1 if the series uses the LLM.int8() decomposition
#   smo            (optional) per series, 1 if SmoothQuant is on (smooth_alpha > 0)
#
# Identity of a scheme is carried three ways at once, so a greyscale print still
# tells them apart: colour (Okabe-Ito, chosen for distinct luminance, plus darker
# shades for the double-quantized 4-bit formats), dash pattern, and marker family.
# Within a scheme the marker shape names the granularity combination; a filled
# marker means the outlier decomposition is on (t > 0). SmoothQuant keeps the
# scheme's hue, darkened, with a dotted line.

if (!exists("term")) term = 'png'
if (!exists("out")) out = 'figure.'.term
if (!exists("ttl")) ttl = ''
if (!exists("sub")) sub = ''

# The PDFs are sized for a paper, with 9 pt text (titles 11 pt, legends 8 pt) at the
# size they are printed, so they go in unscaled: term 'pdf' spans a two-column page
# (7 in, figure*) at the PNG's proportions; term 'pdf1' fits one column (3.5 in,
# narrow = 1), taller in proportion, legends below the plot, text a little smaller.
# Every font size below goes through fnt(), and line widths through the terminal's
# linewidth, so that a figure scales as a whole.
narrow = (term eq 'pdf1')
fscale = (term eq 'pdf') ? 0.9 : narrow ? 0.8 : 1.0
fnt(size) = sprintf(",%g", size * fscale)
f8 = fnt(8); f9 = fnt(9); f11 = fnt(11)
# Marker sizes in the scripts are for the PNG; pdfcairo draws points larger, so every
# `ps` is multiplied by pss.
pss = (term eq 'pdf') ? 0.55 : narrow ? 0.45 : 1.0
# hscale (optional, >= 1): a taller canvas for figures with many rows (error_vs_bits).
if (!exists("hscale")) hscale = 1.0
# nscale (optional, >= 1): taller still in one column only, where a legend below the
# plot has one entry per line (set by the script before it loads this file).
if (!exists("nscale")) nscale = 1.0
if (term eq 'pdf') {
    set terminal pdfcairo noenhanced color size 7in,(4.375 * hscale)in font "Sans,9" linewidth 0.9 rounded dashlength 1.6
    set pointsize 0.5
} else { if (narrow) {
    set terminal pdfcairo noenhanced color size 3.5in,(3.2 * hscale * nscale)in font "Sans,8" linewidth 0.7 rounded dashlength 1.6
    set pointsize 0.4
} else {
    set terminal pngcairo noenhanced color size 960,int(600 * hscale) font "Sans,10" linewidth 1.1 rounded dashlength 1.2
} }
set output out
set encoding utf8

set datafile separator "\t"
set datafile missing "nan"

set border 3 lw 1
set tics nomirror out scale 0.6
set grid xtics ytics lc rgb '#d9d9d9' lw 0.8 dt 1
set grid noxtics
set key noautotitle
# Line figures: legend outside, right of the plot, so it never covers data; bar
# figures move it below.
set key outside right top vertical reverse Left samplen 3.5 spacing 1.1 width 1 font f9
# one column has no width to spare for a legend beside the plot
if (narrow) set key below horizontal reverse Left samplen 3 spacing 1.0 width 1

# Title: what the figure shows, what data it holds, where it was measured; one line
# each, since device names are long and gnuplot centres (and clips) on the plot area.
title_of(what) = what."\n".(sub eq '' ? '' : sub."\n").ttl
set title font f11

# ---------------------------------------------------------------------------------
# Per scheme: colour, dash type (1 solid, 2 dash, 3 dot, 4 dash-dot, 5 dash-dot-dot,
# or a pattern string: '.' dot, '-' dash, '_' long dash, ' ' gap). Every scheme qlab knows has its own pair; _dq (double
# quantization) is a darker shade of its 4-bit format with a longer dash.
col_fp32 = '#000000';      dt_fp32 = 1; pt_fp32 = 1
col_fp16 = '#555555';      dt_fp16 = 4; pt_fp16 = 2
col_bf16 = '#999999';      dt_bf16 = 5; pt_bf16 = 3
col_absmax = '#0072B2';    dt_absmax = 1
col_zeropoint = '#D55E00'; dt_zeropoint = 2
col_fp8_e4m3 = '#E69F00';  dt_fp8_e4m3 = '_.'
col_fp8_e5m2 = '#56B4E9';  dt_fp8_e5m2 = '_..'
col_nf4 = '#009E73';       dt_nf4 = 3
col_nf4_dq = '#00573F';    dt_nf4_dq = '.._'
col_fp4 = '#CC79A7';       dt_fp4 = '_ '
col_fp4_dq = '#7E3A64';    dt_fp4_dq = '_ . '
col_fp8 = '#E69F00';       dt_fp8 = 4
col_other = '#A6761D';     dt_other = 3
# SmoothQuant variants: the scheme's colour times smooth_shade, dotted
smooth_shade = 0.6
dt_smooth = '.'

# Granularity combination -> open marker (filled = open + 1):
# 1 tensor/tensor circle, 2 tensor/channel square, 3 row/tensor triangle,
# 4 row/channel diamond, 5 block/block pentagon, 6 row/block inverted triangle,
# 7 weight-only W block (X fp16) square, 8 other
gran_pt = "6 4 8 12 14 10 4 6"
# Granularity combination -> bar fill pattern (3 = solid)
gran_pat = "3 4 5 1 6 7 2 8"

scol(s) = exists('col_'.s) ? value('col_'.s) : col_other
sdt(s) = exists('dt_'.s) ? value('dt_'.s) : dt_other
spt(s, g, d) = exists('pt_'.s) ? value('pt_'.s) : int(word(gran_pt, g)) + (d ? 1 : 0)

# Style of series i of the lists sch/grn/dec (and smo when given).
if (!exists("smo")) smo = ''
sc(i) = word(sch, i)
s_smo(i) = (words(smo) >= i) ? int(word(smo, i)) : 0
s_col(i) = s_smo(i) ? scol_dark(sc(i)) : scol(sc(i))
# var (optional): per series, how many earlier series share its four keys; the 2nd, 3rd
# ... such series (llm_int8 with fp16 or dequantized outlier weights, say) take these
# dash patterns, which no scheme uses, in turn.
if (!exists("var")) var = ''
var_dt = "'__  ' '- -  ' '__ . '"
s_var(i) = (words(var) >= i) ? int(word(var, i)) : 0
s_dt(i) = s_var(i) ? word(var_dt, (s_var(i) - 1) % 3 + 1) : s_smo(i) ? dt_smooth : sdt(sc(i))
s_pt(i) = spt(sc(i), int(word(grn, i)), int(word(dec, i)))
gpat(g) = int(word(gran_pat, g))

# Colour of a scheme as a 24-bit integer, for `lc rgb variable` in bar figures.
hexval(c) = (c eq '0' ? 0 : c eq '1' ? 1 : c eq '2' ? 2 : c eq '3' ? 3 : c eq '4' ? 4 : \
             c eq '5' ? 5 : c eq '6' ? 6 : c eq '7' ? 7 : c eq '8' ? 8 : c eq '9' ? 9 : \
             c eq 'A' || c eq 'a' ? 10 : c eq 'B' || c eq 'b' ? 11 : c eq 'C' || c eq 'c' ? 12 : \
             c eq 'D' || c eq 'd' ? 13 : c eq 'E' || c eq 'e' ? 14 : 15)
hex2(s, i) = 16 * hexval(s[i:i]) + hexval(s[i+1:i+1])
rgbint(c) = 65536 * hex2(c, 2) + 256 * hex2(c, 4) + hex2(c, 6)
scol_int(s) = rgbint(scol(s))
# Darker shade (SmoothQuant variants), as an integer and as '#rrggbb'.
shade(v, f) = int(int(v) * f) & 255
darkint(c) = 65536 * shade(c / 65536 % 256, smooth_shade) + 256 * shade(c / 256 % 256, smooth_shade) + \
             shade(c % 256, smooth_shade)
scol_dark(s) = sprintf('#%06x', darkint(scol_int(s)))
# Colour of scheme s, darkened when m (a SmoothQuant flag) is set, as an integer.
scol_int2(s, m) = m ? darkint(scol_int(s)) : scol_int(s)

# Reference lines (fp16 floor, 1.0 speedup, fp16/fp32 weight bytes)
ref_lw = 1.6
