/* yaml_guard.h: parse untrusted YAML or JSON in a child process first.
 *
 * libfyaml 0.7.12 (Debian 12) crashes on some malformed text instead of reporting it:
 * a tab before a block scalar indicator inside an explicit key ("? a:\t>") makes it
 * dereference a freed indent while cleaning up after the syntax error
 * (fy_indent_vacuum_internal, found by fuzz/fuzz_config.c), and some malformed UTF-8
 * made it loop forever. Every text qlab hands libfyaml comes from a user (configs,
 * tolerance files, peer timings, the config stored in a results file), so each is
 * parsed once in a forked child before the real parse: a child that dies or hangs
 * turns into an error message and exit status 2 instead of a crash of qlab.
 *
 * QLAB_YAML_GUARD=0 in the environment parses in-process, for fuzzing only: under
 * AddressSanitizer a fork costs about 2 ms, 50 times the parse (fuzz/run.sh fuzzes
 * with it and replays the inputs it keeps with the guard on).
 */
#ifndef QLAB_YAML_GUARD_H
#define QLAB_YAML_GUARD_H

#include <stddef.h>

/* Seconds a child may take to parse a text before it counts as hung. */
#define QLAB_YAML_GUARD_SECONDS 10

/* Parses text[0..len) (or, when text is NULL, the file at path) with libfyaml in a
 * child process; json: parse as JSON. what names the input in the message (a file
 * name or "<string>"). Returns 0 when the parser finished, whether or not the text is
 * valid (the caller's own parse reports syntax errors), or when no child could be
 * started (the caller then parses unguarded, as before); 2 with err set when the
 * parser crashed or did not finish within QLAB_YAML_GUARD_SECONDS. */
int qlab_yaml_guard(const char *text, size_t len, const char *path, int json, const char *what,
                    char *err, size_t err_len);

/* 0 when text[0..len) is UTF-8 without NUL bytes; else 2 with "what:line:col: not UTF-8 text (byte 0xNN); kind is
 * a YAML text file" in err (kind: "a config", "a tolerance file"). YAML is UTF-8 text,
 * and libfyaml 0.7 loops forever on some malformed sequences inside directives, so
 * bad text is refused before parsing. */
int qlab_utf8_check(const char *text, size_t len, const char *what, const char *kind, char *err,
                    size_t err_len);

/* The whole file at path, NUL-terminated (caller frees), its length in *len; NULL with
 * "path: cannot open: REASON" or "path: cannot read the file: REASON" in err. */
char *qlab_read_text_file(const char *path, size_t *len, char *err, size_t err_len);

#endif
