/* merge.h: `qlab merge`: shard files of one sweep -> one results file. */
#ifndef QLAB_MERGE_H
#define QLAB_MERGE_H

/* Joins the results files `inputs` into `output` (which must not exist). Refuses
 * files of different experiments, configs or builds, and files of different devices
 * unless allow_mixed_devices; refuses duplicate points and, unless allow_missing, a
 * sweep with points missing (each listed). Points are written in id order, so the
 * merged file equals the unsharded run point for point. Returns 0, or 2 with a
 * message printed on stderr. */
int qlab_merge(const char *const *inputs, int n_inputs, const char *output,
               int allow_mixed_devices, int allow_missing);

#endif
