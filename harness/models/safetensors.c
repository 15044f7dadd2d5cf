/* safetensors.c: the .safetensors reader (see safetensors.h for the format).
 *
 * The header is JSON, but a narrow kind: one object of objects with strings, integer
 * arrays and (in __metadata__) string values. A small recursive-descent parser over
 * exactly that subset (plus skipping any other JSON value) is shorter than binding a
 * JSON library, and it lets every error name the byte offset in the header.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant/quant.h"
#include "models/safetensors.h"
#include "models/tokenizer.h"

/* A header larger than this is not a weight file; refusing it bounds the parse. */
#define ST_MAX_HEADER (100u << 20)
#define ST_MAX_DEPTH 32

static const struct { const char *name; size_t size; } st_dtypes[QLAB_ST_DTYPE_COUNT] = {
    [QLAB_ST_F32] = {"F32", 4},  [QLAB_ST_F16] = {"F16", 2}, [QLAB_ST_BF16] = {"BF16", 2},
    [QLAB_ST_F64] = {"F64", 8},  [QLAB_ST_I64] = {"I64", 8}, [QLAB_ST_I32] = {"I32", 4},
    [QLAB_ST_I16] = {"I16", 2},  [QLAB_ST_I8] = {"I8", 1},   [QLAB_ST_U8] = {"U8", 1},
    [QLAB_ST_BOOL] = {"BOOL", 1},
};

const char *qlab_st_dtype_name(qlab_st_dtype d)
{
    return (unsigned)d < QLAB_ST_DTYPE_COUNT ? st_dtypes[d].name : "?";
}

size_t qlab_st_dtype_size(qlab_st_dtype d)
{
    return (unsigned)d < QLAB_ST_DTYPE_COUNT ? st_dtypes[d].size : 0;
}

/* ---------------------------------------------------------------------------- */
/* Header parser                                                                */

typedef struct {
    const char *s;
    size_t n, i;
    const char *label;
    char *err;
    size_t err_len;
    int failed;
} jp;

static int jp_fail(jp *p, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = 1;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->err_len, "%s: safetensors header, byte %zu: %s", p->label, p->i, msg);
    return -1;
}

static void jp_ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int jp_expect(jp *p, char c)
{
    jp_ws(p);
    if (p->i >= p->n || p->s[p->i] != c)
        return jp_fail(p, "expected '%c'", c);
    p->i++;
    return 0;
}

/* 1 and consumes c if the next non-space character is c. */
static int jp_accept(jp *p, char c)
{
    jp_ws(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return 1;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses a JSON string into out (cap bytes incl. NUL); a longer string is an error. */
static int jp_string(jp *p, char *out, size_t cap)
{
    if (jp_expect(p, '"'))
        return -1;
    size_t o = 0;
    while (1) {
        if (p->i >= p->n)
            return jp_fail(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->i++];
        char buf[4];
        size_t len = 1;
        if (c == '"')
            break;
        if (c < 0x20)
            return jp_fail(p, "control character in string");
        if (c == '\\') {
            if (p->i >= p->n)
                return jp_fail(p, "unterminated escape");
            char e = p->s[p->i++];
            switch (e) {
            case '"': case '\\': case '/': buf[0] = e; break;
            case 'b': buf[0] = '\b'; break;
            case 'f': buf[0] = '\f'; break;
            case 'n': buf[0] = '\n'; break;
            case 'r': buf[0] = '\r'; break;
            case 't': buf[0] = '\t'; break;
            case 'u': {
                uint32_t cp = 0;
                for (int k = 0; k < 4; k++) {
                    int h = p->i < p->n ? hexval(p->s[p->i]) : -1;
                    if (h < 0)
                        return jp_fail(p, "bad \\u escape");
                    cp = cp * 16 + (uint32_t)h;
                    p->i++;
                }
                if (cp >= 0xD800 && cp < 0xDC00 && p->i + 6 <= p->n && p->s[p->i] == '\\' &&
                    p->s[p->i + 1] == 'u') {
                    uint32_t lo = 0;
                    int ok = 1;
                    for (int k = 0; k < 4; k++) {
                        int h = hexval(p->s[p->i + 2 + k]);
                        if (h < 0) ok = 0; else lo = lo * 16 + (uint32_t)h;
                    }
                    if (ok && lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        p->i += 6;
                    }
                }
                len = qlab_utf8_put(buf, cp);
                break;
            }
            default:
                return jp_fail(p, "bad escape '\\%c'", e);
            }
        } else {
            buf[0] = (char)c;
        }
        if (out) {
            if (o + len >= cap)
                return jp_fail(p, "string longer than %zu bytes", cap - 1);
            memcpy(out + o, buf, len);
        }
        o += len;
    }
    if (out)
        out[o] = '\0';
    return 0;
}

/* A non-negative integer that fits in int64 (shapes and offsets are never negative). */
static int jp_uint(jp *p, uint64_t *v)
{
    jp_ws(p);
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
        return jp_fail(p, "expected a non-negative integer");
    uint64_t x = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = (unsigned)(p->s[p->i] - '0');
        if (x > ((uint64_t)INT64_MAX - d) / 10)
            return jp_fail(p, "integer too large");
        x = x * 10 + d;
        p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == '.' || p->s[p->i] == 'e' || p->s[p->i] == 'E'))
        return jp_fail(p, "expected an integer, found a fraction");
    *v = x;
    return 0;
}

/* Skips any JSON value (metadata, keys this reader does not use). */
static int jp_skip(jp *p, int depth)
{
    if (depth > ST_MAX_DEPTH)
        return jp_fail(p, "nested too deeply");
    jp_ws(p);
    if (p->i >= p->n)
        return jp_fail(p, "unexpected end of header");
    char c = p->s[p->i];
    if (c == '"')
        return jp_string(p, NULL, 0);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        p->i++;
        if (jp_accept(p, close))
            return 0;
        do {
            if (c == '{' && (jp_string(p, NULL, 0) || jp_expect(p, ':')))
                return -1;
            if (jp_skip(p, depth + 1))
                return -1;
        } while (jp_accept(p, ','));
        return jp_expect(p, close);
    }
    size_t start = p->i;
    while (p->i < p->n && strchr("+-.0123456789eEtruefalsn", p->s[p->i]))
        p->i++;
    if (p->i == start)
        return jp_fail(p, "unexpected character '%c'", c);
    return 0;
}

static int parse_tensor(jp *p, qlab_st_tensor *t)
{
    int have_dtype = 0, have_shape = 0, have_off = 0;
    if (jp_expect(p, '{'))
        return -1;
    if (!jp_accept(p, '}')) {
        do {
            char key[64];
            if (jp_string(p, key, sizeof key) || jp_expect(p, ':'))
                return -1;
            if (strcmp(key, "dtype") == 0) {
                char d[16];
                if (jp_string(p, d, sizeof d))
                    return -1;
                int found = -1;
                for (int k = 0; k < QLAB_ST_DTYPE_COUNT; k++)
                    if (strcmp(d, st_dtypes[k].name) == 0)
                        found = k;
                if (found < 0)
                    return jp_fail(p, "tensor '%s': unknown dtype '%s'", t->name, d);
                t->dtype = (qlab_st_dtype)found;
                have_dtype = 1;
            } else if (strcmp(key, "shape") == 0) {
                if (jp_expect(p, '['))
                    return -1;
                t->ndim = 0;
                if (!jp_accept(p, ']')) {
                    do {
                        uint64_t v;
                        if (t->ndim == QLAB_ST_MAX_DIMS)
                            return jp_fail(p, "tensor '%s': more than %d dimensions", t->name,
                                           QLAB_ST_MAX_DIMS);
                        if (jp_uint(p, &v))
                            return -1;
                        t->shape[t->ndim++] = (int64_t)v;
                    } while (jp_accept(p, ','));
                    if (jp_expect(p, ']'))
                        return -1;
                }
                have_shape = 1;
            } else if (strcmp(key, "data_offsets") == 0) {
                if (jp_expect(p, '[') || jp_uint(p, &t->begin) || jp_expect(p, ',') ||
                    jp_uint(p, &t->end) || jp_expect(p, ']'))
                    return -1;
                have_off = 1;
            } else if (jp_skip(p, 1)) {
                return -1;
            }
        } while (jp_accept(p, ','));
        if (jp_expect(p, '}'))
            return -1;
    }
    if (!have_dtype || !have_shape || !have_off)
        return jp_fail(p, "tensor '%s': missing %s", t->name,
                       !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Open, validate, close                                                        */

int qlab_st_parse(qlab_safetensors *st, const unsigned char *data, size_t size,
                  const char *label, char *err, size_t err_len)
{
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", label);
    if (size < 8) {
        snprintf(err, err_len, "%s: not a safetensors file (%zu bytes, shorter than the "
                 "8-byte header length)", label, size);
        return 2;
    }
    uint64_t hlen = 0;
    for (int b = 7; b >= 0; b--)
        hlen = (hlen << 8) | data[b];
    if (hlen > ST_MAX_HEADER || hlen > size - 8) {
        snprintf(err, err_len, "%s: safetensors header length %llu does not fit the file "
                 "(%zu bytes)", label, (unsigned long long)hlen, size);
        return 2;
    }
    uint64_t data_size = size - 8 - hlen;
    jp p = {.s = (const char *)data + 8, .n = (size_t)hlen, .label = label, .err = err,
            .err_len = err_len};
    int64_t cap = 0;
    qlab_st_tensor *v = NULL;
    int64_t n = 0;
    if (jp_expect(&p, '{'))
        goto fail;
    if (!jp_accept(&p, '}')) {
        do {
            char name[QLAB_ST_NAME_LEN];
            if (jp_string(&p, name, sizeof name) || jp_expect(&p, ':'))
                goto fail;
            if (strcmp(name, "__metadata__") == 0) {
                if (jp_skip(&p, 1))
                    goto fail;
                continue;
            }
            for (int64_t j = 0; j < n; j++)
                if (strcmp(v[j].name, name) == 0) {
                    jp_fail(&p, "tensor '%s' listed twice", name);
                    goto fail;
                }
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                qlab_st_tensor *nv = realloc(v, (size_t)cap * sizeof *nv);
                if (!nv) {
                    jp_fail(&p, "out of memory");
                    goto fail;
                }
                v = nv;
            }
            qlab_st_tensor *t = &v[n];
            memset(t, 0, sizeof *t);
            snprintf(t->name, sizeof t->name, "%s", name);
            if (parse_tensor(&p, t))
                goto fail;
            n++;
            /* shape x dtype size must be exactly the span, inside the data section */
            uint64_t numel = 1;
            for (int d = 0; d < t->ndim; d++) {
                uint64_t s = (uint64_t)t->shape[d];
                if (s != 0 && numel > UINT64_MAX / 8 / s) {
                    jp_fail(&p, "tensor '%s': shape overflows", name);
                    goto fail;
                }
                numel *= s;
            }
            t->numel = (int64_t)numel;
            uint64_t bytes = numel * qlab_st_dtype_size(t->dtype);
            if (t->end < t->begin || t->end > data_size) {
                jp_fail(&p, "tensor '%s': data_offsets [%llu, %llu) outside the data section "
                        "(%llu bytes)", name, (unsigned long long)t->begin,
                        (unsigned long long)t->end, (unsigned long long)data_size);
                goto fail;
            }
            if (t->end - t->begin != bytes) {
                jp_fail(&p, "tensor '%s': shape and dtype %s need %llu bytes, data_offsets "
                        "span %llu", name, qlab_st_dtype_name(t->dtype),
                        (unsigned long long)bytes, (unsigned long long)(t->end - t->begin));
                goto fail;
            }
        } while (jp_accept(&p, ','));
        if (jp_expect(&p, '}'))
            goto fail;
    }
    jp_ws(&p);
    if (p.i != p.n) {
        jp_fail(&p, "trailing bytes after the header object");
        goto fail;
    }
    st->map = (unsigned char *)data;
    st->size = size;
    st->data_start = 8 + (size_t)hlen;
    st->tensors = v;
    st->n_tensors = n;
    return 0;
fail:
    free(v);
    memset(st, 0, sizeof *st);
    return 2;
}

int qlab_st_open(qlab_safetensors *st, const char *path, char *err, size_t err_len)
{
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return 2;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", path);
        close(fd);
        return 2;
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, err_len, "%s: mmap: %s", path, strerror(errno));
            close(fd);
            return 2;
        }
    }
    close(fd);
    static const unsigned char empty[1];
    int rc = qlab_st_parse(st, map ? map : empty, size, path, err, err_len);
    if (rc) {
        if (map)
            munmap(map, size);
        return rc;
    }
    st->owns_map = map != NULL;
    return 0;
}

void qlab_st_close(qlab_safetensors *st)
{
    if (st->owns_map && st->map)
        munmap(st->map, st->size);
    free(st->tensors);
    memset(st, 0, sizeof *st);
}

const qlab_st_tensor *qlab_st_find(const qlab_safetensors *st, const char *name)
{
    for (int64_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

static void shape_str(const int64_t *s, int nd, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < nd && o < cap; d++)
        o += (size_t)snprintf(out + o, cap - o, "%s%lld", d ? ", " : "", (long long)s[d]);
    if (o < cap)
        snprintf(out + o, cap - o, "]");
}

int qlab_st_read_f32(const qlab_safetensors *st, const char *name, int ndim,
                     const int64_t *shape, float **out, char *err, size_t err_len)
{
    *out = NULL;
    const qlab_st_tensor *t = qlab_st_find(st, name);
    if (!t) {
        snprintf(err, err_len, "%s: no tensor '%s'", st->path, name);
        return 2;
    }
    if (ndim > 0) {
        int same = t->ndim == ndim;
        for (int d = 0; same && d < ndim; d++)
            same = t->shape[d] == shape[d];
        if (!same) {
            char a[96], b[96];
            shape_str(t->shape, t->ndim, a, sizeof a);
            shape_str(shape, ndim, b, sizeof b);
            snprintf(err, err_len, "%s: tensor '%s' has shape %s, expected %s", st->path, name,
                     a, b);
            return 2;
        }
    }
    if (t->dtype != QLAB_ST_F32 && t->dtype != QLAB_ST_F16 && t->dtype != QLAB_ST_BF16) {
        snprintf(err, err_len, "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 read as "
                 "floats", st->path, name, qlab_st_dtype_name(t->dtype));
        return 2;
    }
    float *v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *v);
    if (!v) {
        snprintf(err, err_len, "%s: out of memory for tensor '%s'", st->path, name);
        return 2;
    }
    const unsigned char *src = st->map + st->data_start + t->begin;
    for (int64_t i = 0; i < t->numel; i++) {
        if (t->dtype == QLAB_ST_F32) {
            uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                         (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
            memcpy(&v[i], &u, 4);
        } else {
            uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            v[i] = t->dtype == QLAB_ST_F16 ? quant_f16_to_f32(h) : quant_bf16_to_f32(h);
        }
    }
    *out = v;
    return 0;
}
