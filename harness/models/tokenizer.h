/* tokenizer.h: the BERT WordPiece tokenizer (uncased), as used by all-MiniLM-L6-v2.
 *
 * Text -> token ids in two steps, the same as the reference BERT tokenizer:
 *   basic: drop control characters, map whitespace to spaces, put spaces around CJK
 *          ideographs, lower-case, strip accents (canonical decomposition, combining
 *          marks removed), split off every punctuation character;
 *   wordpiece: each word split greedily into the longest vocabulary pieces, pieces
 *          after the first carry the "##" prefix; a word that cannot be covered (or
 *          is longer than 100 characters) becomes [UNK].
 * The result is framed as [CLS] ... [SEP] and truncated to a maximum length.
 *
 * Unicode limits (no Unicode database is linked): lower-casing covers ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic; accent stripping covers the precomposed
 * letters of Latin-1, Latin Extended-A, Greek (tonos, dialytika) and the Cyrillic
 * letters that decompose (й, ё, ї, ў) and voiced Kana (で -> て); combining marks
 * U+0300..U+036F and U+3099/U+309A are removed;
 * punctuation is every ASCII non-alphanumeric symbol plus the Unicode punctuation of
 * Latin-1, General Punctuation, CJK Symbols and fullwidth forms. Other scripts pass
 * through unchanged (they are then matched as whole characters by WordPiece), which
 * differs from the reference only for letters outside these blocks that have case or
 * decompositions. Invalid UTF-8 bytes are dropped.
 */
#ifndef QLAB_TOKENIZER_H
#define QLAB_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **tokens;          /* id -> token (owned) */
    int32_t n_tokens;
    int32_t *table;         /* open-addressing hash table of ids, size table_size */
    int64_t table_size;
    int32_t id_unk, id_cls, id_sep, id_pad;
} qlab_tokenizer;

/* Loads a vocab.txt (one token per line, id = line number). The file must hold
 * [UNK], [CLS], [SEP] and [PAD]. Returns 0, or 2 with a message naming the file. */
int qlab_tokenizer_load(qlab_tokenizer *tk, const char *vocab_path, char *err, size_t err_len);

/* Builds a tokenizer from an in-memory token list (tests); copies the strings. */
int qlab_tokenizer_from_list(qlab_tokenizer *tk, const char *const *tokens, int32_t n,
                             char *err, size_t err_len);

void qlab_tokenizer_free(qlab_tokenizer *tk);

/* Id of token, or -1 when it is not in the vocabulary. */
int32_t qlab_tokenizer_id(const qlab_tokenizer *tk, const char *token);

/* Tokenizes UTF-8 text into ids: [CLS] pieces... [SEP], at most max_len ids (the
 * pieces are truncated to max_len - 2; max_len >= 2). Writes up to max_len ids into
 * ids and returns how many, or -1 when out of memory. */
int64_t qlab_tokenizer_encode(const qlab_tokenizer *tk, const char *text, int32_t *ids,
                              int64_t max_len);

/* The basic step alone: the words (after lower-casing, accent stripping and
 * punctuation splitting) of text, joined by single spaces into out (NUL-terminated,
 * truncated to cap). For tests and for inspecting what WordPiece sees. */
void qlab_tokenizer_basic(const char *text, char *out, size_t cap);

/* Writes code point cp (<= 0x10FFFF) as UTF-8 into o (room for 4 bytes); returns the
 * number of bytes written. Shared with the safetensors JSON header's \u escapes. */
size_t qlab_utf8_put(char *o, uint32_t cp);

#endif
