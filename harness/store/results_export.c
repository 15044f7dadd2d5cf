/* results_export.c: a table of a results file as TSV or CSV (qlab_results_export, see
 * results.h), from the column tables that also define the HDF5 types, so an export
 * has every column the file has, named as in the file. */
#include "store/results.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The shortest of %.15g..%.17g that reads back to the same double: exact, yet
 * 0.1 stays "0.1" for people reading the table. */
static void fmt_double(char *buf, size_t len, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (isnan(v) || strtod(buf, NULL) == v) return;
    }
}

static void put_string(FILE *out, const char *s, int csv)
{
    if (csv) {
        int quote = *s == ' ' || (*s && s[strlen(s) - 1] == ' ') || strpbrk(s, ",\"\r\n") != NULL;
        if (!quote) {
            fputs(s, out);
            return;
        }
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"') fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        /* TSV has no quoting: a tab or newline inside a message would split the row,
         * so those become spaces */
        for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, out);
    }
}

int qlab_results_export(const qlab_results_data *d, const char *table, const char *format,
                        FILE *out, char *err, size_t err_len)
{
    size_t n_cols, row_size;
    const qlab_column *cols = table ? qlab_results_columns(table, &n_cols, &row_size) : NULL;
    if (!cols) {
        qlab_set_err(err, err_len, "unknown table '%s' (points, layers or samples)", table ? table : "");
        return 2;
    }
    int csv;
    if (format && strcmp(format, "csv") == 0) csv = 1;
    else if (format && strcmp(format, "tsv") == 0) csv = 0;
    else {
        qlab_set_err(err, err_len, "unknown export format '%s' (tsv or csv)", format ? format : "");
        return 2;
    }
    int is_points = !strcmp(table, "points"), is_layers = !strcmp(table, "layers");
    const void *rows = is_points ? (const void *)d->points : is_layers ? (const void *)d->layers
                                                                      : (const void *)d->samples;
    int64_t n = is_points ? d->n_points : is_layers ? d->n_layers : d->n_samples;
    char sep = csv ? ',' : '\t';
    for (size_t c = 0; c < n_cols; c++) {
        if (c) fputc(sep, out);
        fputs(cols[c].name, out);
    }
    fputc('\n', out);
    char buf[64];
    for (int64_t i = 0; i < n; i++) {
        const char *row = (const char *)rows + (size_t)i * row_size;
        for (size_t c = 0; c < n_cols; c++) {
            const qlab_column *col = &cols[c];
            const char *p = row + col->offset;
            if (c) fputc(sep, out);
            switch (col->kind) {
            case QLAB_COL_I64: { int64_t v; memcpy(&v, p, 8); fprintf(out, "%" PRId64, v); break; }
            case QLAB_COL_U64: { uint64_t v; memcpy(&v, p, 8); fprintf(out, "%" PRIu64, v); break; }
            case QLAB_COL_I32: { int32_t v; memcpy(&v, p, 4); fprintf(out, "%" PRId32, v); break; }
            case QLAB_COL_STATUS: { int32_t v; memcpy(&v, p, 4); fputs(qlab_status_name(v), out); break; }
            case QLAB_COL_F64: { double v; memcpy(&v, p, 8); fmt_double(buf, sizeof buf, v); fputs(buf, out); break; }
            case QLAB_COL_STR: {
                char s[QLAB_PATH_LEN + 1];
                size_t m = col->size < sizeof s - 1 ? col->size : sizeof s - 1;
                memcpy(s, p, m);
                s[m] = 0;
                put_string(out, s, csv);
                break;
            }
            }
        }
        fputc('\n', out);
    }
    if (ferror(out)) {
        qlab_set_err(err, err_len, "export of /%s: write error", table);
        return 2;
    }
    return 0;
}
