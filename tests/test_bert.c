/* test_bert.c: qlab's MiniLM against the PyTorch sentence-transformers fixture in
 * tests/data/minilm (token ids identical, float32 embeddings cosine >= 0.99999), the
 * packed batch equal to sentences run alone, and the safetensors reader refusing
 * malformed headers. The model tests need the weights (tools/setup.sh): without them
 * they skip, saying so, except where CI=true, where setup.sh must have fetched them. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/bert.h"
#include "models/safetensors.h"
#include "models/tokenizer.h"

#define FIX "tests/data/minilm/"
#define MAX_SENT 16
#define MAX_IDS 256
#define EMB_COS_MIN 0.99999

static char dir[1024];

/* 1 when the weights are here; skips the test otherwise (fails in CI). */
static int need_weights(void)
{
    char err[1024];
    if (qlab_minilm_dir(dir, sizeof dir, err, sizeof err) == 0)
        return 1;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        cr_assert_fail("CI=true but %s", err);
    cr_skip_test("%s", err);
    return 0;
}

typedef struct {
    char text[MAX_SENT][512];
    int32_t ids[MAX_SENT][MAX_IDS];
    int64_t n_ids[MAX_SENT];
    float emb[MAX_SENT][384];
    int n;
} fixture;

static void read_fixture(fixture *f)
{
    memset(f, 0, sizeof *f);
    FILE *s = fopen(FIX "sentences.txt", "r"), *i = fopen(FIX "ids.txt", "r"),
         *e = fopen(FIX "embeddings.txt", "r");
    cr_assert(s && i && e, "fixture files under " FIX " (run from the repository root)");
    char line[16384];
    while (f->n < MAX_SENT && fgets(f->text[f->n], sizeof f->text[0], s)) {
        f->text[f->n][strcspn(f->text[f->n], "\n")] = '\0';
        cr_assert(fgets(line, sizeof line, i), "ids.txt has a line per sentence");
        char *p = line, *end;
        for (long v; (v = strtol(p, &end, 10)), end != p; p = end)
            f->ids[f->n][f->n_ids[f->n]++] = (int32_t)v;
        for (int j = 0; j < 384; j++)
            cr_assert_eq(fscanf(e, "%f", &f->emb[f->n][j]), 1, "embeddings.txt row %d", f->n);
        f->n++;
    }
    fclose(s); fclose(i); fclose(e);
    cr_assert_geq(f->n, 4, "the fixture holds a handful of sentences");
}

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < n; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    return ab / sqrt(aa * bb);
}

Test(minilm, token_ids_equal_the_pytorch_tokenizer)
{
    if (!need_weights())
        return;
    fixture f;
    read_fixture(&f);
    qlab_tokenizer tk;
    char vp[1100], err[512];
    snprintf(vp, sizeof vp, "%s/vocab.txt", dir);
    cr_assert_eq(qlab_tokenizer_load(&tk, vp, err, sizeof err), 0, "%s", err);
    for (int s = 0; s < f.n; s++) {
        int32_t ids[MAX_IDS];
        int64_t n = qlab_tokenizer_encode(&tk, f.text[s], ids, MAX_IDS);
        cr_assert_eq(n, f.n_ids[s], "sentence %d '%s': %lld ids, PyTorch %lld", s, f.text[s],
                     (long long)n, (long long)f.n_ids[s]);
        for (int64_t t = 0; t < n; t++)
            cr_assert_eq(ids[t], f.ids[s][t], "sentence %d token %lld: %d, PyTorch %d", s,
                         (long long)t, ids[t], f.ids[s][t]);
    }
    qlab_tokenizer_free(&tk);
}

Test(minilm, float32_embeddings_match_pytorch_to_cosine_0_99999)
{
    if (!need_weights())
        return;
    fixture f;
    read_fixture(&f);
    qlab_bert m;
    char err[512], cb[256] = "";
    cr_assert_eq(qlab_bert_load(&m, dir, err, sizeof err), 0, "%s", err);
    /* the fixture's ids, so this checks the forward alone */
    int32_t ids[MAX_SENT * MAX_IDS];
    int64_t start[MAX_SENT + 1] = {0};
    for (int s = 0; s < f.n; s++) {
        memcpy(ids + start[s], f.ids[s], (size_t)f.n_ids[s] * sizeof *ids);
        start[s + 1] = start[s] + f.n_ids[s];
    }
    static float emb[MAX_SENT * 384];
    cr_assert_eq(qlab_bert_forward(&m, ids, start, f.n, qlab_bert_linear_ref, cb, NULL, NULL,
                                   emb, err, sizeof err), 0, "%s %s", err, cb);
    for (int s = 0; s < f.n; s++) {
        double c = cosine(emb + s * 384, f.emb[s], 384);
        cr_assert_geq(c, EMB_COS_MIN, "sentence %d: cosine %.9f to PyTorch", s, c);
    }
    /* alone, each sentence gives the same embedding: packing leaks nothing across */
    static float one[384];
    int64_t st1[2] = {0, f.n_ids[1]};
    cr_assert_eq(qlab_bert_forward(&m, f.ids[1], st1, 1, qlab_bert_linear_ref, cb, NULL, NULL,
                                   one, err, sizeof err), 0, "%s", err);
    for (int j = 0; j < 384; j++)
        cr_assert_float_eq(one[j], emb[384 + j], 1e-6, "dim %d alone vs packed", j);
    qlab_bert_free(&m);
}

Test(minilm, missing_weights_directory_names_setup_script)
{
    char d[1024], err[1024];
    const char *old = getenv("QLAB_MINILM_DIR");
    char keep[1024] = "";
    if (old)
        snprintf(keep, sizeof keep, "%s", old);
    setenv("QLAB_MINILM_DIR", "/nonexistent/minilm", 1);
    cr_assert_eq(qlab_minilm_dir(d, sizeof d, err, sizeof err), 2);
    cr_assert(strstr(err, "tools/setup.sh"), "%s", err);
    if (old) setenv("QLAB_MINILM_DIR", keep, 1); else unsetenv("QLAB_MINILM_DIR");
}

/* ---------------------------------------------------------------------------- */
/* safetensors: a valid file and malformed ones                                 */

/* Builds a file image: 8-byte length, header, then `data_len` bytes of data. */
static size_t image(unsigned char *buf, const char *header, size_t data_len)
{
    size_t h = strlen(header);
    for (int b = 0; b < 8; b++)
        buf[b] = (unsigned char)((uint64_t)h >> (8 * b));
    memcpy(buf + 8, header, h);
    memset(buf + 8 + h, 0, data_len);
    return 8 + h + data_len;
}

static void expect_refused(const char *header, size_t data_len, const char *needle)
{
    static unsigned char buf[4096];
    size_t n = image(buf, header, data_len);
    qlab_safetensors st;
    char err[512] = "";
    cr_assert_eq(qlab_st_parse(&st, buf, n, "t.safetensors", err, sizeof err), 2,
                 "header %s was accepted", header);
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
    cr_assert(strstr(err, "t.safetensors"), "message names the file: %s", err);
}

Test(safetensors, reads_f32_f16_bf16_as_float32)
{
    static unsigned char buf[512];
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[8,12]},"
                    "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[12,16]}}";
    size_t n = image(buf, h, 16);
    unsigned char *d = buf + 8 + strlen(h);
    float one = 1.0f, m2 = -2.5f;
    memcpy(d, &one, 4); memcpy(d + 4, &m2, 4);
    d[8] = 0x00; d[9] = 0x3C;   /* fp16 1.0 */
    d[10] = 0x00; d[11] = 0xC0; /* fp16 -2.0 */
    d[12] = 0x80; d[13] = 0x3F; /* bf16 1.0 */
    d[14] = 0x40; d[15] = 0x40; /* bf16 3.0 */
    qlab_safetensors st;
    char err[256];
    cr_assert_eq(qlab_st_parse(&st, buf, n, "t", err, sizeof err), 0, "%s", err);
    cr_assert_eq(st.n_tensors, 3);
    float *v;
    cr_assert_eq(qlab_st_read_f32(&st, "a", 0, NULL, &v, err, sizeof err), 0, "%s", err);
    cr_assert(v[0] == 1.0f && v[1] == -2.5f); free(v);
    int64_t sh[2] = {1, 2};
    cr_assert_eq(qlab_st_read_f32(&st, "b", 2, sh, &v, err, sizeof err), 0, "%s", err);
    cr_assert(v[0] == 1.0f && v[1] == -2.0f); free(v);
    cr_assert_eq(qlab_st_read_f32(&st, "c", 0, NULL, &v, err, sizeof err), 0, "%s", err);
    cr_assert(v[0] == 1.0f && v[1] == 3.0f); free(v);
    int64_t wrong[1] = {3};
    cr_assert_eq(qlab_st_read_f32(&st, "a", 1, wrong, &v, err, sizeof err), 2);
    cr_assert(strstr(err, "'a'") && strstr(err, "[2]") && strstr(err, "[3]"), "%s", err);
    cr_assert_eq(qlab_st_read_f32(&st, "zz", 0, NULL, &v, err, sizeof err), 2);
    cr_assert(strstr(err, "'zz'"), "%s", err);
    qlab_st_close(&st);
}

Test(safetensors, refuses_offsets_outside_the_file)
{
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                   "outside the data section");
}

Test(safetensors, refuses_shape_that_disagrees_with_offsets)
{
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                   "need 12 bytes");
}

Test(safetensors, refuses_unknown_dtype)
{
    expect_refused("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
                   "unknown dtype 'Q4'");
}

Test(safetensors, refuses_header_length_beyond_the_file)
{
    static unsigned char buf[16] = {0xFF, 0xFF, 0, 0, 0, 0, 0, 0, '{', '}'};
    qlab_safetensors st;
    char err[256];
    cr_assert_eq(qlab_st_parse(&st, buf, 10, "t.safetensors", err, sizeof err), 2);
    cr_assert(strstr(err, "header length"), "%s", err);
    cr_assert_eq(qlab_st_parse(&st, buf, 5, "t.safetensors", err, sizeof err), 2);
}

Test(safetensors, refuses_truncated_and_malformed_json)
{
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2", 0, "expected");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
                   "non-negative integer");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "missing shape");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
                   "outside");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999,99999999999],"
                   "\"data_offsets\":[0,8]}}", 8, "overflows");
    expect_refused("{} x", 0, "trailing");
}

Test(safetensors, refuses_non_float_reads_and_missing_files)
{
    static unsigned char buf[256];
    size_t n = image(buf, "{\"p\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
    qlab_safetensors st;
    char err[256];
    cr_assert_eq(qlab_st_parse(&st, buf, n, "t", err, sizeof err), 0, "%s", err);
    float *v;
    cr_assert_eq(qlab_st_read_f32(&st, "p", 0, NULL, &v, err, sizeof err), 2);
    cr_assert(strstr(err, "I64"), "%s", err);
    qlab_st_close(&st);
    cr_assert_eq(qlab_st_open(&st, "/nonexistent.safetensors", err, sizeof err), 2);
    cr_assert(strstr(err, "/nonexistent.safetensors"), "%s", err);
}

/* ---------------------------------------------------------------------------- */
/* Model points: qlab_model_run on the cpu backend                              */

#include "workloads/network.h"

static int run_point(const char *scheme, const char *xg, const char *wg, double threshold,
                     const char *mode, qlab_row *row, qlab_layers *layers)
{
    qlab_point p;
    memset(&p, 0, sizeof p);
    strcpy(p.workload, "model");
    strcpy(p.model, "minilm");
    strcpy(p.mode, mode);
    strcpy(p.path, FIX "sentences.txt");
    strcpy(p.scheme, scheme);
    strcpy(p.x_granularity, xg);
    strcpy(p.w_granularity, wg);
    p.threshold = threshold;
    if (threshold > 0)
        strcpy(p.outlier_weights, "fp16");
    qlab_timing_opts t = {0};
    qlab_network_job job = {.p = &p, .backend = &qlab_backend_cpu, .measure_memory = 1,
                            .timing = &t};
    qlab_samples s = {0};
    memset(row, 0, sizeof *row);
    row->p = p;
    int rc = qlab_model_run(&job, row, layers, &s, row->message, sizeof row->message);
    qlab_samples_free(&s);
    return rc;
}

Test(minilm_points, fp32_scheme_reproduces_the_reference_forward)
{
    if (!need_weights())
        return;
    qlab_row row;
    qlab_layers ly = {0};
    cr_assert_eq(run_point("fp32", "tensor", "tensor", 0, "propagated", &row, &ly), 0, "%s",
                 row.message);
    cr_assert_eq(ly.n, 6, "one /layers row per transformer layer");
    for (int64_t l = 0; l < ly.n; l++) {
        cr_assert_eq(ly.v[l].layer_index, l);
        cr_assert_lt(ly.v[l].rel_err, 1e-5, "layer %lld rel_err %g", (long long)l,
                     ly.v[l].rel_err);
    }
    cr_assert_gt(row.cosine, 0.999999);
    cr_assert_float_eq(row.rank_agreement, 1.0, 1e-12);
    cr_assert_eq(row.w_bytes, 4 * (6 * (4 * 384 * 384 + 2 * 384 * 1536)), "fp32 weight bytes: %lld",
                 (long long)row.w_bytes);
    qlab_layers_free(&ly);
}

Test(minilm_points, int8_error_is_recorded_and_isolated_is_at_most_propagated_at_the_end)
{
    if (!need_weights())
        return;
    qlab_row prop, iso;
    qlab_layers lp = {0}, li = {0};
    cr_assert_eq(run_point("absmax", "tensor", "tensor", 0, "propagated", &prop, &lp), 0, "%s",
                 prop.message);
    cr_assert_eq(run_point("absmax", "tensor", "tensor", 0, "isolated", &iso, &li), 0, "%s",
                 iso.message);
    cr_assert_eq(lp.n, 6);
    cr_assert_eq(li.n, 6);
    cr_assert_str_eq(li.v[0].mode, "isolated");
    /* layer 0 sees the exact input in both modes */
    cr_assert_float_eq(lp.v[0].rel_err, li.v[0].rel_err, 1e-12);
    cr_assert_gt(lp.v[5].rel_err, 1e-4, "per-tensor int8 leaves visible error");
    cr_assert_leq(li.v[5].rel_err, lp.v[5].rel_err, "isolated %g, propagated %g",
                  li.v[5].rel_err, lp.v[5].rel_err);
    cr_assert_lt(prop.cosine, 1.0);
    cr_assert_gt(prop.cosine, 0.9);
    cr_assert(prop.rank_agreement > 0.5 && prop.rank_agreement <= 1.0, "rank %g",
              prop.rank_agreement);
    cr_assert_lt(prop.w_bytes, 6 * (4 * 384 * 384 + 2 * 384 * 1536) * 2, "int8 is under fp16");
    qlab_layers_free(&lp);
    qlab_layers_free(&li);
}

Test(minilm_points, llm_int8_counts_outlier_columns_per_layer)
{
    if (!need_weights())
        return;
    qlab_row row;
    qlab_layers ly = {0};
    cr_assert_eq(run_point("absmax", "row", "channel", 6.0, "propagated", &row, &ly), 0, "%s",
                 row.message);
    int64_t sum = 0;
    for (int64_t l = 0; l < ly.n; l++)
        sum += ly.v[l].outlier_cols;
    cr_assert_eq(sum, row.outlier_cols, "layer outlier columns add up to the point's");
    cr_assert_gt(row.outlier_cols, 0, "MiniLM has activations beyond 6 at some linear");
    qlab_layers_free(&ly);
}

Test(minilm_points, unknown_model_mode_or_text_is_an_error_naming_it)
{
    qlab_row row;
    qlab_layers ly = {0};
    cr_assert_eq(run_point("fp32", "tensor", "tensor", 0, "sideways", &row, &ly), 2);
    cr_assert(strstr(row.message, "sideways"), "%s", row.message);
    if (!need_weights())
        return;
    qlab_point p;
    memset(&p, 0, sizeof p);
    strcpy(p.workload, "model");
    strcpy(p.model, "minilm");
    strcpy(p.path, "/nonexistent/text.txt");
    strcpy(p.scheme, "fp32");
    qlab_timing_opts t = {0};
    qlab_network_job job = {.p = &p, .backend = &qlab_backend_cpu, .timing = &t};
    qlab_samples s = {0};
    char err[256];
    cr_assert_eq(qlab_model_run(&job, &row, &ly, &s, err, sizeof err), 2);
    cr_assert(strstr(err, "/nonexistent/text.txt"), "%s", err);
}
