/*
 * noaber's words to neighbours, through gettext (textdomain "noaber"; the
 * catalogs are po/LANG.po, shared with the web page: docs/i18n.md).
 *
 * Every message has a context, its catalog key, so that the page and noaber
 * share one template: P_("category_groceries", "Groceries").  Keys only
 * noaber uses start with "cli_".  Machine output (--json) never goes through
 * these: it stays in the protocol's words.
 */
#ifndef NOABER_CLIENT_I18N_H
#define NOABER_CLIENT_I18N_H

#include <stddef.h>

/* Binds the "noaber" domain to the installed catalogs (or NOABER_LOCALEDIR)
 * and takes LC_MESSAGES and LANGUAGE from the environment. */
void i18n_init(void);

/* The translation of `msgid` in context `key`, or msgid itself. */
const char *i18n_p(const char *key, const char *msgid) __attribute__((format_arg(2)));

/* The same with a plural form chosen by n. */
const char *i18n_np(const char *key, const char *one, const char *many, unsigned long n)
    __attribute__((format_arg(2))) __attribute__((format_arg(3)));

#define P_(key, msgid)         i18n_p(key, msgid)
#define NP_(key, one, many, n) i18n_np(key, one, many, n)

/* A name of the protocol (a category, urgency, mode, status or response
 * status) in words for a person: the catalog key is prefix + name
 * ("category_" + "groceries"), the English text `english`.  Unknown names
 * come back as `english`. */
const char *i18n_word(const char *prefix, const char *name, const char *english);

/*
 * A name a person may type back as an option (a category, urgency or mode):
 * its translation followed by the option's spelling, "aujourd'hui (today)",
 * or only the spelling where the translation is the same (English).  Returns
 * buf or spelled_name.
 */
const char *i18n_option_word(const char *prefix, const char *name, const char *spelled_name,
                             char *buf, size_t size);

/* Prints "label value" with the label padded to `width` characters (not
 * bytes), so that translated labels with accents or in Arabic line up. */
void i18n_print_label(const char *label, int width);

#endif
