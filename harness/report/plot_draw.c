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
    plot_log(c, "skipped %s: %s", fig, why);
    c->skipped++;
    return 1;
}

/* ---------------------------------------------------------------------------- */
/* gnuplot runs and their inputs                                                 */

/* Runs plots/<fig>.gp for png and pdf with `vars` (gnuplot statements) added to the
 * common ones. Returns 0, or 2 with gnuplot's own message in err. */
int plot_draw(plot_ctx *c, const char *fig, const char *subtitle, const char *vars)
{
    static const char *terms[] = {"png", "pdf"};
    char script[PATH_MAX + 64];
    snprintf(script, sizeof script, "%s/%s.gp", c->scripts, fig);
    if (access(script, R_OK) != 0) {
        snprintf(c->err, c->err_len, "plot: script %s not found", script);
        return 2;
    }
    for (int t = 0; t < 2; t++) {
        char out[PATH_MAX + 64];
        snprintf(out, sizeof out, "%s/%s.%s", c->out_dir, fig, terms[t]);
        char q_dir[PATH_MAX * 2 + 3], q_out[PATH_MAX * 2 + 3], q_scr[PATH_MAX * 2 + 3];
        char q_ttl[1100], q_sub[1100];
        qlab_gp_quote(c->tmp, q_dir, sizeof q_dir);
        qlab_gp_quote(out, q_out, sizeof q_out);
        qlab_gp_quote(c->scripts, q_scr, sizeof q_scr);
        qlab_gp_quote(c->title, q_ttl, sizeof q_ttl);
        char sub_full[700];
        snprintf(sub_full, sizeof sub_full, "%s%s%s", subtitle ? subtitle : "",
                 subtitle && *subtitle && c->gran_note[0] ? "; " : "", c->gran_note);
        qlab_gp_quote(sub_full, q_sub, sizeof q_sub);
        size_t elen = strlen(vars) + sizeof q_dir + sizeof q_out + sizeof q_scr + 2400;
        char *e = malloc(elen);
        if (!e) {
            snprintf(c->err, c->err_len, "plot: out of memory");
            return 2;
        }
        snprintf(e, elen, "dir=%s; out=%s; scripts=%s; ttl=%s; sub=%s; term='%s'; %s",
                 q_dir, q_out, q_scr, q_ttl, q_sub, terms[t], vars);
        int killed;
        char msg[1024];
        int rc = qlab_gp_run(c->gnuplot, e, script, out, &killed, msg, sizeof msg);
        free(e);
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
        plot_log(c, "%s", out);
    }
    c->drawn++;
    return 0;
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

/* Style keys of a figure's series (see style_lists). */
void plot_style_keys(const qlab_row *r, style_lists *k)
{
    size_t a = strlen(k->sch), b = strlen(k->grn), d = strlen(k->dec), e = strlen(k->smo);
    snprintf(k->sch + a, sizeof k->sch - a, "%s%s", a ? " " : "", r->p.scheme);
    snprintf(k->grn + b, sizeof k->grn - b, "%s%d", b ? " " : "", plot_gran_index(r));
    snprintf(k->dec + d, sizeof k->dec - d, "%s%d", d ? " " : "", r->p.threshold > 0 ? 1 : 0);
    snprintf(k->smo + e, sizeof k->smo - e, "%s%d", e ? " " : "", plot_is_smooth(r) ? 1 : 0);
}

/* The lists as gnuplot assignments, appended to vars. */
void plot_style_vars(const style_lists *k, char *vars, size_t len)
{
    size_t a = strlen(vars);
    snprintf(vars + a, len - a, " sch='%s'; grn='%s'; dec='%s'; smo='%s';", k->sch, k->grn, k->dec, k->smo);
}
