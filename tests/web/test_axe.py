"""Accessibility of every screen of the page, checked by axe-core in Chromium.

axe-core (npm, fetched at test time into a temporary directory; the test
skips with exit 77 and says why where npm or the registry is absent, as
tests/e2e/test_negentropy_interop.py does) runs in every state the page's
flow reaches: the page without a welcome link, the welcome screen, a used
link, "near you" with requests in it, every screen its navigation leads to,
"ask for help" empty and with its error summary, and the coordinator's
screens (the intake with its error summary, my people, who needs a call,
the sheet, the overview).  Each state is checked on a
phone (360 px wide), on a desktop, and on the phone with the browser's text
at 200 %, where the page must also not need scrolling sideways (WCAG 1.4.10).
Any violation of WCAG 2.0, 2.1 or 2.2 A and AA rules fails the test and is
written to BUILD/web-screenshots/axe.json with the elements it concerns.
English is checked at every size; every other language of the page's
language menu on the phone, with normal and with large text.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import browser  # noqa: E402
import nb  # noqa: E402

AXE = "axe-core@4.10.2"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
SHOTS = os.path.join(nb.BUILD_ROOT, "web-screenshots")
PHONE = (360, 800)
DESKTOP = (1280, 900)
# Chromium's default font size of 16 px, doubled: what a person who sets
# larger text in the browser gets (WCAG 1.4.4, resize text to 200 %).
LARGE_TEXT = {"webkit.webprefs.default_font_size": 32,
              "webkit.webprefs.default_fixed_font_size": 26,
              "webkit.webprefs.minimum_font_size": 12}


def skip(reason):
    print("SKIP: %s" % reason)
    sys.exit(browser.SKIP)


def fetch_axe():
    """axe.min.js from npm, as text; skips where it cannot be had."""
    if shutil.which("npm") is None:
        skip("npm is not installed (apt-get install npm), so axe-core cannot be fetched")
    workdir = tempfile.mkdtemp(prefix="noaber-axe-")
    try:
        try:
            p = subprocess.run(["npm", "install", "--prefix", workdir, "--no-audit", "--no-fund",
                                "--no-save", "--loglevel=error", AXE],
                               capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            skip("npm install %s timed out" % AXE)
        if p.returncode != 0:
            skip("npm install %s failed: %s" % (AXE, p.stderr.strip()[:300]))
        with open(os.path.join(workdir, "node_modules", "axe-core", "axe.min.js")) as f:
            return f.read()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class Accessibility(unittest.TestCase):
    axe_source = None

    def setUp(self):
        nb.require_binaries()
        os.makedirs(SHOTS, exist_ok=True)
        self.results = []

    def check(self, b, state, width):
        """Runs axe-core on what the browser shows `width` CSS pixels wide,
        records the result with how wide the page is laid out, and keeps a
        screenshot of the state."""
        name = "".join(c if c.isalnum() else "-" for c in state.lower()).strip("-")
        b.driver.save_screenshot(os.path.join(SHOTS, "a11y-%s.png" % name.replace("--", "-")))
        b.driver.execute_script(self.axe_source)
        out = b.run_async("return await axe.run(document, {runOnly: {type: 'tag', values: args[0]},"
                          " resultTypes: ['violations']});", TAGS)
        violations = [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
                       "nodes": [n["html"][:200] for n in v["nodes"]][:5]}
                      for v in out["violations"]]
        scroll = b.driver.execute_script("return document.documentElement.scrollWidth;")
        self.results.append({"state": state, "violations": violations,
                             "scroll_width": scroll, "window_width": width})

    def states(self, node, web, label, size, prefs, language):
        """Walks the page through every state and checks each one, in the
        browser's `language`.  Waits on what is on the screen (fields, lists,
        a new heading), not on words, so that every language takes the same
        path.  Returns the languages the page offers."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        b = self.browser(size, prefs, language)
        label = "%s, %s" % (label, language)

        def present(css):
            return lambda d: d.find_elements(By.CSS_SELECTOR, css)

        def open_screen(url):
            """Opens `url` and waits until the page draws its screen (a new
            heading: show() makes one per screen).  Returns False when the
            page is there already."""
            if b.driver.current_url == url:
                return False
            b.driver.execute_script(
                "const h = document.getElementById('screen-title'); if (h) h.dataset.seen = '1';")
            b.driver.get(url)
            self.wait(b, present("#screen-title:not([data-seen])"), "the screen of " + url)
            return True

        open_screen(web.url + "/")
        self.check(b, label + ": no welcome link", size[0])

        link = node.operator.ok("welcome", "--name", "Maria", "--host", web.host)["link"]
        b.driver.get(link)
        self.wait(b, present("#welcome-name"), "the welcome screen")
        self.check(b, label + ": welcome", size[0])
        languages = [a.get_attribute("data-language")
                     for a in b.driver.find_elements(By.CSS_SELECTOR, "#languages a[data-language]")]
        b.driver.find_element(By.ID, "welcome-name").send_keys("Maria", Keys.ENTER)
        self.wait(b, present("#near-list li[data-id]"), "the requests near you")
        self.check(b, label + ": near you", size[0])

        # Every screen the navigation leads to, whatever screens the page has.
        hrefs = [a.get_attribute("href")
                 for a in b.driver.find_elements(By.CSS_SELECTOR, "nav a[href^='#'], a.nav-link, #language-link")]
        for href in dict.fromkeys(hrefs):
            if open_screen(href):
                self.check(b, "%s: %s" % (label, href.split("#", 1)[1]), size[0])

        # The coordinator's screens, behind "You" (care.js): with a phone
        # number kept, so that the sheet shows; the intake with its errors.
        open_screen(web.url + "/#care")
        self.wait(b, present("#care-my-phone"), "the coordinator's screen")
        b.driver.find_element(By.ID, "care-my-phone").send_keys("+32 2 555 01 01", Keys.ENTER)
        self.check(b, label + ": coordinator", size[0])
        for fragment, ready in (("care-intake", "#care-label"), ("care-people", "#live-list li"),
                                ("care-calls", "#live-list li"), ("care-sheet", ".sheet-qr"),
                                ("care-report", "#report-table")):
            open_screen(web.url + "/#" + fragment)
            self.wait(b, present(ready), "the screen " + fragment)
            self.check(b, "%s: %s" % (label, fragment), size[0])

        def sent_empty(fragment, state):
            """A form sent empty, with its error summary."""
            open_screen(web.url + "/#" + fragment)
            self.wait(b, present("#main form button"), "the form of " + fragment)
            # Far down a page of large text: brought to the middle of the
            # screen first, so that the click lands on it and not where it
            # was before the page scrolled.
            button = b.driver.find_element(By.CSS_SELECTOR, "#main form button")
            b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
            button.click()
            self.wait(b, lambda d: browser.shown(d.find_element(By.CLASS_NAME, "error-summary")) != "",
                      "the error summary of " + fragment)
            self.check(b, "%s: %s" % (label, state), size[0])

        sent_empty("care-intake", "care-intake, with errors")
        sent_empty("ask", "ask for help, with errors")

        # A welcome link that was used already.
        used = self.browser(size, prefs, language)
        used.driver.get(link)
        self.wait(used, present("#welcome-name"), "the welcome screen")
        used.driver.find_element(By.ID, "welcome-name").send_keys("Someone", Keys.ENTER)
        self.wait(used, lambda d: browser.shown(d.find_element(By.CLASS_NAME, "error-summary")) != "",
                  "that the link was used")
        self.check(used, label + ": a used welcome link", size[0])
        return languages

    def wait(self, b, fn, what, timeout=30):
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(b.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(NoSuchElementException,
                                                     StaleElementReferenceException)).until(fn)
        except Exception as e:
            raise AssertionError("the page did not show %s: %s\nconsole: %s"
                                 % (what, e, "\n".join(b.console())))

    def browser(self, size, prefs=None, language="en"):
        """A browser whose person reads `language` first (navigator.languages,
        from which the page picks its language)."""
        b = browser.Browser(*size, language=language, prefs=prefs)
        self.addCleanup(b.quit)
        if size[0] < 500:
            b.emulate(*size)
        return b

    def test_no_violation_on_any_screen(self):
        # Sharing the overview, so that the coordinator's table is checked too.
        node = nb.NetNode("a", config=["peer_exchange = off", "share_report = on"])
        self.addCleanup(node.cleanup)
        node.start()
        node.create_neighbourhood("Marollen")
        carol = node.member("carol")
        carol.new_identity()
        # A few requests as neighbours make them, so that the list has the
        # variety people see (and the screenshots show it).
        carol.ask("Groceries from the market")
        carol.ask("A lift to the hospital on Tuesday", "transport", "Marollen",
                  "--urgency", "today", "--details", "The appointment is at ten.")
        carol.ask("Help carrying a cupboard upstairs", "other", "Zuidpaleis",
                  "--urgency", "this-week")
        web = browser.Web(node)
        self.addCleanup(web.stop)

        # English at every size; then every other language the page offers
        # on the phone, and with large text where it is laid out from right
        # to left as well.
        for label, size, prefs in (("phone", PHONE, None), ("desktop", DESKTOP, None),
                                   ("phone, text 200 %", PHONE, LARGE_TEXT)):
            languages = self.states(node, web, label, size, prefs, "en")
        for language in languages:
            if language != "en":
                self.states(node, web, "phone", PHONE, None, language)
                self.states(node, web, "phone, text 200 %", PHONE, LARGE_TEXT, language)
        self.assertIn("en", languages)

        with open(os.path.join(SHOTS, "axe.json"), "w") as f:
            json.dump({"axe": AXE, "tags": TAGS, "states": self.results}, f, indent=1)
        for r in self.results:
            print("axe: %-45s %d violations" % (r["state"], len(r["violations"])))
        failures = [r for r in self.results if r["violations"]]
        self.assertEqual(failures, [], json.dumps(failures, indent=1))
        wide = [r for r in self.results
                if r["scroll_width"] > r["window_width"]]
        self.assertEqual(wide, [], "the page scrolls sideways")


if __name__ == "__main__":
    browser.require_chromium()
    nb.require_binaries()
    Accessibility.axe_source = fetch_axe()
    unittest.main(verbosity=2)
