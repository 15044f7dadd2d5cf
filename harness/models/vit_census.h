/* vit_census.h: the outlier census of the ViT-S/14 backbone (`qlab census vit-s14`):
 * per block and linear input, how many feature columns hold a value with |x| >= t, over
 * a sweep of t, as the LLM.int8() paper counts them for language models.
 */
#ifndef QLAB_VIT_CENSUS_H
#define QLAB_VIT_CENSUS_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* Thresholds swept (|x| >= t). */
#define QLAB_CENSUS_N_T 15
extern const double qlab_census_t[QLAB_CENSUS_N_T];

/* Runs the float32 reference forward on the photos and writes, to out, a TSV with a
 * header line and one row per (block, input, t): block (0..11), input (qkv: the
 * norm1 output read by query, key and value; attn_out: the attention context read by
 * attention.output; fc1: the norm2 output; fc2: the GELU output), k (columns),
 * tokens, max_abs (max |x| over the input), std (of all its values), t, cols (columns
 * with some |x| >= t), col_frac (cols / k), token_frac (the fraction of tokens holding
 * such a value). Then, to summary (may be NULL), per t the share of columns the
 * LLM.int8() decomposition keeps in fp16 over all 72 linears (sum of outlier columns
 * / sum of k) and the smallest swept t whose share is at most 1%. Returns 0, or 2
 * with a message naming the image or the weights file. */
int qlab_vit_census(const char *const *images, int64_t n_images, FILE *out, FILE *summary,
                    char *err, size_t err_len);

#endif
