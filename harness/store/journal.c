/* journal.c: the append-only journal beside a results file (see journal.h). */
#define _GNU_SOURCE
#include "store/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"

#define JOURNAL_MAGIC "QLABJRN1"
#define JOURNAL_VERSION 1u
#define RECORD_MAGIC 0x3143524Au   /* "JRC1" */
#define HEADER_BYTES 32
#define RECORD_BYTES 32

typedef struct {
    char magic[8];
    uint32_t version, points_size, samples_size, layers_size;
    uint64_t reserved;
} journal_header;

typedef struct {
    uint32_t magic, crc;       /* crc: CRC-32 (zlib) of the bytes from seq to the payload's end */
    uint64_t seq;
    uint32_t n_points, n_samples, n_layers, reserved;
} record_header;

_Static_assert(sizeof(journal_header) == HEADER_BYTES, "journal header layout");
_Static_assert(sizeof(record_header) == RECORD_BYTES, "record header layout");

static journal_header header_of_this_build(void)
{
    journal_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, JOURNAL_MAGIC, 8);
    h.version = JOURNAL_VERSION;
    h.points_size = (uint32_t)sizeof(qlab_row);
    h.samples_size = (uint32_t)sizeof(qlab_sample);
    h.layers_size = (uint32_t)sizeof(qlab_layer_row);
    return h;
}

void qlab_journal_path(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s.journal", path);
}

static size_t payload_bytes(const record_header *r)
{
    return (size_t)r->n_points * sizeof(qlab_row) + (size_t)r->n_samples * sizeof(qlab_sample) +
           (size_t)r->n_layers * sizeof(qlab_layer_row);
}

static uint32_t record_crc(const record_header *r, const void *payload, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, (const Bytef *)&r->seq, (uInt)(RECORD_BYTES - offsetof(record_header, seq)));
    const unsigned char *p = payload;
    while (n > 0) {   /* crc32 takes uInt lengths */
        uInt part = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, part);
        p += part;
        n -= part;
    }
    return (uint32_t)c;
}

/* Walks the valid records of buf[0..len): calls visit for each, returns the bytes of
 * the valid prefix (header included) in *valid and the last sequence number + 1 in
 * *next (0 when there is no record). -1 when the header is not this build's. */
typedef int (*visit_fn)(void *ctx, const record_header *r, const unsigned char *payload);
static int walk(const unsigned char *buf, size_t len, visit_fn visit, void *ctx, size_t *valid, uint64_t *next,
                int *visit_failed)
{
    journal_header want = header_of_this_build(), got;
    *valid = 0;
    *next = 0;
    if (visit_failed)
        *visit_failed = 0;
    if (len < HEADER_BYTES)
        return 0;   /* empty, or a header cut short by a kill: no record yet */
    memcpy(&got, buf, sizeof got);
    if (memcmp(&got, &want, sizeof got) != 0)
        return -1;
    size_t off = HEADER_BYTES;
    while (len - off >= RECORD_BYTES) {
        record_header r;
        memcpy(&r, buf + off, sizeof r);
        if (r.magic != RECORD_MAGIC)
            break;
        size_t pb = payload_bytes(&r);
        if (pb > len - off - RECORD_BYTES)
            break;
        if (record_crc(&r, buf + off + RECORD_BYTES, pb) != r.crc)
            break;
        if (visit && visit(ctx, &r, buf + off + RECORD_BYTES)) {
            if (visit_failed)
                *visit_failed = 1;
            return 0;
        }
        off += RECORD_BYTES + pb;
        *next = r.seq + 1;
    }
    *valid = off;
    return 0;
}

int qlab_journal_slurp(const char *path, void **buf, size_t *len, char *err, size_t err_len)
{
    char jp[4096 + 16];
    qlab_journal_path(path, jp, sizeof jp);
    *buf = NULL;
    *len = 0;
    int fd = open(jp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        qlab_set_err(err, err_len, "%s: cannot read its journal %s: %s", path, jp, strerror(errno));
        return 2;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (!b) {
            close(fd);
            qlab_set_err(err, err_len, "%s: out of memory reading its journal", path);
            return 2;
        }
        if (n == cap) {
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                continue;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(b);
            close(fd);
            qlab_set_err(err, err_len, "%s: cannot read its journal %s: %s", path, jp, strerror(e));
            return 2;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = n;
    return 0;
}

typedef struct {
    uint64_t min_seq;
    qlab_journal_add_fn add;
    void *ctx;
} each_ctx;

static int each_visit(void *ctxp, const record_header *r, const unsigned char *payload)
{
    each_ctx *c = ctxp;
    if (r->seq < c->min_seq)
        return 0;
    const qlab_row *pts = (const qlab_row *)(const void *)payload;
    const unsigned char *p = payload + (size_t)r->n_points * sizeof(qlab_row);
    const qlab_sample *smp = (const qlab_sample *)(const void *)p;
    p += (size_t)r->n_samples * sizeof(qlab_sample);
    const qlab_layer_row *lay = (const qlab_layer_row *)(const void *)p;
    return c->add(c->ctx, pts, r->n_points, smp, r->n_samples, lay, r->n_layers);
}

int qlab_journal_each(const void *buf, size_t len, const char *what, uint64_t min_seq, qlab_journal_add_fn add,
                      void *ctx, uint64_t *next_seq, char *err, size_t err_len)
{
    if (next_seq)
        *next_seq = 0;
    if (!buf || len == 0)
        return 0;
    /* Records are read in place: copy into aligned memory first (the payload's rows
     * hold doubles and int64s). */
    void *aligned = malloc(len);
    if (!aligned) {
        qlab_set_err(err, err_len, "%s: out of memory reading its journal", what);
        return 2;
    }
    memcpy(aligned, buf, len);
    each_ctx c = {min_seq, add, ctx};
    size_t valid;
    uint64_t next;
    int failed;
    int rc = walk(aligned, len, each_visit, &c, &valid, &next, &failed);
    free(aligned);
    if (next_seq)
        *next_seq = next;
    if (rc) {
        qlab_set_err(err, err_len,
                     "%s: its journal (%s.journal) was not written by this build of qlab (another row layout); "
                     "read or resume it with the qlab that wrote it",
                     what, what);
        return 2;
    }
    if (failed) {
        qlab_set_err(err, err_len, "%s: out of memory adding its journal's records", what);
        return 2;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int qlab_journal_open(qlab_journal *j, const char *path, uint64_t first_seq, char *err, size_t err_len)
{
    memset(j, 0, sizeof *j);
    j->fd = -1;
    char jp[4096 + 16];
    qlab_journal_path(path, jp, sizeof jp);
    j->path = strdup(jp);
    void *buf;
    size_t len;
    if (!j->path || qlab_journal_slurp(path, &buf, &len, err, err_len)) {
        if (!j->path)
            qlab_set_err(err, err_len, "%s: out of memory", path);
        qlab_journal_close(j, 0);
        return 2;
    }
    size_t valid = 0;
    uint64_t next = 0;
    if (len > 0) {
        void *aligned = malloc(len);
        int bad = !aligned;
        if (aligned) {
            memcpy(aligned, buf, len);
            bad = walk(aligned, len, NULL, NULL, &valid, &next, NULL) != 0;
        }
        free(aligned);
        if (bad) {
            free(buf);
            qlab_set_err(err, err_len, "%s: its journal %s was not written by this build of qlab (another row layout)",
                         path, jp);
            qlab_journal_close(j, 0);
            return 2;
        }
    }
    free(buf);
    j->fd = open(jp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        qlab_set_err(err, err_len, "%s: cannot write its journal %s: %s", path, jp, strerror(errno));
        qlab_journal_close(j, 0);
        return 2;
    }
    if (valid == 0) {   /* new, empty or headerless: write the header */
        journal_header h = header_of_this_build();
        if (ftruncate(j->fd, 0) || lseek(j->fd, 0, SEEK_SET) < 0 || write_all(j->fd, &h, sizeof h) || fsync(j->fd)) {
            qlab_set_err(err, err_len, "%s: cannot write its journal %s: %s", path, jp, strerror(errno));
            qlab_journal_close(j, 0);
            return 2;
        }
        valid = HEADER_BYTES;
    } else if ((size_t)lseek(j->fd, 0, SEEK_END) != valid) {   /* a torn tail: cut it off */
        if (ftruncate(j->fd, (off_t)valid) || fsync(j->fd)) {
            qlab_set_err(err, err_len, "%s: cannot repair its journal %s: %s", path, jp, strerror(errno));
            qlab_journal_close(j, 0);
            return 2;
        }
    }
    if (lseek(j->fd, (off_t)valid, SEEK_SET) < 0) {
        qlab_set_err(err, err_len, "%s: cannot seek in its journal %s: %s", path, jp, strerror(errno));
        qlab_journal_close(j, 0);
        return 2;
    }
    j->bytes = (int64_t)valid;
    j->next_seq = next > first_seq ? next : first_seq;
    return 0;
}

int qlab_journal_append(qlab_journal *j, const qlab_row *points, int64_t n_points, const qlab_sample *samples,
                        int64_t n_samples, const qlab_layer_row *layers, int64_t n_layers, char *err,
                        size_t err_len)
{
    record_header r = {RECORD_MAGIC, 0, j->next_seq, (uint32_t)n_points, (uint32_t)n_samples, (uint32_t)n_layers, 0};
    size_t pb = payload_bytes(&r);
    unsigned char *buf = malloc(RECORD_BYTES + pb);
    if (!buf) {
        qlab_set_err(err, err_len, "%s: out of memory", j->path);
        return 2;
    }
    unsigned char *p = buf + RECORD_BYTES;
    if (n_points) memcpy(p, points, (size_t)n_points * sizeof *points);
    p += (size_t)n_points * sizeof *points;
    if (n_samples) memcpy(p, samples, (size_t)n_samples * sizeof *samples);
    p += (size_t)n_samples * sizeof *samples;
    if (n_layers) memcpy(p, layers, (size_t)n_layers * sizeof *layers);
    r.crc = record_crc(&r, buf + RECORD_BYTES, pb);
    memcpy(buf, &r, sizeof r);
    int bad = write_all(j->fd, buf, RECORD_BYTES + pb) || fsync(j->fd);
    int saved = errno;
    free(buf);
    if (bad) {
        /* leave no partial record: cut back to the last whole one */
        if (ftruncate(j->fd, (off_t)j->bytes) == 0)
            (void)lseek(j->fd, (off_t)j->bytes, SEEK_SET);
        qlab_set_err(err, err_len, "%s: cannot write: %s", j->path, strerror(saved));
        return 2;
    }
    j->bytes += (int64_t)(RECORD_BYTES + pb);
    j->next_seq++;
    return 0;
}

int qlab_journal_reset(qlab_journal *j, uint64_t next_seq, char *err, size_t err_len)
{
    if (ftruncate(j->fd, HEADER_BYTES) || fsync(j->fd) || lseek(j->fd, HEADER_BYTES, SEEK_SET) < 0) {
        qlab_set_err(err, err_len, "%s: cannot empty: %s", j->path, strerror(errno));
        return 2;
    }
    j->bytes = HEADER_BYTES;
    j->next_seq = next_seq;
    return 0;
}

void qlab_journal_close(qlab_journal *j, int remove_file)
{
    if (j->fd >= 0)
        close(j->fd);
    if (remove_file && j->path)
        unlink(j->path);
    free(j->path);
    j->path = NULL;
    j->fd = -1;
}

int qlab_journal_torn(const char *path)
{
    void *buf;
    size_t len, valid = 0;
    uint64_t next;
    if (qlab_journal_slurp(path, &buf, &len, NULL, 0))
        return -1;
    if (len == 0)
        return 0;
    void *aligned = malloc(len);
    if (!aligned) {
        free(buf);
        return -1;
    }
    memcpy(aligned, buf, len);
    int rc = walk(aligned, len, NULL, NULL, &valid, &next, NULL);
    free(aligned);
    free(buf);
    return rc ? -1 : valid < len;
}
