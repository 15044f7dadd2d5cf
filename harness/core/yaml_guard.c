/* yaml_guard.c: parse untrusted YAML or JSON in a child process first (see yaml_guard.h). */
#include "core/yaml_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"

int qlab_yaml_guard(const char *text, size_t len, const char *path, int json, const char *what,
                    char *err, size_t err_len)
{
    const char *off = getenv("QLAB_YAML_GUARD");
    if (off && strcmp(off, "0") == 0) return 0;
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        /* The child's death must be plain: no sanitizer report, no core file, nothing
         * printed (libfyaml's diagnostics go nowhere; the parent's parse reports). */
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        alarm(QLAB_YAML_GUARD_SECONDS);
        struct fy_parse_cfg pc;
        memset(&pc, 0, sizeof pc);
        /* resolving anchors and merge keys too: every parse in the parent does at most this */
        pc.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT | (json ? FYPCF_JSON_FORCE : 0);
        struct fy_document *d = text ? fy_document_build_from_string(&pc, text, len)
                                     : fy_document_build_from_file(&pc, path);
        if (d) fy_document_destroy(d);
        if (text) {   /* the config loader also reads a second document, if any */
            struct fy_parser *fyp = fy_parser_create(&pc);
            struct fy_document *x;
            if (fyp && fy_parser_set_string(fyp, text, len) == 0)
                for (int n = 0; n < 2 && (x = fy_parse_load_document(fyp)) != NULL; n++)
                    fy_parse_document_destroy(fyp, x);
            if (fyp) fy_parser_destroy(fyp);
        }
        _exit(0);   /* no atexit handlers: nothing of the parent's is flushed twice */
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) return 0;
    }
    if (!WIFSIGNALED(st)) return 0;
    int sig = WTERMSIG(st);
    /* the one known trigger, located when the text is at hand */
    int line = 1;
    for (size_t i = 0, bol = 0; text && sig != SIGALRM && i < len; i++) {
        if (text[i] == '\n') {
            line++;
            bol = i + 1;
        } else if (text[i] == '\t') {
            size_t j = i;
            while (j < len && (text[j] == '\t' || text[j] == ' ')) j++;
            if (j < len && (text[j] == '|' || text[j] == '>')) {
                qlab_set_err(err, err_len, "%s:%d:%d: a tab before the block scalar indicator "
                             "'%c' crashed the YAML parser (libfyaml 0.7, signal %d); use a space",
                             what, line, (int)(i - bol) + 1, text[j], sig);
                return 2;
            }
        }
    }
    if (sig == SIGALRM)
        qlab_set_err(err, err_len, "%s: the YAML parser (libfyaml) did not finish within %d s on "
                     "this text; it is malformed in a way the parser cannot report (check the "
                     "syntax: tabs, quotes, directives)", what, QLAB_YAML_GUARD_SECONDS);
    else
        qlab_set_err(err, err_len, "%s: the YAML parser (libfyaml) crashed on this text (signal "
                     "%d: %s), a defect of the parser on malformed input; check the syntax "
                     "(tabs, quotes, indentation)", what, sig,
                     strsignal(sig));
    return 2;
}

/* Offset of the first byte of text[0..len) that is not part of well-formed UTF-8 (or
 * is a NUL), or len if there is none. */
static size_t utf8_bad_offset(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                 : (c & 0xF8) == 0xF0 ? 3 : 4;
        if (c == 0 || n == 4 || (n == 1 && c < 0xC2) || (n == 3 && c > 0xF4) || i + n >= len + (n == 0))
            return i;
        uint32_t cp = n == 0 ? c : c & (0x3Fu >> n);
        for (size_t j = 1; j <= n; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

int qlab_utf8_check(const char *text, size_t len, const char *what, const char *kind, char *err,
                    size_t err_len)
{
    size_t bad = utf8_bad_offset(text, len);
    if (bad >= len) return 0;
    int line = 1, col = 1;
    for (size_t i = 0; i < bad; i++) {
        if (text[i] == '\n') { line++; col = 1; }
        else if (((unsigned char)text[i] & 0xC0) != 0x80) col++;
    }
    qlab_set_err(err, err_len, "%s:%d:%d: not UTF-8 text (byte 0x%02x); %s is a YAML text file", what, line,
                 col, (unsigned char)text[bad], kind);
    return 2;
}

char *qlab_read_text_file(const char *path, size_t *len_out, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        qlab_set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        char *grown = realloc(buf, cap * 2 + 1);
        if (!grown) { free(buf); buf = NULL; break; }
        buf = grown;
        cap *= 2;
    }
    int read_err = ferror(f) ? errno : 0;
    fclose(f);
    if (!buf || read_err) {
        free(buf);
        qlab_set_err(err, err_len, "%s: cannot read the file: %s", path,
                     read_err ? strerror(read_err) : "out of memory");
        return NULL;
    }
    buf[len] = '\0';
    *len_out = len;
    return buf;
}
