/* plot_draw.c: the gnuplot side of `qlab plot` (see plot_internal.h).
 *
 * What a figure function hands its data to: the log (one line per file written or
 * figure skipped), the per-figure TSV files in the figure's temporary directory, the
 * style keys that plots/style.gp turns into colours and markers, and plot_draw,
 * which runs plots/<figure>.gp once per terminal (png, pdf) through gnuplot.h with
 * the variables every script reads (dir, out, scripts, ttl, sub, term).
 */
#include "report/plot_internal.h"
#include "report/gnuplot.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------- */
/* Log and skips                                                                 */

void plot_log(plot_ctx *c, const char *fmt, ...)
{
    if (!c->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->log, fmt, ap);
    va_end(ap);
    fputc('\n', c->log);
    fflush(c->log);
}

int plot_skip(plot_ctx *c, const char *fig, const char *why)
{
    if (c->skip_why) {
        snprintf(c->skip_why, c->skip_why_len, "%s", why);
        return 1;
    }
    plot_log(c, "skipped %s%s%s%s: %s", fig, c->suffix ? c->suffix : "", c->family ? "-" : "",
             c->family ? c->family : "", why);
    c->skipped++;
    return 1;
}

/* ---------------------------------------------------------------------------- */
/* gnuplot runs and their inputs                                                 */

/* The note a figure's subtitle and the log carry when some of its values could not be
 * drawn (see plot_log_value); "" when none. */
static void undrawn_note(const plot_ctx *c, char *buf, size_t len)
{
    int z = c->n_zero, f = c->n_nonfinite;
    if (z && f)
        snprintf(buf, len, "%d value%s of 0 not drawn (log axis), %d NaN or infinite", z, z == 1 ? "" : "s", f);
    else if (z)
        snprintf(buf, len, "%d value%s of 0 not drawn (log axis)", z, z == 1 ? "" : "s");
    else if (f)
        snprintf(buf, len, "%d NaN or infinite value%s not drawn", f, f == 1 ? "" : "s");
    else
        buf[0] = '\0';
}

/* Runs plots/<fig>.gp for png, pdf and pdf1 (FIG.png, FIG.pdf, FIG-1col.pdf) with
 * `vars` (gnuplot statements) added to the common ones. Returns 0, or 2 with
 * gnuplot's own message in err; a failed figure leaves none of its files
 * (qlab_gp_run removes the one it failed on, this the others). */
int plot_draw(plot_ctx *c, const char *fig, const char *subtitle, const char *vars)
{
    /* png (README, screens), pdf (two-column width), pdf1 (one-column width) */
    static const char *terms[] = {"png", "pdf", "pdf1"};
    static const char *exts[] = {"png", "pdf", "pdf"};
    static const char *tags[] = {"", "", "-1col"};
    enum { N_TERMS = 3 };
    char script[PATH_MAX + 64];
    snprintf(script, sizeof script, "%s/%s.gp", c->scripts, c->script ? c->script : fig);
    if (access(script, R_OK) != 0) {
        snprintf(c->err, c->err_len, "plot: script %s not found", script);
        return 2;
    }
    char note[160];
    undrawn_note(c, note, sizeof note);
    if (note[0])
        plot_log(c, "%s: %s", fig, note);
    char outs[N_TERMS][PATH_MAX + 64];
    for (int t = 0; t < N_TERMS; t++) {
        char *out = outs[t];
        snprintf(out, sizeof outs[t], "%s/%s%s%s%s%s.%s", c->out_dir, fig, c->suffix ? c->suffix : "",
                 c->family ? "-" : "", c->family ? c->family : "", tags[t], exts[t]);
        char q_dir[PATH_MAX * 2 + 3], q_out[PATH_MAX * 2 + 3], q_scr[PATH_MAX * 2 + 3];
        char q_ttl[1100], q_sub[1800];
        qlab_gp_quote(c->tmp, q_dir, sizeof q_dir);
        qlab_gp_quote(out, q_out, sizeof q_out);
        qlab_gp_quote(c->scripts, q_scr, sizeof q_scr);
        qlab_gp_quote(c->title, q_ttl, sizeof q_ttl);
        /* the parts of the subtitle, "; " between them: the values this file is drawn
         * for (a split, "depth=4"), the family ("int8 schemes"), the figure's own, the
         * granularity, the values not drawn */
        char split[600] = "", fam[48] = "", sub_full[900] = "";
        if (c->suffix)
            snprintf(split, sizeof split, "%s", c->suffix + 1);
        for (char *q = split; *q; q++)
            if (*q == ',')
                *q = ' ';
        /* a split value the figure's own subtitle already shows ("m=16" beside the shape
         * "m=16 k=256 n=96") is said once */
        if (subtitle && *subtitle) {
            char kept[600] = "";
            for (char *tok = split; *tok;) {
                size_t n = strcspn(tok, " ");
                char word[160];
                snprintf(word, sizeof word, "%.*s", (int)n, tok);
                int shown = 0;
                for (const char *p = subtitle; !shown && (p = strstr(p, word)) != NULL; p++)
                    shown = (p == subtitle || p[-1] == ' ' || p[-1] == ';') &&
                            (p[n] == '\0' || p[n] == ' ' || p[n] == ';');
                if (!shown)
                    snprintf(kept + strlen(kept), sizeof kept - strlen(kept), "%s%.*s", kept[0] ? " " : "",
                             (int)n, tok);
                tok += n;
                while (*tok == ' ')
                    tok++;
            }
            snprintf(split, sizeof split, "%s", kept);
        }
        if (c->family)
            snprintf(fam, sizeof fam, "%s schemes", !strcmp(c->family, "4bit") ? "4-bit" : c->family);
        const char *parts[] = {split, fam, subtitle ? subtitle : "", c->gran_note, note};
        for (size_t i = 0, o = 0; i < sizeof parts / sizeof parts[0]; i++)
            if (parts[i][0] && o < sizeof sub_full)
                o += (size_t)snprintf(sub_full + o, sizeof sub_full - o, "%s%s", o ? "; " : "", parts[i]);
        qlab_gp_quote(sub_full, q_sub, sizeof q_sub);
        size_t elen = strlen(vars) + sizeof q_dir + sizeof q_out + sizeof q_scr + sizeof q_ttl + sizeof q_sub + 64;
        char *e = malloc(elen);
        if (!e) {
            snprintf(c->err, c->err_len, "plot: out of memory");
            for (int u = 0; u < t; u++)
                unlink(outs[u]);
            return 2;
        }
        snprintf(e, elen, "dir=%s; out=%s; scripts=%s; ttl=%s; sub=%s; term='%s'; %s",
                 q_dir, q_out, q_scr, q_ttl, q_sub, terms[t], vars);
        int killed;
        char msg[2048];
        int rc = qlab_gp_run(c->gnuplot, e, script, out, &killed, msg, sizeof msg);
        free(e);
        for (int u = 0; rc != 0 && u < t; u++)
            unlink(outs[u]);   /* the figure is all its files or none */
        if (rc == 3) {
            snprintf(c->err, c->err_len, "plot: %s", msg);
            return 2;
        }
        if (rc == 1) {
            snprintf(c->err, c->err_len, "plot: gnuplot failed on %s (%s): %s", script,
                     killed ? "killed" : "exit status", msg);
            return 2;
        }
        if (rc == 2) {
            snprintf(c->err, c->err_len, "plot: gnuplot wrote no %s (%s): %s", out, script, msg);
            return 2;
        }
    }
    for (int t = 0; t < N_TERMS; t++)
        plot_log(c, "%s", outs[t]);
    c->drawn++;
    return 0;
}

/* Counts v into the figure's drawable or undrawable values (see plot_internal.h). */
double plot_log_value(plot_ctx *c, double v)
{
    if (isfinite(v) && v > 0) {
        c->n_ok++;
        return v;
    }
    if (isfinite(v))
        c->n_zero++;
    else
        c->n_nonfinite++;
    return NAN;
}

/* Skips a figure none of whose values a log axis can show, saying why. */
int plot_skip_unshowable(plot_ctx *c, const char *fig, const char *what)
{
    char why[400];
    if (c->n_nonfinite == 0)
        snprintf(why, sizeof why,
                 "every %s is 0 (exact results, or a run that did not measure it): a log axis cannot show 0", what);
    else
        snprintf(why, sizeof why, "no %s above 0 to draw on a log axis (%d of 0, %d NaN or infinite)", what,
                 c->n_zero, c->n_nonfinite);
    return plot_skip(c, fig, why);
}

FILE *plot_tsv_open(plot_ctx *c, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", c->tmp, name);
    FILE *f = fopen(p, "w");
    if (!f)
        snprintf(c->err, c->err_len, "plot: cannot write %s: %s", p, strerror(errno));
    return f;
}

/* Series i's data file, s<i+1>.tsv: the name every plots/<figure>.gp reads. */
FILE *plot_series_tsv_open(plot_ctx *c, int i)
{
    char name[32];
    snprintf(name, sizeof name, "s%d.tsv", i + 1);
    return plot_tsv_open(c, name);
}

/* Style keys of a figure's series (see style_lists). */
void plot_style_keys(const qlab_row *r, style_lists *k)
{
    size_t a = strlen(k->sch), b = strlen(k->grn), d = strlen(k->dec), e = strlen(k->smo);
    snprintf(k->sch + a, sizeof k->sch - a, "%s%s", a ? " " : "", r->p.scheme);
    snprintf(k->grn + b, sizeof k->grn - b, "%s%d", b ? " " : "", plot_gran_index(r));
    snprintf(k->dec + d, sizeof k->dec - d, "%s%d", d ? " " : "", r->p.threshold > 0 ? 1 : 0);
    snprintf(k->smo + e, sizeof k->smo - e, "%s%d", e ? " " : "", plot_is_smooth(r) ? 1 : 0);
}

/* Word i (0-based) of the space-separated list s into w; "" past the end. */
static void list_word(const char *s, int i, char *w, size_t len)
{
    while (*s == ' ')
        s++;
    for (; i > 0 && *s; i--) {
        s += strcspn(s, " ");
        while (*s == ' ')
            s++;
    }
    size_t n = strcspn(s, " ");
    snprintf(w, len, "%.*s", (int)(n < len ? n : len - 1), s);
}

/* The lists as gnuplot assignments, appended to vars, with var: per series, how many
 * earlier series have the same four keys (0 for the first), so that series the keys
 * cannot tell apart (llm_int8 with fp16 or dequantized outlier weights, two block
 * sizes) still get their own dash pattern in style.gp. */
void plot_style_vars(const style_lists *k, char *vars, size_t len)
{
    char var[1024] = "";
    int n = 0;
    for (const char *p = k->grn; *p; p++)
        n += *p != ' ' && (p == k->grn || p[-1] == ' ');
    for (int i = 0; i < n; i++) {
        int v = 0;
        for (int j = 0; j < i; j++) {
            int same = 1;
            const char *lists[4] = {k->sch, k->smo, k->grn, k->dec};
            for (int q = 0; q < (k->by_scheme ? 2 : 4) && same; q++) {
                char wi[128], wj[128];
                list_word(lists[q], i, wi, sizeof wi);
                list_word(lists[q], j, wj, sizeof wj);
                same = !strcmp(wi, wj);
            }
            v += same;
        }
        size_t a = strlen(var);
        snprintf(var + a, sizeof var - a, "%s%d", a ? " " : "", v);
    }
    size_t a = strlen(vars);
    snprintf(vars + a, len - a, " sch='%s'; grn='%s'; dec='%s'; smo='%s'; var='%s';", k->sch, k->grn, k->dec,
             k->smo, var);
}
