/* gnuplot.c: finding and running gnuplot (see gnuplot.h). */
#include "report/gnuplot.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    const char *env = getenv("QLAB_PLOTS_DIR");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return dir_has(out, probe) ? 0 : -1;
    }
    char exe[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, len, "%s/../plots", exe);
            if (dir_has(out, probe))
                return 0;
        }
    }
    snprintf(out, len, "plots");
    return dir_has(out, probe) ? 0 : -1;
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

int qlab_gp_run(const char *gnuplot, const char *vars, const char *script, const char *out,
                int *killed, char *msg, size_t msg_len)
{
    if (msg_len)
        msg[0] = '\0';
    *killed = 0;
    unlink(out);
    fflush(NULL);
    int pipefd[2];
    if (pipe(pipefd)) {
        snprintf(msg, msg_len, "pipe: %s", strerror(errno));
        return 3;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        snprintf(msg, msg_len, "fork: %s", strerror(errno));
        return 3;
    }
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        execl(gnuplot, "gnuplot", "-e", vars, script, (char *)NULL);
        execlp(gnuplot, "gnuplot", "-e", vars, script, (char *)NULL);
        dprintf(2, "cannot run %s: %s", gnuplot, strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    /* Read to the end (so gnuplot never blocks on a full pipe), keep the start. */
    size_t got = 0;
    char sink[4096];
    for (;;) {
        char *dst = got + 1 < msg_len ? msg + got : sink;
        size_t room = got + 1 < msg_len ? msg_len - 1 - got : sizeof sink;
        ssize_t r = read(pipefd[0], dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (dst != sink)
            got += (size_t)r;
    }
    close(pipefd[0]);
    if (msg_len) {
        msg[got] = '\0';
        for (char *p = msg; *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        *killed = !WIFEXITED(st);
        return 1;
    }
    struct stat sb;
    if (stat(out, &sb) != 0 || sb.st_size == 0)
        return 2;
    return 0;
}
