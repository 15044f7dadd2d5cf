/* test_quant_metrics.c: error metrics on hand-computed cases, and the traits table.
 *
 * Every expected value below is worked out by hand in the comment beside it.
 */
#include <criterion/criterion.h>
#include <math.h>
#include "../quant/quant.h"
#include "test_quant_util.h"

Test(quant_metrics, identical_inputs_have_zero_error_and_infinite_sqnr)
{
    float y[6] = {1, -2, 3, 0.5f, 0, 7};
    double r[6] = {1, -2, 3, 0.5, 0, 7};
    quant_metrics mt;
    cr_assert_eq(quant_metrics_compute(y, r, 2, 3, &mt), QUANT_OK);
    cr_assert_eq(mt.rel_err, 0.0);
    cr_assert(isinf(mt.sqnr_db) && mt.sqnr_db > 0);
    cr_assert_eq(mt.max_abs_err, 0.0);
    cr_assert_eq(mt.mean_abs_err, 0.0);
    cr_assert_float_eq(mt.cosine, 1.0, 1e-15);
}

Test(quant_metrics, known_perturbation_gives_20_db)
{
    /* ||Yr|| = ||(3, 4)|| = 5, ||Y - Yr|| = 0.5: rel_err 0.1, sqnr 20 log10(10) = 20 dB. */
    float y[2] = {3.0f, 4.5f};
    double r[2] = {3.0, 4.0};
    quant_metrics mt;
    cr_assert_eq(quant_metrics_compute(y, r, 1, 2, &mt), QUANT_OK);
    cr_assert_float_eq(mt.rel_err, 0.1, 1e-15);
    cr_assert_float_eq(mt.sqnr_db, 20.0, 1e-12);
    cr_assert_eq(mt.max_abs_err, 0.5);
    cr_assert_eq(mt.mean_abs_err, 0.25);
    /* cos = (9 + 18) / (5 * sqrt(29.25)) */
    cr_assert_float_eq(mt.cosine, 27.0 / (5.0 * sqrt(29.25)), 1e-15);
}

Test(quant_metrics, uniform_25_percent_error_gives_12_04_db)
{
    /* Y = 1.25 Yr everywhere: ||Y - Yr|| / ||Yr|| = 0.25 -> 20 log10(4) = 12.04 dB;
     * cosine 1; |Y - Yr| = 0.25 |Yr| = (0.25, 0.5, 1, 2). */
    float y[4];
    double r[4] = {1, -2, 4, 8};
    for (int i = 0; i < 4; i++)
        y[i] = (float)(r[i] * 1.25);
    quant_metrics mt;
    quant_metrics_compute(y, r, 2, 2, &mt);
    cr_assert_float_eq(mt.rel_err, 0.25, 1e-15);
    cr_assert_float_eq(mt.sqnr_db, 12.041199826559248, 1e-12);
    cr_assert_float_eq(mt.cosine, 1.0, 1e-15);
    cr_assert_eq(mt.max_abs_err, 2.0);
    cr_assert_eq(mt.mean_abs_err, (0.25 + 0.5 + 1 + 2) / 4.0);
}

Test(quant_metrics, cosine_of_orthogonal_rows_is_zero)
{
    float y[4] = {1, 0, 0, 2};
    double r[4] = {0, 1, 2, 0};
    quant_metrics mt;
    quant_metrics_compute(y, r, 2, 2, &mt);
    cr_assert_eq(mt.cosine, 0.0);
    /* One identical row and one orthogonal row average to 0.5. */
    float y2[4] = {0, 1, 0, 2};
    quant_metrics_compute(y2, r, 2, 2, &mt);
    cr_assert_float_eq(mt.cosine, 0.5, 1e-15);
}

Test(quant_metrics, zero_rows_follow_the_stated_rules)
{
    /* Row 0: reference zero -> left out of cosine and counted. Row 1: Y zero under a
     * nonzero reference -> cosine 0, as rel_err of that row is 1. */
    float y[4] = {0, 0, 0, 0};
    double r[4] = {0, 0, 3, 4};
    quant_metrics mt;
    quant_metrics_compute(y, r, 2, 2, &mt);
    cr_assert_eq(mt.cosine, 0.0, "the zero-reference row is not averaged in");
    cr_assert_eq(mt.cosine_rows, 1);
    cr_assert_eq(mt.zero_ref_rows, 1);
    cr_assert_eq(mt.rel_err, 1.0);
    cr_assert_float_eq(mt.sqnr_db, 0.0, 1e-15);
    /* A matching row beside a zero-reference row: cosine 1 over the one row. */
    float y2[4] = {5, 5, 3, 4};
    quant_metrics_compute(y2, r, 2, 2, &mt);
    cr_assert_float_eq(mt.cosine, 1.0, 1e-15);
    cr_assert_eq(mt.zero_ref_rows, 1);
    /* Reference all zero, Y not: rel_err is inf, cosine undefined (no row qualifies). */
    float y3[2] = {1, 0};
    double z[2] = {0, 0};
    quant_metrics_compute(y3, z, 1, 2, &mt);
    cr_assert(isinf(mt.rel_err));
    cr_assert(isnan(mt.cosine));
    cr_assert_eq(mt.cosine_rows, 0);
    /* Both all zero: rel_err 0, cosine still undefined, and said so by the counts. */
    float y4[2] = {0, 0};
    quant_metrics_compute(y4, z, 1, 2, &mt);
    cr_assert_eq(mt.rel_err, 0.0);
    cr_assert(isnan(mt.cosine));
    cr_assert_eq(mt.zero_ref_rows, 1);
}

Test(quant_metrics, an_overflowed_output_makes_cosine_undefined_and_counts_why)
{
    /* fp16 overflow: an output element is inf. rel_err is inf, sqnr -inf, and cosine is
     * not a number that could pass for one: NaN with nonfinite = 1 saying why. */
    float y[4] = {INFINITY, 1, 2, 3};
    double r[4] = {1, 1, 2, 3};
    quant_metrics mt;
    cr_assert_eq(quant_metrics_compute(y, r, 2, 2, &mt), QUANT_OK);
    cr_assert(isinf(mt.rel_err));
    cr_assert(isinf(mt.sqnr_db) && mt.sqnr_db < 0);
    cr_assert(isnan(mt.cosine));
    cr_assert_eq(mt.nonfinite, 1);
}

Test(quant_metrics, f32_reference_gives_the_same_numbers)
{
    float y[2] = {3.0f, 4.5f}, r32[2] = {3.0f, 4.0f};
    double r64[2] = {3.0, 4.0};
    quant_metrics a, b;
    quant_metrics_compute(y, r64, 1, 2, &a);
    quant_metrics_compute_f32(y, r32, 1, 2, &b);
    cr_assert_eq(a.rel_err, b.rel_err);
    cr_assert_eq(a.sqnr_db, b.sqnr_db);
    cr_assert_eq(a.cosine, b.cosine);
    cr_assert_eq(quant_metrics_compute(y, NULL, 1, 2, &a), QUANT_ERR_ARG);
    cr_assert_eq(quant_metrics_compute(y, r64, 0, 2, &a), QUANT_ERR_ARG);
}

Test(quant_metrics, rel_err_f32_hand_case)
{
    /* a = (0, 1, 2), b = (0, 0, 2): ||a - b|| = 1, ||b|| = 2, so 1/2. */
    float a[3] = {0, 1, 2}, b[3] = {0, 0, 2}, z[3] = {0, 0, 0};
    cr_assert_eq(quant_rel_err_f32(a, b, 3), 0.5);
    cr_assert_eq(quant_rel_err_f32(z, z, 3), 0.0);
    cr_assert(isinf(quant_rel_err_f32(a, z, 3)));
}

/* ---------------------------------------------------------------------------- */
/* Traits and names                                                             */

Test(quant_traits, table_rows_are_indexed_by_their_enum_and_named_uniquely)
{
    for (int s = 0; s < QUANT_SCHEME_COUNT; s++) {
        const quant_scheme_traits *t = quant_scheme_get((quant_scheme)s);
        cr_assert_not_null(t);
        cr_assert_eq((int)t->id, s);
        cr_assert_eq((int)quant_scheme_from_name(t->name), s);
        cr_assert_not_null(t->roundtrip);
        cr_assert(t->bits == 4 || t->bits == 8 || t->bits == 16 || t->bits == 32);
        cr_assert_eq(t->is_int8, t->kind == QUANT_KIND_INT8);
        if (t->is_int8)
            cr_assert_eq(t->qmax - t->qmin, t->has_zero_point ? 255 : 254);
    }
    cr_assert_null(quant_scheme_get(QUANT_SCHEME_COUNT));
    cr_assert_eq(quant_scheme_from_name("int4"), QUANT_SCHEME_COUNT);
    cr_assert_eq(quant_scheme_from_name(NULL), QUANT_SCHEME_COUNT);
}

Test(quant_traits, granularity_and_outlier_names_round_trip)
{
    for (int g = 0; g < QUANT_GRAN_COUNT; g++)
        cr_assert_eq((int)quant_gran_from_name(quant_gran_name((quant_gran)g)), g);
    cr_assert_str_eq(quant_gran_name(QUANT_GRAN_CHANNEL), "channel");
    cr_assert_eq(quant_gran_from_name("column"), QUANT_GRAN_COUNT);
    cr_assert_str_eq(quant_outlier_weights_name(QUANT_OUTLIER_DEQUANT), "dequant");
    cr_assert_eq(quant_outlier_weights_from_name("fp16"), QUANT_OUTLIER_FP16);
    cr_assert_eq(quant_outlier_weights_from_name("int8"), QUANT_OUTLIER_COUNT);
}

Test(quant_traits, every_status_has_a_distinct_description)
{
    for (int a = 0; a < QUANT_STATUS_COUNT; a++) {
        cr_assert_not_null(quant_status_str((quant_status)a));
        for (int b = 0; b < a; b++)
            cr_assert_str_neq(quant_status_str((quant_status)a), quant_status_str((quant_status)b));
    }
    cr_assert_str_eq(quant_status_str(QUANT_STATUS_COUNT), "unknown status");
}
