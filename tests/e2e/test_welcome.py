"""Welcome links through the real noaber and noaberd (docs/control-api.md,
"welcome"): what the operator sees, and what the node refuses."""

import unittest

import nb


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

    def test_bad_input_is_refused(self):
        self.node.create_neighbourhood("Marollen")
        for args in (["--expires", "100d"], ["--expires", "soon"], ["--host", "a/b"],
                     ["--host", ""]):
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
