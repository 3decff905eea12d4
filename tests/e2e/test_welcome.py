"""Welcome links through the real noaber and noaberd (docs/control-api.md,
"welcome"): what the operator sees, and what the node refuses."""

import html.parser
import os
import re
import unittest

import nb


def svg_modules(svg_path_d, side):
    """The module matrix of the SVG path `noaber welcome --print` draws: one
    rectangle "Mx yhNv1h-Nz" per run of dark modules."""
    rows = [[False] * side for _ in range(side)]
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", svg_path_d):
        for i in range(int(n)):
            rows[int(y)][int(x) + i] = True
    return rows


class PageParser(html.parser.HTMLParser):
    """What a printed page is made of: its tags, attributes and text."""

    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


class Welcome(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        self.node = nb.Node()
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.operator = self.node.member("operator")

    def redeem(self, token, member=b"\x01" * 32, **extra):
        with self.node.control() as c:
            return c.call("welcome.redeem", token=token, member=member, **extra)

    def hello_now(self):
        with self.node.control() as c:
            return c.call("hello")["result"]["now"]

    def test_a_link_is_made_used_once_and_revoked(self):
        # Without a neighbourhood there is nothing to welcome anyone to: the
        # client says so, and so does the node to a client that asks anyway.
        r = self.operator.run("welcome")
        self.assertEqual(r.rc, nb.EXIT_ERROR, r)
        self.assertIn("no neighbourhood", r.err)
        with self.node.control() as c:
            self.assertEqual(c.call("welcome")["error"], "refused")

        self.node.create_neighbourhood("Marollen")
        out = self.operator.ok("welcome", "--name", "Maria", "--host", "buurthuis.local")
        self.assertTrue(out["link"].startswith("http://buurthuis.local:7480/#welcome="), out)
        self.assertEqual(out["link"].split("#welcome=")[1], out["token"])
        human = self.operator.run("welcome", "--host", "10.0.0.2:8080", json_out=False)
        self.assertEqual(human.rc, 0, human)
        self.assertIn("http://10.0.0.2:8080/#welcome=", human.out)
        self.assertIn("Marollen", human.out)

        ok = self.redeem(out["token"], device="Android")
        self.assertTrue(ok["ok"], ok)
        again = self.redeem(out["token"], member=b"\x02" * 32)
        self.assertEqual(again["error"], "not_found", again)
        with self.node.control() as c:
            self.assertTrue(c.call("welcome.check", member=b"\x01" * 32)["result"]["admitted"])
            self.assertFalse(c.call("welcome.check", member=b"\x02" * 32)["result"]["admitted"])

        devices = self.operator.ok("devices")["devices"]
        self.assertEqual([(d["name"], d["device"], d["revoked"]) for d in devices],
                         [("Maria", "Android", False)])
        self.operator.ok("device", "revoke", str(devices[0]["device_id"]))
        self.assertTrue(self.operator.ok("devices")["devices"][0]["revoked"])
        with self.node.control() as c:
            self.assertFalse(c.call("welcome.check", member=b"\x01" * 32)["result"]["admitted"])
        r = self.operator.run("device", "revoke", str(devices[0]["device_id"]))
        self.assertEqual(r.rc, nb.EXIT_ERROR, r)
        self.assertIn("no admitted device", r.err)

    def test_the_link_as_a_qr_code_and_a_printable_page(self):
        self.node.create_neighbourhood("Marollen & <Anneessens>")
        page = os.path.join(self.node.tmp, "welcome-maria.html")
        r = self.operator.run("welcome", "--name", "Maria <Mère>", "--host",
                              "https://noaber.example.org/", "--qr", "--print", page,
                              json_out=False)
        self.assertEqual(r.rc, 0, r)
        link = re.search(r"https://noaber\.example\.org/#welcome=[0-9a-f]+", r.out).group(0)
        self.assertIn(page, r.out)

        # On the terminal: the link, module for module as libqrencode draws it.
        blocks = nb.qr_blocks(r.out)
        self.assertTrue(blocks, r.out)
        drawn = nb.qr_from_blocks(blocks)
        expected = nb.qrencode_modules(link)

        # On paper: an HTML page with only this owner able to read it (it
        # holds the token), nothing loaded from anywhere, the link in text,
        # the names escaped, and the same QR code as inline SVG.
        self.assertEqual(os.stat(page).st_mode & 0o777, 0o600)
        with open(page, encoding="utf-8") as f:
            text = f.read()
        parsed = PageParser()
        parsed.feed(text)
        self.assertIn("svg", parsed.tags)
        self.assertFalse({"script", "img", "link", "iframe", "object"} & set(parsed.tags))
        self.assertEqual([v for k, v in parsed.attrs if k in ("src", "href")], [])
        self.assertNotIn("url(", text)
        words = " ".join(parsed.text)
        self.assertIn(link, words)
        self.assertIn("Welcome, Maria <Mère>", words)
        self.assertIn("Marollen & <Anneessens>", words)
        self.assertIn("works once", words)
        side = int(re.search(r'viewBox="0 0 (\d+) \1"', text).group(1))
        printed = svg_modules(re.search(r'<path fill="#000" d="([^"]*)"', text).group(1), side)
        self.assertEqual(printed, drawn[:side])
        if expected is None:
            self.skipTest("the qrencode tool (Debian package qrencode) is not installed")
        self.assertEqual(drawn[: len(expected)], expected)

        # A page that cannot be written is an error that names the file.
        r = self.operator.run("welcome", "--print", os.path.join(self.node.tmp, "no", "x.html"),
                              json_out=False)
        self.assertEqual(r.rc, nb.EXIT_ERROR, r)
        self.assertIn("cannot write", r.err)

    def test_bad_input_is_refused(self):
        self.node.create_neighbourhood("Marollen")
        for args in (["--expires", "100d"], ["--expires", "soon"], ["--host", "a/b"],
                     ["--host", ""], ["--host", "https://"], ["--host", "https://a/b"],
                     ["--print", ""]):
            r = self.operator.run("welcome", *args)
            self.assertEqual(r.rc, nb.EXIT_USAGE, (args, r))
        r = self.operator.run("device", "revoke", "three")
        self.assertEqual(r.rc, nb.EXIT_USAGE, r)

        token = self.operator.ok("welcome")["token"]
        self.assertEqual(self.redeem(token, member=b"\x01" * 31)["error"], "bad_request")
        self.assertEqual(self.redeem(token, device="a\nb")["error"], "bad_request")
        self.assertEqual(self.redeem("f" * 40)["error"], "not_found")
        self.assertEqual(self.redeem("not a token")["error"], "not_found")
        with self.node.control() as c:
            self.assertEqual(c.call("welcome", expires=0)["error"], "bad_request")
            self.assertEqual(c.call("welcome", name="")["error"], "bad_request")
            self.assertEqual(c.call("device.revoke", device_id="1")["error"], "bad_request")

    def test_an_expired_link_is_gone(self):
        self.node.create_neighbourhood("Marollen")
        with self.node.control() as c:
            made = c.call("welcome", expires=1)["result"]
        nb.wait_for("the node's clock to pass the link's expiry",
                    lambda: self.hello_now() >= made["expires_at"], timeout=30)
        self.assertEqual(self.redeem(made["token"])["error"], "gone")


if __name__ == "__main__":
    nb.main()
