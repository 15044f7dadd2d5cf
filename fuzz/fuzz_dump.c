/* fuzz_dump.c: libFuzzer harness for the layer dump reader (HDF5).
 *
 * Writes the input to a private temporary file, inspects it with qlab_dump_inspect
 * and reads every layer it lists with qlab_dump_read_layer, the path a dump workload
 * takes. A clean error (2 with a message) is fine; a crash or a sanitizer report in
 * qlab's code is a bug (fuzz/run.sh sets apart the defects inside libhdf5).
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "store/dump.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_to_file("dump", data, size);
    if (!path)
        return 0;
    qlab_dump_info info;
    char err[1024];
    if (qlab_dump_inspect(path, &info, err, sizeof err) == 0) {
        for (int64_t i = 0; i < info.n_layers; i++) {
            qlab_dump_tensors t;
            if (qlab_dump_read_layer(path, info.layers[i].group, &t, err, sizeof err) == 0)
                qlab_dump_tensors_free(&t);
        }
        qlab_dump_info_free(&info);
    }
    unlink(path);
    return 0;
}
