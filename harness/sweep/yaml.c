/* yaml.c: one safe parse of a YAML input (qlab_yaml_parse, see config.h), shared by the
 * config loader, the stored config's figures and compare's tolerance file. */
#include "sweep/config.h"
#include "sweep/config_internal.h"
#include "core/error.h"
#include "core/yaml_guard.h"

#include <libfyaml.h>
#include <string.h>

/* Makes libfyaml's report of a failed parse say more: a tab in a line's indentation
 * (YAML indents with spaces; libfyaml may point at the line before) takes over the
 * report with its own position, and a duplicate key is named. */
static void syntax_error_hint(fy_capture *cap, const char *text, size_t len)
{
    int line = 1;
    for (size_t i = 0, bol = 0; i < len; i++) {
        if (text[i] == '\n') {
            line++;
            bol = i + 1;
        } else if (text[i] == '\t') {
            int indent = 1;
            for (size_t j = bol; j < i && indent; j++)
                indent = text[j] == ' ';
            if (indent) {
                snprintf(cap->msg, sizeof cap->msg, "a tab in the indentation (YAML indents with spaces)");
                cap->line = line;
                cap->col = (int)(i - bol) + 1;
                return;
            }
        }
    }
    if (!strstr(cap->msg, "duplicate key") || cap->line <= 0 || cap->col <= 0)
        return;
    /* the key starts at the reported line and column */
    size_t i = 0;
    for (int l = 1; i < len && l < cap->line; i++)
        l += text[i] == '\n';
    i += (size_t)cap->col - 1;
    size_t e = i;
    while (e < len && e - i < 64 && text[e] != ':' && text[e] != '\n' && text[e] != ' ')
        e++;
    if (i < len && e > i) {
        size_t m = strlen(cap->msg);
        snprintf(cap->msg + m, sizeof cap->msg - m, " '%.*s'", (int)(e - i), text + i);
    }
}

/* Whether the text holds a second YAML document after the first: 1 (its '---' line in
 * *line, 0 when not found), -1 when what follows the first does not parse (libfyaml's
 * report is in the capture), 0 when there is none. libfyaml's document builder reads
 * the first document only, so a second one would be dropped without a word. */
static int second_document(const struct fy_parse_cfg *pc, const char *text, size_t len, int *line)
{
    struct fy_parser *fyp = fy_parser_create(pc);
    int found = 0;
    if (fyp && fy_parser_set_string(fyp, text, len) == 0) {
        struct fy_document *d = fy_parse_load_document(fyp);
        if (d) {
            fy_parse_document_destroy(fyp, d);
            d = fy_parse_load_document(fyp);
            if (d) {
                found = 1;
                fy_parse_document_destroy(fyp, d);
            } else if (fy_parser_get_stream_error(fyp)) {
                found = -1;
            }
        }
    }
    if (fyp) fy_parser_destroy(fyp);
    /* its marker: the first '---' line after a line of content */
    *line = 0;
    int l = 1, content = 0;
    for (size_t i = 0; found == 1 && i < len && !*line; l++) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        int marker = e - i >= 3 && !strncmp(text + i, "---", 3) &&
                     (e - i == 3 || text[i + 3] == ' ' || text[i + 3] == '\t');
        if (marker && content) *line = l;
        else if (!marker && e > i && text[i] != '#' && text[i] != '%' && text[i] != ' ') content = 1;
        i = e + 1;
    }
    return found;
}

int qlab_yaml_parse(const char *text, size_t len, const char *source, const char *kind,
                    qlab_yaml_capture *cap, struct fy_document **doc, char *err, size_t err_len)
{
    *doc = NULL;
    cfg_capture_reset(cap);
    if (qlab_utf8_check(text, len, source, kind, err, err_len)) return 2;
    /* a parser crash or hang on this text becomes a message (core/yaml_guard.h) */
    if (qlab_yaml_guard(text, len, NULL, 0, source, err, err_len)) return 2;
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;                   /* never print: route everything to the capture */
    dc.output_fn = cfg_capture_output;
    dc.user = cap;
    dc.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (!diag) {
        qlab_set_err(err, err_len, "%s: cannot set up the YAML parser", source);
        return 2;
    }
    struct fy_parse_cfg pc;
    memset(&pc, 0, sizeof pc);
    pc.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT;
    pc.diag = diag;
    /* the document refers to the text (the caller keeps it until destroying the
     * document) and holds a reference to the diag, which writes into cap */
    struct fy_document *fyd = fy_document_build_from_string(&pc, text, len);
    int rc = 0, line = 0, second = 0;
    if (!fyd)
        syntax_error_hint(cap, text, len);
    if (!fyd && cap->msg[0]) {
        qlab_set_err(err, err_len, "%s:%d:%d: YAML syntax error: %s", source, cap->line ? cap->line : 1,
                     cap->col ? cap->col : 1, cap->msg);
        rc = 2;
    } else if (fyd && (second = second_document(&pc, text, len, &line)) != 0) {
        if (second > 0 && line > 0)
            qlab_set_err(err, err_len, "%s:%d:1: a second YAML document starts here; %s is one document "
                         "(remove the '---' line, or put each document in a file of its own)", source, line, kind);
        else if (second > 0)
            qlab_set_err(err, err_len, "%s: a second YAML document follows the first; %s is one document",
                         source, kind);
        else
            qlab_set_err(err, err_len, "%s:%d:%d: YAML syntax error after the first document: %s", source,
                         cap->line ? cap->line : 1, cap->col ? cap->col : 1, cap->msg);
        fy_document_destroy(fyd);
        fyd = NULL;
        rc = 2;
    }
    fy_diag_destroy(diag);   /* the document keeps its own reference */
    *doc = fyd;
    return rc;
}
