"""The page end to end, in Chromium, against real nodes and noaber-web.

Maria's coordinator runs `noaber welcome`; Maria opens the link on her phone
(a browser profile 360 px wide), gives her name, and asks for help through
the form.  `noaber list` on the node shows her request with the page's key as
author.  Bob, welcomed on a second node linked to the first, sees the request
arrive and says he can help; the first node shows his response.  noaber-web
refuses what it must: no session, a record by another member, a cross-site
POST, an oversized body, a member who is not welcomed.  Screenshots go to
BUILD/web-screenshots/.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import browser  # noqa: E402
import nb  # noqa: E402

SHOTS = browser.SHOTS
PHONE = browser.PHONE
DESKTOP = browser.DESKTOP


class WebEndToEnd(browser.PageTest):
    def test_ask_for_help_and_respond_across_two_nodes(self):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        a, b_node = self.node("a"), self.node("b")
        a.create_neighbourhood("Marollen")
        b_node.join(nb.invite_only_maker(a.invite()))
        web_a, web_b = self.web(a), self.web(b_node)

        # Maria, on her phone.
        maria = self.browser(PHONE)
        link = self.welcome_link(a, web_a, "Maria")
        maria.driver.get(link)
        self.heading(maria, "Welcome to Marollen")
        self.shoot(maria, "welcome")
        maria.driver.find_element(By.ID, "welcome-name").send_keys("Maria", Keys.ENTER)
        self.heading(maria, "Near you")
        devices = a.operator.ok("devices")["devices"]
        self.assertEqual(len(devices), 1, devices)
        self.assertEqual(devices[0]["name"], "Maria")
        self.assertFalse(devices[0]["revoked"])
        maria_key = devices[0]["member"]

        # The same link does not admit a second browser.
        other = self.browser(DESKTOP)
        other.driver.get(link)
        self.heading(other, "Welcome to Marollen")
        other.driver.find_element(By.ID, "welcome-name").send_keys("Someone", Keys.ENTER)
        self.wait(other, "that the link was used",
                  lambda d: "already used" in browser.shown(d.find_element(By.CLASS_NAME, "error-summary")))

        # Maria asks for help through the form, by keyboard alone: Tab from
        # the screen's heading to the "Ask for help" button, then field by
        # field, as a person who cannot use a mouse would.
        self.tab_to(maria, lambda e: e.tag_name == "a" and e.get_attribute("href").endswith("#ask"))
        maria.driver.switch_to.active_element.send_keys(Keys.ENTER)
        self.heading(maria, "Ask for help")
        self.shoot(maria, "ask")
        # Sent empty: the error summary says what is missing, takes the
        # focus, and its first link leads to the field.
        self.tab_to(maria, lambda e: e.tag_name == "button")
        self.type(maria, Keys.ENTER)
        self.wait(maria, "the error summary",
                  lambda d: "error-summary" in (self.active(maria).get_attribute("class") or ""))
        summary = browser.shown(self.active(maria))
        self.assertIn("Say what you need help with", summary)
        self.assertIn("Say where, roughly", summary)
        self.tab_to(maria, lambda e: e.tag_name == "a" and e.get_attribute("href").endswith("#ask-title"))
        self.type(maria, Keys.ENTER)
        self.assertEqual(self.active(maria).get_attribute("id"), "ask-title")
        self.type(maria, "A lift to the hospital on Tuesday", Keys.TAB)
        self.assertEqual(self.active(maria).get_attribute("id"), "ask-category")
        self.type(maria, "Transport", Keys.TAB)
        self.type(maria, "Marollen", Keys.TAB)
        self.assertEqual(self.active(maria).get_attribute("id"), "ask-urgency")
        self.type(maria, "This week", Keys.TAB)
        self.type(maria, "The appointment is at ten.", Keys.TAB)
        self.assertEqual(self.active(maria).get_attribute("id"), "ask-for")
        self.type(maria, Keys.TAB)
        self.assertEqual(self.active(maria).tag_name, "button")
        self.type(maria, Keys.ENTER)
        # Nothing is sent before she has checked it.
        self.heading(maria, "Check your request")
        self.assertIn("A lift to the hospital on Tuesday", browser.shown(self.active(maria).find_element("xpath", "..")))
        self.shoot(maria, "ask-check")
        self.tab_to(maria, lambda e: e.tag_name == "button")
        self.assertEqual(browser.shown(self.active(maria)), "Send my request")
        self.type(maria, Keys.ENTER)
        self.wait(maria, "that the request was sent",
                  lambda d: "Your request was sent" in browser.shown(d.find_element(By.ID, "main")))
        self.wait(maria, "the request in the list",
                  lambda d: "A lift to the hospital on Tuesday" in browser.shown(d.find_element(By.ID, "near-list")))
        self.shoot(maria, "near-you")
        self.record_load_bytes(maria)

        listed = a.operator.ok("list")
        mine = [r for r in listed if r["title"] == "A lift to the hospital on Tuesday"]
        self.assertEqual(len(mine), 1, listed)
        self.assertEqual(mine[0]["author"], maria_key)
        self.assertEqual(mine[0]["category"], "transport")
        self.assertEqual(mine[0]["author_name"], "Maria")
        rid = mine[0]["id"]
        shown = a.operator.ok("show", rid)
        self.assertEqual(shown["urgency"], "this_week")
        self.assertEqual(shown["details"], "The appointment is at ten.")

        # Bob, on the second node, sees it arrive and says he can help.
        bob = self.browser(DESKTOP)
        self.join(bob, self.welcome_link(b_node, web_b, "Bob"), "Bob")
        self.wait(bob, "Maria's request, synchronised from the first node",
                  lambda d: "A lift to the hospital on Tuesday" in browser.shown(d.find_element(By.ID, "near-list")),
                  timeout=90)
        # Maria's profile may reach the second node after her request: the
        # card then names her as soon as it arrives, without a reload.
        self.wait(bob, "Maria's name on the card",
                  lambda d: "Asked by Maria" in browser.shown(d.find_element(
                      By.CSS_SELECTOR, "li[data-id='%s']" % rid)), timeout=90)
        card = bob.driver.find_element(By.CSS_SELECTOR, "li[data-id='%s']" % rid)
        card.find_element(By.TAG_NAME, "button").click()
        # The card is drawn again when Bob's own response comes back as an event.
        self.wait(bob, "that Bob can help",
                  lambda d: "You said you can help" in browser.shown(d.find_element(By.ID, "near-list")))
        nb.wait_for("Bob's response on the first node",
                    lambda: len(a.operator.ok("show", rid)["responses"]) == 1, timeout=90)
        # After a reload the page still knows Bob offered to help.
        bob.driver.refresh()
        self.wait(bob, "that Bob can help, after a reload",
                  lambda d: "You said you can help" in browser.shown(d.find_element(By.ID, "near-list")))

        # noaber-web restarts (its sessions are in memory): Maria's page signs
        # in again by itself.  Her list updates by itself (server-sent
        # events): a request made with noaber on the node shows up without a
        # reload.
        web_a.stop()
        web_a = self.web(a, port=web_a.port)
        carol = a.member("carol")
        carol.new_identity()
        carol.ask("Groceries from the market")
        self.wait(maria, "the new request without a reload",
                  lambda d: "Groceries from the market" in browser.shown(d.find_element(By.ID, "near-list")))

        self.refusals(a, web_a, maria)

    def record_load_bytes(self, b):
        """Writes the bytes the page took to load, first and then cached, to
        BUILD/web-screenshots/load-bytes.json: a figure, not a pass/fail."""
        measure = ("const n = performance.getEntriesByType('navigation')[0];"
                   "const r = performance.getEntriesByType('resource');"
                   "return {document: n.transferSize, resources: r.reduce((s, e) => s + e.transferSize, 0),"
                   " files: r.map((e) => [e.name.replace(location.origin, ''), e.transferSize])};")
        b.driver.get(b.driver.current_url.split("#")[0] + "#near")
        b.driver.refresh()
        self.heading(b, "Near you")
        cached = b.driver.execute_script(measure)
        fresh = self.browser(PHONE)
        fresh.driver.get(b.driver.current_url.split("#")[0])
        self.heading(fresh, "You need a welcome link")
        first = fresh.driver.execute_script(measure)
        with open(os.path.join(SHOTS, "load-bytes.json"), "w") as f:
            json.dump({"first_load": first, "cached": cached}, f, indent=1)
        self.assertGreater(first["resources"], 0)

    def refusals(self, node, web, b):
        from selenium.webdriver.common.by import By

        origin = {"Origin": web.url, "Content-Type": "application/json"}
        cookie = "noaber_session=" + b.driver.get_cookie("noaber_session")["value"]

        # No session.
        status, _, body = web.request("GET", "/api/list")
        self.assertEqual(status, 401, body)
        self.assertEqual(json.loads(body)["error"], "no_session")
        status, _, body = web.request("POST", "/api/records", b'{"record":"lgEB"}', origin)
        self.assertEqual(status, 401, body)

        # A record signed by another member, sent with Maria's session.
        out = b.run_async(r"""
const R = await import('/js/record.js');
await R.init();
const info = await (await fetch('/api/info')).json();
const other = R.newMember();
const now = info.now;
const rec = R.signRecord({kind: 'request', created_at: now, body: {title: 'Not mine',
  category: 9, area: 'Marollen', expires_at: now + 3600}}, other, R.fromHex(info.neighbourhood_id));
const res = await fetch('/api/records', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({record: R.toBase64(rec.bytes)})});
return {status: res.status, body: await res.json()};
""")
        self.assertEqual(out["status"], 403, out)
        self.assertEqual(out["body"]["error"], "not_your_record")

        # A cross-site POST with the session cookie.
        status, _, body = web.request("POST", "/api/records", b'{"record":"lgEB"}',
                                      {"Origin": "http://evil.example", "Cookie": cookie,
                                       "Content-Type": "application/json"})
        self.assertEqual(status, 403, body)
        self.assertEqual(json.loads(body)["error"], "cross_origin")
        status, _, body = web.request("POST", "/api/records", b'{"record":"lgEB"}',
                                      {"Sec-Fetch-Site": "cross-site", "Cookie": cookie,
                                       "Content-Type": "application/json"})
        self.assertEqual(status, 403, body)

        # A form post (not JSON) is refused before anything is read.
        status, _, body = web.request("POST", "/api/records", b"record=x",
                                      dict(origin, Cookie=cookie,
                                           **{"Content-Type": "application/x-www-form-urlencoded"}))
        self.assertEqual(status, 415, body)

        # An oversized body.
        status, _, body = web.request("POST", "/api/records", b"x" * 20000,
                                      dict(origin, Cookie=cookie))
        self.assertEqual(status, 413, body)
        self.assertEqual(json.loads(body)["error"], "too_big")

        # Bad input gets a clear error, and noaber-web keeps serving.
        for path in ("/api/records/zz", "/api/list?limit=100000", "/api/list?author=12"):
            status, _, body = web.request("GET", path, headers={"Cookie": cookie})
            self.assertEqual(status, 400, (path, body))
        status, _, body = web.request("POST", "/api/records", b'{"record": 12}',
                                      dict(origin, Cookie=cookie))
        self.assertEqual(status, 400, body)
        self.assertEqual(web.request("GET", "/api/status", headers={"Cookie": cookie})[0], 200)

        # The page's headers.
        status, headers, _ = web.request("GET", "/", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(status, 200)
        self.assertIn("script-src 'self' 'wasm-unsafe-eval'", headers["Content-Security-Policy"])
        self.assertIn("frame-ancestors 'none'", headers["Content-Security-Policy"])
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(headers["Referrer-Policy"], "no-referrer")
        self.assertEqual(headers["Content-Encoding"], "gzip")
        self.assertEqual(web.request("GET", "/../store.sqlite")[0], 404)

        # A revoked device loses its session within a minute (noaber-web asks
        # the node again), and cannot sign in again.
        device = node.operator.ok("devices")["devices"][0]["device_id"]
        node.operator.ok("device", "revoke", str(device))
        nb.wait_for("the revoked device's session to end",
                    lambda: web.request("GET", "/api/list", headers={"Cookie": cookie})[0] == 403,
                    timeout=120, interval=1)
        self.assertEqual(web.request("GET", "/api/list", headers={"Cookie": cookie})[0], 401)
        out = b.run_async("return (await fetch('/api/session', {method: 'DELETE'})).status;")
        self.assertEqual(out, 200)
        b.driver.refresh()
        self.wait(b, "that the device is no longer welcomed",
                  lambda d: "not welcomed" in browser.shown(d.find_element(By.ID, "main")))


if __name__ == "__main__":
    browser.require_chromium()
    nb.require_binaries()
    unittest.main(verbosity=2)
