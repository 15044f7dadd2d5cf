/* history.c: `qlab history` (see history.h): one point's metric across runs.
 *
 * Noise of a run is taken from its own timing summary: for the time-derived columns
 * (median_us, q1_us, q3_us, min_us, tops, gbps, speedup_vs_fp16, fp16_median_us) it
 * is half the interquartile range of the total-stage samples, scaled to the metric's
 * value; error and memory columns are exact, their noise is 0, so any change of them
 * is a step. The figure is drawn by plots/history.gp, found like the other figure
 * scripts ($QLAB_PLOTS, <qlab>/../share/qlab/plots, <qlab>/../plots, ./plots).
 */
#define _GNU_SOURCE
#include "report/history.h"
#include "report/filter.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/gnuplot.h"
#include "store/results.h"

void qlab_history_steps(const double *v, const double *noise, int64_t n, int *step)
{
    for (int64_t i = 0; i < n; i++) {
        step[i] = 0;
        if (i == 0 || isnan(v[i]) || isnan(v[i - 1]))
            continue;
        double nz = 0;
        for (int64_t j = i - 2; j <= i + 1; j++)
            if (j >= 0 && j < n && isfinite(noise[j]) && noise[j] > nz)
                nz = noise[j];
        step[i] = fabs(v[i] - v[i - 1]) > 3 * nz;
    }
}

/* ---------------------------------------------------------------------------- */
/* Columns                                                                       */

static int is_axis(const qlab_column *c) { return c->offset < sizeof(qlab_point); }

static double col_num(const qlab_row *r, const qlab_column *c)
{
    const char *p = (const char *)r + c->offset;
    switch (c->kind) {
    case QLAB_COL_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case QLAB_COL_U64: { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    case QLAB_COL_I32:
    case QLAB_COL_STATUS: { int32_t v; memcpy(&v, p, 4); return v; }
    case QLAB_COL_F64: { double v; memcpy(&v, p, 8); return v; }
    default: return NAN;
    }
}

static int is_time_metric(const char *m)
{
    static const char *const t[] = {"median_us", "q1_us", "q3_us", "min_us", "tops", "gbps",
                                    "speedup_vs_fp16", "fp16_median_us"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(m, t[i]))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Runs                                                                          */

typedef struct {
    char *commit, *date, *device;
    const char *file;
    double value, noise;
    int order;     /* argument position, to keep ties stable */
} run_row;

static int cmp_run(const void *x, const void *y)
{
    const run_row *a = x, *b = y;
    int c = strcmp(a->date, b->date);
    return c ? c : a->order - b->order;
}

static char *dup_attr(const qlab_results_data *d, const char *key, const char *dflt)
{
    const char *v = qlab_results_attr(d, key);
    return strdup(v && *v ? v : dflt);
}

/* TSV fields must not hold tabs or newlines. */
static void tsv_field(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' ? ' ' : *s, f);
}

static void write_tsv(FILE *f, const char *metric, const run_row *r, const int *step, int64_t n)
{
    fprintf(f, "commit\tdate\tdevice\t%s\tnoise\tstep\tfile\n", metric);
    for (int64_t i = 0; i < n; i++) {
        tsv_field(f, r[i].commit);
        fputc('\t', f);
        tsv_field(f, r[i].date);
        fputc('\t', f);
        tsv_field(f, r[i].device);
        fprintf(f, "\t%.10g\t%.6g\t%d\t", r[i].value, r[i].noise, step[i]);
        tsv_field(f, r[i].file);
        fputc('\n', f);
    }
}

/* Runs history.gp once for term ("png" | "pdf"). Returns 0 or 2 with err. */
static int draw(const char *scripts, const char *tsv, const char *out, const char *term, const char *metric,
                const char *title, char *err, size_t err_len)
{
    char script[4200], q_tsv[4200], q_out[4200], q_scr[4200], q_m[200], q_t[1200], gp[4096];
    snprintf(script, sizeof script, "%s/history.gp", scripts);
    if (qlab_gp_find(gp, sizeof gp)) {
        qlab_set_err(err, err_len, "history: gnuplot not found on PATH (install gnuplot-nox, or set QLAB_GNUPLOT)");
        return 2;
    }
    qlab_gp_quote(tsv, q_tsv, sizeof q_tsv);
    qlab_gp_quote(out, q_out, sizeof q_out);
    qlab_gp_quote(scripts, q_scr, sizeof q_scr);
    qlab_gp_quote(metric, q_m, sizeof q_m);
    qlab_gp_quote(title, q_t, sizeof q_t);
    char *e = NULL;
    if (asprintf(&e, "tsv=%s; out=%s; scripts=%s; metric=%s; ttl=%s; term='%s'", q_tsv, q_out, q_scr, q_m, q_t,
                 term) < 0) {
        qlab_set_err(err, err_len, "history: out of memory");
        return 2;
    }
    int killed;
    char msg[1024];
    int rc = qlab_gp_run(gp, e, script, out, &killed, msg, sizeof msg);
    free(e);
    if (rc == 3) {
        qlab_set_err(err, err_len, "history: %s", msg);
        return 2;
    }
    if (rc != 0) {
        qlab_set_err(err, err_len, "history: gnuplot failed on %s for %s: %s", script, out, msg);
        return 2;
    }
    return 0;
}

int qlab_history(const char *const *files, int n_files, const qlab_history_opts *o, FILE *out, FILE *log,
                 char *err, size_t err_len)
{
    const qlab_column *mc = o->metric ? qlab_results_column("points", o->metric) : NULL;
    if (!mc || is_axis(mc) || mc->kind == QLAB_COL_STR || mc->kind == QLAB_COL_STATUS) {
        qlab_set_err(err, err_len,
                "history: --metric '%s' is not a numeric /points column (e.g. rel_err, sqnr_db, median_us, tops, "
                "w_bytes)",
                o->metric ? o->metric : "");
        return 2;
    }
    qlab_filter *filt = calloc(1, sizeof *filt);
    run_row *runs = calloc((size_t)n_files + 1, sizeof *runs);
    int *step = calloc((size_t)n_files + 1, sizeof *step);
    double *vals = calloc((size_t)n_files + 1, sizeof *vals), *noise = calloc((size_t)n_files + 1, sizeof *noise);
    int64_t n = 0;
    int rc = 0;
    if (!filt || !runs || !step || !vals || !noise) {
        qlab_set_err(err, err_len, "history: out of memory");
        rc = 2;
        goto done;
    }
    for (int i = 0; i < o->n_filters; i++)
        if (qlab_filter_add(filt, o->filters[i], "history: --point", err, err_len)) {
            rc = 2;
            goto done;
        }
    for (int f = 0; f < n_files && rc == 0; f++) {
        qlab_results_data d;
        memset(&d, 0, sizeof d);
        if (qlab_results_read(files[f], &d, err, err_len)) {
            rc = 2;
            break;
        }
        int64_t hit = -1, hits = 0;
        for (int64_t i = 0; i < d.n_points; i++) {
            if (d.points[i].status != QLAB_STATUS_OK)
                continue;
            if (qlab_filter_matches(filt, &d.points[i])) {
                if (hits++ == 0)
                    hit = i;
            }
        }
        if (hits > 1) {
            qlab_set_err(err, err_len,
                    "history: %lld points of %s match; choose one with --point KEY=VALUE on the axes that differ "
                    "(qlab export %s lists them)",
                    (long long)hits, files[f], files[f]);
            rc = 2;
        } else if (hits == 0) {
            if (log)
                fprintf(log, "history: %s has no ok point matching the filters; left out\n", files[f]);
        } else {
            const qlab_row *r = &d.points[hit];
            run_row *x = &runs[n];
            x->commit = dup_attr(&d, "git_commit", "?");
            x->date = dup_attr(&d, "started_utc", "?");
            x->device = dup_attr(&d, "device", r->backend[0] ? r->backend : "?");
            x->file = files[f];
            x->order = f;
            x->value = col_num(r, mc);
            x->noise = 0;
            if (is_time_metric(o->metric) && r->t.median_us > 0 && r->t.q3_us >= r->t.q1_us)
                x->noise = fabs(x->value) * (r->t.q3_us - r->t.q1_us) / (2 * r->t.median_us);
            n++;
        }
        qlab_results_data_free(&d);
    }
    if (rc)
        goto done;
    if (n == 0) {
        qlab_set_err(err, err_len, "history: no file has a point matching the filters");
        rc = 2;
        goto done;
    }
    qsort(runs, (size_t)n, sizeof *runs, cmp_run);
    for (int64_t i = 0; i < n; i++) {
        vals[i] = runs[i].value;
        noise[i] = runs[i].noise;
    }
    qlab_history_steps(vals, noise, n, step);

    const char *dir = o->out_dir ? o->out_dir : "plots/out";
    if (qlab_mkdir_p(dir)) {
        qlab_set_err(err, err_len, "history: cannot create %s: %s", dir, strerror(errno));
        rc = 2;
        goto done;
    }
    char tsv[4200], fig[4200];
    snprintf(tsv, sizeof tsv, "%s/history-%s.tsv", dir, o->metric);
    FILE *tf = fopen(tsv, "w");
    if (!tf) {
        qlab_set_err(err, err_len, "history: cannot write %s: %s", tsv, strerror(errno));
        rc = 2;
        goto done;
    }
    write_tsv(tf, o->metric, runs, step, n);
    if (fclose(tf)) {
        qlab_set_err(err, err_len, "history: writing %s failed: %s", tsv, strerror(errno));
        rc = 2;
        goto done;
    }
    if (out)
        write_tsv(out, o->metric, runs, step, n);
    if (log)
        fprintf(log, "history: %s\n", tsv);

    char scripts[4096], title[1024];
    if (qlab_gp_find_scripts("history.gp", scripts, sizeof scripts)) {
        qlab_set_err(err, err_len, "history: no plots/history.gp in %s (set QLAB_PLOTS to the plots/ folder of the "
                     "qlab tree); the TSV is written", scripts);
        rc = 2;
        goto done;
    }
    size_t to = (size_t)snprintf(title, sizeof title, "%s", o->metric);
    for (int i = 0; i < o->n_filters && to < sizeof title; i++)
        to += (size_t)snprintf(title + to, sizeof title - to, "%s%s", i ? ", " : " at ", o->filters[i]);
    static const char *const terms[] = {"png", "pdf"};
    for (int t = 0; t < 2 && rc == 0; t++) {
        snprintf(fig, sizeof fig, "%s/history-%s.%s", dir, o->metric, terms[t]);
        rc = draw(scripts, tsv, fig, terms[t], o->metric, title, err, err_len);
        if (rc == 0 && log)
            fprintf(log, "history: %s\n", fig);
    }

done:
    for (int64_t i = 0; runs && i < n; i++) {
        free(runs[i].commit);
        free(runs[i].date);
        free(runs[i].device);
    }
    free(filt);
    free(runs);
    free(step);
    free(vals);
    free(noise);
    return rc;
}

static const char *usage_history =
    "usage: qlab history FILE... --metric M [--point KEY=VALUE]... [-o DIR]\n"
    "\n"
    "Follows metric M of one point across runs (results files of one experiment,\n"
    "e.g. the baseline of each commit), ordered by start time: prints a TSV (commit,\n"
    "date, device, value, noise, step, file), writes it to DIR/history-M.tsv and draws\n"
    "DIR/history-M.png and .pdf (default DIR plots/out) with step changes marked: a\n"
    "change larger than three times the noise of the runs around it (any change of an\n"
    "exact metric such as rel_err or w_bytes).\n"
    "\n"
    "  --metric M          a numeric /points column: rel_err, sqnr_db, median_us, tops, w_bytes, ...\n"
    "  --point KEY=VALUE   select the point by its axis values (repeat; needed when the\n"
    "                      files hold more than one point)\n"
    "  -o, --output DIR    where the TSV and figures go\n";

int qlab_history_main(int argc, char **argv, FILE *out, FILE *errf)
{
    qlab_history_opts o = {0};
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    const char **filters = calloc((size_t)argc + 1, sizeof *filters);
    int n_files = 0, rc = 0;
    if (!files || !filters) {
        free(files);
        free(filters);
        return 2;
    }
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_history, out);
            free(files);
            free(filters);
            return 0;
        } else if (!strcmp(a, "--metric") && v) {
            o.metric = v;
            i++;
        } else if (!strcmp(a, "--point") && v) {
            filters[o.n_filters++] = v;
            i++;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && v) {
            o.out_dir = v;
            i++;
        } else if (a[0] == '-') {
            fprintf(errf, "qlab: unknown option or missing value '%s'\n\n%s", a, usage_history);
            rc = 2;
        } else {
            files[n_files++] = a;
        }
    }
    if (rc == 0 && (!o.metric || n_files == 0)) {
        fprintf(errf, "qlab: history needs FILE... and --metric M\n\n%s", usage_history);
        rc = 2;
    }
    if (rc == 0) {
        o.filters = filters;
        char err[1024];
        rc = qlab_history(files, n_files, &o, out, errf, err, sizeof err);
        if (rc)
            fprintf(errf, "qlab: %s\n", err);
    }
    free(files);
    free(filters);
    return rc;
}
