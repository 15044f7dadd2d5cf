/* fuzz_results.c: libFuzzer harness for the HDF5 results reader.
 *
 * Writes the input to a private temporary file and reads it with qlab_results_read,
 * the path every command that opens a results file takes (show, export, compare,
 * merge, --resume). A clean error (2 with a message) is fine; a crash, a sanitizer
 * report or a leak is a bug. Build and run with fuzz/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/results.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_to_file("results", data, size);
    if (!path)
        return 0;
    qlab_results_data d;
    char err[1024];
    if (qlab_results_read(path, &d, err, sizeof err) == 0) {
        /* exercise the export of whatever was read, as `qlab export` would */
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            qlab_results_export(&d, "points", "tsv", null, err, sizeof err);
            qlab_results_export(&d, "samples", "csv", null, err, sizeof err);
            fclose(null);
        }
        qlab_results_data_free(&d);
    }
    unlink(path);
    return 0;
}
