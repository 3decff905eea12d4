#!/usr/bin/env python3
"""Writes po/noaber.pot from the page's catalog and noaber's C sources.

    update_pot.py SOURCE_ROOT [--merge]

One template serves both (docs/i18n.md): every message has a context, the
catalog key (msgctxt "category_groceries"), and its English text as msgid.
The page's keys and English texts come from the `en` object of
web/page/js/catalog.js; the C strings from xgettext over client/*.c, where
P_("key", "English") and NP_("key", "one", "many", n) mark them.  Keys that
only noaber prints start with "cli_".  With --merge, every po/LANG.po is
brought up to date with msgmerge (new keys arrive empty, for a translator).
"""
import os
import re
import subprocess
import sys
import tempfile

# One `key: 'text' + "more text",` entry of the catalog's `en` object (single
# or double quotes, or backquotes without ${}).
LITERAL = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\$]|\\.)*`"""
ENTRY = re.compile(r"^\s*['\"]?(\w+)['\"]?\s*:\s*((?:(?:%s)\s*\+?\s*)+),?\s*$" % LITERAL)
STRING = re.compile(LITERAL)


def js_unescape(s):
    return re.sub(r"\\(.)", lambda m: {'n': '\n', 't': '\t'}.get(m.group(1), m.group(1)), s)


def page_messages(path):
    """The (key, English, line) of every entry of catalogs.en in catalog.js."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    out = []
    start = next(i for i, l in enumerate(lines) if re.match(r'^\s*en\s*:\s*\{\s*$', l))
    pending = ''
    pending_line = 0
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if re.match(r'^\s*\},?\s*$', line) and not pending:
            break
        if not line.strip() or line.strip().startswith('//'):
            continue
        if not pending:
            pending_line = i + 1
        pending += ' ' + line.strip()
        if pending.rstrip().endswith('+'):
            continue  # the text goes on on the next line
        m = ENTRY.match(pending)
        if not m:
            sys.exit('update_pot.py: %s:%d: not a `key: \'text\',` entry: %s'
                     % (path, pending_line, pending.strip()))
        text = ''.join(js_unescape(s[1:-1]) for s in STRING.findall(m.group(2)))
        out.append((m.group(1), text, pending_line))
        pending = ''
    return out


HEADER = '''# The words of Noaber's web page and of noaber, its command line.
# Every message's msgctxt is its key in web/page/js/catalog.js (keys only
# noaber uses start with "cli_"); msgid is the English text.  Written by
# po/update_pot.py: do not edit by hand (docs/i18n.md).
msgid ""
msgstr ""
"Project-Id-Version: noaber\\n"
"Language: \\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\\n"

'''


def po_quote(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


def main():
    root = sys.argv[1]
    merge = '--merge' in sys.argv[2:]
    catalog = 'web/page/js/catalog.js'
    with tempfile.TemporaryDirectory() as tmp:
        page_pot = os.path.join(tmp, 'page.pot')
        with open(page_pot, 'w', encoding='utf-8') as f:
            f.write(HEADER)
            for key, text, line in page_messages(os.path.join(root, catalog)):
                if '{' in text:
                    f.write('#. {name} placeholders stay as they are, in any order.\n')
                if key == 'dir':
                    f.write('#. "ltr", or "rtl" for a language written right to left.\n')
                if key == 'language_name':
                    f.write('#. The language\'s name in itself: Nederlands, Français.\n')
                f.write('#: %s:%d\nmsgctxt %s\nmsgid %s\nmsgstr ""\n\n'
                        % (catalog, line, po_quote(key), po_quote(text)))
        c_pot = os.path.join(tmp, 'c.pot')
        sources = sorted('client/' + n for n in os.listdir(os.path.join(root, 'client'))
                         if n.endswith('.c'))
        subprocess.run(['xgettext', '--language=C', '--from-code=UTF-8', '--no-wrap',
                        '--keyword=P_:1c,2', '--keyword=NP_:1c,2,3', '--keyword=PN_:1c,2',
                        '--add-comments=TRANSLATORS:', '--package-name=noaber',
                        '-o', c_pot] + sources, cwd=root, check=True,
                       env=dict(os.environ, LC_ALL='C.UTF-8'), stderr=subprocess.DEVNULL)
        out = os.path.join(root, 'po', 'noaber.pot')
        # xgettext writes nothing when the sources mark nothing.
        pots = [page_pot] + ([c_pot] if os.path.exists(c_pot) else [])
        # A key both use gets both places.
        subprocess.run(['msgcat', '--use-first', '--no-wrap', '-o', out] + pots, check=True)
    if merge:
        for name in sorted(os.listdir(os.path.join(root, 'po'))):
            if name.endswith('.po'):
                subprocess.run(['msgmerge', '--quiet', '--update', '--backup=none',
                                '--no-fuzzy-matching', '--no-wrap',
                                os.path.join(root, 'po', name), out], check=True)


if __name__ == '__main__':
    main()
