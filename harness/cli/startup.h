/* threads.h: the wait policy of qlab's OpenMP threads.
 *
 * By default libgomp's idle threads spin before they sleep. On a machine where other
 * processes hold the cores (CI runners, a shared workstation, a 2-core VM running a
 * build) a spinning thread steals the time the working ones need: the default
 * experiment's error sweep took 2.4 s instead of 1.1 s on a 2-core machine with a
 * second job running (measured with OMP_WAIT_POLICY unset against `passive`). So qlab
 * runs with OMP_WAIT_POLICY=passive unless the user set a policy.
 */
#ifndef QLAB_THREADS_H
#define QLAB_THREADS_H

/* Restarts the program (execv of /proc/self/exe with the same argv) with
 * OMP_WAIT_POLICY=passive when the environment sets no policy; returns when it set
 * one already, after the restart, or when the restart is impossible. Call first in
 * main, before any OpenMP region. */
void qlab_threads_init(char **argv);

#endif
