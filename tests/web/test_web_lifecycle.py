"""A request's whole life in the page, in Chromium, across two nodes.

Alice (on node A, her own browser profile) asks for help; Bob (on node B,
another profile) says he can help; Alice sees "1 neighbour offered to help",
chooses Bob and types her address, which her browser seals to Bob's key;
Bob's "Your tasks" opens it; Bob says he has done it; Alice confirms with
thanks, and Bob sees the thanks.  `noaber show` on node B shows the same
request done.  A request made with `noaber` on node A is acted on in Bob's
page: he responds there, its author assigns him with `noaber assign
--contact`, and Bob reads that contact in the page.  Neither address is ever
in clear in either node's files or log, nor in noaber-web's log.  Every
step is taken by keyboard alone.  Screenshots of each screen go to
BUILD/web-screenshots/.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import browser  # noqa: E402
import nb  # noqa: E402

ADDRESS = "Blaesstraat 40, bell 3, 0470 11 22 33"
CLI_CONTACT = "Hoogstraat 7, call 0499 88 77 66 first"
# The whole texts and distinctive parts of them, as they might be stored.
MESSAGE = "Ring twice, the bell is weak: flat 2B"
NEEDLES = [ADDRESS, "Blaesstraat 40", "0470 11 22 33", CLI_CONTACT, "Hoogstraat 7", "0499 88 77 66",
           MESSAGE, "flat 2B"]


class Lifecycle(browser.PageTest):
    def press(self, b, describe, is_target):
        """Tabs to an element and presses Enter on it, as a keyboard user."""
        from selenium.webdriver.common.keys import Keys

        self.tab_to(b, is_target, most=60)
        self.type(b, Keys.ENTER)

    def link_to(self, fragment):
        return lambda e: e.tag_name == "a" and (e.get_attribute("href") or "").endswith(fragment)

    def button(self, text):
        return lambda e: e.tag_name == "button" and browser.shown(e) == text

    def ask(self, b, web, title, area):
        """Asks for help through the form (the keyboard path has its own test)."""
        from selenium.webdriver.common.by import By

        b.driver.get(web.url + "/#ask")
        self.heading(b, "Ask for help")
        b.driver.find_element(By.ID, "ask-title").send_keys(title)
        b.driver.find_element(By.ID, "ask-area").send_keys(area)
        b.driver.find_element(By.ID, "ask-title").submit()
        self.heading(b, "Check your request")
        b.driver.find_element(By.ID, "ask-send").click()
        self.heading(b, "Near you")

    def text_of(self, b, id_):
        from selenium.webdriver.common.by import By

        return browser.shown(b.driver.find_element(By.ID, id_))

    def go(self, b, fragment, heading):
        """Goes to a screen from the menu, by keyboard: focus the page's top
        (as a reload does) and Shift-Tab back to the menu's link, which comes
        before the content.  Your tasks and the offers are under "Mine", in
        the second menu below its heading: Tab forward to it."""
        from selenium.webdriver.common.keys import Keys

        place = "#mine" if fragment in ("#tasks", "#offers") else fragment
        b.driver.execute_script("document.getElementById('screen-title').focus()")
        for _ in range(12):
            self.type(b, Keys.SHIFT, Keys.TAB)
            e = self.active(b)
            if e.tag_name == "a" and (e.get_attribute("href") or "").endswith(place):
                self.type(b, Keys.ENTER)
                break
        else:
            self.fail("the menu has no link to %s" % place)
        if place != fragment:
            self.wait(b, "the second menu", lambda d: d.find_elements("css selector", "nav.yours"))
            self.tab_to(b, lambda e: e.tag_name == "a" and (e.get_attribute("href") or "").endswith(fragment))
            self.type(b, Keys.ENTER)
        self.heading(b, heading)

    def two_neighbours(self):
        """Node A with Alice's page (a phone), node B with Bob's (a desktop)."""
        a, b_node = self.node("a"), self.node("b")
        a.create_neighbourhood("Marollen")
        b_node.join(nb.invite_only_maker(a.invite()))
        web_a, web_b = self.web(a), self.web(b_node)
        alice = self.browser(browser.PHONE)
        self.join(alice, self.welcome_link(a, web_a, "Alice"), "Alice")
        bob = self.browser(browser.DESKTOP)
        self.join(bob, self.welcome_link(b_node, web_b, "Bob"), "Bob")
        return a, b_node, web_a, web_b, alice, bob

    def spy_notifications(self, b):
        """Grants the page notifications and records what it shows (headless
        Chromium draws none): window.shown lists their texts."""
        b.driver.execute_script(
            "window.shown = [];"
            "window.Notification = class { static permission = 'granted';"
            " constructor(title, o) { window.shown.push(o.body); } };")

    def notified(self, b, text):
        self.wait(b, "the notification %r" % text,
                  lambda d: text in self.text_of(b, "said")
                  and text in [browser.plain(n) for n in d.execute_script("return window.shown")],
                  timeout=90)

    def test_request_from_ask_to_thanks_across_two_nodes(self):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        a, b_node, web_a, web_b, alice, bob = self.two_neighbours()
        self.spy_notifications(alice)
        self.spy_notifications(bob)

        # Alice asks, by keyboard.
        self.press(alice, "Ask for help", self.link_to("#ask"))
        self.heading(alice, "Ask for help")
        self.tab_to(alice, lambda e: e.get_attribute("id") == "ask-title")
        for keys in ("Hang a shelf in the kitchen", "Repairs", "Marollen 1000", "This week",
                     "Two screws, I have the drill.", "J.D."):
            self.type(alice, keys, Keys.TAB)
        self.type(alice, Keys.ENTER)
        self.heading(alice, "Check your request")
        # "Change" goes back to the form with what she typed, at the field.
        self.press(alice, "Change", lambda e: e.tag_name == "a" and browser.shown(e).startswith("Change"))
        self.heading(alice, "Ask for help")
        self.wait(alice, "the title field, kept", lambda d: self.active(alice).get_attribute("id") == "ask-title")
        self.assertEqual(self.active(alice).get_attribute("value"), "Hang a shelf in the kitchen")
        self.tab_to(alice, lambda e: e.tag_name == "button")
        self.type(alice, Keys.ENTER)
        self.heading(alice, "Check your request")
        self.assertIn("J.D.", self.text_of(alice, "main"))
        self.press(alice, "Send my request", self.button("Send my request"))
        self.wait(alice, "that the request was sent",
                  lambda d: "Your request was sent" in browser.shown(d.find_element(By.ID, "main")))

        # Your requests: waiting.
        self.go(alice, "#mine", "Your requests")
        self.wait(alice, "the request, waiting",
                  lambda d: "Waiting for a neighbour" in self.text_of(alice, "live-list"))
        rid = alice.driver.find_element(By.CSS_SELECTOR, "#live-list li[data-id]").get_attribute("data-id")

        # Bob sees it on node B and says he can help, by keyboard.
        self.wait(bob, "Alice's request on node B",
                  lambda d: "Hang a shelf" in self.text_of(bob, "near-list"), timeout=90)
        # Her profile may reach node B after her request: the card names her
        # as soon as it arrives.
        self.wait(bob, "Alice's name on the card", lambda d: "Asked by Alice for J.D." in self.text_of(bob, "near-list"),
                  timeout=90)
        self.press(bob, "I can help", self.button("I can help"))
        self.wait(bob, "that Bob can help", lambda d: "You said you can help" in self.text_of(bob, "near-list"))

        # Alice is told while her page is open, and her list says so without
        # a reload: choose one.
        self.notified(alice, 'Bob can help: "Hang a shelf in the kitchen"')
        self.wait(alice, "that one neighbour offered to help",
                  lambda d: "1 neighbour offered to help" in self.text_of(alice, "live-list"), timeout=90)
        self.shoot(alice, "your-requests")
        self.press(alice, "the request", self.link_to("#request=" + rid))
        self.heading(alice, "Hang a shelf in the kitchen")
        self.wait(alice, "Bob among the helpers", lambda d: "Choose Bob" in self.text_of(alice, "live-list"))
        self.assertIn("Never hand over your keys", self.text_of(alice, "main"))
        self.shoot(alice, "request-choose")
        self.press(alice, "Choose Bob", lambda e: e.tag_name == "a" and browser.shown(e) == "Choose Bob")
        self.heading(alice, "Choose Bob as your helper")
        self.assertIn("Only Bob will be able to read this", self.text_of(alice, "main"))
        # Sent empty: the error summary leads to the field.
        self.press(alice, "the button", self.button("Choose Bob and send them this"))
        self.wait(alice, "the error summary",
                  lambda d: "error-summary" in (self.active(alice).get_attribute("class") or ""))
        self.press(alice, "the summary's link", self.link_to("#choose-contact"))
        self.assertEqual(self.active(alice).get_attribute("id"), "choose-contact")
        self.shoot(alice, "choose-address")
        self.type(alice, ADDRESS, Keys.TAB)
        self.type(alice, Keys.ENTER)
        self.heading(alice, "Hang a shelf in the kitchen")
        self.wait(alice, "that Bob is helping", lambda d: "Bob is helping you" in self.text_of(alice, "live-list"))

        self.notified(bob, 'Alice chose you: "Hang a shelf in the kitchen"')

        # Dave (noaber, node A) responds too; choosing him would need a
        # warning first: Bob already has the address.
        dave = a.member("dave")
        dave.new_identity()
        dave.ok("profile", "--name", "Dave")
        dave.ok("respond", rid)
        self.wait(alice, "Dave among the helpers", lambda d: "Choose Dave" in self.text_of(alice, "live-list"),
                  timeout=30)
        self.press(alice, "Choose Dave", lambda e: e.tag_name == "a" and browser.shown(e) == "Choose Dave")
        self.heading(alice, "Choose Dave as your helper")
        self.assertIn("Bob was your helper and already received your address. Nobody can take that back.",
                      self.text_of(alice, "main"))
        self.shoot(alice, "choose-again-warning")
        alice.driver.back()
        self.heading(alice, "Hang a shelf in the kitchen")

        # Bob's tasks open the address, sealed to him.
        self.go(bob, "#tasks", "Your tasks")
        self.wait(bob, "Alice's address", lambda d: ADDRESS in self.text_of(bob, "live-list"), timeout=90)
        self.assertIn("Alice chose you", self.text_of(bob, "live-list"))
        self.shoot(bob, "your-tasks")
        self.press(bob, "I have done it", self.button("I have done it"))
        self.wait(bob, "that Bob said it is done",
                  lambda d: "You said it is done" in self.text_of(bob, "live-list"))

        # Alice confirms with thanks.
        self.notified(alice, 'Bob says "Hang a shelf in the kitchen" is done. Please confirm.')
        self.wait(alice, "the claim", lambda d: "Bob says it is done" in self.text_of(alice, "live-list"),
                  timeout=90)
        self.press(alice, "Say it is done", self.link_to("#confirm=" + rid))
        self.heading(alice, "Was it done?")
        self.shoot(alice, "confirm")
        self.tab_to(alice, lambda e: e.get_attribute("id") == "confirm-thanks")
        self.type(alice, "Thank you Bob, it looks great!", Keys.TAB)
        self.type(alice, Keys.ENTER)
        self.wait(alice, "that the request is done", lambda d: "Done" in self.text_of(alice, "live-list"))
        self.wait(bob, "Alice's thanks",
                  lambda d: "Alice said thank you: Thank you Bob, it looks great!" in self.text_of(bob, "live-list"),
                  timeout=90)

        # The same request, seen through noaber on node B.
        viewer = b_node.member("viewer")
        viewer.new_identity()
        shown = viewer.show(rid)
        self.assertEqual(shown["status"], "done", shown)
        self.assertEqual(shown["title"], "Hang a shelf in the kitchen")
        self.assertEqual(shown["on_behalf_of"], "J.D.")

        # A request made with noaber on node A, acted on in Bob's page.
        carol = a.member("carol")
        carol.new_identity()
        carol.ok("profile", "--name", "Carol")
        cid = carol.ask("Walk the dog on Sunday", "pets", "Marollen")
        self.go(bob, "#near", "Near you")
        self.wait(bob, "Carol's request on node B", lambda d: "Walk the dog" in self.text_of(bob, "near-list"),
                  timeout=90)
        card = bob.driver.find_element(By.CSS_SELECTOR, "li[data-id='%s']" % cid)
        card.find_element(By.TAG_NAME, "button").click()
        nb.wait_for("Bob's response on node A", lambda: len(carol.show(cid)["responses"]) == 1, timeout=90)
        carol.ok("assign", cid, "Bob", "--contact", CLI_CONTACT)
        self.go(bob, "#tasks", "Your tasks")
        self.wait(bob, "Carol's contact", lambda d: CLI_CONTACT in self.text_of(bob, "live-list"), timeout=90)
        # Bob can no longer come: Carol's request is open again.
        card = bob.driver.find_element(By.CSS_SELECTOR, "#live-list li[data-id='%s']" % cid)
        card.find_element(By.XPATH, browser.xpath(".//button", "I can no longer help")).click()
        self.wait(bob, "the withdrawal", lambda d: "You said you can no longer help." in self.text_of(bob, "live-list"))
        nb.wait_for("Carol's request open again on node A", lambda: carol.show(cid)["status"] == "open", timeout=90)

        # Alice cancels a request, then deletes it: gone on node B too.
        self.ask(alice, web_a, "Water my plants", "Marollen")
        self.go(alice, "#mine", "Your requests")
        self.wait(alice, "the new request", lambda d: "Water my plants" in self.text_of(alice, "live-list"))
        wid = alice.driver.find_element(By.XPATH, browser.xpath("//a", "Water my plants")).get_attribute("href").split("=")[1]
        nb.wait_for("the new request on node B", lambda: viewer.run("show", wid).rc == 0, timeout=90)
        self.press(alice, "the request", self.link_to("#request=" + wid))
        self.heading(alice, "Water my plants")
        self.press(alice, "Cancel", self.link_to("#cancel=" + wid))
        self.heading(alice, 'Cancel "Water my plants"?')
        self.shoot(alice, "cancel")
        self.press(alice, "Cancel my request", self.button("Cancel my request"))
        self.heading(alice, "Water my plants")
        self.wait(alice, "the cancellation", lambda d: "Cancelled" in self.text_of(alice, "live-list"))
        nb.wait_for("the cancellation on node B", lambda: viewer.show(wid)["status"] == "cancelled", timeout=90)
        self.press(alice, "Delete", self.link_to("#retract=" + wid))
        self.heading(alice, 'Delete "Water my plants"?')
        self.press(alice, "Delete my request", self.button("Delete my request"))
        self.heading(alice, "Your requests")
        self.wait(alice, "the request gone", lambda d: "Water my plants" not in self.text_of(alice, "live-list"))
        nb.wait_for("the request deleted on node B", lambda: viewer.run("show", wid).rc != 0, timeout=90)

        for node, web in ((a, web_a), (b_node, web_b)):
            node.assert_nowhere_in_clear(NEEDLES, extra=[web.log_path])

    def test_offers_profile_vouch_messages_and_filters(self):
        """Bob offers lifts; a matching request made with noaber tells him;
        Alice asks for his offer, he says yes and says it is done, she
        confirms; he pauses, resumes, renews and withdraws it.  Alice renames
        herself, vouches for Bob from a card, filters the list, and sends
        Bob a sealed message that his page opens."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        a, b_node, web_a, web_b, alice, bob = self.two_neighbours()
        self.spy_notifications(bob)

        # Bob offers lifts, by keyboard.
        self.go(bob, "#offers", "Offers")
        self.press(bob, "Offer help regularly", self.link_to("#offer-new"))
        self.heading(bob, "Offer help regularly")
        self.shoot(bob, "offer-new")
        self.tab_to(bob, lambda e: e.get_attribute("id") == "offer-title")
        for keys in ("Lifts to the hospital", "Transport", "Marollen", "Tuesday mornings", "30"):
            self.type(bob, keys, Keys.TAB)
        self.type(bob, Keys.ENTER)
        self.heading(bob, "Offers")
        self.wait(bob, "Bob's offer", lambda d: "Lifts to the hospital" in self.text_of(bob, "my-offers"))
        oid = bob.driver.find_element(By.CSS_SELECTOR, "#my-offers li[data-id]").get_attribute("data-id")
        viewer = a.member("viewer")
        viewer.new_identity()
        nb.wait_for("Bob's offer on node A", lambda: viewer.run("show", oid).rc == 0, timeout=90)
        self.assertEqual(viewer.show(oid)["status"], "available")

        # A request that matches his offer, made with noaber on node A.
        carol = a.member("carol")
        carol.new_identity()
        carol.ask("A lift to the dentist", "transport", "Marollen 1000")
        self.notified(bob, 'A new request matches your offer: "A lift to the dentist"')

        # Alice asks for Bob's offer.
        self.go(alice, "#offers", "Offers")
        self.wait(alice, "Bob's offer on node A", lambda d: "Lifts to the hospital" in self.text_of(alice, "other-offers"),
                  timeout=90)
        self.press(alice, "Ask for this", self.button("Ask for this"))
        self.wait(alice, "that Alice asked", lambda d: "Bob has not answered yet" in self.text_of(alice, "other-offers"))
        self.shoot(alice, "offers")

        # Bob says yes, then that it is done.
        self.wait(bob, "Alice's ask", lambda d: "1 neighbour asked for it" in self.text_of(bob, "my-offers"),
                  timeout=90)
        self.press(bob, "the offer", self.link_to("#offer=" + oid))
        self.heading(bob, "Lifts to the hospital")
        self.press(bob, "Say yes to Alice", self.button("Say yes to Alice"))
        self.wait(bob, "the yes", lambda d: "You said yes to Alice." in self.text_of(bob, "live-list"))
        self.shoot(bob, "offer")
        self.press(bob, "I have done it", self.button("I have done it"))
        self.wait(bob, "the claim", lambda d: "Alice will confirm" in self.text_of(bob, "live-list"))
        self.wait(alice, "Bob's claim", lambda d: "Bob says it is done" in self.text_of(alice, "other-offers"),
                  timeout=90)
        self.press(alice, "Yes, it is done", self.button("Yes, it is done"))
        self.wait(alice, "the ask done", lambda d: "Done" in self.text_of(alice, "other-offers"))
        self.wait(bob, "the ask done", lambda d: "Done" in self.text_of(bob, "live-list"), timeout=90)

        # Pause, resume, renew, withdraw.
        self.press(bob, "Pause", self.button("Pause this offer"))
        self.wait(bob, "the pause", lambda d: "Paused" in self.text_of(bob, "live-list"))
        nb.wait_for("the pause on node A", lambda: viewer.show(oid)["status"] == "paused", timeout=90)
        self.press(bob, "Offer it again", self.button("Offer it again"))
        self.wait(bob, "the offer again", lambda d: "Paused" not in self.text_of(bob, "live-list"))
        self.press(bob, "Renew", self.button("Renew this offer"))
        self.wait(bob, "the renewed offer", lambda d: ("#offer=" + oid) not in d.current_url, timeout=30)
        new_oid = bob.driver.current_url.split("#offer=")[1]
        self.heading(bob, "Lifts to the hospital")
        nb.wait_for("the old offer withdrawn on node A", lambda: viewer.show(oid)["status"] == "withdrawn",
                    timeout=90)
        self.press(bob, "Stop this offer", self.button("Stop this offer"))
        self.heading(bob, "Offers")
        nb.wait_for("the renewed offer withdrawn on node A",
                    lambda: viewer.run("show", new_oid).rc == 0 and viewer.show(new_oid)["status"] == "withdrawn",
                    timeout=90)

        # Alice renames herself; node B knows her by her new name.
        self.go(alice, "#you", "You")
        field = alice.driver.find_element(By.ID, "you-name")
        field.clear()
        field.send_keys("Alice M.", Keys.ENTER)
        self.wait(alice, "the new name", lambda d: "Neighbours now see you as Alice M." in self.text_of(alice, "said"))
        self.shoot(alice, "you")

        # She vouches for Bob from his card, and filters the list.
        self.go(alice, "#near", "Near you")
        self.ask(bob, web_b, "Company for a walk", "Sablon 1000")
        self.wait(alice, "Bob's request", lambda d: "Company for a walk" in self.text_of(alice, "near-list"), timeout=90)
        self.press(alice, "I know Bob", self.link_to("#vouch=" + key_of(bob)))
        self.heading(alice, "Do you know Bob?")
        self.shoot(alice, "vouch")
        self.press(alice, "I know Bob", self.button("I know Bob"))
        self.wait(alice, "the vouch", lambda d: "You vouched for Bob." in self.text_of(alice, "said"))
        self.heading(alice, "Near you")
        self.wait(alice, "Bob known", lambda d: "Known to people you trust: you" in self.text_of(alice, "near-list"))
        alice_text = a.operator.ok("devices")["devices"][0]["member"]
        bob_text = b_node.operator.ok("devices")["devices"][0]["member"]
        nb.wait_for("Alice's vouch on node A", lambda: bob_text in json_text(viewer.ok("vouches", alice_text)),
                    timeout=90)
        # The filters, by keyboard: open them, type a part of the area.
        self.press(alice, "Filter the list", lambda e: e.tag_name == "summary")
        self.tab_to(alice, lambda e: e.get_attribute("id") == "filter-area")
        self.shoot(alice, "near-filters")
        self.type(alice, "sablon", Keys.ENTER)
        area = alice.driver.find_element(By.ID, "filter-area")
        self.wait(alice, "the filtered list", lambda d: "Company for a walk" in self.text_of(alice, "near-list")
                  and "A lift to the dentist" not in self.text_of(alice, "near-list"))
        area.clear()
        alice.driver.find_element(By.ID, "filter-trusted").click()
        alice.driver.find_element(By.ID, "filter-area").submit()
        self.wait(alice, "only trusted authors", lambda d: "Company for a walk" in self.text_of(alice, "near-list")
                  and "A lift to the dentist" not in self.text_of(alice, "near-list"))

        # A sealed message to Bob, opened in his page.
        bob_key = key_of(bob)
        alice.driver.get(web_a.url + "/#message=" + bob_key + ":")
        self.heading(alice, "A message for Bob")
        self.shoot(alice, "message")
        alice.driver.find_element(By.ID, "message-text").send_keys(MESSAGE)
        alice.driver.find_element(By.ID, "message-text").submit()
        self.wait(alice, "that it was sent", lambda d: "Only Bob can read it" in self.text_of(alice, "said"))
        bob.driver.get(web_b.url + "/#you")
        self.heading(bob, "You")
        self.wait(bob, "the message", lambda d: MESSAGE in self.text_of(bob, "inbox"), timeout=90)
        self.assertIn("From Alice M.", self.text_of(bob, "inbox"))

        for node, web in ((a, web_a), (b_node, web_b)):
            node.assert_nowhere_in_clear(NEEDLES, extra=[web.log_path])

    def test_the_page_can_be_installed(self):
        """The web app manifest and its icons, served by noaber-web, and
        linked from the page that Chromium loads."""
        import json

        a = self.node("a")
        a.create_neighbourhood("Marollen")
        web = self.web(a)
        status, headers, body = web.request("GET", "/manifest.webmanifest")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["Content-Type"], "application/manifest+json")
        manifest = json.loads(body)
        self.assertEqual(manifest["display"], "standalone")
        sizes = set()
        for icon in manifest["icons"]:
            status, headers, body = web.request("GET", icon["src"])
            self.assertEqual(status, 200, icon)
            self.assertEqual(headers["Content-Type"].split(";")[0], icon["type"])
            sizes.add(icon["sizes"])
            if icon["type"] == "image/png":
                w, h = (int(x) for x in icon["sizes"].split("x"))
                self.assertEqual(body[:8], b"\x89PNG\r\n\x1a\n")
                self.assertEqual((int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")), (w, h))
        self.assertTrue({"192x192", "512x512"} <= sizes, sizes)
        b = self.browser(browser.PHONE)
        b.driver.get(web.url + "/")
        self.heading(b, "You need a welcome link")
        linked = b.run_async("const r = await fetch(document.querySelector('link[rel=manifest]').href);"
                             "return (await r.json()).name;")
        self.assertEqual(linked, "Noaber")


def key_of(b):
    """A page's member key (hex), as its own page knows it."""
    return b.run_async(
        "const k = await import('/js/keystore.js'); const R = await import('/js/record.js'); await R.init();"
        "const s = await k.load(); return R.toHex(R.memberFromSeed(s.seed).publicKey);")


def json_text(v):
    import json

    return json.dumps(v)


if __name__ == "__main__":
    browser.require_chromium()
    nb.require_binaries()
    unittest.main(verbosity=2)
