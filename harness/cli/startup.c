/* threads.c: how qlab's OpenMP threads wait (see qlab_threads_init). */
#include "cli/threads.h"

#include <stdlib.h>
#include <unistd.h>

void qlab_threads_init(char **argv)
{
    /* libgomp reads its settings from the environment when it is loaded, before
     * main, so the one way to choose them is to start again with them set. */
    if (getenv("OMP_WAIT_POLICY") || getenv("QLAB_THREADS_SET"))
        return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) || setenv("QLAB_THREADS_SET", "1", 1))
        return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the default policy */
}
