/*
 * noaber's words to neighbours through gettext (see i18n.h, docs/i18n.md).
 */
#include <libintl.h>
#include <stdbool.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"

/* Marks a key and its English text for xgettext without translating it: the
 * table below is translated when a name is looked up. */
#define PN_(key, msgid)                                                                            \
    {                                                                                              \
        key, msgid                                                                                 \
    }

/*
 * The protocol's names as a person reads them, in the lower case of noaber's
 * sentences ("open — 2 responses").  In English they are spelled as the
 * options take them (this-week, in-person), so that what `show` says can be
 * typed back.
 */
static const struct {
    const char *key;
    const char *msgid;
} words[] = {
    PN_("cli_category_groceries", "groceries"),
    PN_("cli_category_transport", "transport"),
    PN_("cli_category_meals", "meals"),
    PN_("cli_category_company", "company"),
    PN_("cli_category_paperwork", "paperwork"),
    PN_("cli_category_repairs", "repairs"),
    PN_("cli_category_care", "care"),
    PN_("cli_category_childcare", "childcare"),
    PN_("cli_category_pets", "pets"),
    PN_("cli_category_other", "other"),
    PN_("cli_urgency_today", "today"),
    PN_("cli_urgency_this_week", "this-week"),
    PN_("cli_urgency_this_month", "this-month"),
    PN_("cli_urgency_whenever", "whenever"),
    PN_("cli_mode_in_person", "in-person"),
    PN_("cli_mode_remote", "remote"),
    PN_("cli_mode_either", "either"),
    PN_("cli_status_open", "open"),
    PN_("cli_status_assigned", "assigned"),
    PN_("cli_status_done_claimed", "done-claimed"),
    PN_("cli_status_done", "done"),
    PN_("cli_status_cancelled", "cancelled"),
    PN_("cli_status_expired", "expired"),
    PN_("cli_status_available", "available"),
    PN_("cli_status_paused", "paused"),
    PN_("cli_status_withdrawn", "withdrawn"),
    PN_("cli_status_retracted", "retracted"),
    PN_("cli_response_pending", "pending"),
    PN_("cli_response_declined", "declined"),
    PN_("cli_response_assigned", "assigned"),
    PN_("cli_response_done_claimed", "done-claimed"),
    PN_("cli_response_done", "done"),
    PN_("cli_response_withdrawn", "withdrawn"),
};

void i18n_init(void)
{
    const char *dir = getenv("NOABER_LOCALEDIR");

    /* Only the messages follow the locale: numbers, sorting and character
     * classes stay those of C, so machine output and parsing do not change.
     * A locale that does not exist leaves "C", where gettext ignores
     * LANGUAGE: LC_ALL=C.UTF-8 with LANGUAGE=fr works on any glibc. */
    setlocale(LC_MESSAGES, "");
    bindtextdomain("noaber", dir != NULL && dir[0] != '\0' ? dir : NOABER_LOCALEDIR);
    /* noaber writes UTF-8 whatever LC_CTYPE says (titles and names are). */
    bind_textdomain_codeset("noaber", "UTF-8");
    textdomain("noaber");
}

/* gettext keeps a context and its msgid in one string, split by EOT. */
static const char *lookup(const char *key, const char *msgid, const char *many, unsigned long n,
                          bool plural)
{
    char both[256];
    const char *got;

    if (snprintf(both, sizeof(both), "%s\004%s", key, msgid) >= (int)sizeof(both)) {
        return plural && n != 1 ? many : msgid;
    }
    got = plural ? dngettext("noaber", both, many, n) : dgettext("noaber", both);
    /* Untranslated: gettext hands back what it was given, context and all
     * (or `many`, which has no context). */
    return got == both ? msgid : got;
}

const char *i18n_p(const char *key, const char *msgid)
{
    return lookup(key, msgid, NULL, 0, false);
}

const char *i18n_np(const char *key, const char *one, const char *many, unsigned long n)
{
    return lookup(key, one, many, n, true);
}

const char *i18n_word(const char *prefix, const char *name, const char *english)
{
    char key[64];

    if (name == NULL || snprintf(key, sizeof(key), "%s%s", prefix, name) >= (int)sizeof(key)) {
        return english;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(words[i].key, key) == 0) {
            return i18n_p(words[i].key, words[i].msgid);
        }
    }
    return english;
}

const char *i18n_option_word(const char *prefix, const char *name, const char *spelled_name,
                             char *buf, size_t size)
{
    const char *word = i18n_word(prefix, name, spelled_name);

    if (strcmp(word, spelled_name) == 0) {
        return spelled_name;
    }
    snprintf(buf, size, "%s (%s)", word, spelled_name);
    return buf;
}

void i18n_print_label(const char *label, int width)
{
    int chars = 0;

    /* Counts UTF-8 characters: every byte that does not continue one. */
    for (const unsigned char *p = (const unsigned char *)label; *p != '\0'; p++) {
        chars += (*p & 0xc0) != 0x80;
    }
    fputs(label, stdout);
    for (; chars < width; chars++) {
        putchar(' ');
    }
}
