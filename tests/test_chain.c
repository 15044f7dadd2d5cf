/* test_chain.c: synthetic residual MLP chains (harness/chain.c) on the cpu backend.
 *
 * Properties of the propagation measurement rather than numbers: a one-layer chain
 * has nothing to inherit, so both modes agree; isolated error stays flat with depth
 * while propagated error grows on a chain with outlier dims; fp32 tracks the float64
 * reference at every layer; runs are deterministic; a shallow chain is the prefix of
 * a deeper one.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "workloads/network.h"

static qlab_point chain_point(int64_t depth, const char *mode, const char *scheme, double scale)
{
    qlab_point p;
    memset(&p, 0, sizeof p);
    p.seed = 11;
    strcpy(p.workload, "chain");
    p.m = 32;
    p.k = p.n = 128;
    p.depth = depth;
    strcpy(p.mode, mode);
    strcpy(p.x.dist, "normal");
    p.x.std = 1.0;
    p.x.outlier_cols = scale > 1 ? 0.02 : 0.0;
    p.x.outlier_scale = scale;
    strcpy(p.w.dist, "normal");
    p.w.std = 1.0 / sqrt(128.0);
    strcpy(p.scheme, scheme);
    if (strcmp(scheme, "absmax") == 0 || strcmp(scheme, "zeropoint") == 0) {
        strcpy(p.x_granularity, "row");
        strcpy(p.w_granularity, "channel");
    }
    return p;
}

typedef struct {
    qlab_row row;
    qlab_layers layers;
} chain_out;

static chain_out run_chain(const qlab_point *p)
{
    chain_out o;
    memset(&o, 0, sizeof o);
    qlab_timing_opts t = {0, 1, 1, 0, 1, 0};
    qlab_network_job job = {.p = p, .backend = &qlab_backend_cpu, .measure_latency = 1,
                            .measure_memory = 1, .timing = &t};
    qlab_samples s = {0};
    char err[512] = "";
    int rc = qlab_chain_run(&job, &o.row, &o.layers, &s, err, sizeof err);
    cr_assert_eq(rc, 0, "chain failed: %s", err);
    cr_assert_eq(o.layers.n, p->depth, "one layer row per layer");
    cr_assert_eq(s.n, 0, "a chain is not timed");
    qlab_samples_free(&s);
    return o;
}

Test(chain, depth_one_gives_identical_metrics_in_both_modes)
{
    qlab_point a = chain_point(1, "propagated", "absmax", 20);
    qlab_point b = chain_point(1, "isolated", "absmax", 20);
    chain_out pa = run_chain(&a), pb = run_chain(&b);
    cr_assert_gt(pa.row.rel_err, 0, "absmax must add some error");
    cr_assert_eq(pa.row.rel_err, pb.row.rel_err);
    cr_assert_eq(pa.row.sqnr_db, pb.row.sqnr_db);
    cr_assert_eq(pa.row.max_abs_err, pb.row.max_abs_err);
    cr_assert_eq(pa.row.mean_abs_err, pb.row.mean_abs_err);
    cr_assert_eq(pa.row.cosine, pb.row.cosine);
    cr_assert_str_eq(pa.layers.v[0].mode, "propagated");
    cr_assert_str_eq(pb.layers.v[0].mode, "isolated");
    cr_assert_str_eq(pa.layers.v[0].layer_name, "layer.0");
    qlab_layers_free(&pa.layers);
    qlab_layers_free(&pb.layers);
}

Test(chain, isolated_error_stays_flat_while_propagated_error_grows)
{
    /* a residual branch small against the stream (w std 0.1/sqrt(width)), as in deep
     * trained networks: the stream then carries inherited error forward instead of
     * the LayerNorm washing it out (see chain.c) */
    const int64_t depth = 24;
    qlab_point a = chain_point(depth, "propagated", "absmax", 20);
    qlab_point b = chain_point(depth, "isolated", "absmax", 20);
    a.w.std = b.w.std = 0.1 / sqrt(128.0);
    chain_out pa = run_chain(&a), pb = run_chain(&b);
    double iso_max = 0, iso_min = INFINITY;
    for (int64_t l = 0; l < depth; l++) {
        iso_max = fmax(iso_max, pb.layers.v[l].rel_err);
        iso_min = fmin(iso_min, pb.layers.v[l].rel_err);
    }
    /* isolated: every layer adds about the same local error */
    cr_assert_lt(iso_max, 1.5 * iso_min, "isolated rel_err spans %g..%g", iso_min, iso_max);
    /* propagated: the last layer carries the error of all the layers before it */
    double first = pa.layers.v[0].rel_err, last = pa.layers.v[depth - 1].rel_err;
    cr_assert_gt(last, 2.5 * first, "propagated rel_err %g at layer 0, %g at layer %lld", first, last,
                 (long long)depth - 1);
    cr_assert_gt(last, 2.5 * pb.layers.v[depth - 1].rel_err);
    cr_assert_eq(pa.row.rel_err, last, "the point's row holds the final hidden state's metrics");
    qlab_layers_free(&pa.layers);
    qlab_layers_free(&pb.layers);
}

Test(chain, fp32_tracks_the_float64_reference_at_every_layer)
{
    qlab_point p = chain_point(16, "propagated", "fp32", 20);
    chain_out o = run_chain(&p);
    for (int64_t l = 0; l < p.depth; l++) {
        cr_assert_lt(o.layers.v[l].rel_err, 1e-5, "layer %lld: %g", (long long)l, o.layers.v[l].rel_err);
        cr_assert_gt(o.layers.v[l].cosine, 1 - 1e-9);
    }
    qlab_layers_free(&o.layers);
}

Test(chain, runs_are_deterministic)
{
    qlab_point p = chain_point(6, "propagated", "zeropoint", 20);
    chain_out a = run_chain(&p), b = run_chain(&p);
    for (int64_t l = 0; l < p.depth; l++) {
        cr_assert_eq(a.layers.v[l].rel_err, b.layers.v[l].rel_err);
        cr_assert_eq(a.layers.v[l].max_abs_err, b.layers.v[l].max_abs_err);
        cr_assert_eq(a.layers.v[l].cosine, b.layers.v[l].cosine);
    }
    cr_assert_eq(a.row.w_bytes, b.row.w_bytes);
    qlab_layers_free(&a.layers);
    qlab_layers_free(&b.layers);
}

Test(chain, a_shallow_chain_is_the_prefix_of_a_deeper_one)
{
    qlab_point s = chain_point(3, "propagated", "absmax", 20);
    qlab_point d = chain_point(7, "propagated", "absmax", 20);
    chain_out a = run_chain(&s), b = run_chain(&d);
    for (int64_t l = 0; l < 3; l++)
        cr_assert_eq(a.layers.v[l].rel_err, b.layers.v[l].rel_err, "layer %lld", (long long)l);
    qlab_layers_free(&a.layers);
    qlab_layers_free(&b.layers);
}

Test(chain, outlier_dims_persist_to_every_linear_and_sums_fill_the_row)
{
    /* 2% of 128 = 3 outlier dims at 20x: LLM.int8() at threshold 6 must see them at
     * every layer, not only the first */
    qlab_point p = chain_point(8, "propagated", "absmax", 20);
    p.threshold = 6;
    strcpy(p.outlier_weights, "fp16");
    chain_out o = run_chain(&p);
    int64_t sum = 0;
    for (int64_t l = 0; l < p.depth; l++) {
        cr_assert_geq(o.layers.v[l].outlier_cols, 3, "layer %lld saw %lld outlier columns",
                      (long long)l, (long long)o.layers.v[l].outlier_cols);
        sum += o.layers.v[l].outlier_cols;
    }
    cr_assert_eq(o.row.outlier_cols, sum);
    cr_assert_float_eq(o.row.outlier_frac, (double)sum / (128.0 * 8), 1e-15);
    /* int8 codes + float32 scales per output channel + fp16 outlier columns, each layer */
    cr_assert_geq(o.row.w_bytes, 8 * (128 * 128 + 128 * 4));
    cr_assert_eq(o.row.w_bytes_fp16, 8 * 2 * 128 * 128);
    qlab_layers_free(&o.layers);
}

Test(chain, bad_shapes_and_modes_are_refused_with_2)
{
    qlab_point p = chain_point(2, "sideways", "fp16", 1);
    qlab_timing_opts t = {0, 1, 1, 0, 1, 0};
    qlab_network_job job = {.p = &p, .backend = &qlab_backend_cpu, .timing = &t};
    qlab_row row;
    qlab_layers l = {0};
    char err[256];
    memset(&row, 0, sizeof row);
    cr_assert_eq(qlab_chain_run(&job, &row, &l, NULL, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "'sideways'"), "%s", err);
    p = chain_point(2, "propagated", "fp16", 1);
    p.n = 64;
    cr_assert_eq(qlab_chain_run(&job, &row, &l, NULL, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "width = k = n"), "%s", err);
    cr_assert_eq(l.n, 0);
}
