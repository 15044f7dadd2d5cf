/* startup.c: process-wide settings chosen before any work (see startup.h). */
#include "cli/startup.h"

#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

void qlab_startup(char **argv)
{
    /* libgomp reads its settings from the environment when it is loaded, before
     * main, so the one way to choose them is to start again with them set. */
    if (!getenv("OMP_WAIT_POLICY") && !getenv("QLAB_STARTED") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0 &&
        setenv("QLAB_STARTED", "1", 1) == 0)
        execv("/proc/self/exe", argv);   /* returns only if the restart failed */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
