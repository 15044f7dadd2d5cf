/* fuzz_safetensors.c: libFuzzer harness for the .safetensors reader.
 *
 * Parses the input as a file image with qlab_st_parse (the checks qlab_st_open makes
 * on a mapped file), then reads every float tensor it lists as float32, as a model
 * load would. A clean error (2 with a message) is fine; a crash, an out-of-bounds
 * read, a leak or an allocation the header's sizes do not justify is a bug.
 * Build and run with fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>

#include "models/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qlab_safetensors st;
    char err[1024];
    if (qlab_st_parse(&st, data, size, "<fuzz>", err, sizeof err) != 0)
        return 0;
    for (int64_t i = 0; i < st.n_tensors; i++) {
        float *v = NULL;
        if (qlab_st_read_f32(&st, st.tensors[i].name, 0, NULL, &v, err, sizeof err) == 0)
            free(v);
    }
    qlab_st_close(&st);
    return 0;
}
