/* fuzz_file.h: for fuzzers of readers that take a path (HDF5 files): the input
 * written to a file of this process's own, reused across inputs. */
#ifndef QLAB_FUZZ_FILE_H
#define QLAB_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* Writes data to /tmp/qlab-fuzz-<tag>-<pid>.h5 and returns that path, or NULL when the
 * file cannot be written (the input is then skipped). The caller unlinks it. */
static const char *fuzz_to_file(const char *tag, const uint8_t *data, size_t size)
{
    static char path[96];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/qlab-fuzz-%s-%d.h5", tag, (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    return path;
}

#endif
