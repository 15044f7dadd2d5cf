/* tokenizer.c: BERT WordPiece tokenization (see tokenizer.h for the steps and the
 * Unicode coverage). Text is decoded to code points once; every basic-step rule is
 * a per-code-point decision, so a single pass builds the words WordPiece splits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer.h"

#define MAX_WORD_CHARS 100   /* longer words are [UNK], as in the reference tokenizer */

/* ---------------------------------------------------------------------------- */
/* Vocabulary                                                                   */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int32_t lookup_n(const qlab_tokenizer *tk, const char *s, size_t n)
{
    uint64_t mask = (uint64_t)tk->table_size - 1;
    for (uint64_t h = fnv1a(s, n) & mask;; h = (h + 1) & mask) {
        int32_t id = tk->table[h];
        if (id < 0)
            return -1;
        if (strlen(tk->tokens[id]) == n && memcmp(tk->tokens[id], s, n) == 0)
            return id;
    }
}

int32_t qlab_tokenizer_id(const qlab_tokenizer *tk, const char *token)
{
    return lookup_n(tk, token, strlen(token));
}

void qlab_tokenizer_free(qlab_tokenizer *tk)
{
    for (int32_t i = 0; i < tk->n_tokens; i++)
        free(tk->tokens[i]);
    free(tk->tokens);
    free(tk->table);
    memset(tk, 0, sizeof *tk);
}

/* Indexes tk->tokens[0..n_tokens) and finds the special tokens. */
static int build_index(qlab_tokenizer *tk, const char *label, char *err, size_t err_len)
{
    int64_t size = 1;
    while (size < 2 * (int64_t)tk->n_tokens + 2)
        size *= 2;
    tk->table = malloc((size_t)size * sizeof *tk->table);
    if (!tk->table) {
        snprintf(err, err_len, "%s: out of memory", label);
        return 2;
    }
    tk->table_size = size;
    for (int64_t i = 0; i < size; i++)
        tk->table[i] = -1;
    for (int32_t id = 0; id < tk->n_tokens; id++) {
        const char *s = tk->tokens[id];
        size_t n = strlen(s);
        /* a repeated token keeps its first id, as dictionary insertion would not */
        if (lookup_n(tk, s, n) >= 0)
            continue;
        uint64_t mask = (uint64_t)size - 1, h = fnv1a(s, n) & mask;
        while (tk->table[h] >= 0)
            h = (h + 1) & mask;
        tk->table[h] = id;
    }
    tk->id_unk = qlab_tokenizer_id(tk, "[UNK]");
    tk->id_cls = qlab_tokenizer_id(tk, "[CLS]");
    tk->id_sep = qlab_tokenizer_id(tk, "[SEP]");
    tk->id_pad = qlab_tokenizer_id(tk, "[PAD]");
    if (tk->id_unk < 0 || tk->id_cls < 0 || tk->id_sep < 0 || tk->id_pad < 0) {
        snprintf(err, err_len, "%s: vocabulary lacks %s", label,
                 tk->id_unk < 0 ? "[UNK]" : tk->id_cls < 0 ? "[CLS]" : tk->id_sep < 0 ? "[SEP]"
                                                                                  : "[PAD]");
        return 2;
    }
    return 0;
}

int qlab_tokenizer_from_list(qlab_tokenizer *tk, const char *const *tokens, int32_t n,
                             char *err, size_t err_len)
{
    memset(tk, 0, sizeof *tk);
    tk->tokens = calloc((size_t)(n > 0 ? n : 1), sizeof *tk->tokens);
    if (!tk->tokens) {
        snprintf(err, err_len, "vocabulary: out of memory");
        return 2;
    }
    for (int32_t i = 0; i < n; i++) {
        tk->tokens[i] = strdup(tokens[i]);
        if (!tk->tokens[i]) {
            tk->n_tokens = i;
            qlab_tokenizer_free(tk);
            snprintf(err, err_len, "vocabulary: out of memory");
            return 2;
        }
    }
    tk->n_tokens = n;
    if (build_index(tk, "vocabulary", err, err_len)) {
        qlab_tokenizer_free(tk);
        return 2;
    }
    return 0;
}

int qlab_tokenizer_load(qlab_tokenizer *tk, const char *vocab_path, char *err, size_t err_len)
{
    memset(tk, 0, sizeof *tk);
    FILE *f = fopen(vocab_path, "rb");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open vocabulary", vocab_path);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int32_t n = 0, ncap = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (n == ncap) {
            ncap = ncap ? 2 * ncap : 32768;
            char **nt = realloc(tk->tokens, (size_t)ncap * sizeof *nt);
            if (!nt) { rc = 2; break; }
            tk->tokens = nt;
        }
        if (!(tk->tokens[n] = strdup(line))) { rc = 2; break; }
        tk->n_tokens = ++n;
        if (n == INT32_MAX) { rc = 2; break; }
    }
    free(line);
    fclose(f);
    if (rc) {
        qlab_tokenizer_free(tk);
        snprintf(err, err_len, "%s: out of memory reading the vocabulary", vocab_path);
        return 2;
    }
    if (build_index(tk, vocab_path, err, err_len)) {
        qlab_tokenizer_free(tk);
        return 2;
    }
    return 0;
}

/* ---------------------------------------------------------------------------- */
/* Character classes                                                            */

/* Decodes one UTF-8 sequence at s[*i] (advancing *i); returns the code point, or -1
 * for an invalid byte (skipped). */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || *i + (size_t)len > n) {
        (*i)++;
        return -1;
    }
    int32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; k++) {
        if ((s[*i + (size_t)k] & 0xC0) != 0x80) {
            (*i)++;
            return -1;
        }
        cp = (cp << 6) | (s[*i + (size_t)k] & 0x3F);
    }
    *i += (size_t)len;
    static const int32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
        return -1;
    return cp;
}

size_t qlab_utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unicode category Zs plus the ASCII whitespace the reference treats as spaces. */
static int is_space(int32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Categories Cc and Cf (minus tab, newline, carriage return), NUL and U+FFFD. */
static int is_control(int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return 0;
    return c == 0 || c == 0xFFFD || c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0xAD ||
           (c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F ||
           c == 0x180E || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) || c == 0xFEFF ||
           (c >= 0xFFF9 && c <= 0xFFFB);
}

/* CJK Unified Ideographs and their extensions and compatibility blocks: the
 * reference splits each into its own word (Hangul and Kana are not included). */
static int is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Every ASCII non-alphanumeric symbol counts (as in the reference, which includes
 * $, +, <, ^, ` and | though Unicode files them as symbols), plus Unicode category P
 * in the blocks listed in tokenizer.h. */
static int is_punct(int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    return c == 0xA1 || c == 0xA7 || c == 0xAB || c == 0xB6 || c == 0xB7 || c == 0xBB ||
           c == 0xBF || c == 0x37E || c == 0x387 || (c >= 0x55A && c <= 0x55F) ||
           c == 0x589 || c == 0x58A || (c >= 0x2010 && c <= 0x2027) ||
           (c >= 0x2030 && c <= 0x2043) || (c >= 0x2045 && c <= 0x2051) ||
           (c >= 0x2053 && c <= 0x205E) || (c >= 0x3001 && c <= 0x3003) ||
           (c >= 0x3008 && c <= 0x3011) || (c >= 0x3014 && c <= 0x301F) || c == 0x3030 ||
           c == 0x303D || c == 0x30A0 || c == 0x30FB || (c >= 0xFF01 && c <= 0xFF03) ||
           (c >= 0xFF05 && c <= 0xFF0A) || (c >= 0xFF0C && c <= 0xFF0F) || c == 0xFF1A ||
           c == 0xFF1B || c == 0xFF1F || c == 0xFF20 || (c >= 0xFF3B && c <= 0xFF3D) ||
           c == 0xFF3F || c == 0xFF5B || c == 0xFF5D || (c >= 0xFF5F && c <= 0xFF65);
}

static int is_combining(int32_t c)
{
    return (c >= 0x300 && c <= 0x36F) || c == 0x3099 || c == 0x309A;
}

/* Hiragana and Katakana with (semi-)voiced sound marks decompose into the plain kana
 * plus U+3099/U+309A, which accent stripping removes: で becomes て. */
static const int32_t kana_base[][2] = {
    {0x304C, 0x304B}, {0x304E, 0x304D}, {0x3050, 0x304F}, {0x3052, 0x3051}, {0x3054, 0x3053},
    {0x3056, 0x3055}, {0x3058, 0x3057}, {0x305A, 0x3059}, {0x305C, 0x305B}, {0x305E, 0x305D},
    {0x3060, 0x305F}, {0x3062, 0x3061}, {0x3065, 0x3064}, {0x3067, 0x3066}, {0x3069, 0x3068},
    {0x3070, 0x306F}, {0x3071, 0x306F}, {0x3073, 0x3072}, {0x3074, 0x3072}, {0x3076, 0x3075},
    {0x3077, 0x3075}, {0x3079, 0x3078}, {0x307A, 0x3078}, {0x307C, 0x307B}, {0x307D, 0x307B},
    {0x3094, 0x3046}, {0x309E, 0x309D}, {0x30AC, 0x30AB}, {0x30AE, 0x30AD}, {0x30B0, 0x30AF},
    {0x30B2, 0x30B1}, {0x30B4, 0x30B3}, {0x30B6, 0x30B5}, {0x30B8, 0x30B7}, {0x30BA, 0x30B9},
    {0x30BC, 0x30BB}, {0x30BE, 0x30BD}, {0x30C0, 0x30BF}, {0x30C2, 0x30C1}, {0x30C5, 0x30C4},
    {0x30C7, 0x30C6}, {0x30C9, 0x30C8}, {0x30D0, 0x30CF}, {0x30D1, 0x30CF}, {0x30D3, 0x30D2},
    {0x30D4, 0x30D2}, {0x30D6, 0x30D5}, {0x30D7, 0x30D5}, {0x30D9, 0x30D8}, {0x30DA, 0x30D8},
    {0x30DC, 0x30DB}, {0x30DD, 0x30DB}, {0x30F4, 0x30A6}, {0x30F7, 0x30EF}, {0x30F8, 0x30F0},
    {0x30F9, 0x30F1}, {0x30FA, 0x30F2}, {0x30FE, 0x30FD},
};

static int32_t to_lower(int32_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c < 0xC0)
        return c;
    if (c <= 0xDE)
        return c == 0xD7 ? c : c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130) return 'i';           /* İ lowers to i + combining dot, then stripped */
        if (c == 0x178) return 0xFF;
        if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return (c & 1) ? c : c + 1;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c & 1) ? c + 1 : c;
        return c;
    }
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
        return c + 32;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    return c;
}

/* Base letters of Latin-1 U+00E0..U+00FF (lower case) after canonical decomposition;
 * '.' = no decomposition (æ, ð, ø, þ, ÷ stay). */
static const char latin1_base[] = "aaaaaa.ceeeeiiii.nooooo..uuuuy.y";
/* Latin Extended-A U+0100..U+017F, one entry per code point. */
static const char latin_ext_a_base[] =
    "aaaaaaccccccccdd..eeeeeeeeeegggggggghh..iiiiiiiii...jjkk.llllll....nnnnnn...oooooo.."
    "rrrrrrsssssssstttt..uuuuuuuuuuuuwwyyyzzzzzz.";
_Static_assert(sizeof latin1_base == 33, "one entry per code point of U+00E0..U+00FF");
_Static_assert(sizeof latin_ext_a_base == 129, "one entry per code point of U+0100..U+017F");

/* The letter left after canonical decomposition and removal of combining marks, for
 * a lower-cased c. Returns c when it does not decompose. */
static int32_t strip_accent(int32_t c)
{
    if (c >= 0xE0 && c <= 0xFF) {
        char b = latin1_base[c - 0xE0];
        return b == '.' ? c : b;
    }
    if (c >= 0x100 && c <= 0x17F) {
        char b = latin_ext_a_base[c - 0x100];
        return b == '.' ? c : b;
    }
    if (c >= 0x3040 && c < 0x3100) {
        for (size_t i = 0; i < sizeof kana_base / sizeof *kana_base; i++)
            if (kana_base[i][0] == c)
                return kana_base[i][1];
        return c;
    }
    switch (c) {
    case 0x3AC: return 0x3B1; case 0x3AD: return 0x3B5; case 0x3AE: return 0x3B7;
    case 0x3AF: case 0x3CA: case 0x390: return 0x3B9;
    case 0x3CC: return 0x3BF;
    case 0x3CD: case 0x3CB: case 0x3B0: return 0x3C5;
    case 0x3CE: return 0x3C9;
    case 0x439: case 0x45D: return 0x438;   /* й -> и + breve, ѝ -> и + grave */
    case 0x450: case 0x451: return 0x435;
    case 0x457: return 0x456;
    case 0x45E: return 0x443;
    case 0x453: return 0x433;
    case 0x45C: return 0x43A;
    default: return c;
    }
}

/* ---------------------------------------------------------------------------- */
/* Basic tokenization                                                           */

typedef struct {
    char *buf;          /* words as UTF-8, each NUL-terminated, back to back */
    size_t len, cap;
    int64_t n_words;
    int open;           /* a word is being built */
} words;

static int words_putc(words *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b)
            return -1;
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    return 0;
}

static int words_end(words *w)
{
    if (!w->open)
        return 0;
    w->open = 0;
    w->n_words++;
    return words_putc(w, "", 1);
}

static int words_add_cp(words *w, int32_t cp)
{
    char u[4];
    w->open = 1;
    return words_putc(w, u, qlab_utf8_put(u, (uint32_t)cp));
}

/* Runs the basic step over text into w. Returns 0 or -1 (out of memory). */
static int basic_split(const char *text, words *w)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), i = 0;
    while (i < n) {
        int32_t cp = utf8_next(s, n, &i);
        if (cp < 0 || is_control(cp))
            continue;
        if (is_space(cp)) {
            if (words_end(w)) return -1;
            continue;
        }
        cp = strip_accent(to_lower(cp));
        if (is_combining(cp))
            continue;
        if (is_cjk(cp) || is_punct(cp)) {
            if (words_end(w) || words_add_cp(w, cp) || words_end(w)) return -1;
            continue;
        }
        if (words_add_cp(w, cp)) return -1;
    }
    return words_end(w);
}

void qlab_tokenizer_basic(const char *text, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    words w = {0};
    if (basic_split(text, &w) == 0) {
        size_t o = 0;
        const char *p = w.buf;
        for (int64_t k = 0; k < w.n_words; k++) {
            size_t l = strlen(p);
            if (o + (k ? 1 : 0) + l + 1 > cap)
                break;
            if (k) out[o++] = ' ';
            memcpy(out + o, p, l);
            o += l;
            out[o] = '\0';
            p += l + 1;
        }
    }
    free(w.buf);
}

/* ---------------------------------------------------------------------------- */
/* WordPiece                                                                    */

typedef struct {
    int32_t *v;
    int64_t n, cap;
} idvec;

static int idvec_push(idvec *a, int32_t id)
{
    if (a->n == a->cap) {
        int64_t cap = a->cap ? 2 * a->cap : 64;
        int32_t *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
    return 0;
}

/* Appends the pieces of one word (or [UNK]). */
static int wordpiece(const qlab_tokenizer *tk, const char *word, idvec *out)
{
    size_t len = strlen(word);
    /* character boundaries, so pieces never split a UTF-8 sequence */
    size_t bound[4 * MAX_WORD_CHARS + 2];
    int64_t nb = 0;
    for (size_t i = 0; i <= len; i++)
        if (i == len || ((unsigned char)word[i] & 0xC0) != 0x80) {
            if (nb > MAX_WORD_CHARS)
                return idvec_push(out, tk->id_unk);
            bound[nb++] = i;
        }
    int64_t mark = out->n;
    char piece[4 * MAX_WORD_CHARS + 3];
    int64_t start = 0;
    while (start < nb - 1) {
        int32_t found = -1;
        int64_t end;
        for (end = nb - 1; end > start; end--) {
            size_t o = 0;
            if (start > 0) {
                piece[0] = '#';
                piece[1] = '#';
                o = 2;
            }
            size_t l = bound[end] - bound[start];
            memcpy(piece + o, word + bound[start], l);
            found = lookup_n(tk, piece, o + l);
            if (found >= 0)
                break;
        }
        if (found < 0) {
            out->n = mark;
            return idvec_push(out, tk->id_unk);
        }
        if (idvec_push(out, found))
            return -1;
        start = end;
    }
    return 0;
}

int64_t qlab_tokenizer_encode(const qlab_tokenizer *tk, const char *text, int32_t *ids,
                              int64_t max_len)
{
    if (max_len < 2)
        return -1;
    words w = {0};
    idvec pieces = {0};
    int64_t rc = -1;
    if (basic_split(text, &w) == 0) {
        const char *p = w.buf;
        int ok = 1;
        for (int64_t k = 0; k < w.n_words && ok; k++) {
            ok = wordpiece(tk, p, &pieces) == 0;
            p += strlen(p) + 1;
            if (pieces.n >= max_len - 2)
                break;   /* the rest would be truncated anyway */
        }
        if (ok) {
            int64_t n = pieces.n < max_len - 2 ? pieces.n : max_len - 2;
            ids[0] = tk->id_cls;
            for (int64_t i = 0; i < n; i++)
                ids[1 + i] = pieces.v[i];
            ids[1 + n] = tk->id_sep;
            rc = n + 2;
        }
    }
    free(w.buf);
    free(pieces.v);
    return rc;
}
