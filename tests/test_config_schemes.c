/* test_config_schemes.c: the config loader with the fp8, 4-bit and SmoothQuant axes.
 *
 * Point counts are worked out by hand from the normalisation rules: 4-bit schemes
 * keep only the block (X fp16, W blocked), float and 4-bit schemes drop
 * smooth_alpha, int8 and fp8 schemes keep everything.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../harness/config.h"

static char err[1024];

static int load_text(const char *text, qlab_experiment *e)
{
    err[0] = '\0';
    return qlab_experiment_load_string(text, "<test>", NULL, 0, e, err, sizeof err);
}

Test(config_schemes, fourbit_points_keep_only_the_block_and_smooth_alpha_sweeps_int8)
{
    const char *text =
        "name: schemes\n"
        "workload: {kind: synthetic, m: [4], k: [256], n: [8]}\n"
        "quant:\n"
        "  scheme: [fp16, absmax, fp8_e4m3, nf4, fp4_dq]\n"
        "  x_granularity: [tensor, row]\n"
        "  w_granularity: [channel]\n"
        "  block: [64, 128]\n"
        "  smooth_alpha: [0, 0.5]\n";
    qlab_experiment e;
    cr_assert_eq(load_text(text, &e), 0, "%s", err);
    /* fp16: 1; absmax and fp8: 2 x-grans * 2 alphas (block unused) = 4 each;
     * nf4 and fp4_dq: 2 blocks each. */
    cr_assert_eq(e.n_points, 1 + 4 + 4 + 2 + 2, "%lld points", (long long)e.n_points);
    int fourbit = 0, smoothed = 0;
    for (int64_t i = 0; i < e.n_points; i++) {
        const qlab_point *p = &e.points[i];
        if (!strcmp(p->scheme, "nf4") || !strcmp(p->scheme, "fp4_dq")) {
            fourbit++;
            cr_assert_str_empty(p->x_granularity);
            cr_assert_str_eq(p->w_granularity, "block");
            cr_assert(p->block == 64 || p->block == 128);
            cr_assert_eq(p->smooth_alpha, 0.0);
            quant_matmul_opts o;
            char why[256];
            cr_assert_eq(qlab_point_opts(p, &o, why, sizeof why), 0, "%s", why);
            cr_assert_eq(o.w_gran, QUANT_GRAN_BLOCK);
            cr_assert_eq(o.block, p->block);
        }
        if (p->smooth_alpha == 0.5) {
            smoothed++;
            cr_assert(!strcmp(p->scheme, "absmax") || !strcmp(p->scheme, "fp8_e4m3"));
            quant_matmul_opts o;
            char why[256];
            cr_assert_eq(qlab_point_opts(p, &o, why, sizeof why), 0, "%s", why);
            cr_assert_eq(o.smooth_alpha, 0.5f);
        }
    }
    cr_assert_eq(fourbit, 4);
    cr_assert_eq(smoothed, 4);
    qlab_experiment_free(&e);
}

Test(config_schemes, bad_smooth_alpha_and_fourbit_block_are_errors)
{
    qlab_experiment e;
    const char *alpha =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 256, n: 8}\n"
        "quant: {scheme: absmax, smooth_alpha: 1.5}\n";
    cr_assert_eq(load_text(alpha, &e), 2);
    cr_assert_not_null(strstr(err, "smooth_alpha"), "%s", err);
    const char *block =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 256, n: 8}\n"
        "quant: {scheme: nf4, block: 16}\n";
    cr_assert_eq(load_text(block, &e), 2);
    cr_assert_not_null(strstr(err, "32..4096"), "%s", err);
    const char *divide =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 96, n: 8}\n"
        "quant: {scheme: fp4}\n";
    cr_assert_eq(load_text(divide, &e), 2);
    cr_assert_not_null(strstr(err, "does not divide"), "%s", err);
}
