/* fuzz_config.c: libFuzzer harness for the YAML experiment loader.
 *
 * Feeds the input, NUL-terminated, to qlab_experiment_load_string: any crash, leak,
 * sanitizer report or hang is a bug; an error return (2 with a message) is the
 * expected outcome for most inputs. Build and run with fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Large sweeps are legitimate but slow to expand; bound the input instead. */
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    qlab_experiment e;
    char err[1024];
    if (qlab_experiment_load_string(text, "<fuzz>", NULL, 0, &e, err, sizeof err) == 0)
        qlab_experiment_free(&e);
    free(text);
    return 0;
}
