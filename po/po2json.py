#!/usr/bin/env python3
"""Turns po/LANG.po into the page's catalog, LANG.json, and checks it.

    po2json.py OUT_DIR PO...

Writes OUT_DIR/LANG.json ({"key": "text"}: every translated, not fuzzy
message whose key is not noaber's own "cli_...") for each PO, and
OUT_DIR/languages.json ([["nl", "Nederlands", "ltr"], ...], in the order
given) from each catalog's language_name and dir.  Fails the build, naming
the file and line, on what would break the page: a line that is not po
syntax, a key twice, a message without a context, a translation whose
{placeholders} differ from the English text's, a dir other than ltr or rtl.
Untranslated messages are allowed here (the page shows English for them);
tests/web/test_catalogs.py says which keys a catalog lacks.
"""
import json
import os
import re
import sys

PLACEHOLDER = re.compile(r'\{(\w+)\}')
ESCAPES = {'n': '\n', 't': '\t', '"': '"', '\\': '\\'}


class PoError(Exception):
    pass


def unquote(text, where):
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise PoError('%s: not a quoted string: %s' % (where, text))
    body = text[1:-1]
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == '\\':
            if i + 1 >= len(body) or body[i + 1] not in ESCAPES:
                raise PoError('%s: unknown escape in %s' % (where, text))
            out.append(ESCAPES[body[i + 1]])
            i += 2
            continue
        if c == '"':
            raise PoError('%s: a quote inside a string must be \\": %s' % (where, text))
        out.append(c)
        i += 1
    return ''.join(out)


def parse(path):
    """The messages of a po file: dicts with ctxt, id, plural, strs, fuzzy, line."""
    messages = []
    cur = None
    field = None

    def finish():
        if cur is not None and 'id' in cur:
            messages.append(cur)

    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    for n, raw in enumerate(lines, 1):
        where = '%s:%d' % (path, n)
        line = raw.strip()
        if line == '':
            continue
        if line.startswith('#~'):
            continue  # an obsolete message msgmerge keeps
        if line.startswith('#'):
            if cur is not None and 'id' in cur:
                finish()
                cur, field = None, None
            if cur is None:
                cur = {'line': n, 'fuzzy': False, 'strs': {}}
            if line.startswith('#,') and 'fuzzy' in line:
                cur['fuzzy'] = True
            continue
        m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line)
        if m:
            kw = m.group(1)
            # A message starts at its comments, its msgctxt or its msgid.
            if cur is not None and (
                    (kw == 'msgctxt' and ('id' in cur or 'ctxt' in cur)) or
                    (kw == 'msgid' and 'id' in cur)):
                finish()
                cur = None
            if cur is None:
                cur = {'line': n, 'fuzzy': False, 'strs': {}}
            value = unquote(m.group(3), where)
            if kw == 'msgctxt':
                cur['ctxt'] = value
                field = ('ctxt',)
            elif kw == 'msgid':
                cur['id'] = value
                field = ('id',)
            elif kw == 'msgid_plural':
                cur['plural'] = value
                field = ('plural',)
            else:
                idx = int(m.group(2)) if m.group(2) is not None else 0
                cur['strs'][idx] = value
                field = ('str', idx)
            continue
        if line.startswith('"'):
            if field is None:
                raise PoError('%s: a string that continues nothing' % where)
            value = unquote(line, where)
            if field[0] == 'str':
                cur['strs'][field[1]] += value
            else:
                cur[field[0]] += value
            continue
        raise PoError('%s: not po syntax: %s' % (where, raw))
    finish()
    for msg in messages:
        if not msg['strs']:
            raise PoError('%s:%d: a message without msgstr' % (path, msg['line']))
    return messages


def check(path, messages):
    """The page's catalog of one po file: {key: text}."""
    catalog = {}
    seen = set()
    for msg in messages:
        where = '%s:%d' % (path, msg['line'])
        if msg['id'] == '':
            continue  # the header
        key = msg.get('ctxt')
        if key is None:
            raise PoError('%s: "%s" has no msgctxt: every message is keyed (docs/i18n.md)'
                          % (where, msg['id']))
        if key in seen:
            raise PoError('%s: the key %s is there twice' % (where, key))
        seen.add(key)
        wanted = set(PLACEHOLDER.findall(msg['id']))
        for idx, text in msg['strs'].items():
            if text == '':
                continue
            got = set(PLACEHOLDER.findall(text))
            if got != wanted:
                raise PoError('%s: the translation of %s has the placeholders {%s}, the English '
                              'text {%s}' % (where, key, ', '.join(sorted(got)),
                                             ', '.join(sorted(wanted))))
        text = msg['strs'].get(0, '')
        if key == 'dir' and text not in ('', 'ltr', 'rtl'):
            raise PoError('%s: dir is "ltr" or "rtl", not "%s"' % (where, text))
        if key.startswith('cli_') or 'plural' in msg or msg['fuzzy'] or text == '':
            continue
        catalog[key] = text
    return catalog


def main():
    out_dir, pos = sys.argv[1], sys.argv[2:]
    languages = []
    try:
        for path in pos:
            lang = os.path.splitext(os.path.basename(path))[0]
            catalog = check(path, parse(path))
            for key in ('language_name', 'dir'):
                if key not in catalog:
                    raise PoError('%s: %s is not translated: the page needs it' % (path, key))
            languages.append([lang, catalog['language_name'], catalog['dir']])
            with open(os.path.join(out_dir, lang + '.json'), 'w', encoding='utf-8') as f:
                json.dump(catalog, f, ensure_ascii=False, sort_keys=True, indent=0)
                f.write('\n')
    except (PoError, UnicodeDecodeError) as e:
        sys.exit('po2json.py: %s' % e)
    with open(os.path.join(out_dir, 'languages.json'), 'w', encoding='utf-8') as f:
        json.dump(languages, f, ensure_ascii=False)
        f.write('\n')


if __name__ == '__main__':
    main()
