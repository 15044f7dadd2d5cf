/* image.c: PNG/JPEG decoding and the INTER_AREA resize (see image.h). */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "models/image.h"

#define IMAGE_MAX_PIXELS (1LL << 28)

void qlab_image_free(qlab_image *img)
{
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

/* ---------------------------------------------------------------------------- */
/* PNG                                                                          */

/* libpng's messages: warnings (an sRGB profile it dislikes) are not ours to print; an
 * error keeps its text for our message and unwinds to the setjmp in load_png. */
static void png_quiet_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_fail(png_structp png, png_const_charp msg)
{
    char *keep = png_get_error_ptr(png);
    snprintf(keep, 128, "%s", msg);
    png_longjmp(png, 1);
}

static int load_png(FILE *f, const char *path, qlab_image *img, char *err, size_t err_len)
{
    char why[128] = "";
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, why, png_fail,
                                             png_quiet_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *row = NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(err, err_len, "%s: out of memory decoding the PNG", path);
        return 2;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(row);
        qlab_image_free(img);
        snprintf(err, err_len, "%s: corrupt PNG (libpng: %s)", path, why);
        return 2;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int ct = png_get_color_type(png, info);
    if ((long long)w * h > IMAGE_MAX_PIXELS || w == 0 || h == 0) {
        png_destroy_read_struct(&png, &info, NULL);
        snprintf(err, err_len, "%s: PNG of %ux%u pixels (1 to 2^28 allowed)", path, w, h);
        return 2;
    }
    png_set_expand(png);            /* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
    png_set_strip_16(png);          /* 16-bit samples: the high byte */
    png_set_strip_alpha(png);       /* dropped, not composited */
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8) {
        png_destroy_read_struct(&png, &info, NULL);
        snprintf(err, err_len, "%s: PNG did not decode to 8-bit RGB", path);
        return 2;
    }
    img->w = w;
    img->h = h;
    img->rgb = malloc((size_t)w * h * 3);
    png_bytep *rows = img->rgb ? malloc(h * sizeof *rows) : NULL;
    if (!rows) {
        png_destroy_read_struct(&png, &info, NULL);
        qlab_image_free(img);
        snprintf(err, err_len, "%s: out of memory for %ux%u pixels", path, w, h);
        return 2;
    }
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = img->rgb + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* JPEG                                                                         */

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_fail(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jump, 1);
}

static int load_jpeg(FILE *f, const char *path, qlab_image *img, char *err, size_t err_len)
{
    struct jpeg_decompress_struct d;
    jpeg_err je;
    d.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_fail;
    je.msg[0] = '\0';
    if (setjmp(je.jump)) {
        jpeg_destroy_decompress(&d);
        qlab_image_free(img);
        snprintf(err, err_len, "%s: corrupt JPEG (libjpeg: %s)", path, je.msg);
        return 2;
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    if ((long long)d.output_width * d.output_height > IMAGE_MAX_PIXELS ||
        d.output_components != 3) {
        jpeg_destroy_decompress(&d);
        snprintf(err, err_len, "%s: JPEG of %ux%u pixels, %d components (RGB up to 2^28 "
                 "pixels allowed)", path, d.output_width, d.output_height, d.output_components);
        return 2;
    }
    img->w = d.output_width;
    img->h = d.output_height;
    img->rgb = malloc((size_t)img->w * img->h * 3);
    if (!img->rgb) {
        jpeg_destroy_decompress(&d);
        snprintf(err, err_len, "%s: out of memory for %lldx%lld pixels", path,
                 (long long)img->w, (long long)img->h);
        return 2;
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW r = img->rgb + (size_t)d.output_scanline * img->w * 3;
        jpeg_read_scanlines(&d, &r, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return 0;
}

int qlab_image_load(const char *path, qlab_image *img, char *err, size_t err_len)
{
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open the image", path);
        return 2;
    }
    unsigned char magic[8] = {0};
    size_t n = fread(magic, 1, sizeof magic, f);
    rewind(f);
    int rc;
    if (n == 8 && png_sig_cmp(magic, 0, 8) == 0)
        rc = load_png(f, path, img, err, err_len);
    else if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
        rc = load_jpeg(f, path, img, err, err_len);
    else {
        snprintf(err, err_len, "%s: neither a PNG nor a JPEG file", path);
        rc = 2;
    }
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------------------- */
/* INTER_AREA                                                                   */

typedef struct {
    int64_t di, si;
    float alpha;
} area_tab;

/* OpenCV's computeResizeAreaTab: the (destination, source, weight) triples along one
 * axis; returns their count (at most 2 * ssize). */
static int64_t area_table(int64_t ssize, int64_t dsize, int64_t cn, double scale, area_tab *tab)
{
    int64_t k = 0;
    for (int64_t dx = 0; dx < dsize; dx++) {
        double fsx1 = (double)dx * scale;
        double fsx2 = fsx1 + scale;
        double cell = fmin(scale, (double)ssize - fsx1);
        int64_t sx1 = (int64_t)ceil(fsx1), sx2 = (int64_t)floor(fsx2);
        if (sx2 > ssize - 1)
            sx2 = ssize - 1;
        if (sx1 > sx2)
            sx1 = sx2;
        if ((double)sx1 - fsx1 > 1e-3)
            tab[k++] = (area_tab){dx * cn, (sx1 - 1) * cn, (float)(((double)sx1 - fsx1) / cell)};
        for (int64_t sx = sx1; sx < sx2; sx++)
            tab[k++] = (area_tab){dx * cn, sx * cn, (float)(1.0 / cell)};
        if (fsx2 - (double)sx2 > 1e-3)
            tab[k++] = (area_tab){dx * cn, sx2 * cn,
                                  (float)(fmin(fmin(fsx2 - (double)sx2, 1.0), cell) / cell)};
    }
    return k;
}

static uint8_t sat_u8(float v)
{
    float r = rintf(v);   /* cvRound: half to even in the default rounding mode */
    return r <= 0 ? 0 : r >= 255 ? 255 : (uint8_t)r;
}

int qlab_image_resize_area(const qlab_image *src, int64_t dw, int64_t dh, uint8_t *dst)
{
    if (dw < 1 || dh < 1 || dw > src->w || dh > src->h)
        return 2;
    const int64_t cn = 3, dwidth = dw * cn;
    area_tab *xt = malloc((size_t)(2 * src->w) * sizeof *xt);
    area_tab *yt = malloc((size_t)(2 * src->h) * sizeof *yt);
    float *buf = malloc((size_t)dwidth * sizeof *buf), *sum = malloc((size_t)dwidth * sizeof *sum);
    if (!xt || !yt || !buf || !sum) {
        free(xt); free(yt); free(buf); free(sum);
        return 2;
    }
    int64_t nx = area_table(src->w, dw, cn, (double)src->w / (double)dw, xt);
    int64_t ny = area_table(src->h, dh, 1, (double)src->h / (double)dh, yt);
    int64_t prev = yt[0].di;
    for (int64_t i = 0; i < dwidth; i++)
        sum[i] = 0;
    for (int64_t j = 0; j < ny; j++) {
        float beta = yt[j].alpha;
        int64_t dy = yt[j].di;
        const uint8_t *s = src->rgb + (size_t)yt[j].si * src->w * cn;
        for (int64_t i = 0; i < dwidth; i++)
            buf[i] = 0;
        for (int64_t k = 0; k < nx; k++) {
            int64_t sx = xt[k].si, dx = xt[k].di;
            float a = xt[k].alpha;
            buf[dx] = buf[dx] + (float)s[sx] * a;
            buf[dx + 1] = buf[dx + 1] + (float)s[sx + 1] * a;
            buf[dx + 2] = buf[dx + 2] + (float)s[sx + 2] * a;
        }
        if (dy != prev) {
            uint8_t *d = dst + prev * dwidth;
            for (int64_t i = 0; i < dwidth; i++) {
                d[i] = sat_u8(sum[i]);
                sum[i] = beta * buf[i];
            }
            prev = dy;
        } else {
            for (int64_t i = 0; i < dwidth; i++)
                sum[i] += beta * buf[i];
        }
    }
    uint8_t *d = dst + prev * dwidth;
    for (int64_t i = 0; i < dwidth; i++)
        d[i] = sat_u8(sum[i]);
    free(xt); free(yt); free(buf); free(sum);
    return 0;
}
