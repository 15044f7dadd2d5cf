/* peers.h: `qlab import-peers`, the timings of other libraries' matmuls (written by
 * tools/gpu_peers.py on a GPU machine) read into a qlab results file.
 *
 * The peers file is JSON (format "qlab-peers", format_version 1; tools/gpu_peers.py
 * describes it). Each of its points becomes a /points row of backend "peer:<peer>"
 * with the axis columns qlab's own point of the same computation has (so `qlab
 * compare` pairs them), the timing summary of its "total" samples, and every sample
 * in /samples. One results file holds one peer (--peer, needed when the peers file
 * holds more than one): torch's int8 pipeline and bitsandbytes' threshold-0 layer are
 * both vector-wise int8 and would otherwise share every axis value.
 */
#ifndef QLAB_CLI_PEERS_H
#define QLAB_CLI_PEERS_H

#include <stdio.h>

/* qlab import-peers PEERS.json -o OUT.h5 [--peer NAME]: argv holds the arguments after
 * the command name. Returns 0, or 2 on a usage or input error (the message, on errf,
 * names the file, line and field). */
int qlab_import_peers_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
