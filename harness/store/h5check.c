/* h5check.c: is a dataset's data really in the file? (see h5check.h) */
#include "store/h5check.h"

#include <sys/stat.h>

#include "core/error.h"

int qlab_h5_check_stored(hid_t ds, const char *path, const char *what, uint64_t bytes, char *err,
                         size_t err_len)
{
    if (bytes == 0) return 0;
    struct stat st;
    uint64_t fsize = stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
    hid_t dcpl = H5Dget_create_plist(ds);
    if (dcpl < 0) {
        qlab_set_err(err, err_len, "%s: cannot read how the data are stored (file corrupt?)", what);
        return 2;
    }
    H5D_layout_t layout = H5Pget_layout(dcpl);
    int filtered = H5Pget_nfilters(dcpl) > 0;
    int rc = 0;
    if (layout == H5D_CHUNKED) {
        /* every chunk must have been written: a missing one reads as fill values */
        hsize_t cdims[H5S_MAX_RANK], dims[H5S_MAX_RANK];
        int crank = H5Pget_chunk(dcpl, H5S_MAX_RANK, cdims);
        hid_t sp = H5Dget_space(ds);
        int rank = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
        uint64_t want = 1;
        for (int i = 0; crank == rank && i < rank; i++)
            want *= cdims[i] ? (dims[i] + cdims[i] - 1) / cdims[i] : 0;
        hsize_t have = 0;
        if (crank < 1 || crank != rank || want == 0) {
            qlab_set_err(err, err_len, "%s: its chunk shape does not fit its shape (file corrupt?)", what);
            rc = 2;
        } else if (H5Sselect_all(sp) < 0 || H5Dget_num_chunks(ds, sp, &have) < 0 || have < want) {
            qlab_set_err(err, err_len, "%s: stores %llu of its %llu chunks; the rest was never written "
                         "(file truncated or corrupt?)", what, (unsigned long long)have,
                         (unsigned long long)want);
            rc = 2;
        }
        if (sp >= 0) H5Sclose(sp);
    } else if (layout != H5D_CONTIGUOUS && layout != H5D_COMPACT) {
        qlab_set_err(err, err_len, "%s: unsupported storage layout (virtual or unknown)", what);
        rc = 2;
    }
    H5Pclose(dcpl);
    if (rc) return rc;

    uint64_t stored = H5Dget_storage_size(ds);
    uint64_t need = filtered ? bytes / QLAB_H5_MAX_RATIO : bytes;
    if (stored > fsize) {
        qlab_set_err(err, err_len, "%s: claims %llu stored bytes, more than the whole file (%llu bytes; "
                     "truncated or corrupt?)", what, (unsigned long long)stored, (unsigned long long)fsize);
        return 2;
    }
    if (stored < need || stored == 0) {
        qlab_set_err(err, err_len, "%s: declares %llu bytes of data but stores %llu%s (truncated or "
                     "corrupt file?)", what, (unsigned long long)bytes, (unsigned long long)stored,
                     filtered ? " compressed" : "");
        return 2;
    }
    if (layout == H5D_CONTIGUOUS) {
        haddr_t off = H5Dget_offset(ds);
        if (off == HADDR_UNDEF || off > fsize || stored > fsize - off) {
            qlab_set_err(err, err_len, "%s: its data lie past the end of the file (%llu bytes; truncated?)",
                         what, (unsigned long long)fsize);
            return 2;
        }
    }
    return 0;
}
