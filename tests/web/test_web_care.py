"""A coordinator's day in the page, in Chromium, across two nodes.

Mia works at the buurthuis; node A is its node, which shares its overview
(`share_report = on`).  Signed in in her browser, she opens the coordinator's
screens from "You", keeps her phone number, and takes a request by phone for
"M." (Maria, who has no phone or computer).  Bob, a volunteer on node B,
responds with `noaber`.  Mia sees under "who needs a call" that someone
offered, chooses Bob with Maria's contact from her caseload, which her
browser seals to Bob; Bob's `noaber show` opens it.  Mia phones Maria and
says so; Bob says it is done; Mia confirms for Maria; node B agrees.  The
request is the record `noaber intake` makes.  The overview in the page is
the node's, cell for cell, with the small ones suppressed.  The noticeboard
sheet prints on A4 with the QR code and no names (a PDF and a screenshot in
BUILD/web-screenshots/).  Maria's name, phone, address and notes are in no
file of either node (store, WAL, log) nor in noaber-web's log, and the
browser keeps them only encrypted.
"""

import base64
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import browser  # noqa: E402
import nb  # noqa: E402

MIA_PHONE = "+32 2 555 01 01"
MARIA = dict(name="Maria Janssens", phone="+32 470 11 22 33", address="Hoogstraat 99",
             notes="Knock twice; pays cash on delivery")
# What must never leave Mia's browser in clear.
NEEDLES = list(MARIA.values()) + ["Janssens", "470 11 22 33", "Hoogstraat", "Knock twice"]
TITLE = "Groceries from the market"
CONTACT = "Maria Janssens, phone +32 470 11 22 33, Hoogstraat 99"


class CoordinatorPage(browser.PageTest):
    def node(self, name, config=()):
        n = nb.NetNode(name, config=["peer_exchange = off"] + list(config))
        self.addCleanup(n.cleanup)
        return n.start()

    def text_of(self, b, id_):
        from selenium.webdriver.common.by import By

        return browser.shown(b.driver.find_element(By.ID, id_))

    def click(self, b, xpath):
        from selenium.webdriver.common.by import By

        self.wait(b, xpath, lambda d: d.find_element(By.XPATH, xpath).is_displayed())
        b.driver.find_element(By.XPATH, xpath).click()

    def fill(self, b, values):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        for id_, value in values.items():
            e = b.driver.find_element(By.ID, id_)
            if e.tag_name == "select":
                Select(e).select_by_value(value)
            else:
                e.clear()
                e.send_keys(value)

    def test_a_coordinator_takes_an_intake_chooses_a_helper_and_prints_the_sheet(self):
        from selenium.webdriver.common.by import By

        a = self.node("buurthuis", ["share_report = on"])
        b_node = self.node("volunteers")
        a.create_neighbourhood("Marollen")
        b_node.join(nb.invite_only_maker(a.invite()))
        web = self.web(a)
        mia = self.browser(browser.DESKTOP)
        self.join(mia, self.welcome_link(a, web, "Mia"), "Mia")
        bob = b_node.member("bob")
        bob.new_identity()
        bob.ok("profile", "--name", "Bob")

        # The coordinator's screens start from "You", not from the menu.
        nav = self.text_of(mia, "nav")
        self.assertNotIn("Coordinator", nav)
        mia.driver.get(web.url + "/#you")
        self.heading(mia, "You")
        self.click(mia, "//a[@href='#care']")
        self.heading(mia, "Coordinator")
        self.fill(mia, {"care-my-phone": MIA_PHONE})
        self.click(mia, browser.xpath("//button", "Keep my number"))
        self.wait(mia, "the number kept", lambda d: "Your number is kept" in self.text_of(mia, "said"))

        # A label with a surname is refused, with the advice of `noaber intake`.
        self.click(mia, "//a[@href='#care-intake']")
        self.heading(mia, "Take a request by phone")
        self.fill(mia, {"care-label": "Maria Janssens", "care-title": TITLE})
        self.click(mia, browser.xpath("//button", "Send the request"))
        self.wait(mia, "the label refused", lambda d: "one word of letters" in browser.shown(d.find_element(
            By.CLASS_NAME, "error-summary")))
        self.assertIn("This person is new", self.text_of(mia, "main"))
        self.shoot(mia, "care-intake-errors")
        self.fill(mia, {"care-label": "M.", "care-category": "0", "care-urgency": "1", "care-area": "Marollen",
                        "care-name": MARIA["name"], "care-phone": MARIA["phone"],
                        "care-address": MARIA["address"], "care-notes": MARIA["notes"],
                        "care-contact": "person"})
        self.click(mia, browser.xpath("//button", "Send the request"))
        self.heading(mia, "My people")
        self.wait(mia, "Maria in my people", lambda d: MARIA["phone"] in self.text_of(mia, "live-list")
                  and TITLE in self.text_of(mia, "live-list"))
        rid = mia.driver.find_element(By.CSS_SELECTOR, "#live-list a[href^='#request=']") \
            .get_attribute("href").split("=")[1]
        self.shoot(mia, "care-people")

        # The record is the one `noaber intake` makes: the same fields, the
        # label, no languages, a week to live.
        nb.wait_for("the request on node B", lambda: bob.run("show", rid).rc == 0, timeout=90)
        cli = b_node.member("kees")
        cli.new_identity()
        cid = cli.ok("intake", "M.", TITLE, "--category", "groceries", "--area", "Marollen",
                     "--urgency", "this-week")["id"]
        fields = ("kind", "title", "category", "urgency", "mode", "when", "area", "languages", "tags",
                  "on_behalf_of", "details", "sealed")
        page_rec, cli_rec = bob.show(rid), bob.show(cid)
        self.assertEqual({k: page_rec.get(k) for k in fields}, {k: cli_rec.get(k) for k in fields})
        self.assertEqual(page_rec["on_behalf_of"], "M.")
        self.assertEqual(page_rec["expires_at"] - page_rec["created_at"],
                         cli_rec["expires_at"] - cli_rec["created_at"])
        cli.ok("retract", cid)

        # The caseload is in the browser, encrypted: the stored value opens
        # with no key of the page's and names nobody.
        stored = mia.driver.execute_script(
            "return Object.keys(localStorage).filter((k) => k.startsWith('noaber.caseload.'))"
            ".map((k) => localStorage.getItem(k));")
        self.assertEqual(len(stored), 1)
        raw = base64.b64decode(stored[0])
        for needle in NEEDLES + ["M."]:
            self.assertNotIn(needle.encode(), raw)

        # Bob responds; Mia is told to choose, and chooses him with Maria's contact.
        bob.ok("respond", rid)
        mia.driver.get(web.url + "/#care-calls")
        self.heading(mia, "Who needs a call")
        self.wait(mia, "Bob's offer", lambda d: "Choose Bob" in self.text_of(mia, "live-list"), timeout=90)
        self.shoot(mia, "care-calls")
        self.click(mia, browser.xpath("//a", "Choose Bob"))
        self.heading(mia, "Choose Bob to help M.")
        self.assertEqual(self.text_of(mia, "care-contact-preview"), CONTACT)
        self.fill(mia, {"care-contact": "me"})
        self.assertEqual(self.text_of(mia, "care-contact-preview"), "Phone the coordinator for M.: " + MIA_PHONE)
        self.fill(mia, {"care-contact": "person"})
        self.shoot(mia, "care-choose")
        self.click(mia, browser.xpath("//button", "Choose Bob and send them this"))
        self.heading(mia, "Who needs a call")
        self.wait(mia, "the call to make", lambda d: "Bob is helping with \u201c%s\u201d: phone %s (%s) with their name."
                  % (TITLE, MARIA["name"], MARIA["phone"]) in self.text_of(mia, "live-list"), timeout=90)

        # Bob's noaber opens what Mia's browser sealed to him.
        nb.wait_for("the assignment on node B", lambda: bob.show(rid)["status"] == "assigned", timeout=90)
        self.assertEqual(bob.show(rid)["contact"], CONTACT)

        # Mia phones Maria: no call until the next step.
        self.click(mia, browser.xpath("//button", "I phoned M."))
        self.wait(mia, "no call left", lambda d: "Nobody needs a call right now." in self.text_of(mia, "live-list"))
        bob.ok("done", rid)
        self.wait(mia, "the done claim", lambda d: "Bob says \u201c%s\u201d is done" % TITLE
                  in self.text_of(mia, "live-list"), timeout=90)
        self.click(mia, browser.xpath("//a", "Confirm it is done for M."))
        self.heading(mia, "Was it done?")
        self.click(mia, browser.xpath("//button", "Yes, it is done"))
        nb.wait_for("done on node B", lambda: bob.show(rid)["status"] == "done", timeout=90)

        # The overview: the node's numbers, suppressed where the node suppressed them.
        nel = a.member("nel")
        nel.new_identity()
        for i in range(5):
            nel.ask("Help number %d" % i, "repairs", "Marollen")
        mia.driver.get(web.url + "/#care-report")
        self.heading(mia, "The overview of needs")
        self.wait(mia, "the table", lambda d: d.find_element(By.ID, "report-table").is_displayed())
        daemon = a.operator.ok("report", "--by", "category")
        self.check_report(mia, daemon)
        self.shoot(mia, "care-report")

        # The sheet: no names, the phone number, a QR code that noaber-web drew.
        mia.driver.get(web.url + "/#care-sheet")
        self.heading(mia, "The sheet for the noticeboard")
        self.wait(mia, "the QR code", lambda d: d.execute_script(
            "const i = document.querySelector('.sheet-qr'); return i.complete && i.naturalWidth > 0;"))
        sheet = browser.shown(mia.driver.find_element(By.CSS_SELECTOR, ".sheet"))
        self.assertIn("To help or to ask for help, phone " + MIA_PHONE, sheet)
        self.assertIn("Help wanted and offered in Marollen", sheet)
        for secret in NEEDLES + [TITLE, "Help number", "Mia", "Nel"]:
            self.assertNotIn(secret, sheet)
        self.shoot(mia, "care-sheet")
        status, headers, svg = web.request("GET", "/api/qr?url=" + web.url + "/")
        self.assertEqual(status, 401, "a QR code without a session")
        self.print_sheet(mia)

        # Maria's details are in no file of either node, nor in noaber-web's log.
        for node in (a, b_node):
            node.assert_nowhere_in_clear(NEEDLES, extra=[web.log_path])

        # After a reload the caseload opens again with the key of this browser.
        mia.driver.get(web.url + "/#care-people")
        mia.driver.refresh()
        self.heading(mia, "My people")
        self.wait(mia, "Maria again", lambda d: MARIA["name"] in self.text_of(mia, "live-list"))
        self.click(mia, browser.xpath("//button", "Forget M."))
        self.wait(mia, "Maria forgotten", lambda d: "Nobody yet" in self.text_of(mia, "live-list"))

    def check_report(self, b, daemon):
        """Every cell of the page's table is the daemon's: a number, or
        "fewer than 5" where it sent null."""
        from selenium.webdriver.common.by import By

        rows = {r["group"]: r for r in daemon["rows"]}
        rows["All"] = daemon["total"]
        self.assertIsNone(daemon["total"]["helped"], "one helped request is a small cell")
        self.assertEqual(daemon["total"]["posted"], 6)
        names = {"Groceries": "groceries", "Repairs": "repairs"}
        seen = 0
        for tr in b.driver.find_elements(By.CSS_SELECTOR, "#report-table tbody tr"):
            group = browser.shown(tr.find_element(By.TAG_NAME, "th"))
            want = rows[names.get(group, group)]
            for td in tr.find_elements(By.TAG_NAME, "td"):
                column = td.get_attribute("data-column")
                if column.startswith("median"):
                    if want[column] is None:
                        self.assertEqual(browser.shown(td), "fewer than 5")
                    continue
                self.assertEqual(browser.shown(td), "fewer than 5" if want[column] is None else str(want[column]),
                                 "%s, %s" % (group, column))
                seen += 1
        self.assertEqual(seen, 6 * (len(daemon["rows"]) + 1))
        # The chart: three bars per group, hatched exactly where the node
        # suppressed the count.
        bars = b.driver.find_elements(By.CSS_SELECTOR, "#report-chart rect[data-column]")
        self.assertEqual(len(bars), 3 * len(daemon["rows"]))
        want = [daemon["rows"][i // 3][c] is None
                for i, c in enumerate(["posted", "helped", "expired_unhelped"] * len(daemon["rows"]))]
        self.assertEqual([e.get_attribute("data-hidden") == "true" for e in bars], want)
        self.assertIn(True, want)
        self.assertIn(False, want)

    def print_sheet(self, b):
        """The sheet as Chromium prints it on A4: a PDF and a screenshot of
        the print layout, checked with pdftotext."""
        out = os.path.join(browser.SHOTS, "care-sheet.pdf")
        pdf = b.driver.execute_cdp_cmd("Page.printToPDF", {
            "paperWidth": 8.27, "paperHeight": 11.69, "preferCSSPageSize": True, "printBackground": True})
        with open(out, "wb") as f:
            f.write(base64.b64decode(pdf["data"]))
        text = subprocess.run(["pdftotext", "-layout", out, "-"], capture_output=True, text=True,
                              check=True).stdout
        text = " ".join(text.split())  # lines wrap where the page's width says
        self.assertIn("To help or to ask for help, phone " + MIA_PHONE, text)
        self.assertNotIn("Print the sheet", text, "the buttons are not printed")
        self.assertNotIn("Near you", text, "the menu is not printed")
        pages = subprocess.run(["pdfinfo", out], capture_output=True, text=True, check=True).stdout
        self.assertRegex(pages, r"Pages:\s+1\n", "one page")
        self.assertRegex(pages, r"Page size:.*\(A4\)")
        b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        b.driver.set_window_size(794, 1123)  # A4 at 96 dpi
        b.driver.save_screenshot(os.path.join(browser.SHOTS, "care-sheet-print.png"))
        b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        b.driver.set_window_size(*browser.DESKTOP)


if __name__ == "__main__":
    browser.require_chromium()
    nb.require_binaries()
    unittest.main(verbosity=2)
