/* error.c: qlab_set_err (see error.h). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

void qlab_set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}
