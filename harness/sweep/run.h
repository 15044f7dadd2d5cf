/* run.h: `qlab run`: config -> points -> workload -> backend -> metrics -> results file. */
#ifndef QLAB_RUN_H
#define QLAB_RUN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *config_path;     /* NULL with resume_path */
    const char *output_path;     /* NULL: results/<name>-<utc>.h5 */
    const char *backend;         /* NULL: the config's */
    const char *const *sets;     /* --set overrides */
    int n_sets;
    const char *resume_path;     /* --resume FILE */
    int shard_index, shard_count;/* --shard I/N (count 0: no sharding) */
    int dry_run;
    int progress;                /* -1: when stderr is a terminal, 0: never, 1: always */
} qlab_run_opts;

/* Runs a sweep. Returns the process exit status: 0 all points ok, 1 some points
 * failed or the run was interrupted (SIGINT/SIGTERM: the file is marked
 * interrupted and keeps every finished point), 2 usage or input error (message
 * printed on stderr, nothing written). The path of the results file is printed on
 * stdout as "results: PATH". */
int qlab_run(const qlab_run_opts *o);

#endif
