/* journal.h: the append-only journal beside a results file being written.
 *
 * Rewriting the whole HDF5 file after every point is crash-safe but costs a run time
 * quadratic in its size. So a point is made durable by appending one record (its
 * /points row, its samples and its layers) to FILE.journal and fsyncing it: O(1).
 * The writer folds the journal into the HDF5 file (a whole-file atomic replacement,
 * as before) at geometric intervals and at the end, recording in the file's attribute
 * `journal_folded` how many records it holds; the journal is then emptied. Readers
 * read the journal first, then the HDF5 file, and add the records whose sequence
 * number is at least journal_folded: a kill at any moment (mid-record, between a fold
 * and the emptying) loses no record that was acknowledged and adds none twice.
 *
 * File layout (little-endian, host structs): a 32-byte header "QLABJRN1", version,
 * the row sizes of the three tables (a journal from a build with other row layouts
 * is refused), then records: a 32-byte header (magic, CRC-32 of everything after
 * the CRC field up to the end of the payload, sequence number, row counts) and the
 * rows back to back. A record whose length or CRC does not check is the torn tail
 * of a killed append: it and everything after it are ignored.
 */
#ifndef QLAB_JOURNAL_H
#define QLAB_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include "core/point.h"

typedef struct {
    int fd;
    char *path;
    uint64_t next_seq;      /* sequence number of the next record */
    int64_t bytes;          /* valid bytes in the file (header + whole records) */
} qlab_journal;

/* Path of the journal of results file `path` into buf ("PATH.journal"). */
void qlab_journal_path(const char *path, char *buf, size_t len);

/* Opens (creating it when absent) the journal of results file `path` for appending.
 * Valid records already there are kept (their count is in *n_existing, may be NULL);
 * a torn tail is cut off. next_seq continues after the last valid record, or starts
 * at `first_seq` when there is none. Returns 0, or 2 with a message in err. */
int qlab_journal_open(qlab_journal *j, const char *path, uint64_t first_seq, char *err, size_t err_len);

/* Appends one record durably (write + fsync): n_points rows, n_samples samples,
 * n_layers layer rows. Returns 0, or 2 with a message (the file is cut back to its
 * last whole record, so a failed append leaves no partial record). */
int qlab_journal_append(qlab_journal *j, const qlab_row *points, int64_t n_points, const qlab_sample *samples,
                        int64_t n_samples, const qlab_layer_row *layers, int64_t n_layers, char *err,
                        size_t err_len);

/* Empties the journal (after a fold has put its records in the HDF5 file) and sets
 * next_seq. Returns 0, or 2 with a message. */
int qlab_journal_reset(qlab_journal *j, uint64_t next_seq, char *err, size_t err_len);

/* Closes the journal; with remove_file, deletes it (every record is in the HDF5 file). */
void qlab_journal_close(qlab_journal *j, int remove_file);

/* Reads the whole journal of results file `path` into a fresh buffer (*buf, *len;
 * the caller frees *buf). No journal: 0 with *buf NULL and *len 0. Returns 0, or 2
 * with a message. Read it before the HDF5 file: a fold that lands between the two
 * reads is then in the file, and its records are skipped by their numbers. */
int qlab_journal_slurp(const char *path, void **buf, size_t *len, char *err, size_t err_len);

/* Calls `add` for each valid record of a slurped journal whose sequence number is
 * >= min_seq, in order, and stops at a torn tail; *next_seq (may be NULL) gets the
 * last valid record's number + 1, or 0 when there is none. Returns 0, or 2 with a
 * message (a header that is not a journal's, another build's row layout, or add
 * failing). */
typedef int (*qlab_journal_add_fn)(void *ctx, const qlab_row *points, int64_t n_points,
                                   const qlab_sample *samples, int64_t n_samples, const qlab_layer_row *layers,
                                   int64_t n_layers);
int qlab_journal_each(const void *buf, size_t len, const char *what, uint64_t min_seq, qlab_journal_add_fn add,
                      void *ctx, uint64_t *next_seq, char *err, size_t err_len);

/* 1 when the journal of results file `path` ends in bytes that are no whole record
 * (the torn tail of an append cut by a kill, ignored by readers and cut off by the
 * next writer), 0 when it does not or there is no journal, -1 when unreadable. */
int qlab_journal_torn(const char *path);

#endif
