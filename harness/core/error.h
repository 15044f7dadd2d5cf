/* error.h: the error convention of qlab's library code.
 *
 * A function that can fail returns a status and, on failure, writes one message for the
 * user into a caller-provided buffer (err, err_len): the library never prints and never
 * exits; the command that called it decides.
 */
#ifndef QLAB_ERROR_H
#define QLAB_ERROR_H

#include <stddef.h>

/* Writes a printf-style message into err when err is not NULL and err_len > 0
 * (truncated to err_len - 1 characters). */
void qlab_set_err(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
