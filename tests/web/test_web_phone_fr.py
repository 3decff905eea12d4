"""A request's whole life in French, on a phone 360 pixels wide.

Maria's browser reads French first (Accept-Language fr-BE) and is a phone:
she opens her welcome link on node A, asks for help, sees that Bob (on node
B, a browser that reads Arabic) can help, chooses him with her address
sealed to him, and confirms with thanks once he says it is done.  Every
screen she sees is found and pressed by the words the French catalog
(po/fr.po, as the page gets it) gives it, and on every one of them the
visible text is scanned: no English left where French has its own words,
no catalog key, and none of the technical words a neighbour must never
meet ("key", "clé", "record", "nbm1", a hex id).  Each of her screens fits
the phone, and the header leaves the screen to the content: the heading
starts within the first third of the window.

Then both browsers show every main page in nl, fr, en and ar, at phone and
desktop width: the screenshots go to BUILD/web-screenshots/gallery-*.png
(docs/web.md shows the best of them).
"""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import browser  # noqa: E402
import nb  # noqa: E402

ADDRESS = "Rue Haute 12, sonnette 3, 0470 11 22 33"
THANKS = "Merci Bob, c'est parfait !"
TITLE = "Accrocher une étagère dans la cuisine"
AREA = "Marolles 1000"

# Words that say how Noaber works inside, not what a neighbour does.
TECHNICAL = re.compile(r"(?<!\w)(key|keys|clé|record|records|nbm1)(?!\w)|(?<![0-9a-fA-F])[0-9a-fA-F]{16,}",
                       re.IGNORECASE)

# The visible text of the page, without what is marked as another language
# (the languages' own names, a neighbour's words in theirs).
VISIBLE_TEXT = r"""
const lang = document.documentElement.lang;
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const e = n.parentElement;
  if (!n.textContent.trim() || e.closest('noscript, script, style, .skip')) continue;
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === 'hidden') continue;
  const marked = e.closest('[lang]');
  if (marked && marked.getAttribute('lang') !== lang) continue;
  out.push(n.textContent.trim());
}
for (const e of document.querySelectorAll('input, textarea, button, [aria-label]')) {
  const label = e.getAttribute('aria-label') || e.getAttribute('placeholder');
  if (label) out.push(label);
}
return out.join('\n');
"""


class FrenchPhone(browser.PageTest):
    @classmethod
    def setUpClass(cls):
        cls.en = browser.english()
        cls.fr = browser.page_catalog("fr")
        cls.ar = browser.page_catalog("ar")

    # -- finding things by what a person sees ------------------------------

    def t(self, cat, key, **vars_):
        text = cat[key]
        for k, v in vars_.items():
            text = text.replace("{%s}" % k, v)
        return text

    def by_text(self, b, tag, text):
        """The visible element `tag` whose whole text is `text`."""
        from selenium.webdriver.common.by import By

        xpath = browser.xpath("//" + tag, text)
        return self.wait(b, "a %s saying %r" % (tag, text),
                         lambda d: next((e for e in d.find_elements(By.XPATH, xpath) if e.is_displayed()), False))

    def field(self, b, label):
        """The field a <label> with this text is for."""
        from selenium.webdriver.common.by import By

        lab = self.by_text(b, "label", label)
        return b.driver.find_element(By.ID, lab.get_attribute("for"))

    def main_text(self, b):
        from selenium.webdriver.common.by import By

        return browser.shown(b.driver.find_element(By.ID, "main"))

    def sees(self, b, text, timeout=30):
        self.wait(b, repr(text), lambda d: text in self.main_text(b), timeout=timeout)

    # -- what Maria must see on every screen -------------------------------

    def leftovers(self, shown):
        """English texts the French catalog translates, found in `shown`:
        whole texts, and the words around a template's {names}."""
        left = []
        for key, text in self.en.items():
            if key in ("language_name", "dir", "brand") or self.fr.get(key, text) == text:
                continue
            parts = [p.strip(" .:,\"'") for p in re.split(r"\{\w+\}", text)]
            for part in parts:
                long_enough = len(part) >= (4 if len(parts) == 1 else 10)
                if long_enough and re.search(r"(?<!\w)%s(?!\w)" % re.escape(part), shown):
                    left.append("%s: %r" % (key, part))
        return left

    def check_screen(self, b, name):
        """Maria's screen: French all through, no technical word, fits the
        phone, and the header leaves room for the content."""
        shown = browser.plain(b.driver.execute_script(VISIBLE_TEXT))
        self.assertEqual(b.driver.find_element("tag name", "html").get_attribute("lang"), "fr")
        self.assertEqual(self.leftovers(shown), [], "English on the screen %r:\n%s" % (name, shown))
        keys = [k for k in self.en if "_" in k and re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(k), shown)]
        self.assertEqual(keys, [], "catalog keys on the screen %r" % name)
        self.assertEqual([m.group(0) for m in TECHNICAL.finditer(shown)], [],
                         "technical words on the screen %r:\n%s" % (name, shown))
        self.assert_fits_a_phone(b, name)
        self.assert_header_is_small(b, name)
        b.driver.save_screenshot(os.path.join(browser.SHOTS, "fr-phone-%s.png" % name))

    def assert_header_is_small(self, b, name):
        """The header (the neighbourhood's name, one language link and a
        menu of four places) takes less than a fifth of the phone's screen,
        and the screen's own content starts within its first third (below
        the header, the line saying what just happened when there is one)."""
        header, said, main, height = b.driver.execute_script(
            "const y = (e) => e.getBoundingClientRect().bottom + window.scrollY;"
            "return [y(document.querySelector('header.top')), document.getElementById('said').offsetHeight,"
            " document.getElementById('main').getBoundingClientRect().top + window.scrollY, window.innerHeight];")
        self.assertLess(header, height / 5, "the header of the screen %r is %d px of %d" % (name, header, height))
        self.assertLess(main - said, height / 3, "the screen %r starts %d px down a window of %d" % (name, main, height))
        self.header_heights[name] = header

    # -- the story ---------------------------------------------------------

    def test_maria_in_french_on_a_phone_with_bob_in_arabic(self):
        from selenium.webdriver.common.by import By

        fr, ar = self.fr, self.ar
        self.header_heights = {}
        a, b_node = self.node("a"), self.node("b")
        a.create_neighbourhood("Marollen")
        b_node.join(nb.invite_only_maker(a.invite()))
        web_a, web_b = self.web(a), self.web(b_node)

        maria = browser.Browser(*browser.PHONE, language="fr-BE")
        self.addCleanup(maria.quit)
        # A headless window is never narrower than 500 pixels: the page is
        # laid out as a phone lays it out instead.
        maria.emulate(*browser.PHONE)
        maria_link = self.welcome_link(a, web_a, "Maria")
        maria.driver.get(maria_link)
        self.heading(maria, self.t(fr, "welcome_title", neighbourhood="Marollen"))
        self.assertEqual(maria.driver.execute_script("return document.documentElement.clientWidth"),
                         browser.PHONE[0])
        self.check_screen(maria, "welcome")
        self.field(maria, fr["welcome_name"]).send_keys("Maria")
        self.by_text(maria, "button", self.t(fr, "welcome_button", neighbourhood="Marollen")).click()
        self.heading(maria, fr["near_title"])
        self.check_screen(maria, "near")

        bob = browser.Browser(*browser.DESKTOP, language="ar")
        self.addCleanup(bob.quit)
        bob.driver.get(self.welcome_link(b_node, web_b, "Bob"))
        self.heading(bob, self.t(ar, "welcome_title", neighbourhood="Marollen"))
        self.field(bob, ar["welcome_name"]).send_keys("Bob")
        self.by_text(bob, "button", self.t(ar, "welcome_button", neighbourhood="Marollen")).click()
        self.heading(bob, ar["near_title"])

        # Maria asks, from the menu.
        self.by_text(maria, "a", fr["nav_ask"]).click()
        self.heading(maria, fr["ask_title"])
        self.check_screen(maria, "ask")
        self.field(maria, fr["ask_what"]).send_keys(TITLE)
        self.field(maria, fr["ask_area"]).send_keys(AREA)
        self.by_text(maria, "button", fr["ask_continue"]).click()
        self.heading(maria, fr["ask_check_title"])
        self.check_screen(maria, "ask-check")
        self.by_text(maria, "button", fr["ask_send"]).click()
        self.heading(maria, fr["near_title"])
        self.sees(maria, fr["ask_sent"])
        self.check_screen(maria, "near-sent")

        self.by_text(maria, "a", fr["nav_yours"]).click()
        self.heading(maria, fr["mine_title"])
        self.sees(maria, fr["mine_state_waiting"])
        self.check_screen(maria, "mine")
        rid = maria.driver.find_element(By.CSS_SELECTOR, "#live-list li[data-id]").get_attribute("data-id")

        # Bob, on node B, in Arabic, can help.
        self.wait(bob, "Maria's request on node B", lambda d: TITLE in browser.shown(d.find_element(By.ID, "near-list")),
                  timeout=90)
        card = bob.driver.find_element(By.CSS_SELECTOR, "li[data-id='%s']" % rid)
        self.wait(bob, "the button", lambda d: card.find_element(
            By.XPATH, browser.xpath(".//button", ar["near_help"]))).click()
        self.wait(bob, "that Bob can help", lambda d: self.t(ar, "near_helping", name="Maria")
                  in browser.shown(d.find_element(By.ID, "near-list")), timeout=90)

        # Maria chooses him, with her address sealed to him.
        self.sees(maria, fr["mine_state_one"], timeout=90)
        self.by_text(maria, "a", TITLE).click()
        self.heading(maria, TITLE)
        choose = self.t(fr, "mine_choose", name="Bob")
        self.sees(maria, choose, timeout=90)
        self.check_screen(maria, "request-choose")
        self.by_text(maria, "a", choose).click()
        self.heading(maria, self.t(fr, "choose_title", name="Bob"))
        self.check_screen(maria, "choose")
        self.field(maria, self.t(fr, "choose_contact", name="Bob")).send_keys(ADDRESS)
        self.by_text(maria, "button", self.t(fr, "choose_button", name="Bob")).click()
        self.heading(maria, TITLE)
        self.sees(maria, self.t(fr, "mine_state_assigned", name="Bob"))
        self.check_screen(maria, "request-assigned")

        # Bob reads it and says it is done.
        bob.driver.get(web_b.url + "/#tasks")
        self.heading(bob, ar["tasks_title"])
        self.sees(bob, ADDRESS, timeout=90)
        self.by_text(bob, "button", ar["tasks_done_button"]).click()
        self.sees(bob, self.t(ar, "tasks_state_claimed", name="Maria"))

        # Maria confirms, with thanks.
        self.sees(maria, self.t(fr, "mine_state_claimed", name="Bob"), timeout=90)
        self.check_screen(maria, "request-claimed")
        self.by_text(maria, "a", fr["mine_confirm_button"]).click()
        self.heading(maria, fr["confirm_title"])
        self.check_screen(maria, "confirm")
        self.field(maria, self.t(fr, "confirm_thanks", name="Bob")).send_keys(THANKS)
        self.by_text(maria, "button", fr["confirm_button"]).click()
        self.sees(maria, fr["mine_state_done"])
        self.check_screen(maria, "request-done")
        self.sees(bob, self.t(ar, "tasks_thanks", name="Maria", thanks=THANKS), timeout=90)

        # "You": the name, the languages, and when notifications arrive.
        self.by_text(maria, "a", fr["nav_you"]).click()
        self.heading(maria, fr["you_title"])
        self.sees(maria, fr["notify_when"])
        self.check_screen(maria, "you")

        with open(os.path.join(browser.SHOTS, "header-heights.json"), "w") as f:
            json.dump(self.header_heights, f, indent=1)
        a.assert_nowhere_in_clear([ADDRESS, "Rue Haute 12", "0470 11 22 33"], extra=[web_a.log_path])

        # Requests of neighbours who use noaber, for the list in the gallery.
        carol = a.member("carol")
        carol.new_identity()
        carol.ok("profile", "--name", "Carol")
        carol.ask("Soup on Friday", "meals", "Marollen 1000", "--urgency", "today")
        carol.ask("A lift to the hospital on Tuesday", "transport", "Marollen", "--urgency", "this-week",
                  "--details", "The appointment is at ten.")
        self.gallery(maria, web_a, maria_link, bob, web_b, rid)

    def gallery(self, maria, web_a, maria_link, bob, web_b, rid):
        """Every main page in every language, at phone and desktop width:
        Maria's as the one who asked, Bob's tasks as the helper."""
        pages = [(maria, "welcome", maria_link, "welcome_name"),
                 (maria, "near-you", web_a.url + "/#near", "near_title", "#near-list li[data-id] + li[data-id]"),
                 (maria, "ask-for-help", web_a.url + "/#ask", "ask_title"),
                 (maria, "your-requests", web_a.url + "/#mine", "mine_title"),
                 (maria, "request-requester", web_a.url + "/#request=" + rid, None),
                 (maria, "offers", web_a.url + "/#offers", "offers_title"),
                 (maria, "you", web_a.url + "/#you", "you_title"),
                 (bob, "request-helper", web_b.url + "/#tasks", "tasks_title")]
        for lang in ("nl", "fr", "en", "ar"):
            cat = browser.page_catalog(lang)
            for b in (maria, bob):
                b.driver.execute_script("localStorage.setItem('noaber.language', arguments[0])", lang)
            for b, name, url, key, *ready in pages:
                b.driver.get("about:blank")
                b.driver.get(url)
                if key == "welcome_name":
                    self.by_text(b, "label", cat[key])
                elif key is not None:
                    self.heading(b, cat[key])
                else:
                    self.heading(b, TITLE)
                self.wait(b, "the screen drawn", lambda d: browser.shown(d.find_element("id", "main"))
                          and not d.find_elements("css selector", "#loading"))
                for css in ready:
                    self.wait(b, css, lambda d: d.find_elements("css selector", css))
                self.wait(b, "the page in %s" % lang,
                          lambda d: d.find_element("tag name", "html").get_attribute("lang") == lang)
                for width, size in (("phone", browser.PHONE), ("desktop", browser.DESKTOP)):
                    b.emulate(*size, mobile=width == "phone")
                    b.driver.save_screenshot(os.path.join(browser.SHOTS, "gallery-%s-%s-%s.png"
                                                          % (name, lang, width)))


if __name__ == "__main__":
    browser.require_chromium()
    nb.require_binaries()
    unittest.main(verbosity=2)
