/* test_config.c: the experiment config loader (harness/config.c).
 *
 * Valid fixtures expand to point counts worked out by hand from DESIGN section 6's
 * rules (product, zip, presets, normalisation, de-duplication); each kind of bad
 * fixture must give return 2 and a message naming file, line, key and value;
 * --set overrides, the round trip of exp.text and the point order are checked too.
 * Fixtures live in tests/data/configs/ and are referenced from the repository root,
 * where `make test` runs the tests.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "sweep/config.h"
#include "store/dump.h"

#define CFG_DIR "tests/data/configs/"

static char err[1024];

static int load(const char *file, const char *const *sets, int n_sets, qlab_experiment *e)
{
    err[0] = '\0';
    return qlab_experiment_load(file, sets, n_sets, e, err, sizeof err);
}

/* Asserts that loading fails with 2 and that the message holds every needle. */
static void expect_error(const char *file, const char *const *sets, int n_sets,
                         const char *const *needles)
{
    qlab_experiment e;
    int rc = load(file, sets, n_sets, &e);
    cr_assert_eq(rc, 2, "%s should fail with 2, got %d (%s)", file, rc, err);
    cr_assert_null(e.points, "a failed load leaves the experiment freed");
    for (int i = 0; needles[i]; i++)
        cr_assert_not_null(strstr(err, needles[i]), "message '%s' lacks '%s'", err, needles[i]);
}

static int count_where_scheme(const qlab_experiment *e, const char *scheme)
{
    int n = 0;
    for (int64_t i = 0; i < e->n_points; i++) n += !strcmp(e->points[i].scheme, scheme);
    return n;
}

/* ---------------------------------------------------------------------------- */
/* Valid configs and their point counts                                          */

/* DESIGN's example: 2 m x 3 schemes x 2 x 2 granularities x 5 thresholds = 120.
 * Per m, fp16's 20 points collapse to 1; absmax and zeropoint keep 20 each:
 * 41 per m, 82 in all, 38 skipped. */
Test(config, design_example_expands_to_82_points_with_38_skipped)
{
    qlab_experiment e;
    cr_assert_eq(load(CFG_DIR "design_example.yaml", NULL, 0, &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 82);
    cr_assert_eq(e.n_skipped, 38);
    cr_assert_eq(count_where_scheme(&e, "fp16"), 2);
    cr_assert_eq(count_where_scheme(&e, "absmax"), 40);
    cr_assert_eq(count_where_scheme(&e, "zeropoint"), 40);
    cr_assert_str_eq(e.skip_summary,
                     "float schemes ignore granularity, block, threshold and outlier_weights (38)");
    cr_assert_str_eq(e.name, "outlier-threshold");
    cr_assert_eq(e.seed, 7);
    cr_assert_str_eq(e.backend, "auto");
    for (int64_t i = 0; i < e.n_points; i++) {
        cr_assert_eq(e.points[i].id, i);
        cr_assert_eq(e.points[i].seed, 7);
        cr_assert_str_eq(e.points[i].workload, "synthetic");
        cr_assert_str_eq(e.points[i].path, "");
        cr_assert_str_eq(e.points[i].layer, "");
        cr_assert_eq(e.points[i].x.outlier_scale, 20.0);
        cr_assert_eq(e.points[i].x.outlier_cols, 0.001);
    }
    qlab_experiment_free(&e);
}

/* The first axis in the document (m) varies slowest, the last (threshold) fastest. */
Test(config, order_follows_document_with_first_axis_slowest)
{
    qlab_experiment e;
    cr_assert_eq(load(CFG_DIR "design_example.yaml", NULL, 0, &e), 0, "%s", err);
    const qlab_point *p = e.points;
    cr_assert_str_eq(p[0].scheme, "fp16");
    cr_assert_eq(p[0].m, 512);
    cr_assert_str_eq(p[0].x_granularity, "");
    cr_assert_eq(p[0].threshold, 0.0);
    cr_assert_str_eq(p[1].scheme, "absmax");
    cr_assert_str_eq(p[1].x_granularity, "tensor");
    cr_assert_str_eq(p[1].w_granularity, "tensor");
    cr_assert_eq(p[1].threshold, 0.0);
    cr_assert_str_eq(p[1].outlier_weights, "");
    cr_assert_eq(p[2].threshold, 2.0);
    cr_assert_str_eq(p[2].outlier_weights, "fp16");
    cr_assert_eq(p[6].threshold, 0.0);
    cr_assert_str_eq(p[6].w_granularity, "channel");
    cr_assert_eq(p[40].m, 512);
    cr_assert_eq(p[41].m, 2048);
    cr_assert_str_eq(p[41].scheme, "fp16");
    cr_assert_str_eq(p[81].scheme, "zeropoint");
    cr_assert_str_eq(p[81].x_granularity, "row");
    cr_assert_str_eq(p[81].w_granularity, "channel");
    cr_assert_eq(p[81].threshold, 8.0);
    qlab_experiment_free(&e);
}

Test(config, loading_twice_gives_identical_points)
{
    qlab_experiment a, b;
    cr_assert_eq(load(CFG_DIR "design_example.yaml", NULL, 0, &a), 0, "%s", err);
    cr_assert_eq(load(CFG_DIR "design_example.yaml", NULL, 0, &b), 0, "%s", err);
    cr_assert_eq(a.n_points, b.n_points);
    for (int64_t i = 0; i < a.n_points; i++) {
        cr_assert(qlab_point_same(&a.points[i], &b.points[i]), "point %lld differs", (long long)i);
        cr_assert_eq(a.points[i].id, b.points[i].id);
    }
    qlab_experiment_free(&a);
    qlab_experiment_free(&b);
}

/* zip [[m, k, n], [outlier_cols, outlier_scale]]: 3 shapes x 2 outlier settings x
 * 2 schemes = 12, not 3*3*3*2*2*2. */
Test(config, zip_groups_advance_together)
{
    qlab_experiment e;
    cr_assert_eq(load(CFG_DIR "zip.yaml", NULL, 0, &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 12);
    cr_assert_eq(e.n_skipped, 0);
    static const int64_t mkn[3][3] = {{128, 256, 64}, {256, 512, 128}, {512, 1024, 256}};
    for (int64_t i = 0; i < e.n_points; i++) {
        const qlab_point *p = &e.points[i];
        int s = (int)(i / 4);   /* shape is the slowest axis: 4 points per shape */
        cr_assert_eq(p->m, mkn[s][0]);
        cr_assert_eq(p->k, mkn[s][1]);
        cr_assert_eq(p->n, mkn[s][2]);
        int o = (int)(i / 2) % 2;
        cr_assert_eq(p->x.outlier_cols, o ? 0.02 : 0.01);
        cr_assert_eq(p->x.outlier_scale, o ? 20.0 : 10.0);
        cr_assert_str_eq(p->scheme, i % 2 ? "zeropoint" : "absmax");
        cr_assert_eq(p->seed, 3);
    }
    qlab_experiment_free(&e);
}

/* 16 product points. The 8 llm_int8 ones all become absmax row/channel t=6 and
 * differ only in outlier_weights: 2 kept. Of the 8 absmax ones, the two t=0
 * dequant points repeat their fp16 twins and the two row t=6 points repeat the
 * llm_int8 ones: 4 kept. 6 kept, 10 skipped (8 by the preset, 2 by ow at t=0). */
Test(config, llm_int8_preset_expands_and_repeats_are_skipped)
{
    qlab_experiment e;
    cr_assert_eq(load(CFG_DIR "presets.yaml", NULL, 0, &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 6);
    cr_assert_eq(e.n_skipped, 10);
    cr_assert_eq(count_where_scheme(&e, "llm_int8"), 0, "the preset is expanded");
    const qlab_point *p = e.points;
    cr_assert_str_eq(p[0].scheme, "absmax");
    cr_assert_str_eq(p[0].x_granularity, "row");
    cr_assert_str_eq(p[0].w_granularity, "channel");
    cr_assert_eq(p[0].threshold, 6.0);
    cr_assert_str_eq(p[0].outlier_weights, "fp16");
    cr_assert_str_eq(p[1].outlier_weights, "dequant");
    cr_assert_str_eq(p[2].x_granularity, "tensor");
    cr_assert_eq(p[2].threshold, 0.0);
    cr_assert_str_eq(p[2].outlier_weights, "");
    cr_assert_not_null(strstr(e.skip_summary, "llm_int8 preset equals a swept absmax setting (8)"),
                       "%s", e.skip_summary);
    cr_assert_not_null(strstr(e.skip_summary, "outlier_weights unused at threshold 0 (2)"), "%s",
                       e.skip_summary);
    qlab_experiment_free(&e);
}

/* 2 x 2 granularities x 2 blocks = 8; only row/channel ignores block: 7 kept. */
Test(config, block_is_kept_only_where_a_granularity_is_block)
{
    qlab_experiment e;
    cr_assert_eq(load(CFG_DIR "blocks.yaml", NULL, 0, &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 7);
    cr_assert_eq(e.n_skipped, 1);
    cr_assert_str_eq(e.points[0].x_granularity, "row");
    cr_assert_str_eq(e.points[0].w_granularity, "channel");
    cr_assert_eq(e.points[0].block, 0);
    cr_assert_eq(e.points[1].block, 32);
    cr_assert_eq(e.points[2].block, 64);
    cr_assert_not_null(strstr(e.skip_summary, "block unused"), "%s", e.skip_summary);
    qlab_experiment_free(&e);
}

Test(config, defaults_fill_every_unset_key)
{
    qlab_experiment e;
    cr_assert_eq(load(CFG_DIR "minimal.yaml", NULL, 0, &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 1);
    cr_assert_eq(e.n_skipped, 0);
    cr_assert_str_eq(e.skip_summary, "");
    cr_assert_str_eq(e.description, "");
    cr_assert_str_eq(e.backend, "auto");
    cr_assert_eq(e.seed, 0);
    cr_assert(e.measure_error && e.measure_latency && e.measure_memory);
    cr_assert_eq(e.timing.warmup, 10);
    cr_assert_eq(e.timing.min_samples, 10);
    cr_assert_eq(e.timing.max_noise, 0.005);
    cr_assert_eq(e.timing.min_time_s, 0.2);
    cr_assert_eq(e.timing.timeout_s, 10.0);
    const qlab_point *p = &e.points[0];
    cr_assert_str_eq(p->scheme, "zeropoint");
    cr_assert_str_eq(p->x_granularity, "row");
    cr_assert_str_eq(p->w_granularity, "channel");
    cr_assert_eq(p->block, 0);
    cr_assert_eq(p->threshold, 0.0);
    cr_assert_str_eq(p->x.dist, "normal");
    cr_assert_eq(p->x.std, 1.0);
    cr_assert_eq(p->x.outlier_cols, 0.0);
    cr_assert_str_eq(p->w.dist, "normal");
    cr_assert_eq(p->w.std, 0.02);
    qlab_experiment_free(&e);
}

/* ---------------------------------------------------------------------------- */
/* Bad configs: return 2, message with file:line, key and value                  */

Test(config, unknown_scheme_names_line_key_value_and_suggests)
{
    expect_error(CFG_DIR "bad_scheme.yaml", NULL, 0,
                 (const char *[]){"bad_scheme.yaml:5:", "key 'quant.scheme'", "'absmx'",
                                  "did you mean 'absmax'", NULL});
}

Test(config, unknown_key_suggests_the_near_key)
{
    expect_error(CFG_DIR "bad_key.yaml", NULL, 0,
                 (const char *[]){"bad_key.yaml:6:3:", "quant.treshold", "unknown key",
                                  "did you mean 'quant.threshold'", NULL});
}

Test(config, string_where_an_integer_is_due_is_an_error)
{
    expect_error(CFG_DIR "bad_type.yaml", NULL, 0,
                 (const char *[]){"bad_type.yaml:3:", "key 'workload.m'", "integer", "'big'",
                                  NULL});
}

Test(config, non_positive_m_is_an_error)
{
    expect_error(CFG_DIR "bad_m.yaml", NULL, 0,
                 (const char *[]){"bad_m.yaml:5:", "key 'workload.m'", "> 0", "value '0'", NULL});
}

Test(config, negative_threshold_is_an_error)
{
    expect_error(CFG_DIR "bad_threshold.yaml", NULL, 0,
                 (const char *[]){"bad_threshold.yaml:5:", "key 'quant.threshold'", ">= 0",
                                  "value '-2'", NULL});
}

Test(config, non_positive_std_is_an_error)
{
    expect_error(CFG_DIR "bad_std.yaml", NULL, 0,
                 (const char *[]){"bad_std.yaml:6:", "key 'workload.x.std'", "> 0",
                                  "value '-1'", NULL});
}

Test(config, unknown_distribution_lists_the_known_ones)
{
    expect_error(CFG_DIR "bad_dist.yaml", NULL, 0,
                 (const char *[]){"bad_dist.yaml:6:", "key 'workload.w.dist'", "'gaussian'",
                                  "student_t", NULL});
}

Test(config, block_not_dividing_k_names_block_and_k)
{
    expect_error(CFG_DIR "bad_block.yaml", NULL, 0,
                 (const char *[]){"bad_block.yaml:6:", "key 'quant.block'", "48", "k = 4096",
                                  NULL});
}

Test(config, yaml_syntax_error_is_reported_with_position)
{
    expect_error(CFG_DIR "bad_syntax.yaml", NULL, 0,
                 (const char *[]){"bad_syntax.yaml:5:3:", "duplicate key 'scheme'", NULL});
}

Test(config, a_tab_in_the_indentation_is_named_at_its_own_line)
{
    qlab_experiment e;
    err[0] = '\0';
    cr_assert_eq(qlab_experiment_load_string("name: t\nworkload:\n\tkind: synthetic\n", "t.yaml", NULL, 0, &e,
                                             err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "t.yaml:3:1: YAML syntax error: a tab in the indentation"), "%s", err);
}

/* libfyaml 0.7.12 dereferences a freed indent cleaning up after this syntax error
 * (found by fuzz/fuzz_config.c); parsed first in a child, it is a located error. */
Test(config, text_that_crashes_the_yaml_parser_is_an_error)
{
    static const char *const texts[] = {"? a:\t>p", "name: t\nk:\n  ? a :\t|\n  p\n"};
    static const char *const where[] = {"t.yaml:1:5: a tab before the block scalar indicator '>'",
                                        "t.yaml:3:8: a tab before the block scalar indicator '|'"};
    for (int i = 0; i < 2; i++) {
        qlab_experiment e;
        err[0] = '\0';
        cr_assert_eq(qlab_experiment_load_string(texts[i], "t.yaml", NULL, 0, &e, err, sizeof err), 2);
        cr_assert_not_null(strstr(err, where[i]), "%s", err);
    }
    /* the same tab where libfyaml copes is left to libfyaml: a valid config loads */
    qlab_experiment e;
    cr_assert_eq(qlab_experiment_load_string("name: t\ndescription:\t>\n  two words\n"
                                             "workload: {kind: synthetic, m: 4, k: 4, n: 4}\n"
                                             "quant: {scheme: fp16}\n", "t.yaml", NULL, 0,
                                             &e, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(e.description, "two words\n");
    qlab_experiment_free(&e);
}

/* libfyaml's builder reads the first document only: a second one is an error at its
 * '---', never dropped; a leading '---' and a block scalar holding "---" are fine. */
Test(config, a_second_yaml_document_is_an_error_at_its_marker)
{
    static const char *body = "workload: {kind: synthetic, m: 4, k: 4, n: 4}\nquant: {scheme: fp16}\n";
    char text[512];
    qlab_experiment e;
    snprintf(text, sizeof text, "name: a\n%s---\nname: b\n%s", body, body);
    cr_assert_eq(qlab_experiment_load_string(text, "t.yaml", NULL, 0, &e, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "t.yaml:4:1: a second YAML document starts here"), "%s", err);
    snprintf(text, sizeof text, "name: a\n%s---\n", body);
    cr_assert_eq(qlab_experiment_load_string(text, "t.yaml", NULL, 0, &e, err, sizeof err), 2);
    cr_assert_not_null(strstr(err, "t.yaml:4:1: a second YAML document"), "%s", err);
    snprintf(text, sizeof text, "--- # the one document\nname: a\ndescription: |\n  ---\n  x\n%s...\n", body);
    cr_assert_eq(qlab_experiment_load_string(text, "t.yaml", NULL, 0, &e, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(e.description, "---\nx\n");
    qlab_experiment_free(&e);
}

Test(config, missing_name_is_an_error)
{
    expect_error(CFG_DIR "missing_name.yaml", NULL, 0,
                 (const char *[]){"missing_name.yaml:", "key 'name'", "missing", NULL});
}

Test(config, empty_list_is_an_error)
{
    expect_error(CFG_DIR "empty_list.yaml", NULL, 0,
                 (const char *[]){"empty_list.yaml:5:", "key 'workload.n'", "empty list", NULL});
}

Test(config, zipped_lists_of_unequal_length_are_an_error)
{
    expect_error(CFG_DIR "zip_unequal.yaml", NULL, 0,
                 (const char *[]){"zip_unequal.yaml:7:", "key 'zip'", "equal length",
                                  "'workload.k' has 3", NULL});
}

Test(config, dump_workload_refuses_m_k_n)
{
    expect_error(CFG_DIR "dump_kind.yaml", NULL, 0,
                 (const char *[]){"dump_kind.yaml:4:", "key 'workload.m'",
                                  "not used by workload kind 'dump'", NULL});
}

Test(config, model_workload_needs_model_and_text_and_takes_mode)
{
    qlab_experiment e;
    err[0] = '\0';
    int rc = qlab_experiment_load_string("name: m\nworkload: {kind: model, model: minilm}\nquant: {scheme: fp16}\n",
                                         "model.yaml", NULL, 0, &e, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(err, "key 'workload.text'"), "%s", err);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
    rc = qlab_experiment_load_string("name: m\nworkload: {kind: model, model: minilm, text: t.txt,\n"
                                     "  mode: [propagated, isolated]}\nquant: {scheme: fp16}\n",
                                     "model.yaml", NULL, 0, &e, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(e.n_points, 2);
    cr_assert_str_eq(e.points[0].model, "minilm");
    cr_assert_str_eq(e.points[0].path, "t.txt");
    cr_assert_str_eq(e.points[1].mode, "isolated");
    qlab_experiment_free(&e);
}

Test(config, list_for_a_non_axis_key_is_an_error)
{
    expect_error(CFG_DIR "list_not_axis.yaml", NULL, 0,
                 (const char *[]){"list_not_axis.yaml:2:", "key 'seed'", "cannot be a list",
                                  NULL});
}

/* Messages go to err only: libfyaml's own diagnostics must not reach stderr. */
Test(config, syntax_errors_print_nothing, .init = cr_redirect_stderr)
{
    expect_error(CFG_DIR "bad_syntax.yaml", NULL, 0, (const char *[]){"duplicate key", NULL});
    fflush(stderr);
    cr_assert_stderr_eq_str("");
}

Test(config, missing_file_is_an_error)
{
    expect_error(CFG_DIR "no_such_file.yaml", NULL, 0,
                 (const char *[]){"no_such_file.yaml", "cannot open", NULL});
}

Test(config, load_string_errors_name_the_given_source)
{
    qlab_experiment e;
    const char *text = "name: s\nworkload: {m: 8, k: 16, n: 4}\nquant: {scheme: fp8}\n";
    int rc = qlab_experiment_load_string(text, "stored-config", NULL, 0, &e, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(err, "stored-config:3:"), "%s", err);
    cr_assert_not_null(strstr(err, "'fp8'"), "%s", err);
}

/* ---------------------------------------------------------------------------- */
/* --set overrides                                                               */

Test(config, set_overrides_a_scalar_and_turns_a_list_into_an_axis)
{
    qlab_experiment e;
    const char *sets[] = {"workload.m=128", "quant.threshold=[0, 6]", "name=renamed"};
    cr_assert_eq(load(CFG_DIR "minimal.yaml", sets, 3, &e), 0, "%s", err);
    cr_assert_str_eq(e.name, "renamed");
    cr_assert_eq(e.n_points, 2);
    cr_assert_eq(e.points[0].m, 128);
    cr_assert_eq(e.points[0].threshold, 0.0);
    cr_assert_eq(e.points[1].threshold, 6.0);
    cr_assert_str_eq(e.points[1].outlier_weights, "fp16");
    qlab_experiment_free(&e);
}

Test(config, set_replaces_a_list_and_creates_missing_keys)
{
    qlab_experiment e;
    const char *sets[] = {"workload.m=[512]", "timing.warmup=3", "workload.x.outlier_cols=0.01"};
    cr_assert_eq(load(CFG_DIR "design_example.yaml", sets, 3, &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 41);
    cr_assert_eq(e.timing.warmup, 3);
    cr_assert_eq(e.timing.min_samples, 10);
    cr_assert_eq(e.points[0].x.outlier_cols, 0.01);
    qlab_experiment_free(&e);

    const char *more[] = {"timing.warmup=2", "seed=9"};
    cr_assert_eq(load(CFG_DIR "minimal.yaml", more, 2, &e), 0, "%s", err);
    cr_assert_eq(e.timing.warmup, 2, "timing was absent and is created");
    cr_assert_eq(e.points[0].seed, 9);
    qlab_experiment_free(&e);
}

Test(config, bad_set_value_names_the_override)
{
    expect_error(CFG_DIR "minimal.yaml", (const char *[]){"quant.threshold=-1"}, 1,
                 (const char *[]){"--set 'quant.threshold=-1'", "key 'quant.threshold'", ">= 0",
                                  "value '-1'", NULL});
}

Test(config, bad_set_key_suggests_the_near_key)
{
    expect_error(CFG_DIR "minimal.yaml", (const char *[]){"quant.thresold=1"}, 1,
                 (const char *[]){"--set 'quant.thresold=1'", "unknown key",
                                  "did you mean 'quant.threshold'", NULL});
}

Test(config, set_without_equals_or_with_bad_yaml_is_an_error)
{
    expect_error(CFG_DIR "minimal.yaml", (const char *[]){"quant.threshold"}, 1,
                 (const char *[]){"--set 'quant.threshold'", "key=value", NULL});
    expect_error(CFG_DIR "minimal.yaml", (const char *[]){"quant.threshold=[1,"}, 1,
                 (const char *[]){"--set 'quant.threshold=[1,'", "not valid YAML", NULL});
}

Test(config, set_value_may_be_a_mapping_and_is_validated_inside)
{
    qlab_experiment e;
    const char *sets[] = {"workload.x={dist: uniform, std: 2}"};
    cr_assert_eq(load(CFG_DIR "minimal.yaml", sets, 1, &e), 0, "%s", err);
    cr_assert_str_eq(e.points[0].x.dist, "uniform");
    cr_assert_eq(e.points[0].x.std, 2.0);
    qlab_experiment_free(&e);
    expect_error(CFG_DIR "minimal.yaml", (const char *[]){"workload.x={sd: 1}"}, 1,
                 (const char *[]){"--set 'workload.x={sd: 1}'", "workload.x.sd",
                                  "did you mean 'workload.x.std'", NULL});
}

Test(config, zip_name_matching_two_axes_is_ambiguous)
{
    const char *sets[] = {"workload.x.std=[1, 2]", "workload.w.std=[0.1, 0.2]", "zip=[[std]]"};
    expect_error(CFG_DIR "minimal.yaml", sets, 3,
                 (const char *[]){"ambiguous", "workload.x.std", "workload.w.std", NULL});
}

/* df only shapes student_t: on a normal X the two df values are one point. */
Test(config, df_is_ignored_unless_student_t)
{
    qlab_experiment e;
    const char *normal[] = {"workload.x.df=[3, 5]"};
    cr_assert_eq(load(CFG_DIR "minimal.yaml", normal, 1, &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 1);
    cr_assert_eq(e.n_skipped, 1);
    qlab_experiment_free(&e);
    const char *student[] = {"workload.x.dist=student_t", "workload.x.df=[3, 5]"};
    cr_assert_eq(load(CFG_DIR "minimal.yaml", student, 2, &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 2);
    cr_assert_eq(e.points[0].x.df, 3.0);
    cr_assert_eq(e.points[1].x.df, 5.0);
    qlab_experiment_free(&e);
}

/* ---------------------------------------------------------------------------- */
/* exp.text: the config as run reloads to the same sweep                        */

Test(config, text_reloads_to_identical_points)
{
    qlab_experiment a, b;
    const char *sets[] = {"quant.threshold=[0, 6]", "workload.x.std=[1, 2]"};
    cr_assert_eq(load(CFG_DIR "design_example.yaml", sets, 2, &a), 0, "%s", err);
    cr_assert_not_null(a.text);
    int rc = qlab_experiment_load_string(a.text, "resumed", NULL, 0, &b, err, sizeof err);
    cr_assert_eq(rc, 0, "%s\n%s", err, a.text);
    cr_assert_eq(b.n_points, a.n_points);
    cr_assert_eq(b.n_skipped, a.n_skipped);
    cr_assert_str_eq(b.name, a.name);
    cr_assert_eq(b.timing.warmup, a.timing.warmup);
    for (int64_t i = 0; i < a.n_points; i++) {
        cr_assert(qlab_point_same(&a.points[i], &b.points[i]), "point %lld differs", (long long)i);
        cr_assert_eq(b.points[i].id, i);
    }
    cr_assert_str_eq(b.text, a.text, "emitting again is stable");
    qlab_experiment_free(&a);
    qlab_experiment_free(&b);
}

/* ---------------------------------------------------------------------------- */
/* Helpers                                                                       */

Test(config, edit_distance_counts_insertions_deletions_substitutions)
{
    cr_assert_eq(qlab_edit_distance("kitten", "sitting"), 3);
    cr_assert_eq(qlab_edit_distance("", "abc"), 3);
    cr_assert_eq(qlab_edit_distance("abc", ""), 3);
    cr_assert_eq(qlab_edit_distance("absmax", "absmax"), 0);
    cr_assert_eq(qlab_edit_distance("absmx", "absmax"), 1);
    cr_assert_eq(qlab_edit_distance("shceme", "scheme"), 2);
}

static qlab_point sample_point(void)
{
    qlab_point p;
    memset(&p, 0, sizeof p);
    strcpy(p.workload, "synthetic");
    p.m = 512;
    p.k = 4096;
    p.n = 4096;
    strcpy(p.x.dist, "normal");
    p.x.std = 1.0;
    strcpy(p.w.dist, "normal");
    p.w.std = 0.02;
    strcpy(p.scheme, "absmax");
    strcpy(p.x_granularity, "row");
    strcpy(p.w_granularity, "channel");
    p.threshold = 6.0;
    strcpy(p.outlier_weights, "fp16");
    return p;
}

Test(config, describe_is_one_compact_line)
{
    qlab_point p = sample_point();
    char buf[256];
    qlab_point_describe(&p, buf, sizeof buf);
    cr_assert_str_eq(buf, "synthetic m=512 k=4096 n=4096 absmax x=row w=channel t=6 ow=fp16"
                          " | X normal std=1 W normal std=0.02");
    char small[16];
    qlab_point_describe(&p, small, sizeof small);
    cr_assert_str_eq(small, "synthetic m=512");
}

Test(config, describe_shows_smooth_alpha_and_no_shape_for_models)
{
    qlab_point p = sample_point();
    char buf[256];
    p.smooth_alpha = 0.5;
    qlab_point_describe(&p, buf, sizeof buf);
    cr_assert(strstr(buf, " ow=fp16 smooth=0.5 |") != NULL, "got: %s", buf);
    /* Two points differing only in smooth_alpha must not read alike. */
    char plain[256];
    p.smooth_alpha = 0;
    qlab_point_describe(&p, plain, sizeof plain);
    cr_assert_str_neq(buf, plain);
    /* A model point has no m, k, n of its own. */
    qlab_point mp;
    memset(&mp, 0, sizeof mp);
    strcpy(mp.workload, "model");
    strcpy(mp.model, "minilm");
    strcpy(mp.mode, "propagated");
    strcpy(mp.scheme, "fp16");
    qlab_point_describe(&mp, buf, sizeof buf);
    cr_assert(strstr(buf, "m=") == NULL, "model point shows a shape: %s", buf);
    cr_assert(strstr(buf, "propagated fp16") != NULL, "got: %s", buf);
}

Test(config, point_same_ignores_id_only)
{
    qlab_point a = sample_point(), b = sample_point();
    b.id = 17;
    cr_assert(qlab_point_same(&a, &b));
    b.threshold = 4.0;
    cr_assert_not(qlab_point_same(&a, &b));
    b = sample_point();
    strcpy(b.outlier_weights, "dequant");
    cr_assert_not(qlab_point_same(&a, &b));
    b = sample_point();
    b.x.outlier_scale = 20.0;
    cr_assert_not(qlab_point_same(&a, &b));
}

/* ---------------------------------------------------------------------------- */
/* Dump workloads: expansion over a dump file written here                       */

static char dump_dir[64], dump_path[128];

/* Three layers: 000-enc.q [8 x 16], 001-enc.k [8 x 16], 002-fc1 [32 x 16], 4 tokens
 * each (fc1 has 6). */
static void make_dump(void)
{
    snprintf(dump_dir, sizeof dump_dir, "/tmp/qlab-test-config-XXXXXX");
    cr_assert_not_null(mkdtemp(dump_dir));
    snprintf(dump_path, sizeof dump_path, "%s/three.h5", dump_dir);
    float w[32 * 16], x[6 * 16];
    for (int i = 0; i < 32 * 16; i++) w[i] = (float)((i % 13) - 6) * 0.01f;
    for (int i = 0; i < 6 * 16; i++) x[i] = (float)((i % 7) - 3);
    qlab_dump_writer *wr;
    char e2[512];
    cr_assert_eq(qlab_dump_create(dump_path, "toy", "", QLAB_DUMP_F32, &wr, e2, sizeof e2), 0, "%s", e2);
    cr_assert_eq(qlab_dump_add_layer(wr, "enc.q", w, 8, 16, NULL, x, 4, NULL, e2, sizeof e2), 0);
    cr_assert_eq(qlab_dump_add_layer(wr, "enc.k", w, 8, 16, NULL, x, 4, NULL, e2, sizeof e2), 0);
    cr_assert_eq(qlab_dump_add_layer(wr, "fc1", w, 32, 16, NULL, x, 6, NULL, e2, sizeof e2), 0);
    cr_assert_eq(qlab_dump_close(wr, e2, sizeof e2), 0);
}

static void remove_dump(void)
{
    unlink(dump_path);
    rmdir(dump_dir);
}

/* Loads a dump config whose workload mapping is `workload` (with %s for the path). */
static int load_dump_cfg(const char *workload, const char *quant, qlab_experiment *e)
{
    char wl[512], text[1024];
    snprintf(wl, sizeof wl, workload, dump_path);
    snprintf(text, sizeof text, "name: d\nworkload: %s\nquant: %s\n", wl, quant);
    err[0] = '\0';
    return qlab_experiment_load_string(text, "d.yaml", NULL, 0, e, err, sizeof err);
}

TestSuite(config_dump, .init = make_dump, .fini = remove_dump);

Test(config_dump, layers_all_gives_one_point_per_layer_and_scheme_layer_slowest)
{
    qlab_experiment e;
    cr_assert_eq(load_dump_cfg("{kind: dump, path: %s}", "{scheme: [fp16, absmax]}", &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 6);
    static const char *const layer[6] = {"000-enc.q", "000-enc.q", "001-enc.k", "001-enc.k",
                                         "002-fc1", "002-fc1"};
    static const char *const scheme[6] = {"fp16", "absmax", "fp16", "absmax", "fp16", "absmax"};
    for (int i = 0; i < 6; i++) {
        cr_assert_str_eq(e.points[i].workload, "dump");
        cr_assert_str_eq(e.points[i].path, dump_path);
        cr_assert_str_eq(e.points[i].layer, layer[i], "point %d: %s", i, e.points[i].layer);
        cr_assert_str_eq(e.points[i].scheme, scheme[i]);
    }
    cr_assert_eq(e.points[0].m, 4);
    cr_assert_eq(e.points[0].k, 16);
    cr_assert_eq(e.points[0].n, 8);
    cr_assert_eq(e.points[5].m, 6);
    cr_assert_eq(e.points[5].n, 32);
    qlab_experiment_free(&e);
}

Test(config_dump, layer_list_selects_by_name_or_group_glob)
{
    qlab_experiment e;
    cr_assert_eq(load_dump_cfg("{kind: dump, path: %s, layers: [fc1, '000-*']}", "{scheme: fp16}", &e),
                 0, "%s", err);
    cr_assert_eq(e.n_points, 2);
    cr_assert_str_eq(e.points[0].layer, "000-enc.q");   /* file order, not list order */
    cr_assert_str_eq(e.points[1].layer, "002-fc1");
    qlab_experiment_free(&e);
}

Test(config_dump, layer_pattern_matches_module_names)
{
    qlab_experiment e;
    cr_assert_eq(load_dump_cfg("{kind: dump, path: %s, layers: 'enc.*'}", "{scheme: fp16}", &e), 0,
                 "%s", err);
    cr_assert_eq(e.n_points, 2);
    cr_assert_str_eq(e.points[0].layer, "000-enc.q");
    cr_assert_str_eq(e.points[1].layer, "001-enc.k");
    qlab_experiment_free(&e);
}

Test(config_dump, a_selector_matching_nothing_is_an_error_at_its_line)
{
    qlab_experiment e;
    cr_assert_eq(load_dump_cfg("{kind: dump, path: %s, layers: 'dec.*'}", "{scheme: fp16}", &e), 2);
    cr_assert_not_null(strstr(err, "d.yaml:2:"), "%s", err);
    cr_assert_not_null(strstr(err, "key 'workload.layers'"), "%s", err);
    cr_assert_not_null(strstr(err, "matches 'dec.*'"), "%s", err);
    cr_assert_not_null(strstr(err, "000-enc.q"), "%s", err);
}

Test(config_dump, a_missing_dump_file_is_an_error_naming_config_and_dump)
{
    qlab_experiment e;
    cr_assert_eq(load_dump_cfg("{kind: dump, path: %s.absent}", "{scheme: fp16}", &e), 2);
    cr_assert_not_null(strstr(err, "d.yaml:2:"), "%s", err);
    cr_assert_not_null(strstr(err, "key 'workload.path'"), "%s", err);
    cr_assert_not_null(strstr(err, "three.h5.absent: cannot open"), "%s", err);
}

Test(config_dump, block_not_dividing_a_layers_k_names_the_layer)
{
    qlab_experiment e;
    cr_assert_eq(load_dump_cfg("{kind: dump, path: %s}",
                               "{scheme: absmax, w_granularity: block, block: 12}", &e), 2);
    cr_assert_not_null(strstr(err, "key 'quant.block'"), "%s", err);
    cr_assert_not_null(strstr(err, "k = 16 of layer '000-enc.q'"), "%s", err);
}

Test(config_dump, a_dump_needs_a_path)
{
    qlab_experiment e;
    cr_assert_eq(load_dump_cfg("{kind: dump}", "{scheme: fp16}", &e), 2);
    cr_assert_not_null(strstr(err, "key 'workload.path'"), "%s", err);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
}

/* ---------------------------------------------------------------------------- */
/* Chain workloads                                                               */

static int load_text(const char *text, qlab_experiment *e)
{
    err[0] = '\0';
    return qlab_experiment_load_string(text, "c.yaml", NULL, 0, e, err, sizeof err);
}

Test(config, chain_sweeps_depth_and_mode_with_tokens_as_m_and_width_as_k_and_n)
{
    qlab_experiment e;
    cr_assert_eq(load_text("name: c\nworkload: {kind: chain, depth: [1, 4, 48], width: 64, tokens: 8,\n"
                           "  mode: [propagated, isolated], x: {outlier_cols: 0.05, outlier_scale: 20}}\n"
                           "quant: {scheme: llm_int8}\n", &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 6);
    static const int64_t depth[6] = {1, 1, 4, 4, 48, 48};
    for (int i = 0; i < 6; i++) {
        cr_assert_str_eq(e.points[i].workload, "chain");
        cr_assert_eq(e.points[i].depth, depth[i]);
        cr_assert_str_eq(e.points[i].mode, i % 2 ? "isolated" : "propagated");
        cr_assert_eq(e.points[i].m, 8);
        cr_assert_eq(e.points[i].k, 64);
        cr_assert_eq(e.points[i].n, 64);
        cr_assert_eq(e.points[i].x.outlier_scale, 20.0);
        cr_assert_float_eq(e.points[i].w.std, 0.125, 1e-15, "w std defaults to 1/sqrt(width)");
    }
    qlab_experiment_free(&e);
}

Test(config, chain_mode_defaults_to_propagated_and_w_std_is_kept_when_given)
{
    qlab_experiment e;
    cr_assert_eq(load_text("name: c\nworkload: {kind: chain, depth: 2, width: 16, tokens: 4, w: {std: 0.3}}\n"
                           "quant: {scheme: fp16}\n", &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 1);
    cr_assert_str_eq(e.points[0].mode, "propagated");
    cr_assert_eq(e.points[0].w.std, 0.3);
    qlab_experiment_free(&e);
}

Test(config, chain_refuses_m_and_depth_beyond_48)
{
    qlab_experiment e;
    cr_assert_eq(load_text("name: c\nworkload: {kind: chain, depth: 2, width: 16, tokens: 4, m: 8}\n"
                           "quant: {scheme: fp16}\n", &e), 2);
    cr_assert_not_null(strstr(err, "key 'workload.m'"), "%s", err);
    cr_assert_not_null(strstr(err, "tokens = m"), "%s", err);
    cr_assert_eq(load_text("name: c\nworkload: {kind: chain, depth: 49, width: 16, tokens: 4}\n"
                           "quant: {scheme: fp16}\n", &e), 2);
    cr_assert_not_null(strstr(err, "c.yaml:2:"), "%s", err);
    cr_assert_not_null(strstr(err, "key 'workload.depth'"), "%s", err);
    cr_assert_not_null(strstr(err, "value '49'"), "%s", err);
    cr_assert_eq(load_text("name: c\nworkload: {kind: chain, width: 16, tokens: 4}\n"
                           "quant: {scheme: fp16}\n", &e), 2);
    cr_assert_not_null(strstr(err, "key 'workload.depth'"), "%s", err);
}

Test(config, synthetic_refuses_chain_keys)
{
    qlab_experiment e;
    cr_assert_eq(load_text("name: s\nworkload: {m: 4, k: 4, n: 4, mode: isolated}\nquant: {scheme: fp16}\n",
                           &e), 2);
    cr_assert_not_null(strstr(err, "key 'workload.mode'"), "%s", err);
    cr_assert_not_null(strstr(err, "not used by workload kind 'synthetic'"), "%s", err);
}

/* ---------------------------------------------------------------------------- */
/* Presets: the sweep's expansion and the filters' (harness/filter.c) agree         */

#include "report/filter.h"

Test(config, the_llm_int8_preset_expands_to_what_filters_match)
{
    qlab_experiment e;
    cr_assert_eq(load_text("name: p\nworkload: {kind: synthetic, m: 4, k: 64, n: 8}\n"
                           "quant: {scheme: llm_int8}\n", &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 1);
    qlab_row r;
    memset(&r, 0, sizeof r);
    r.p = e.points[0];
    qlab_filter f = {0};
    cr_assert_eq(qlab_filter_add(&f, "scheme=llm_int8", "--point", err, sizeof err), 0, "%s", err);
    cr_assert(qlab_filter_matches(&f, &r), "scheme %s x %s w %s t %g", r.p.scheme, r.p.x_granularity,
              r.p.w_granularity, r.p.threshold);
    qlab_experiment_free(&e);
}

/* ---------------------------------------------------------------------------- */
/* repeat: draws of the data                                                      */

Test(config, repeat_runs_each_point_once_per_seed_next_to_each_other)
{
    qlab_experiment e;
    cr_assert_eq(load_text("name: r\nseed: 40\nrepeat: 3\nworkload: {kind: synthetic, m: 4, k: 64, n: 8}\n"
                           "quant: {scheme: [fp16, absmax]}\n", &e), 0, "%s", err);
    cr_assert_eq(e.n_points, 6);
    for (int64_t i = 0; i < 6; i++) {
        cr_assert_eq(e.points[i].id, i);
        cr_assert_eq(e.points[i].seed, 40 + (uint64_t)(i % 3));
        cr_assert_str_eq(e.points[i].scheme, i < 3 ? "fp16" : "absmax");
    }
    qlab_experiment_free(&e);
}

Test(config, repeat_on_a_dump_and_a_seed_list_are_errors_that_say_why)
{
    qlab_experiment e;
    cr_assert_eq(load_text("name: r\nrepeat: 2\nworkload: {kind: dump, path: tests/data/dumps/tiny.h5}\n"
                           "quant: {scheme: absmax}\n", &e), 2);
    cr_assert_not_null(strstr(err, "key 'repeat': a dump workload has one draw"), "%s", err);
    cr_assert_eq(load_text("name: r\nseed: [1, 2]\nworkload: {kind: synthetic, m: 4, k: 64, n: 8}\n"
                           "quant: {scheme: absmax}\n", &e), 2);
    cr_assert_not_null(strstr(err, "`repeat: N`"), "%s", err);
    cr_assert_eq(load_text("name: r\nrepeat: 0\nworkload: {kind: synthetic, m: 4, k: 64, n: 8}\n"
                           "quant: {scheme: absmax}\n", &e), 2);
    cr_assert_not_null(strstr(err, "repeat"), "%s", err);
}

/* ---------------------------------------------------------------------------- */
/* plots: figures declared in the config                                          */

Test(config, declared_figures_are_read_with_their_defaults)
{
    qlab_experiment e;
    cr_assert_eq(load_text("name: p\nworkload: {kind: synthetic, m: 4, k: [64, 128], n: 8}\n"
                           "quant: {scheme: absmax}\n"
                           "plots:\n  - {name: a, x: k, y: rel_err}\n"
                           "  - {name: b, x: k, y: sqnr_db, series: [scheme, threshold], filter: {threshold: 6},"
                           " logx: true, title: T}\n"
                           "  - {name: c, x: k, y: w_bits}\n", &e), 0, "%s", err);
    cr_assert_eq(e.n_figures, 3);
    cr_assert_str_eq(e.figures[2].y, "w_bits", "bits per weight, derived, is a value a figure can draw");
    cr_assert_eq(e.figures[2].logy, 0);
    cr_assert_str_eq(e.figures[0].series[0], "scheme", "series defaults to scheme");
    cr_assert_eq(e.figures[0].logy, 1, "an error metric on a log axis by default");
    cr_assert_str_eq(e.figures[0].title, "rel_err vs k");
    cr_assert_eq(e.figures[1].n_series, 2);
    cr_assert_str_eq(e.figures[1].filter[0], "threshold=6");
    cr_assert_eq(e.figures[1].logx, 1);
    cr_assert_eq(e.figures[1].logy, 0);
    qlab_experiment_free(&e);
}

Test(config, declared_figure_errors_name_the_figure_key_and_value)
{
    qlab_experiment e;
    static const struct { const char *fig, *want; } cases[] = {
        {"{name: a, x: scheme, y: rel_err}", "key 'plots[0].x': 'scheme' has text values"},
        {"{name: a, x: k, y: m}", "key 'plots[0].y': 'm' is not a numeric result column"},
        {"{name: a, x: k, y: rel_err, series: [nope]}", "key 'plots[0].series': 'nope' is not an axis"},
        {"{name: a, x: k}", "key 'plots[0]': missing 'y'"},
        {"{name: 'a b', x: k, y: rel_err}", "key 'plots[0].name': 'a b': a file name"},
        {"{name: a, x: k, y: rel_err, logy: maybe}", "key 'plots[0].logy': 'maybe' is not true or false"},
        {"{name: a, x: k, y: rel_err, colour: red}", "key 'plots[0].colour': unknown key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "name: p\nworkload: {kind: synthetic, m: 4, k: 64, n: 8}\n"
                                    "quant: {scheme: absmax}\nplots:\n  - %s\n", cases[i].fig);
        cr_assert_eq(load_text(text, &e), 2, "%s", cases[i].fig);
        cr_assert_not_null(strstr(err, cases[i].want), "%s: %s", cases[i].fig, err);
        cr_assert_not_null(strstr(err, "c.yaml:5:"), "%s: %s", cases[i].fig, err);
    }
}
