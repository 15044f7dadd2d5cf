/* test_tokenizer.c: the BERT WordPiece tokenizer's basic step (lower-casing, accent
 * stripping, punctuation and CJK splitting, control characters) and its WordPiece
 * step (greedy longest match with ##, [UNK], framing and truncation), on a small
 * in-memory vocabulary. The real vocabulary is checked against PyTorch's ids in
 * test_bert.c. */
#include <criterion/criterion.h>
#include <string.h>

#include "models/tokenizer.h"

static const char *const vocab[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "able", "want",
    "##ed", "wa", ",", "runn", "##ing", "creme", "brulee", "!", "東", "京", "a", "##a",
};
enum { PAD, UNK, CLS, SEP, UN, H_AFF, H_ABLE, AFF, ABLE, WANT, H_ED, WA, COMMA, RUNN,
       H_ING, CREME, BRULEE, BANG, TOU, KYOU, A, H_A };

static qlab_tokenizer tk;

static void setup(void)
{
    char err[256];
    cr_assert_eq(qlab_tokenizer_from_list(&tk, vocab, sizeof vocab / sizeof *vocab, err,
                                          sizeof err), 0, "%s", err);
}

static void teardown(void)
{
    qlab_tokenizer_free(&tk);
}

static void expect_ids(const char *text, int64_t max_len, const int32_t *want, int64_t n)
{
    int32_t ids[64];
    int64_t got = qlab_tokenizer_encode(&tk, text, ids, max_len);
    cr_assert_eq(got, n, "'%s': %lld ids, expected %lld", text, (long long)got, (long long)n);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(ids[i], want[i], "'%s': id %lld is %d, expected %d", text, (long long)i,
                     ids[i], want[i]);
}

static void expect_basic(const char *text, const char *want)
{
    char out[256];
    qlab_tokenizer_basic(text, out, sizeof out);
    cr_assert_str_eq(out, want, "basic('%s')", text);
}

TestSuite(tokenizer, .init = setup, .fini = teardown);

Test(tokenizer, basic_lowercases_and_strips_latin_accents)
{
    expect_basic("Crème Brûlée", "creme brulee");
    expect_basic("ÀÉÎÕÜ Çà Ñ", "aeiou ca n");
    expect_basic("Łódź Ärger ŠKODA", "łodz arger skoda");   /* ł has no decomposition */
    expect_basic("Straße Æsir", "straße æsir");             /* ß and æ do not decompose */
}

Test(tokenizer, basic_strips_greek_and_cyrillic_accents_and_combining_marks)
{
    expect_basic("ΆΈ Й ё", "αε и е");
    expect_basic("e\xCC\x81t\xCC\x88", "et");   /* e + U+0301, t + U+0308 */
}

Test(tokenizer, basic_splits_every_punctuation_character)
{
    expect_basic("hello,world!", "hello , world !");
    expect_basic("$4.50 (tax)", "$ 4 . 50 ( tax )");
    expect_basic("a\xE2\x80\x94" "b \xC2\xBF" "c?", "a \xE2\x80\x94 b \xC2\xBF c ?");   /* em dash, ¿ */
}

Test(tokenizer, basic_splits_cjk_ideographs_but_not_kana)
{
    expect_basic("東京は", "東 京 は");
    expect_basic("x東y", "x 東 y");
}

Test(tokenizer, basic_drops_controls_and_treats_unicode_spaces_as_spaces)
{
    expect_basic("a\x01" "b\tc\xC2\xA0" "d\xE3\x80\x80" "e\xE2\x80\x8B" "f", "ab c d ef");
    expect_basic("  \n ", "");
}

Test(tokenizer, basic_drops_invalid_utf8_without_crashing)
{
    expect_basic("a\xFF" "b\xC3", "ab");
    expect_basic("\xED\xA0\x80x", "x");   /* an encoded surrogate is not a character */
}

Test(tokenizer, wordpiece_takes_the_longest_piece_first_with_hash_prefix)
{
    const int32_t want[] = {CLS, UN, H_AFF, H_ABLE, SEP};
    expect_ids("unaffable", 64, want, 5);
    const int32_t want2[] = {CLS, WANT, H_ED, SEP};   /* "want" beats "wa" */
    expect_ids("WANTED", 64, want2, 4);
}

Test(tokenizer, wordpiece_gives_one_unk_for_a_word_it_cannot_cover)
{
    const int32_t want[] = {CLS, UNK, COMMA, RUNN, H_ING, SEP};
    expect_ids("unwantedx, running", 64, want, 6);
}

Test(tokenizer, words_longer_than_100_characters_are_unk)
{
    char word[202];
    memset(word, 'a', 200);
    word[200] = '\0';
    const int32_t want[] = {CLS, UNK, SEP};
    expect_ids(word, 64, want, 3);
    word[100] = '\0';   /* exactly 100 characters: split into pieces */
    int32_t ids[64];
    cr_assert_eq(qlab_tokenizer_encode(&tk, word, ids, 64), 64);
    cr_assert_eq(ids[1], A);
    cr_assert_eq(ids[2], H_A);
}

Test(tokenizer, encode_frames_with_cls_sep_and_truncates_to_max_len)
{
    const int32_t want[] = {CLS, CREME, BRULEE, BANG, TOU, KYOU, SEP};
    expect_ids("Crème brûlée! 東京", 64, want, 7);
    const int32_t cut[] = {CLS, CREME, BRULEE, SEP};
    expect_ids("Crème brûlée! 東京", 4, cut, 4);
    const int32_t empty[] = {CLS, SEP};
    expect_ids("", 4, empty, 2);
    int32_t ids[2];
    cr_assert_eq(qlab_tokenizer_encode(&tk, "a", ids, 1), -1, "max_len below 2 is refused");
}

Test(tokenizer, vocabulary_without_special_tokens_is_refused)
{
    const char *const bad[] = {"[PAD]", "[CLS]", "[SEP]", "a"};
    qlab_tokenizer t2;
    char err[256];
    cr_assert_eq(qlab_tokenizer_from_list(&t2, bad, 4, err, sizeof err), 2);
    cr_assert(strstr(err, "[UNK]"), "message names the missing token: %s", err);
    cr_assert_eq(qlab_tokenizer_load(&t2, "/nonexistent/vocab.txt", err, sizeof err), 2);
    cr_assert(strstr(err, "/nonexistent/vocab.txt"), "%s", err);
}
