/* run.c: the sweep runner.
 *
 * For each point: make (or reuse) the workload's tensors and its float64 reference,
 * hand them to the backend, compute the output metrics against the reference (one
 * code path for every backend), and append the row and its samples to the results
 * file, which makes them durable before the next point starts. The first SIGINT or
 * SIGTERM prints one line and sets a flag checked between points: the run stops after
 * the current point, the file is marked interrupted, and `--resume FILE` finishes it
 * later, re-expanding the config stored in the file and running only the points it
 * does not hold. A second signal ends the process at once (_exit from the handler):
 * every point appended before is durable and the file opens and resumes as after a
 * kill -9 (tests/kill_test.sh). Points are deterministic functions of (seed, axis
 * values), so a resumed file equals an uninterrupted run.
 *
 * --shard I/N deals the points to N shards balanced by estimated cost (shard_assign);
 * a shard that would get no point (N larger than the number of points) is an error,
 * not an empty "complete" file.
 */
#include <errno.h>
#include <gnu/libc-version.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "sweep/config.h"
#include "workloads/network.h"
#include "store/results.h"
#include "sweep/run.h"
#include "core/provenance.h"
#include "core/version.h"
#include "workloads/workload.h"


static volatile sig_atomic_t g_stop_signal = 0;

/* The lines the handler writes, composed before it is installed (a handler may only
 * call async-signal-safe functions such as write and _exit). */
static char g_msg_int[QLAB_PATH_LEN * 2 + 256], g_msg_term[QLAB_PATH_LEN * 2 + 256],
            g_msg_now[QLAB_PATH_LEN * 2 + 256];

static void say(const char *msg) { (void)!write(STDERR_FILENO, msg, strlen(msg)); }

static void on_stop_signal(int sig)
{
    if (g_stop_signal) {
        say(g_msg_now);
        _exit(1);
    }
    g_stop_signal = sig;
    say(sig == SIGINT ? g_msg_int : g_msg_term);
}

/* Composes the handler's lines for results file `path`; nl: start them on a new line
 * (a progress line is being redrawn on a terminal). */
static void compose_stop_messages(const char *path, int nl)
{
    const char *pre = nl ? "\n" : "";
    snprintf(g_msg_int, sizeof g_msg_int, "%sqlab: Ctrl-C: stopping after the current point; %s "
             "stays readable and resumable with qlab run --resume %s. Ctrl-C again stops at once.\n",
             pre, path, path);
    snprintf(g_msg_term, sizeof g_msg_term, "%sqlab: SIGTERM: stopping after the current point; %s "
             "stays readable and resumable with qlab run --resume %s. A second signal stops at once.\n",
             pre, path, path);
    snprintf(g_msg_now, sizeof g_msg_now, "%sqlab: second signal: stopped at once; %s keeps every "
             "point finished before it and resumes with qlab run --resume %s\n", pre, path, path);
}

static void utc_compact(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm);
}

/* results/<name>-<utc>.h5, with -2, -3 ... appended if that name exists. */
static void default_output(const char *name, char *out, size_t len)
{
    char ts[32];
    utc_compact(ts, sizeof ts);
    mkdir("results", 0777);
    snprintf(out, len, "results/%s-%s.h5", name, ts);
    for (int i = 2; access(out, F_OK) == 0 && i < 1000; i++)
        snprintf(out, len, "results/%s-%s-%d.h5", name, ts, i);
}

typedef struct {
    qlab_results *r;
    int failed;
} attr_ctx;

static void set_attr_cb(void *ctx, const char *key, const char *value)
{
    attr_ctx *a = ctx;
    char err[256];
    if (!a->failed && qlab_results_set_attr(a->r, key, value, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        a->failed = 1;
    }
}

/* The 1, 5 and 15 minute load averages ("0.12 0.30 0.25"), or "unknown". */
static void load_avg(char *buf, size_t len)
{
    double a[3];
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf %lf %lf", &a[0], &a[1], &a[2]) == 3)
        snprintf(buf, len, "%.2f %.2f %.2f", a[0], a[1], a[2]);
    else
        snprintf(buf, len, "unknown");
    if (f)
        fclose(f);
}

static int write_run_attrs(qlab_results *r, const qlab_experiment *e, const qlab_backend *b,
                           int64_t points_total)
{
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    attr_ctx a = { r, 0 };
    set_attr_cb(&a, "experiment", e->name);
    set_attr_cb(&a, "description", e->description ? e->description : "");
    set_attr_cb(&a, "config", e->text);
    set_attr_cb(&a, "config_source", e->source);
    qlab_provenance(set_attr_cb, &a);   /* versions, commit, compiler, flags, libraries */
    set_attr_cb(&a, "host", host);
    set_attr_cb(&a, "backend", b->name);
    char load[64];
    load_avg(load, sizeof load);
    set_attr_cb(&a, "load_avg_start", load);
    if (b->describe)
        b->describe(set_attr_cb, &a);
    char err[256];
    if (!a.failed && qlab_results_set_attr_int(r, "points_total", points_total, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        a.failed = 1;
    }
    return a.failed;
}

/* Output metrics of y against the reference into row. */
static void fill_metrics(const float *y, const double *y_ref, int64_t m, int64_t n, qlab_row *row)
{
    quant_metrics mt;
    if (quant_metrics_compute(y, y_ref, m, n, &mt) == QUANT_OK) {
        row->rel_err = mt.rel_err;
        row->sqnr_db = mt.sqnr_db;
        row->max_abs_err = mt.max_abs_err;
        row->mean_abs_err = mt.mean_abs_err;
        row->cosine = mt.cosine;
    }
}

static void progress_line(int64_t done, int64_t total, const qlab_point *p, double t0, int tty)
{
    char desc[256];
    qlab_point_describe(p, desc, sizeof desc);
    double el = qlab_now_s() - t0;
    double rate = done > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    if (tty)
        fprintf(stderr, "\r\033[K[%lld/%lld] %.2f pt/s ETA %.0fs  %s", (long long)done + 1,
                (long long)total, rate, eta, desc);
    else
        fprintf(stderr, "[%lld/%lld] %s\n", (long long)done + 1, (long long)total, desc);
    fflush(stderr);
}

/* Estimated cost of a point: its multiply-adds, plus a fixed part for the timing
 * loop and the file write that every point pays whatever its size. */
static double point_cost(const qlab_point *p)
{
    return (double)p->m * (double)p->k * (double)p->n + 1e7;
}

/* Shard of every point, balanced by estimated cost: points in decreasing cost (ties
 * by id) each go to the shard with the least cost so far (ties to the lowest index).
 * Deterministic in the point list alone, so every shard job computes the same
 * partition. Returns a malloc'ed array indexed by point id, or NULL. */
static int *shard_assign(const qlab_experiment *e, int count)
{
    int64_t n = e->n_points;
    int *shard = calloc((size_t)n + 1, sizeof *shard);
    int64_t *order = malloc(((size_t)n + 1) * sizeof *order);
    double *load = calloc((size_t)count, sizeof *load);
    if (!shard || !order || !load) {
        free(shard); free(order); free(load);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    /* Insertion sort is fine for sweep sizes and keeps the order stable. */
    for (int64_t i = 1; i < n; i++) {
        int64_t v = order[i], j = i;
        double cv = point_cost(&e->points[v]);
        while (j > 0 && point_cost(&e->points[order[j - 1]]) < cv) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        for (int s = 1; s < count; s++)
            if (load[s] < load[best])
                best = s;
        shard[order[i]] = best;
        load[best] += point_cost(&e->points[order[i]]);
    }
    free(order);
    free(load);
    return shard;
}

static int in_shard(const qlab_run_opts *o, const int *shard, int64_t id)
{
    return o->shard_count <= 0 || shard[id] == o->shard_index;
}

int qlab_run(const qlab_run_opts *o)
{
    char err[1024] = "";
    qlab_experiment e;
    qlab_results_data prev = { 0 };
    int resuming = o->resume_path != NULL;

    if (resuming) {
        if (qlab_results_read(o->resume_path, &prev, err, sizeof err)) {
            fprintf(stderr, "qlab: %s\n", err);
            return 2;
        }
        const char *status = qlab_results_attr(&prev, "status");
        const char *text = qlab_results_attr(&prev, "config");
        if (status && strcmp(status, "complete") == 0) {
            fprintf(stderr, "qlab: %s: the run is complete; nothing to resume\n", o->resume_path);
            qlab_results_data_free(&prev);
            return 2;
        }
        if (!text) {
            fprintf(stderr, "qlab: %s: no 'config' attribute; cannot resume\n", o->resume_path);
            qlab_results_data_free(&prev);
            return 2;
        }
        if (qlab_experiment_load_string(text, o->resume_path, NULL, 0, &e, err, sizeof err)) {
            fprintf(stderr, "qlab: %s\n", err);
            qlab_results_data_free(&prev);
            return 2;
        }
    } else if (qlab_experiment_load(o->config_path, o->sets, o->n_sets, &e, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        return 2;
    }

    /* A resumed shard keeps its partition: the file says which shard it is. */
    qlab_run_opts eff = *o;
    if (resuming) {
        const char *sh = qlab_results_attr(&prev, "shard");
        if (sh && sscanf(sh, "%d/%d", &eff.shard_index, &eff.shard_count) != 2)
            eff.shard_count = 0;
    }
    o = &eff;
    int *shard = NULL;
    if (o->shard_count > 0 && !(shard = shard_assign(&e, o->shard_count))) {
        fprintf(stderr, "qlab: out of memory assigning %lld points to shards\n", (long long)e.n_points);
        qlab_experiment_free(&e);
        qlab_results_data_free(&prev);
        return 2;
    }
    int64_t total = 0;
    for (int64_t i = 0; i < e.n_points; i++)
        total += in_shard(o, shard, e.points[i].id);
    if (o->shard_count > 0 && (o->shard_index < 0 || o->shard_index >= o->shard_count || total == 0)) {
        /* Greedy cost balancing gives each of the first min(N, points) shards a point
         * before any shard a second one, so a shard is empty exactly when I >= points. */
        if (o->shard_index < 0 || o->shard_index >= o->shard_count)
            fprintf(stderr, "qlab: --shard %d/%d: shard index out of range (0 <= I < N)\n",
                    o->shard_index, o->shard_count);
        else if (e.n_points == 0)
            fprintf(stderr, "qlab: --shard %d/%d: %s has no point to shard\n", o->shard_index,
                    o->shard_count, e.name);
        else
            fprintf(stderr, "qlab: --shard %d/%d: shard %d gets no point: %s has %lld point%s, dealt "
                    "to the N shards balanced by estimated cost, so with N = %d only shards 0..%lld "
                    "get any; use N <= %lld\n", o->shard_index, o->shard_count, o->shard_index,
                    e.name, (long long)e.n_points, e.n_points == 1 ? "" : "s", o->shard_count,
                    (long long)e.n_points - 1, (long long)e.n_points);
        free(shard);
        qlab_experiment_free(&e);
        qlab_results_data_free(&prev);
        return 2;
    }

    if (o->dry_run) {
#ifndef QLAB_HAVE_CUDA
        /* A GPU may be missing here and present where the run goes (a cluster's login
         * node), but a binary without the cuda backend fails everywhere: say so now. */
        const char *bn = o->backend ? o->backend : e.backend;
        if (bn && !strcmp(bn, "cuda")) {
            fprintf(stderr, "qlab: backend cuda: this qlab was built without CUDA (%s)\n", qlab_no_cuda_reason());
            free(shard);
            qlab_experiment_free(&e);
            return 2;
        }
#endif
        for (int64_t i = 0; i < e.n_points; i++) {
            if (!in_shard(o, shard, e.points[i].id))
                continue;
            char desc[256];
            qlab_point_describe(&e.points[i], desc, sizeof desc);
            printf("%5lld  %s\n", (long long)e.points[i].id, desc);
        }
        printf("%lld points", (long long)total);
        if (e.n_skipped)
            printf(" (%lld repeats not run: %s)", (long long)e.n_skipped, e.skip_summary);
        printf("\n");
        free(shard);
        qlab_experiment_free(&e);
        return 0;
    }

    const char *backend_name = o->backend ? o->backend : e.backend;
    if (resuming) {
        const char *b = qlab_results_attr(&prev, "backend");
        if (b)
            backend_name = b;
    }
    char why[512] = "";
    const qlab_backend *b = qlab_backend_select(backend_name, why, sizeof why);
    if (!b) {
        fprintf(stderr, "qlab: %s\n", why);
        free(shard);
        qlab_experiment_free(&e);
        qlab_results_data_free(&prev);
        return 2;
    }
    if (why[0])
        fprintf(stderr, "qlab: %s\n", why);

    /* Open the output before any work, so a bad path costs nothing. */
    char path[QLAB_PATH_LEN];
    qlab_results *r = NULL;
    if (resuming) {
        snprintf(path, sizeof path, "%s", o->resume_path);
        if (qlab_results_open_append(path, &r, err, sizeof err)) {
            fprintf(stderr, "qlab: %s\n", err);
            free(shard);
            qlab_experiment_free(&e);
            qlab_results_data_free(&prev);
            return 2;
        }
    } else {
        if (o->output_path)
            snprintf(path, sizeof path, "%s", o->output_path);
        else
            default_output(e.name, path, sizeof path);
        errno = 0;
        if (qlab_results_create(path, &r, err, sizeof err)) {
            fprintf(stderr, "qlab: %s%s\n", err, errno == EEXIST ?
                    " (choose another name with -o, or continue it with --resume)" : "");
            free(shard);
            qlab_experiment_free(&e);
            return 2;
        }
        if (write_run_attrs(r, &e, b, total)) {
            qlab_results_close(r, "interrupted", err, sizeof err);
            free(shard);
            qlab_experiment_free(&e);
            return 2;
        }
        if (o->shard_count > 0) {
            char shard_txt[64];
            snprintf(shard_txt, sizeof shard_txt, "%d/%d", o->shard_index, o->shard_count);
            set_attr_cb(&(attr_ctx){ r, 0 }, "shard", shard_txt);
        }
    }

    /* Points already in the file (resume): matched by id and axis values. */
    uint8_t *done = calloc((size_t)e.n_points + 1, 1);
    for (int64_t i = 0; i < prev.n_points; i++) {
        int64_t id = prev.points[i].p.id;
        if (id >= 0 && id < e.n_points && qlab_point_same(&prev.points[i].p, &e.points[id]))
            done[id] = 1;
    }
    qlab_results_data_free(&prev);

    int tty = o->progress < 0 ? isatty(STDERR_FILENO) : o->progress;
    compose_stop_messages(path, tty && o->progress != 0);
    g_stop_signal = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    printf("results: %s\n", path);
    fflush(stdout);
    /* Combinations that would repeat a point (a float scheme at every granularity) are
     * not points at all: "not run", never "skipped", which show uses for /points rows. */
    fprintf(stderr, "qlab: %s: %lld points on %s%s%s\n", e.name, (long long)total, b->name,
            e.n_skipped ? "; repeats not run: " : "", e.n_skipped ? e.skip_summary : "");

    qlab_workload wl = { 0 };
    int have_wl = 0;
    qlab_samples samples = { 0 };
    qlab_layers layers = { 0 };
    float *y = NULL;
    size_t y_cap = 0;
    int64_t n_done = 0, n_failed = 0, n_run = 0;
    int rc_io = 0;
    double t0 = qlab_now_s();

    for (int64_t i = 0; i < e.n_points && !g_stop_signal; i++) {
        const qlab_point *p = &e.points[i];
        if (!in_shard(o, shard, p->id))
            continue;
        if (done[p->id]) {
            n_done++;
            continue;
        }
        if (o->progress != 0)
            progress_line(n_done, total, p, t0, tty);

        qlab_row row;
        memset(&row, 0, sizeof row);
        row.p = *p;
        snprintf(row.backend, sizeof row.backend, "%s", b->name);
        qlab_samples_clear(&samples);

        int failed = 0;
        int network = strcmp(p->workload, "chain") == 0 || strcmp(p->workload, "model") == 0;
        layers.n = 0;
        if (network) {
            qlab_network_job job = {
                .p = p, .backend = b, .measure_latency = e.measure_latency,
                .measure_memory = e.measure_memory, .timing = &e.timing,
            };
            int (*fn)(const qlab_network_job *, qlab_row *, qlab_layers *, qlab_samples *,
                      char *, size_t) = p->workload[0] == 'c' ? qlab_chain_run : qlab_model_run;
            failed = fn(&job, &row, &layers, &samples, row.message, sizeof row.message) != 0;
            for (int64_t l = 0; l < layers.n; l++)
                layers.v[l].point_id = p->id;
            goto record;
        }
        uint64_t key = qlab_workload_key(p);
        if (!have_wl || wl.key != key) {
            if (have_wl)
                qlab_workload_free(&wl);
            have_wl = 0;
            if (qlab_workload_make(p, &wl, row.message, sizeof row.message) ||
                (e.measure_error && qlab_workload_reference(&wl, row.message, sizeof row.message))) {
                failed = 1;
                qlab_workload_free(&wl);
            } else {
                have_wl = 1;
            }
        }
        if (!failed) {
            size_t ny = (size_t)(p->m * p->n);
            if (ny > y_cap) {
                free(y);
                y = malloc(ny * sizeof *y);
                y_cap = y ? ny : 0;
            }
            if (!y) {
                snprintf(row.message, sizeof row.message, "out of memory for Y [%lld x %lld]",
                         (long long)p->m, (long long)p->n);
                failed = 1;
            }
        }
        if (!failed) {
            qlab_backend_job job = {
                .p = p, .x = wl.x, .w = wl.w, .bias = wl.bias,
                .measure_latency = e.measure_latency, .measure_memory = e.measure_memory,
                .timing = &e.timing, .skip_error = !e.measure_error,
                /* peak_bytes measures the pipeline, not what earlier points left behind */
                .cache = e.measure_memory ? NULL : wl.cache,
            };
            if (b->run(&job, y, &row, &samples, row.message, sizeof row.message))
                failed = 1;
            else if (e.measure_error)
                fill_metrics(y, wl.y_ref, p->m, p->n, &row);
            else
                qlab_row_set_error_unmeasured(&row);
        }
    record:
        row.status = failed ? QLAB_STATUS_FAILED : QLAB_STATUS_OK;
        if (failed) {
            n_failed++;
            if (tty)
                fprintf(stderr, "\n");
            fprintf(stderr, "qlab: point %lld failed: %s\n", (long long)p->id, row.message);
        }
        /* One durable write for the point and its samples: a kill never splits them. */
        if (qlab_results_append_batch(r, &row, samples.v, samples.n, layers.v, layers.n, err,
                                      sizeof err)) {
            fprintf(stderr, "%sqlab: %s\n", tty ? "\n" : "", err);
            rc_io = 1;
            break;
        }
        n_done++;
        n_run++;
    }
    if (tty && o->progress != 0)
        fprintf(stderr, "\r\033[K");

    int interrupted = g_stop_signal != 0 || rc_io;
    const char *status = interrupted ? "interrupted" : "complete";
    if (o->shard_count > 0 && !interrupted)
        status = "complete";
    char load[64];
    load_avg(load, sizeof load);
    if (qlab_results_set_attr(r, "load_avg_end", load, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        rc_io = 1;
    }
    if (qlab_results_close(r, status, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        rc_io = 1;
    }
    fprintf(stderr, "qlab: %lld points run, %lld failed, %.1f s; %s%s\n", (long long)n_run,
            (long long)n_failed, qlab_now_s() - t0, status,
            g_stop_signal ? " (stopped by signal; finish with --resume)" : "");

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (have_wl)
        qlab_workload_free(&wl);
    qlab_samples_free(&samples);
    qlab_layers_free(&layers);
    free(y);
    free(done);
    free(shard);
    qlab_experiment_free(&e);
    if (rc_io)
        return 2;
    return (n_failed || interrupted) ? 1 : 0;
}
