"""The page in every language, in Chromium (po/, docs/i18n.md).

For each of nl, fr, en and ar, a browser that asks for that language opens a
welcome link: the page speaks it (lang and dir on <html>), with no key and no
English left where a translation exists, on the welcome, near-you and ask
screens; screenshots at 360 px and desktop width go to
BUILD/web-screenshots/i18n-*.png.  Arabic is laid out right to left, checked
by geometry (the neighbourhood's name on the right, the first link right of
the second, labels against the right edge).  Switching language from the
link list changes every visible text at once and is remembered after a
reload.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import browser  # noqa: E402
import nb  # noqa: E402

SHOTS = os.path.join(nb.BUILD_ROOT, "web-screenshots")
PHONE = (360, 800)
DESKTOP = (1280, 900)
LANGUAGES = ("nl", "fr", "en", "ar")
BROWSER_LANGUAGE = {"nl": "nl-BE", "fr": "fr-BE", "en": "en-GB", "ar": "ar"}


english = browser.english
page_catalog = browser.page_catalog


class PageLanguages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        browser.require_chromium()
        nb.require_binaries()
        cls.en = english()

    def setUp(self):
        os.makedirs(SHOTS, exist_ok=True)
        self.node = nb.NetNode("i18n", config=["peer_exchange = off"])
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.node.create_neighbourhood("Marollen")
        alice = self.node.member("alice")
        alice.new_identity()
        alice.ask("Soup on Friday", "meals", "Marollen 1000", "--urgency", "today")
        self.web = browser.Web(self.node)
        self.addCleanup(self.web.stop)

    def browser(self, lang, size=PHONE):
        b = browser.Browser(*size, language=BROWSER_LANGUAGE[lang])
        self.addCleanup(b.quit)
        return b

    def link(self):
        return self.node.operator.ok("welcome", "--host", self.web.host)["link"]

    def wait(self, b, what, fn, timeout=30):
        return b.wait(what, fn, timeout)

    def heading(self, b, text):
        b.heading(text)

    def text(self, b):
        return browser.plain(b.driver.execute_script("return document.body.innerText"))

    def assertSpeaks(self, b, lang):
        """<html lang dir> are the language's; no key and no English text the
        language translates differently is visible."""
        cat = page_catalog(lang)
        html = b.driver.find_element("tag name", "html")
        self.assertEqual(html.get_attribute("lang"), lang)
        self.assertEqual(html.get_attribute("dir"), cat["dir"])
        shown = self.text(b)
        keys = [k for k in self.en if re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(k), shown)
                and "_" in k]
        self.assertEqual(keys, [], "%s: keys shown instead of text" % lang)
        if lang == "en":
            return
        left = [text for key, text in self.en.items()
                if key != "language_name" and "{" not in text and len(text) > 3
                and cat.get(key, text) != text
                # Whole words only: "Continue" is inside French "Continuer".
                and re.search(r"(?<!\w)%s(?!\w)" % re.escape(text), shown)]
        self.assertEqual(left, [], "%s: English left on the page" % lang)

    def shoot(self, b, name):
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            b.driver.set_window_size(*size)
            b.driver.save_screenshot(os.path.join(SHOTS, "i18n-%s-%s.png" % (name, label)))
        b.driver.set_window_size(*PHONE)

    def choose_language(self, b, tag):
        """The header's one language link, then the language: the page goes
        back to the screen it showed, in that language."""
        from selenium.webdriver.common.by import By

        b.driver.find_element(By.ID, "language-link").click()
        b.wait("the languages", lambda d: d.find_elements(By.CSS_SELECTOR, "#main #languages a"))
        b.driver.find_element(By.CSS_SELECTOR, "#languages a[data-language='%s']" % tag).click()

    def go(self, b, hash_, title):
        from selenium.webdriver.common.by import By

        b.driver.find_element(By.CSS_SELECTOR, "#nav a[href='%s']" % hash_).click()
        self.heading(b, title)

    def test_each_language_from_the_browser(self):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        for lang in LANGUAGES:
            with self.subTest(language=lang):
                cat = page_catalog(lang)
                b = self.browser(lang)
                b.driver.get(self.link())
                self.heading(b, cat["welcome_title"].replace("{neighbourhood}", "Marollen"))
                self.assertSpeaks(b, lang)
                self.shoot(b, "welcome-" + lang)
                b.driver.find_element(By.ID, "welcome-name").send_keys("Els", Keys.ENTER)
                self.heading(b, cat["near_title"])
                self.wait(b, "the request, in %s words" % lang,
                          lambda d: cat["category_meals"] in browser.shown(d.find_element(By.ID, "near-list"))
                          and cat["urgency_today"] in browser.shown(d.find_element(By.ID, "near-list")))
                self.assertSpeaks(b, lang)
                self.shoot(b, "near-you-" + lang)
                self.go(b, "#ask", cat["ask_title"])
                self.assertSpeaks(b, lang)
                self.shoot(b, "ask-" + lang)
                if lang == "ar":
                    self.check_right_to_left(b)
                b.quit()

    def check_right_to_left(self, b):
        """Arabic mirrors the layout: start is on the right."""
        from selenium.webdriver.common.by import By

        b.driver.set_window_size(*DESKTOP)
        rect = lambda e: e.rect  # noqa: E731
        brand = rect(b.driver.find_element(By.ID, "brand"))
        links = [rect(e) for e in b.driver.find_elements(By.CSS_SELECTOR, "#nav a")]
        self.assertGreaterEqual(len(links), 2)
        self.assertGreater(brand["x"], links[0]["x"], "the neighbourhood's name is on the right")
        self.assertGreater(links[0]["x"], links[1]["x"], "the first link is right of the second")
        main = rect(b.driver.find_element(By.ID, "main"))
        label = rect(b.driver.find_element(By.CSS_SELECTOR, "label[for='ask-title']"))
        title = rect(b.driver.find_element(By.ID, "screen-title"))
        main_right = main["x"] + main["width"]
        # Text starts at the right edge of the content (the padding apart),
        # and a short label or heading ends well before the left edge.
        for what, r in (("label", label), ("heading", title)):
            self.assertLess(main_right - (r["x"] + r["width"]), 40, what)
        self.assertGreater(b.driver.execute_script(
            "const r = document.createRange();"
            "r.selectNodeContents(document.querySelector(\"label[for='ask-title']\"));"
            "return r.getBoundingClientRect().left;") - main["x"], 100,
            "the label's text is on the right, not the left")
        b.driver.save_screenshot(os.path.join(SHOTS, "i18n-rtl-ask-ar-desktop.png"))

    def test_values_are_isolated_in_sentences(self):
        """A value put into a translated sentence (a place, a name) is
        between U+2068 FIRST STRONG ISOLATE and U+2069 POP DIRECTIONAL
        ISOLATE: the Latin "Marollen" in an Arabic heading, an Arabic name in
        a French one, so that neither reorders the words around it."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        FSI, PDI = "\u2068", "\u2069"
        self.node.member("alice").ok("profile", "--name", "يوسف")
        text_of = lambda d, id_: d.execute_script(  # noqa: E731
            "return document.getElementById(arguments[0]).textContent", id_)
        name = "Marollen"
        for lang in ("ar", "fr"):
            with self.subTest(language=lang):
                cat = page_catalog(lang)
                b = self.browser(lang)
                b.driver.get(self.link())
                self.heading(b, cat["welcome_title"].replace("{neighbourhood}", name))
                self.assertEqual(text_of(b.driver, "screen-title"),
                                 cat["welcome_title"].replace("{neighbourhood}", FSI + name + PDI))
                b.driver.find_element(By.ID, "welcome-name").send_keys("Els", Keys.ENTER)
                self.heading(b, cat["near_title"])
                asked_by = cat["near_by"].replace("{name}", FSI + "يوسف" + PDI)
                self.wait(b, "the request by يوسف, isolated",
                          lambda d: asked_by in text_of(d, "near-list"))
                # What a person reads (and what the other tests compare) is
                # the sentence without the invisible marks.
                self.assertIn(cat["near_by"].replace("{name}", "يوسف"),
                              browser.shown(b.driver.find_element(By.ID, "near-list")))
                b.quit()

    def test_switching_changes_every_text_and_is_remembered(self):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        en, fr, ar = page_catalog("en"), page_catalog("fr"), page_catalog("ar")
        b = self.browser("en", DESKTOP)
        b.driver.get(self.link())
        self.heading(b, en["welcome_title"].replace("{neighbourhood}", "Marollen"))
        names = [browser.shown(e) for e in b.driver.find_elements(By.CSS_SELECTOR, "#languages a")]
        self.assertEqual(sorted(names), sorted(["Nederlands", "Français", "English", "العربية"]))
        for e in b.driver.find_elements(By.CSS_SELECTOR, "#languages a"):
            self.assertEqual(e.get_attribute("lang"), e.get_attribute("data-language"))
        b.driver.find_element(By.ID, "welcome-name").send_keys("Youssef", Keys.ENTER)
        self.heading(b, en["near_title"])
        self.wait(b, "the request", lambda d: "Soup on Friday" in browser.shown(d.find_element(By.ID, "near-list")))
        before = self.text(b)
        self.assertIn(en["near_help"], before)

        self.choose_language(b, "fr")
        self.heading(b, fr["near_title"])
        self.wait(b, "the card in French", lambda d: fr["near_help"] in self.text(b))
        self.assertSpeaks(b, "fr")
        self.assertEqual(browser.shown(b.driver.find_element(By.CSS_SELECTOR, "#language-link span[lang]")), "Français")
        b.driver.find_element(By.ID, "language-link").click()
        self.heading(b, fr["nav_language"])
        current = b.driver.find_element(By.CSS_SELECTOR, "#languages a[aria-current='true']")
        self.assertEqual(current.get_attribute("data-language"), "fr")
        b.driver.back()
        self.heading(b, fr["near_title"])
        nav = [browser.shown(e) for e in b.driver.find_elements(By.CSS_SELECTOR, "#nav a")]
        self.assertEqual(nav[:2], [fr["nav_near"], fr["nav_ask"]])
        for text in nav:
            self.assertIn(text, fr.values(), "a link of the bar is not in French")

        # Remembered on this device.
        b.driver.refresh()
        self.heading(b, fr["near_title"])
        self.assertSpeaks(b, "fr")

        self.choose_language(b, "ar")
        self.heading(b, ar["near_title"])
        self.wait(b, "the card in Arabic", lambda d: ar["near_help"] in self.text(b))
        self.assertSpeaks(b, "ar")
        self.assertEqual(b.driver.find_element(By.TAG_NAME, "html").get_attribute("dir"), "rtl")

        self.choose_language(b, "en")
        self.heading(b, en["near_title"])
        self.assertEqual(b.driver.find_element(By.TAG_NAME, "html").get_attribute("dir"), "ltr")
        self.assertSpeaks(b, "en")


if __name__ == "__main__":
    unittest.main()
