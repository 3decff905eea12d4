"""A member on more than one phone or computer, in Chromium, against a real
noaberd and noaber-web (docs/web.md, "Another phone or computer").

Maria joins on her phone (profile A) with a welcome link and asks for help.
On A she makes a link for her computer; her computer (profile B) opens it
and is Maria too, without the coordinator: it confirms the request A
posted.  The link works once and not after it expired.  `noaber devices`
lists both; revoking A leaves B working and A refused.  A copy protected by
a password brings Maria back in a third profile (a wrong password says so),
and so does the recovery card in a fourth, whose QR code decodes (zbarimg)
to the card's link and matches qrencode's module by module; once the
coordinator switches the card off, it brings nobody back, and the browser
it brought back keeps working.  axe-core finds
no violation on the new screens (skipped, with a message, without npm).
Screenshots and figures go to BUILD/web-screenshots/.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import browser  # noqa: E402
import nb  # noqa: E402

SHOTS = browser.SHOTS
PHONE = browser.PHONE
DESKTOP = browser.DESKTOP
PASSWORD = "blue kettle on the stove"

# Maria's request, signed in her browser with the page's own code and key.
POST_AS_MEMBER = r"""
const R = await import('/js/record.js');
const K = await import('/js/keystore.js');
await R.init();
const info = await (await fetch('/api/info')).json();
const me = R.memberFromSeed((await K.load()).seed);
const body = args[1];
for (const f of args[3] || []) body[f] = R.fromHex(body[f]);
const rec = R.signRecord({kind: args[0], created_at: info.now + args[2], body}, me,
  R.fromHex(info.neighbourhood_id));
const res = await fetch('/api/records', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({record: R.toBase64(rec.bytes)})});
const out = await res.json();
if (!res.ok) throw new Error(JSON.stringify(out));
return out.id;
"""


def format_mask(m):
    """The mask a QR code's format information names (its second copy)."""
    s = len(m)
    bits = 0
    for i in range(8):
        bits |= m[8][s - 1 - i] << i
    for i in range(8, 15):
        bits |= m[s - 15 + i][8] << i
    return ((bits ^ 0x5412) >> 10) & 7


class Transfer(browser.PageTest):
    axe_source = None

    def setUp(self):
        super().setUp()
        self.axe_results = []

    def axe(self, b, state):
        """axe-core on what `b` shows; a screenshot of it either way."""
        name = "transfer-" + "".join(c if c.isalnum() else "-" for c in state.lower())
        b.driver.save_screenshot(os.path.join(SHOTS, name + ".png"))
        if self.axe_source is None:
            return
        import test_axe

        b.driver.execute_script(self.axe_source)
        out = b.run_async("return await axe.run(document, {runOnly: {type: 'tag', values: args[0]},"
                          " resultTypes: ['violations']});", test_axe.TAGS)
        self.axe_results.append({"state": state, "violations": [
            {"rule": v["id"], "nodes": [n["html"][:200] for n in v["nodes"]][:5]} for v in out["violations"]]})

    def check_qr(self, b, svg, text, name):
        """The QR code on the screen decodes to `text` (zbarimg, on a
        screenshot of it) and is, module by module, the one qrencode draws
        with the same mask."""
        path = os.path.join(SHOTS, name + ".png")
        b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", svg)
        svg.screenshot(path)
        if shutil.which("zbarimg"):
            out = subprocess.run(["zbarimg", "--raw", "-q", path], capture_output=True, text=True)
            self.assertEqual(out.stdout.strip(), text, out.stderr)
        else:
            print("zbarimg is not installed (apt-get install zbar-tools): the QR code was not decoded")
        ref = nb.qrencode_modules(text, "M", 0)
        if ref is None:
            print("qrencode is not installed: the QR code was not compared")
            return None
        mine = b.run_async("const Q = await import('/js/qr.js'); return Q.encode(args[0], args[1]);",
                           text, format_mask(ref))
        self.assertEqual(mine["dark"], ref)
        return mine["version"]

    def open_and_click(self, b, url, heading, button_css):
        from selenium.webdriver.common.by import By

        b.driver.get(url)
        self.heading(b, heading)
        b.driver.find_element(By.CSS_SELECTOR, button_css).click()

    def error_summary(self, b, text):
        from selenium.webdriver.common.by import By

        self.wait(b, "the error %r" % text,
                  lambda d: text in browser.shown(d.find_element(By.CLASS_NAME, "error-summary")))

    def make_copy(self, b, screen, url):
        """Fills the password form of #backup or #card; returns the copy's link."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        b.driver.get(url + "/#" + screen)
        self.wait(b, "the form of " + screen, lambda d: d.find_element(By.ID, screen + "-password"))
        b.driver.find_element(By.ID, screen + "-password").send_keys("short")
        b.driver.find_element(By.ID, screen + "-again").send_keys("short", Keys.ENTER)
        self.error_summary(b, "at least 8 letters")
        b.driver.find_element(By.ID, screen + "-password").clear()
        b.driver.find_element(By.ID, screen + "-again").clear()
        b.driver.find_element(By.ID, screen + "-password").send_keys(PASSWORD)
        b.driver.find_element(By.ID, screen + "-again").send_keys(PASSWORD, Keys.ENTER)

    def test_a_member_on_another_device_with_a_link_a_copy_and_a_card(self):
        from selenium.webdriver.common.by import By

        a = self.node("a")
        a.create_neighbourhood("Marollen")
        web = self.web(a)
        figures = {}

        # Maria's phone, welcomed by the coordinator; she asks for help, and
        # Carol (noaber on the node) helps and says it is done.
        phone = self.browser(PHONE)
        phone.emulate(*PHONE)
        self.join(phone, self.welcome_link(a, web, "Maria"), "Maria")
        now = int(json.loads(web.request("GET", "/api/info")[2])["now"])
        rid = phone.run_async(POST_AS_MEMBER, "request", {
            "title": "A lift to the hospital", "category": 4, "area": "Marollen",
            "expires_at": now + 86400}, 0)
        carol = a.member("carol")
        carol.new_identity()
        carol.ok("respond", rid)
        phone.run_async(POST_AS_MEMBER, "assignment", {"target": rid, "member": carol.signer().pk.hex()}, 2,
                        ["target", "member"])
        carol.ok("done", rid)
        self.assertEqual(carol.show(rid)["status"], "done_claimed")

        # On the phone: "You" -> another phone or computer -> a link.
        phone.driver.get(web.url + "/#you")
        self.heading(phone, "You")
        # Whether the browser keeps the data is said, either way, with how
        # to put the page on the home screen.
        self.wait(phone, "whether the browser keeps Noaber's data",
                  lambda d: "Noaber’s data" in browser.shown(d.find_element(By.ID, "storage-kept")))
        self.axe(phone, "you, with your phones and computers")
        phone.driver.find_element(By.LINK_TEXT, "Use Noaber on another phone or computer").click()
        self.heading(phone, "Use Noaber on another phone or computer")
        phone.driver.find_element(By.ID, "move-make").click()
        link = self.wait(phone, "the link", lambda d: browser.shown(d.find_element(By.ID, "move-link")))
        self.assertTrue(link.startswith(web.url + "/#transfer="), link)
        self.assert_fits_a_phone(phone, "move")
        self.axe(phone, "a link for another device")
        figures["transfer_link_bytes"] = len(link)
        figures["transfer_qr_version"] = self.check_qr(
            phone, phone.driver.find_element(By.CSS_SELECTOR, "#move-out svg.qr"), link, "transfer-qr")
        # The key is in the fragment only: noaber-web and the node never had it.
        k = link.split(".")[-1]
        a.assert_nowhere_in_clear([k], extra=[web.log_path])

        # Maria's computer opens it: Maria there too, with no coordinator.
        computer = self.browser(DESKTOP)
        computer.driver.get(link)
        self.heading(computer, "Use Noaber on this phone or computer")
        self.axe(computer, "a link opened on the new device")
        computer.driver.find_element(By.ID, "take-button").click()
        self.heading(computer, "Near you")
        self.wait(computer, "the welcome", lambda d: "Welcome, Maria" in browser.shown(d.find_element(By.ID, "said")))
        self.assertNotIn("transfer=", computer.driver.current_url)

        # The same link a second time, and a link past its time, are refused.
        other = self.browser(DESKTOP)
        self.open_and_click(other, link, "Use Noaber on this phone or computer", "#take-button")
        self.error_summary(other, "This link was already used")
        made = phone.run_async("const api = await import('/js/api.js');"
                               "return await api.transferPut('AQIDBAUG', '1');")
        nb.wait_for("the node's clock past the link's expiry",
                    lambda: json.loads(web.request("GET", "/api/info")[2])["now"] >= made["expires_at"],
                    timeout=30)
        self.open_and_click(other, web.url + "/#transfer=%s.%s" % (made["token"], "A" * 43),
                            "Use Noaber on this phone or computer", "#take-button")
        self.error_summary(other, "This link has expired")
        self.axe(other, "an expired link")

        # Two devices of Maria's; revoking the phone leaves the computer.
        devices = a.operator.ok("devices")["devices"]
        self.assertEqual(len(devices), 2, devices)
        self.assertEqual({d["name"] for d in devices}, {"Maria"})
        self.assertEqual(len({d["member"] for d in devices}), 1)
        a.operator.ok("device", "revoke", str(devices[0]["device_id"]))
        phone.driver.refresh()
        self.wait(phone, "that the phone is no longer welcomed",
                  lambda d: "not welcomed" in browser.shown(d.find_element(By.ID, "main")))
        computer.driver.get(web.url + "/#confirm=" + rid)
        self.heading(computer, "Was it done?")
        computer.driver.find_element(By.CSS_SELECTOR, "#main form button").click()
        self.wait(computer, "the thanks", lambda d: "Your request is done" in browser.shown(d.find_element(By.ID, "said")))
        nb.wait_for("the confirmation", lambda: carol.show(rid)["status"] == "done", timeout=30)

        # A copy protected by a password, made on the computer, brings Maria
        # back in a third browser; a wrong password says so.
        self.make_copy(computer, "backup", web.url)
        copy = self.wait(computer, "the copy",
                         lambda d: d.find_element(By.ID, "backup-text").get_attribute("value"), timeout=60)
        self.axe(computer, "the copy")
        third = self.browser(PHONE)
        third.emulate(*PHONE)
        third.driver.get(web.url + "/")
        self.heading(third, "You need a welcome link")
        third.driver.find_element(By.LINK_TEXT, "Use my recovery card or copy").click()
        self.heading(third, "Use your recovery card or copy")
        third.driver.find_element(By.ID, "restore-text").send_keys(copy)
        third.driver.find_element(By.ID, "restore-password").send_keys("not my password")
        third.driver.find_element(By.CSS_SELECTOR, "#main form button").click()
        self.error_summary(third, "This password does not open the copy")
        self.axe(third, "a wrong password")
        third.driver.find_element(By.ID, "restore-password").clear()
        third.driver.find_element(By.ID, "restore-password").send_keys(PASSWORD)
        third.driver.find_element(By.CSS_SELECTOR, "#main form button").click()
        self.heading(third, "Near you")
        self.wait(third, "the welcome back", lambda d: "Welcome back, Maria" in browser.shown(d.find_element(By.ID, "said")))

        # The recovery card: its QR code is its link; a fourth browser that
        # opens it needs only the password.
        self.make_copy(computer, "card", web.url)
        card = self.wait(computer, "the card", lambda d: browser.shown(d.find_element(By.ID, "card-link")), timeout=60)
        self.assertTrue(card.startswith(web.url + "/#restore="), card)
        figures["card_link_bytes"] = len(card)
        figures["card_qr_version"] = self.check_qr(
            computer, computer.driver.find_element(By.CSS_SELECTOR, ".recovery-card svg.qr"), card, "card-qr")
        self.axe(computer, "the recovery card")
        computer.driver.execute_script("window.scrollTo(0, 0);")
        computer.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        computer.driver.save_screenshot(os.path.join(SHOTS, "transfer-card-printed.png"))
        computer.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        fourth = self.browser(PHONE)
        fourth.emulate(*PHONE)
        fourth.driver.get(card)
        self.heading(fourth, "Use your recovery card or copy")
        self.assertEqual(fourth.driver.find_elements(By.ID, "restore-text"), [])
        fourth.driver.find_element(By.ID, "restore-password").send_keys(PASSWORD)
        fourth.driver.find_element(By.CSS_SELECTOR, "#main form button").click()
        self.heading(fourth, "Near you")

        # Every device on its own row: the welcomed phone (revoked), the
        # computer, the copy and the browser it admitted, the card and its.
        devices = a.operator.ok("devices")["devices"]
        self.assertEqual(len(devices), 6, devices)
        self.assertEqual([d["revoked"] for d in devices], [True] + [False] * 5)
        self.assertEqual(sum(d["device"] == "recovery card" for d in devices), 2)
        # `noaber devices` tells the copies and cards from the browsers.
        self.assertEqual([d["kind"] for d in devices if d["device"] == "recovery card"], ["copy"] * 2)
        self.assertEqual({d["kind"] for d in devices if d["device"] != "recovery card"}, {"browser"})

        # A lost card is switched off; the browser it brought back keeps
        # working, and the card brings nobody back any more.
        lost = [d for d in devices if d["device"] == "recovery card"][-1]
        a.operator.ok("device", "revoke", str(lost["device_id"]))
        fourth.driver.refresh()
        self.heading(fourth, "Near you")
        fifth = self.browser(PHONE)
        fifth.driver.get(card)
        self.heading(fifth, "Use your recovery card or copy")
        fifth.driver.find_element(By.ID, "restore-password").send_keys(PASSWORD)
        fifth.driver.find_element(By.CSS_SELECTOR, "#main form button").click()
        self.error_summary(fifth, "switched off by the coordinator")
        self.assertEqual(len(a.operator.ok("devices")["devices"]), 6)

        # How long the password's key takes in this Chromium (a figure), and
        # whether the vendored libsodium.js has crypto_pwhash (it has not:
        # the standard build leaves it out, docs/web.md).
        figures.update(fourth.run_async(r"""
const sodium = (await import('/vendor/libsodium-wrappers.mjs')).default;
await sodium.ready;
const base = await crypto.subtle.importKey('raw', new TextEncoder().encode('a password'), 'PBKDF2', false,
  ['deriveBits']);
const times = [];
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  await crypto.subtle.deriveBits({name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(16),
    iterations: 600000}, base, 256);
  times.push(Math.round(performance.now() - t0));
}
return {pbkdf2_600k_ms: times, libsodium_has_crypto_pwhash: typeof sodium.crypto_pwhash === 'function'};"""))
        with open(os.path.join(SHOTS, "transfer-figures.json"), "w") as f:
            json.dump(figures, f, indent=1)
        print("figures:", figures)
        with open(os.path.join(SHOTS, "transfer-axe.json"), "w") as f:
            json.dump(self.axe_results, f, indent=1)
        for r in self.axe_results:
            print("axe: %-45s %d violations" % (r["state"], len(r["violations"])))
        failures = [r for r in self.axe_results if r["violations"]]
        self.assertEqual(failures, [], json.dumps(failures, indent=1))

    def session(self, web, member, device):
        """A session of noaber-web for `member` on `device` (nb.Signer), made
        as the page makes it: the challenge signed by both keys.  Returns
        the headers a same-origin request with its cookie carries."""
        import base64

        origin = {"Content-Type": "application/json", "Origin": web.url}
        nid = bytes.fromhex(json.loads(web.request("GET", "/api/info")[2])["neighbourhood_id"])
        status, _, body = web.request("POST", "/api/session/challenge", b"{}", origin)
        self.assertEqual(status, 200, body)
        ch = json.loads(body)
        msg = ch["context"].encode() + nid + base64.b64decode(ch["challenge"])
        status, headers, body = web.request("POST", "/api/session", json.dumps({
            "member": member.pk.hex(), "challenge": ch["challenge"],
            "signature": base64.b64encode(member.sign(msg)).decode(),
            "device_key": device.pk.hex(),
            "device_signature": base64.b64encode(device.sign(msg)).decode()}).encode(), origin)
        self.assertEqual(status, 200, body)
        cookie = dict(headers)["Set-Cookie"].split(";")[0]
        return dict(origin, Cookie=cookie)

    def test_a_member_switches_off_a_lost_phone_from_the_computer(self):
        """Maria on her phone and her computer; the phone is lost: on the
        computer, "You" lists both and switches the phone off after a
        question in plain words.  The phone is refused at its next step, in
        plain words; the computer keeps working.  Bob, another member,
        cannot switch off Maria's devices, through noaber-web or on the
        member socket, not even with her member key in the request."""
        import base64
        import struct

        from selenium.webdriver.common.by import By

        a = self.node("a")
        a.create_neighbourhood("Marollen")
        web = self.web(a)
        phone = self.browser(PHONE)
        phone.emulate(*PHONE)
        self.join(phone, self.welcome_link(a, web, "Maria"), "Maria")
        phone.driver.get(web.url + "/#move")
        self.heading(phone, "Use Noaber on another phone or computer")
        phone.driver.find_element(By.ID, "move-make").click()
        link = self.wait(phone, "the link", lambda d: browser.shown(d.find_element(By.ID, "move-link")))
        computer = self.browser(DESKTOP)
        self.open_and_click(computer, link, "Use Noaber on this phone or computer", "#take-button")
        self.heading(computer, "Near you")

        # "You" on the computer: two devices, this one without a button.
        computer.driver.get(web.url + "/#you")
        self.heading(computer, "You")
        rows = lambda d: d.find_elements(By.CSS_SELECTOR, "#own-devices li")  # noqa: E731
        self.wait(computer, "Maria's two devices", lambda d: len(rows(d)) == 2)
        this = [r for r in rows(computer.driver) if "This one" in browser.shown(r)]
        other = [r for r in rows(computer.driver) if "This one" not in browser.shown(r)]
        self.assertEqual((len(this), len(other)), (1, 1))
        self.assertEqual(this[0].find_elements(By.TAG_NAME, "button"), [])
        self.assertIn("A phone or computer", browser.shown(other[0]))
        self.assertIn("Added", browser.shown(other[0]))
        phone_id = int(other[0].get_attribute("data-device"))
        self.axe(computer, "you, with where Noaber is switched on")

        # Switching off asks first, in plain words; "No" keeps it.
        other[0].find_element(By.XPATH, browser.xpath(".//button", "Switch off")).click()
        question = self.wait(computer, "the question", lambda d: d.find_element(By.CSS_SELECTOR, "#own-devices .confirm"))
        self.assertIn("It will no longer open Noaber for you", browser.shown(question))
        self.assertIn("The others keep working", browser.shown(question))
        self.axe(computer, "switch off this device?")
        question.find_element(By.XPATH, browser.xpath(".//button", "No, keep it")).click()
        self.wait(computer, "the button back", lambda d: not d.find_elements(By.CSS_SELECTOR, "#own-devices .confirm"))
        computer.driver.find_element(By.XPATH, browser.xpath("//li[@data-device='%d']//button" % phone_id,
                                                             "Switch off")).click()
        computer.driver.find_element(By.XPATH, browser.xpath("//button", "Yes, switch it off")).click()
        self.wait(computer, "that it is switched off",
                  lambda d: "is switched off" in browser.shown(d.find_element(By.ID, "said")))
        self.wait(computer, "the phone listed as switched off", lambda d: "Switched off" in browser.shown(
            d.find_element(By.CSS_SELECTOR, "#own-devices li[data-device='%d']" % phone_id)))
        self.axe(computer, "a device switched off")
        devices = {d["device_id"]: d for d in a.operator.ok("devices")["devices"]}
        self.assertTrue(devices[phone_id]["revoked"])
        self.assertEqual([d["revoked"] for i, d in devices.items() if i != phone_id], [False])

        # The phone's next step is refused, in plain words, at once (not a
        # minute later, when its session would ask the node anyway).
        phone.driver.find_element(By.CSS_SELECTOR, "#nav a[href='#near']").click()
        self.wait(phone, "that the phone is switched off",
                  lambda d: "not welcomed on this node any more" in browser.shown(d.find_element(By.ID, "main")),
                  timeout=15)
        self.assertNotIn("The node did not accept", browser.shown(phone.driver.find_element(By.ID, "main")))
        self.axe(phone, "a phone switched off")
        # The computer keeps working: it posts a request.
        now = int(json.loads(web.request("GET", "/api/info")[2])["now"])
        rid = computer.run_async(POST_AS_MEMBER, "request", {
            "title": "Groceries on Friday", "category": 1, "area": "Marollen", "expires_at": now + 86400}, 0)
        carol = a.member("carol")
        carol.new_identity()
        self.assertEqual(carol.show(rid)["status"], "open")

        # Bob, another member, with a session of his own: he sees only his
        # device, and Maria's computer is "not found" for him.
        bob, bob_device = nb.Signer(41), nb.Signer(42)
        token = self.welcome_link(a, web, "Bob").split("#welcome=")[1]
        status, _, body = web.request("POST", "/api/welcome", json.dumps({
            "token": token, "member": bob.pk.hex(), "device_key": bob_device.pk.hex(),
            "device": "Linux"}).encode(), {"Content-Type": "application/json", "Origin": web.url})
        self.assertEqual(status, 200, body)
        headers = self.session(web, bob, bob_device)
        status, _, body = web.request("GET", "/api/devices", None, headers)
        self.assertEqual(status, 200, body)
        bobs = json.loads(body)["devices"]
        self.assertEqual([(d["device"], d["kind"], d["this"]) for d in bobs], [("Linux", "browser", True)])
        computer_id = [i for i, d in devices.items() if i != phone_id][0]
        nid = bytes.fromhex(json.loads(web.request("GET", "/api/info")[2])["neighbourhood_id"])

        def signed(signer, device_id):
            return signer.sign(b"noaber/device-revoke/v1" + nid + struct.pack(">Q", device_id))

        status, _, body = web.request("POST", "/api/devices/revoke", json.dumps({
            "device_id": str(computer_id),
            "signature": base64.b64encode(signed(bob, computer_id)).decode()}).encode(), headers)
        self.assertEqual((status, json.loads(body)["error"]), (404, "not_found"), body)
        # On the member socket, naming Maria as the member does not help
        # without her key; naming Bob finds no such device of his.
        with a.control() as c:
            maria = c.call("devices")["result"]["devices"][0]["member"]
        with a.member_control() as c:
            forged = c.call("device.revoke.own", member=maria, device_id=computer_id,
                            signature=signed(bob, computer_id))
            self.assertEqual(forged.get("error"), "refused", forged)
            self.assertIn("signature", forged.get("message", ""))
            his = c.call("device.revoke.own", member=bob.pk, by=bob_device.pk, device_id=computer_id,
                         signature=signed(bob, computer_id))
            self.assertEqual(his.get("error"), "not_found", his)
            listed = c.call("devices.own", member=bob.pk, by=bob_device.pk)["result"]["devices"]
            self.assertEqual(len(listed), 1)
        self.assertFalse({d["device_id"]: d for d in a.operator.ok("devices")["devices"]}[computer_id]["revoked"])
        computer.driver.get(web.url + "/#you")
        self.heading(computer, "You")
        self.wait(computer, "the list again", lambda d: len(rows(d)) == 2)
        for r in self.axe_results:
            print("axe: %-45s %d violations" % (r["state"], len(r["violations"])))
        failures = [r for r in self.axe_results if r["violations"]]
        self.assertEqual(failures, [], json.dumps(failures, indent=1))


if __name__ == "__main__":
    browser.require_chromium()
    nb.require_binaries()
    import test_axe

    try:
        Transfer.axe_source = test_axe.fetch_axe()
    except SystemExit:
        print("axe-core was not checked on these screens (see above)")
    unittest.main(verbosity=2)
