/* startup.h: process-wide settings qlab chooses before it does any work.
 *
 * Threads. By default libgomp's idle threads spin before they sleep. On a machine
 * where other processes hold the cores (CI runners, a shared workstation, a 2-core VM
 * running a build) a spinning thread steals the time the working ones need: the
 * default experiment's error sweep took 2.4 s instead of 1.1 s on a 2-core machine
 * with a second job running (measured with OMP_WAIT_POLICY unset against `passive`).
 * So qlab runs with OMP_WAIT_POLICY=passive unless the user set a policy.
 *
 * Memory. A sweep allocates and frees operands of a few MB per point; glibc returns
 * such blocks to the kernel (mmap / trim) and the next point pays for fresh, zeroed
 * pages (about 6% of the error sweep's time in page faults). qlab keeps them: blocks
 * up to 256 MiB come from the heap and the heap is trimmed only past 1 GiB free.
 * Measured on the error sweep: 0.77-0.85 s plain, 0.65-0.66 s with these settings.
 */
#ifndef QLAB_STARTUP_H
#define QLAB_STARTUP_H

/* Applies both settings. For the thread policy it restarts the program (execv of
 * /proc/self/exe with the same argv) with OMP_WAIT_POLICY=passive when the
 * environment sets no policy; it returns when a policy was set already, after the
 * restart, or when the restart is impossible. Call first in main, before any OpenMP
 * region. */
void qlab_startup(char **argv);

#endif
