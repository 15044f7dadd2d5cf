/* gnuplot.c: finding and running gnuplot (see gnuplot.h).
 *
 * Shared by `qlab plot` (plot_draw.c) and `qlab history` (history.c): the gnuplot
 * executable and the plots/ directory, quoting for -e statements, and one run of a
 * script that leaves either a complete output file or none, with gnuplot's reason.
 */
#include "report/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void qlab_gp_quote(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    if (len < 3)
        return;
    buf[o++] = '\'';
    for (; *s && o + 3 < len; s++) {
        if (*s == '\'') {
            buf[o++] = '\'';
            buf[o++] = '\'';
        } else {
            buf[o++] = (*s == '\n' || *s == '\t') ? ' ' : *s;
        }
    }
    buf[o++] = '\'';
    buf[o] = '\0';
}

int qlab_gp_find(char *out, size_t len)
{
    const char *gp = getenv("QLAB_GNUPLOT");
    if (gp && *gp) {
        snprintf(out, len, "%s", gp);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *e = strchr(path, ':');
        size_t n = e ? (size_t)(e - path) : strlen(path);
        if (n > 0 && n + strlen("gnuplot") + 2 < len) {
            snprintf(out, len, "%.*s/gnuplot", (int)n, path);
            if (access(out, X_OK) == 0)
                return 0;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return -1;
}

static int dir_has(const char *dir, const char *probe)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, probe);
    return access(p, R_OK) == 0;
}

int qlab_gp_find_scripts(const char *probe, char *out, size_t len)
{
    /* An explicit folder is the answer, whether or not it holds the script. */
    static const char *const env_names[] = {"QLAB_PLOTS", "QLAB_PLOTS_DIR"};
    for (size_t i = 0; i < sizeof env_names / sizeof *env_names; i++) {
        const char *env = getenv(env_names[i]);
        if (env && *env) {
            snprintf(out, len, "%s", env);
            if (dir_has(out, probe))
                return 0;
            snprintf(out, len, "$%s = %s", env_names[i], env);
            return -1;
        }
    }
    /* Beside the executable: installed (PREFIX/bin/qlab, PREFIX/share/qlab/plots),
     * then a build folder under the tree (build/qlab or build/NAME/qlab, plots/). */
    char tried[3 * PATH_MAX] = "";
    size_t t = 0;
    char exe[PATH_MAX - 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {"../share/qlab/plots", "../plots", "../../plots"};
            for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
                snprintf(out, len, "%s/%s", exe, rel[i]);
                if (dir_has(out, probe))
                    return 0;
                if (t < sizeof tried)
                    t += (size_t)snprintf(tried + t, sizeof tried - t, "%s, ", out);
            }
        }
    }
    snprintf(out, len, "plots");
    if (dir_has(out, probe))
        return 0;
    snprintf(out, len, "%s./plots", tried);
    return -1;
}

int qlab_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Line [*i, end of line) of buf, trimmed into [*a, *b); moves *i to the next line. */
static void gp_line(const char *buf, size_t n, size_t *i, size_t *a, size_t *b)
{
    size_t e = *i;
    while (e < n && buf[e] != '\n')
        e++;
    *a = *i;
    *b = e;
    while (*a < *b && (buf[*a] == ' ' || buf[*a] == '\t' || buf[*a] == '\r'))
        (*a)++;
    while (*b > *a && (buf[*b - 1] == ' ' || buf[*b - 1] == '\t' || buf[*b - 1] == '\r'))
        (*b)--;
    *i = e < n ? e + 1 : n;
}

/* 1 when [a, b) of buf is one of gnuplot's warnings ("warning:" in any case). */
static int gp_is_warning(const char *buf, size_t a, size_t b)
{
    for (size_t k = a; k + 8 <= b; k++)
        if (!strncasecmp(buf + k, "warning:", 8))
            return 1;
    return 0;
}

/* gnuplot's reason, from its whole output `buf` (n bytes), on one line into msg.
 * gnuplot prints an error as the command echoed, a line holding only a caret under
 * the place, then the reason ("file" line N: what); warnings ("file" line N: warning:
 * what) come as they arise, one per data file or expression, so there may be
 * hundreds. The reason is the lines that are not warnings (after the last caret line
 * when there is one: before it is the echoed command), then the first warning, often
 * the cause (a file not found, no valid points), and how many others there were. When
 * only warnings were printed, they are the reason. Where the error lines alone do not
 * fit, their end is kept (it says what is wrong), the cut marked with "...". */
static void gp_reason(const char *buf, size_t n, char *msg, size_t msg_len)
{
    if (msg_len == 0)
        return;
    msg[0] = '\0';
    size_t from = 0, i = 0, a, b;
    while (i < n) {
        gp_line(buf, n, &i, &a, &b);
        if (b == a + 1 && buf[a] == '^')
            from = i;
    }
    char *err = malloc(n + 1), *warn = malloc(n + 1);
    if (!err || !warn) {
        free(err);
        free(warn);
        snprintf(msg, msg_len, "(gnuplot's message: out of memory)");
        return;
    }
    /* err: the lines that are not warnings (from `from` on), one space between;
     * warn: every warning, likewise; first_w: the length of the first warning in warn */
    size_t ne = 0, nw = 0, first_w = 0;
    int n_warn = 0;
    for (i = 0; i < n;) {
        size_t at = i;
        gp_line(buf, n, &i, &a, &b);
        if (b == a || (b == a + 1 && buf[a] == '^'))
            continue;
        int w = gp_is_warning(buf, a, b);
        if (!w && at < from)
            continue;   /* the echoed command */
        char *dst = w ? warn : err;
        size_t *o = w ? &nw : &ne;
        if (*o)
            dst[(*o)++] = ' ';
        memcpy(dst + *o, buf + a, b - a);
        *o += b - a;
        if (w && n_warn++ == 0)
            first_w = nw;
    }
    err[ne] = '\0';
    warn[nw] = '\0';
    if (ne == 0) {   /* warnings only: all of them, their end where they do not fit */
        if (nw < msg_len)
            memcpy(msg, warn, nw + 1);
        else if (msg_len > 4)
            snprintf(msg, msg_len, "...%s", warn + (nw - (msg_len - 4)));
    } else if (ne >= msg_len) {
        if (msg_len > 4)
            snprintf(msg, msg_len, "...%s", err + (ne - (msg_len - 4)));
    } else if (n_warn == 0) {
        memcpy(msg, err, ne + 1);
    } else {
        char more[48] = "";
        if (n_warn > 1)
            snprintf(more, sizeof more, " (and %d more warning%s)", n_warn - 1, n_warn > 2 ? "s" : "");
        warn[first_w] = '\0';
        snprintf(msg, msg_len, "%s; gnuplot warned first: %s%s", err, warn, more);
    }
    free(err);
    free(warn);
}

/* The temporary file gnuplot draws into: "<dir of out>/.<name of out>.<pid>-<i>.tmp",
 * created empty and new (O_EXCL; mode 0666 less the umask, as gnuplot's own file would
 * be). Returns 0, or -1 with errno set. */
static int gp_tmp_name(const char *out, char *tmp, size_t len)
{
    const char *slash = strrchr(out, '/');
    for (int i = 0; i < 100; i++) {
        int n = slash ? snprintf(tmp, len, "%.*s/.%s.%ld-%d.tmp", (int)(slash - out), out, slash + 1,
                                 (long)getpid(), i)
                      : snprintf(tmp, len, ".%s.%ld-%d.tmp", out, (long)getpid(), i);
        if (n < 0 || (size_t)n >= len) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

int qlab_gp_run(const char *gnuplot, const char *vars, const char *script, const char *out,
                int *killed, char *msg, size_t msg_len)
{
    if (msg_len)
        msg[0] = '\0';
    *killed = 0;
    unlink(out);
    char tmp[PATH_MAX + 32], q_tmp[2 * PATH_MAX + 80], *set_out = NULL;
    if (gp_tmp_name(out, tmp, sizeof tmp)) {
        snprintf(msg, msg_len, "cannot create a file next to %s: %s", out, strerror(errno));
        return 3;
    }
    qlab_gp_quote(tmp, q_tmp, sizeof q_tmp);
    size_t set_len = strlen(q_tmp) + 8;
    set_out = malloc(set_len);
    if (!set_out) {
        unlink(tmp);
        snprintf(msg, msg_len, "out of memory");
        return 3;
    }
    snprintf(set_out, set_len, "out=%s", q_tmp);
    fflush(NULL);
    int pipefd[2];
    if (pipe(pipefd)) {
        snprintf(msg, msg_len, "pipe: %s", strerror(errno));
        unlink(tmp);
        free(set_out);
        return 3;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        snprintf(msg, msg_len, "fork: %s", strerror(errno));
        unlink(tmp);
        free(set_out);
        return 3;
    }
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        execl(gnuplot, "gnuplot", "-e", vars, "-e", set_out, script, (char *)NULL);
        execlp(gnuplot, "gnuplot", "-e", vars, "-e", set_out, script, (char *)NULL);
        dprintf(2, "cannot run %s: %s", gnuplot, strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    free(set_out);
    /* Read to the end (so gnuplot never blocks on a full pipe); keep the last
     * GP_KEEP bytes at least, where the reason is. */
    enum { GP_KEEP = 32768 };
    char *buf = malloc(2 * GP_KEEP);
    size_t got = 0;
    char sink[4096];
    for (;;) {
        if (buf && got == 2 * GP_KEEP) {   /* full: drop the older half */
            memmove(buf, buf + GP_KEEP, GP_KEEP);
            got = GP_KEEP;
        }
        char *dst = buf ? buf + got : sink;
        size_t room = buf ? 2 * GP_KEEP - got : sizeof sink;
        ssize_t r = read(pipefd[0], dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (buf)
            got += (size_t)r;
    }
    close(pipefd[0]);
    if (buf)
        gp_reason(buf, got, msg, msg_len);
    else
        snprintf(msg, msg_len, "(gnuplot's message: out of memory)");
    free(buf);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        *killed = !WIFEXITED(st);
        unlink(tmp);
        return 1;
    }
    struct stat sb;
    if (stat(tmp, &sb) != 0 || sb.st_size == 0) {
        unlink(tmp);
        return 2;
    }
    if (rename(tmp, out) != 0) {
        snprintf(msg, msg_len, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
        unlink(tmp);
        return 3;
    }
    return 0;
}
