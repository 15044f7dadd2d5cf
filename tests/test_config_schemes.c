/* test_config_schemes.c: the config loader with the fp8, 4-bit and SmoothQuant axes.
 *
 * Point counts are worked out by hand from the normalisation rules: 4-bit schemes
 * keep only the block (X fp16, W blocked), float and 4-bit schemes drop
 * smooth_alpha, int8 and fp8 schemes keep everything.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "sweep/config.h"

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

/* fp8 scales are per tensor or per row (X) and per tensor or per channel (W): quant/
 * has no fp8 block scales. Asked for directly, that is a config error at the
 * granularity's value; met where a sweep crosses the scheme and granularity axes,
 * the combination is skipped with its reason and the rest of the sweep runs. */
Test(config_schemes, fp8_with_block_granularity_is_an_error_when_asked_for_directly)
{
    qlab_experiment e;
    const char *w_block =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 256, n: 8}\n"
        "quant:\n"
        "  scheme: fp8_e4m3\n"
        "  w_granularity: block\n";
    cr_assert_eq(load_text(w_block, &e), 2);
    cr_assert_not_null(strstr(err, "<test>:5:18: key 'quant.w_granularity'"), "%s", err);
    cr_assert_not_null(strstr(err, "fp8_e4m3"), "%s", err);
    cr_assert_not_null(strstr(err, "(value 'block')"), "%s", err);

    const char *x_block =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 256, n: 8}\n"
        "quant: {scheme: fp8_e5m2, x_granularity: block, block: 32}\n";
    cr_assert_eq(load_text(x_block, &e), 2);
    cr_assert_not_null(strstr(err, "key 'quant.x_granularity'"), "%s", err);
    cr_assert_not_null(strstr(err, "fp8_e5m2"), "%s", err);

    /* block not dividing k is not what is wrong with this point */
    const char *odd =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 250, n: 8}\n"
        "quant: {scheme: fp8_e4m3, w_granularity: block, block: 64}\n";
    cr_assert_eq(load_text(odd, &e), 2);
    cr_assert_not_null(strstr(err, "quant.w_granularity"), "%s", err);

    /* zipped together, the pair is stated directly too */
    const char *zipped =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 256, n: 8}\n"
        "quant:\n"
        "  scheme: [absmax, fp8_e4m3]\n"
        "  w_granularity: [block, block]\n"
        "zip: [[scheme, w_granularity]]\n";
    cr_assert_eq(load_text(zipped, &e), 2);
    cr_assert_not_null(strstr(err, "<test>:5:26: key 'quant.w_granularity'"), "%s", err);

    /* a crossing where every point is unsupported leaves nothing to run */
    const char *all =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 256, n: 8}\n"
        "quant: {scheme: [fp8_e4m3, fp8_e5m2], w_granularity: block}\n";
    cr_assert_eq(load_text(all, &e), 2);
    cr_assert_not_null(strstr(err, "no point of the sweep is left"), "%s", err);
}

Test(config_schemes, fp8_with_block_granularity_in_a_crossing_is_skipped_with_its_reason)
{
    const char *text =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 256, n: 8}\n"
        "quant:\n"
        "  scheme: [absmax, fp8_e4m3, fp8_e5m2, nf4]\n"
        "  x_granularity: [row, block]\n"
        "  w_granularity: [channel, block]\n";
    qlab_experiment e;
    cr_assert_eq(load_text(text, &e), 0, "%s", err);
    /* absmax: 4 pairs; each fp8: only row/channel (3 pairs skipped); nf4: 1 point
     * (its 3 repeats skipped as 4-bit schemes ignore granularity) */
    cr_assert_eq(e.n_points, 4 + 1 + 1 + 1, "%lld points", (long long)e.n_points);
    cr_assert_eq(e.n_skipped, 3 + 3 + 3, "%lld skipped", (long long)e.n_skipped);
    cr_assert_not_null(strstr(e.skip_summary, "fp8 schemes have no block scales (x/w granularity block) (6)"),
                       "%s", e.skip_summary);
    for (int64_t i = 0; i < e.n_points; i++) {
        const qlab_point *p = &e.points[i];
        cr_assert_eq(p->id, i, "ids stay dense");
        if (strncmp(p->scheme, "fp8", 3) == 0) {
            cr_assert_str_eq(p->x_granularity, "row");
            cr_assert_str_eq(p->w_granularity, "channel");
            /* what is kept runs: quant/ supports it */
            quant_matmul_opts o;
            char why[256];
            cr_assert_eq(qlab_point_opts(p, &o, why, sizeof why), 0, "%s", why);
            float x[4 * 256], w[8 * 256], y[4 * 8];
            for (int j = 0; j < 4 * 256; j++) x[j] = (float)((j % 7) - 3);
            for (int j = 0; j < 8 * 256; j++) w[j] = (float)((j % 5) - 2) * 0.01f;
            cr_assert_eq(quant_matmul_scheme(x, w, 4, 256, 8, &o, y, NULL), QUANT_OK);
        }
    }
    qlab_experiment_free(&e);

    /* the scheme fixed, a granularity list crossing it: the same */
    const char *one =
        "name: s\nworkload: {kind: synthetic, m: 4, k: 256, n: [8, 16]}\n"
        "quant: {scheme: fp8_e4m3, w_granularity: [tensor, channel, block]}\n";
    cr_assert_eq(load_text(one, &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 4);
    cr_assert_eq(e.n_skipped, 2);
    cr_assert_not_null(strstr(e.skip_summary, "fp8 schemes have no block scales"), "%s", e.skip_summary);
    qlab_experiment_free(&e);

    /* reloading the stored text gives the same points (resume) */
    cr_assert_eq(load_text(text, &e), 0, "%s", err);
    qlab_experiment r;
    cr_assert_eq(qlab_experiment_load_string(e.text, "<stored>", NULL, 0, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.n_points, e.n_points);
    for (int64_t i = 0; i < e.n_points; i++)
        cr_assert(qlab_point_same(&e.points[i], &r.points[i]));
    qlab_experiment_free(&r);
    qlab_experiment_free(&e);
}
