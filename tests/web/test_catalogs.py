"""Every language's catalog is complete and up to date (po/, docs/i18n.md).

No browser: reads web/page/js/catalog.js (the page's keys and English), the
keys noaber's C sources mark (P_, NP_, PN_), po/noaber.pot and po/*.po.  A
key without a translation, a translation of an English text that has since
changed, or a key nobody uses any more fails, naming the key and the file;
`ninja -C build update-po` brings the template and catalogs up to date, a
translator fills in what is empty.  (The build itself accepts a gap: the
page shows English for it, and po2json.py fails only on what would break.)
"""

import glob
import os
import re
import sys
import unittest

ROOT = os.environ.get("NOABER_SOURCE_ROOT",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "po"))

import po2json  # noqa: E402
import update_pot  # noqa: E402

C_KEY = re.compile(r'\b(?:P_|NP_|PN_)\(\s*"(\w+)",\s*((?:"(?:[^"\\]|\\.)*"\s*)+)')


def c_messages():
    """{key: English} of the messages noaber's C sources mark."""
    out = {}
    for path in glob.glob(os.path.join(ROOT, "client", "*.c")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in C_KEY.finditer(text):
            english = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2)))
            out[m.group(1)] = english.encode().decode("unicode_escape").encode("latin-1").decode()
    return out


def source_messages():
    msgs = {key: text for key, text, _ in
            update_pot.page_messages(os.path.join(ROOT, "web", "page", "js", "catalog.js"))}
    msgs.update(c_messages())
    return msgs


def catalog(path):
    return {m["ctxt"]: m for m in po2json.parse(path) if m["id"] != ""}


class Catalogs(unittest.TestCase):
    def setUp(self):
        self.source = source_messages()
        self.assertIn("welcome_title", self.source)
        self.assertIn("cli_state_confirm", self.source)

    def test_the_template_has_every_key_of_the_page_and_noaber(self):
        pot = catalog(os.path.join(ROOT, "po", "noaber.pot"))
        missing = sorted(set(self.source) - set(pot))
        stale = sorted(set(pot) - set(self.source))
        self.assertEqual(missing, [], "po/noaber.pot lacks these keys: run ninja update-po")
        self.assertEqual(stale, [], "po/noaber.pot has keys nobody uses: run ninja update-po")
        changed = sorted(k for k, m in pot.items() if m["id"] != self.source[k])
        self.assertEqual(changed, [], "the English of these keys changed: run ninja update-po")

    def test_every_language_translates_every_key(self):
        pos = sorted(glob.glob(os.path.join(ROOT, "po", "*.po")))
        self.assertEqual([os.path.basename(p) for p in pos], ["ar.po", "en.po", "fr.po", "nl.po"])
        for path in pos:
            with self.subTest(catalog=os.path.basename(path)):
                cat = catalog(path)
                missing = sorted(k for k in self.source
                                 if k not in cat or cat[k]["fuzzy"]
                                 or any(s == "" for s in cat[k]["strs"].values()))
                self.assertEqual(missing, [], "%s: no translation for these keys" % path)
                outdated = sorted(k for k, m in cat.items()
                                  if k in self.source and m["id"] != self.source[k])
                self.assertEqual(outdated, [], "%s: translates an older English text" % path)

    def test_every_catalog_says_whether_a_native_speaker_reviewed_it(self):
        for path in glob.glob(os.path.join(ROOT, "po", "*.po")):
            with open(path, encoding="utf-8") as f:
                head = f.read(2000)
            self.assertRegex(head, r"Reviewed by a native speaker: (no|yes)", path)
            self.assertIn("X-Native-Review:", head, path)


class BuildRefuses(unittest.TestCase):
    """po2json.py, which the build runs, fails on what would break the page."""

    def convert(self, text):
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            po = os.path.join(tmp, "xx.po")
            with open(po, "w", encoding="utf-8") as f:
                f.write('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                        'msgctxt "dir"\nmsgid "ltr"\nmsgstr "ltr"\n\n'
                        'msgctxt "language_name"\nmsgid "English"\nmsgstr "Xx"\n\n' + text)
            return subprocess.run([sys.executable, os.path.join(ROOT, "po", "po2json.py"), tmp, po],
                                  capture_output=True, text=True)

    def test_a_good_catalog_converts(self):
        r = self.convert('msgctxt "welcome_title"\nmsgid "Welcome to {neighbourhood}"\n'
                         'msgstr "Xx {neighbourhood}"\n')
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_lost_placeholder_fails(self):
        r = self.convert('msgctxt "welcome_title"\nmsgid "Welcome to {neighbourhood}"\n'
                         'msgstr "Xx {quartier}"\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("xx.po:", r.stderr)
        self.assertIn("welcome_title", r.stderr)
        self.assertIn("placeholders", r.stderr)

    def test_malformed_po_fails(self):
        for bad in ('msgctxt "a"\nmsgid "b"\nmsgstr "c\n',       # unclosed string
                    'msgctxt "a"\nmsgid "b"\nmsgsrt "c"\n',      # not a keyword
                    'msgid "no context"\nmsgstr "x"\n',           # no key
                    'msgctxt "a"\nmsgid "b"\nmsgstr "c"\n\nmsgctxt "a"\nmsgid "b"\nmsgstr "d"\n'):
            with self.subTest(po=bad):
                r = self.convert(bad)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("po2json.py: ", r.stderr)


if __name__ == "__main__":
    unittest.main()
