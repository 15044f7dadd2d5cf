/* h5check.h: is a dataset's data really in the file?
 *
 * A damaged or hand-made HDF5 file can declare a dataset far larger than what it
 * stores: chunks never written, a contiguous block past the end of the file. HDF5
 * then reads fill values (zeros) or fails only after the reader has allocated room
 * for the declared shape. Readers of qlab's inputs (dumps, results) call this before
 * allocating, so such a file is refused with a message instead of turning into a
 * huge allocation or silent zeros.
 */
#ifndef QLAB_H5CHECK_H
#define QLAB_H5CHECK_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* Largest compression ratio believed for a filtered dataset: deflate cannot exceed
 * about 1032:1, and real tensors and result tables compress far less. */
#define QLAB_H5_MAX_RATIO 1024

/* Checks that dataset ds (what: "file: /path" for messages) of the file at `path`
 * stores all `bytes` of its declared data: every chunk written, the stored bytes
 * within the file's size, and, unfiltered, at least `bytes` of them (filtered: at
 * least bytes / QLAB_H5_MAX_RATIO). Returns 0, or 2 with err set. */
int qlab_h5_check_stored(hid_t ds, const char *path, const char *what, uint64_t bytes, char *err,
                         size_t err_len);

#endif
