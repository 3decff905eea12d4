/* Matching areas by word, without case or accents (see noaber/area.h). */
#include <noaber/area.h>

#include <stdint.h>
#include <string.h>

/*
 * The base letters of U+00E0..U+017F, in lower case; "" for ÷, which is not
 * a letter.  Two-letter entries are ligatures, thorn and the like.  The
 * capitals U+00C0..U+00DE are their small letters minus 0x20 (but × and ß).
 */
/* Sixteen code points a row, as the Unicode charts show them. */
/* clang-format off */
static const char *const latin_base[] = {
    /* U+00E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00F0 */ "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",
    /* U+0100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
    /* U+0110 */ "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
    /* U+0120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
    /* U+0130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
    /* U+0140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
    /* U+0150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
    /* U+0160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+0170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};
/* clang-format on */

/* The base letters of U+00C0..U+017F, or NULL outside that block. */
static const char *latin_letter(uint32_t cp)
{
    if (cp == 0xD7) {
        return ""; /* × */
    }
    if (cp == 0xDF) {
        return "ss"; /* ß */
    }
    if (cp >= 0xC0 && cp <= 0xDE) {
        cp += 0x20;
    }
    return cp >= 0xE0 && cp <= 0x17F ? latin_base[cp - 0xE0] : NULL;
}

/*
 * Decodes one UTF-8 character at s[*i]; returns it and advances *i, or
 * returns UINT32_MAX (a separator) for an invalid byte, advancing by one.
 */
static uint32_t next_char(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    uint32_t cp;
    size_t n;

    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        cp = c & 0x07u;
    } else {
        (*i)++;
        return UINT32_MAX;
    }
    if (len - *i <= n) {
        (*i)++;
        return UINT32_MAX;
    }
    for (size_t k = 1; k <= n; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            (*i)++;
            return UINT32_MAX;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3Fu);
    }
    *i += n + 1;
    return cp;
}

/*
 * One word at a time, folded: the cursor skips separators, then appends the
 * folded form of the word's characters to `word` (at most `cap` bytes;
 * longer words are cut, which only makes two very long words compare
 * equal on their first bytes).  Returns the word's length, 0 at the end.
 */
struct words {
    const unsigned char *s;
    size_t len, i;
};

static size_t fold_char(uint32_t cp, const unsigned char *raw, size_t raw_len, char *out,
                        size_t room)
{
    const char *base = NULL;
    char one[2] = { 0, 0 };

    if (cp < 0x80) {
        if ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z')) {
            one[0] = (char)cp;
        } else if (cp >= 'A' && cp <= 'Z') {
            one[0] = (char)(cp - 'A' + 'a');
        } else {
            return SIZE_MAX; /* a separator */
        }
        base = one;
    } else if ((base = latin_letter(cp)) != NULL) {
        if (base[0] == '\0') {
            return SIZE_MAX;
        }
    } else if (cp < 0xC0 || cp == UINT32_MAX || (cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000) {
        /* C1 controls, Latin-1 punctuation (no-break space, «, »...), general
         * punctuation and the ideographic space separate words. */
        return SIZE_MAX;
    }
    if (base != NULL) {
        size_t n = strlen(base);
        if (n > room) {
            return 0;
        }
        memcpy(out, base, n);
        return n;
    }
    /* Another script: the character as it is. */
    if (raw_len > room) {
        return 0;
    }
    memcpy(out, raw, raw_len);
    return raw_len;
}

static size_t next_word(struct words *w, char *word, size_t cap)
{
    size_t used = 0;
    bool in_word = false;

    while (w->i < w->len) {
        size_t start = w->i;
        uint32_t cp = next_char(w->s, w->len, &w->i);
        size_t n = fold_char(cp, w->s + start, w->i - start, word + used, cap - used);
        if (n == SIZE_MAX) {
            if (in_word) {
                break;
            }
            continue;
        }
        in_word = true;
        used += n;
    }
    return used;
}

#define WORD_CAP 256

bool nb_area_match(const char *query, size_t query_len, const char *area, size_t area_len)
{
    struct words q = { (const unsigned char *)query, query_len, 0 };
    char qw[WORD_CAP], aw[WORD_CAP];
    size_t qn;
    bool any = false;

    while ((qn = next_word(&q, qw, sizeof(qw))) > 0) {
        struct words a = { (const unsigned char *)area, area_len, 0 };
        size_t an;
        bool found = false;

        any = true;
        while (!found && (an = next_word(&a, aw, sizeof(aw))) > 0) {
            found = an == qn && memcmp(aw, qw, qn) == 0;
        }
        if (!found) {
            return false;
        }
    }
    return any;
}
