/* vit_dump.h: `qlab dump vit-s14`: a layer dump (DESIGN section 8) of the ViT-S/14
 * backbone's 72 linears on real photographs, plus the preprocessed model input.
 */
#ifndef QLAB_VIT_DUMP_H
#define QLAB_VIT_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "store/dump.h"

/* Preprocesses the n_images photos (qlab_vit_preprocess), runs the float32 reference
 * forward (float64 accumulation) and writes `out`: /layers/NNN-encoder.layer.L.<linear>
 * for each of the 72 linears in execution order (weight [n,k], bias, the input it
 * received [n_images * 257, k], its output), and /model_input [n_images, 3, 224, 224]
 * float32 (always float32, whatever dtype the layers use) with the attribute `images`
 * (the paths, one per line). A partial file is removed. Returns 0, or 2 with a message
 * naming the image, the weights file or `out`. */
int qlab_vit_write_dump(const char *const *images, int64_t n_images, const char *out,
                        qlab_dump_dtype dtype, char *err, size_t err_len);

#endif
