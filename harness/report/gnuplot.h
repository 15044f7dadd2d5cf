/* gnuplot.h: finding and running gnuplot, shared by `qlab plot` and `qlab history`.
 *
 * Both draw figures the same way: a script from plots/, variables passed with -e as
 * gnuplot statements, one run per terminal (png, pdf), success only when gnuplot
 * exits 0 and the output file is non-empty; a failed run leaves no output file.
 */
#ifndef QLAB_GNUPLOT_H
#define QLAB_GNUPLOT_H

#include <stddef.h>

/* A gnuplot single-quoted string literal of s into buf: ' is escaped as ''; tabs and
 * newlines become spaces (they would end the -e statement). Truncates to fit len. */
void qlab_gp_quote(const char *s, char *buf, size_t len);

/* The gnuplot executable: $QLAB_GNUPLOT, else the first `gnuplot` on PATH. Returns 0,
 * or -1 when none is found. */
int qlab_gp_find(char *out, size_t len);

/* The plots/ directory holding `probe` (e.g. "style.gp"): $QLAB_PLOTS (or its older
 * name $QLAB_PLOTS_DIR) when set, whether or not it holds `probe`; else, relative to
 * the executable's own folder (/proc/self/exe), ../share/qlab/plots (an installed
 * qlab: PREFIX/bin/qlab), ../plots or ../../plots (build/qlab, build/NAME/qlab); else
 * ./plots. Returns 0, or -1 if none holds it, with the folders tried written to out. */
int qlab_gp_find_scripts(const char *probe, char *out, size_t len);

/* mkdir -p. Returns 0, or -1 with errno set. */
int qlab_mkdir_p(const char *path);

/* Runs `gnuplot -e vars -e out=TMP script`: the script draws into TMP, a new file
 * next to `out` (".<name>.<pid>-<i>.tmp" in out's directory; the script must take its
 * output file from the gnuplot variable `out`, as plots/style.gp does), renamed to `out`
 * when gnuplot exits 0 having written it. `out` is removed first, and TMP whatever
 * happens, so `out` is afterwards complete or absent, never empty or partial.
 * Returns 0; 1 when gnuplot failed (exit status or killed: *killed says which); 2 when
 * it exited 0 but wrote nothing; 3 when it could not be started or the files could not
 * be made (msg says why). msg gets gnuplot's reason on one line: what it printed after
 * the echoed command and its caret (or all it printed when there is none), keeping
 * the end when that does not fit. */
int qlab_gp_run(const char *gnuplot, const char *vars, const char *script, const char *out,
                int *killed, char *msg, size_t msg_len);

#endif
