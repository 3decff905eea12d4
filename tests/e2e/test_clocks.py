#!/usr/bin/env python3
"""Wrong clocks, through the real binaries under libfaketime: a node whose
clock is a year off refuses a new post for the clock, never as "retracted or
expired", and the client says which clock disagrees; two peered nodes a day
apart log it, show it in `status`, and the one refusing the other's records
is not "up to date".

Without libfaketime the test is skipped (exit 77)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402


class WrongClock(unittest.TestCase):
    def node(self, **kw):
        n = nb.Node(**kw)
        self.addCleanup(n.cleanup)
        n.start()
        n.create_neighbourhood("Marollen")
        return n

    def post(self, node):
        # The member's noaber runs on this computer's (right) clock.
        alice = nb.Member(node, "alice")
        alice.new_identity()
        wrapper, node.wrapper = node.wrapper, []
        try:
            return alice.run("ask", "--title", "Soup for a neighbour with flu", "--category",
                             "meals", "--area", "Marollen")
        finally:
            node.wrapper = wrapper

    def test_a_node_a_year_ahead_refuses_a_new_post_for_the_clock(self):
        r = self.post(self.node(clock="+365d"))
        print("a node a year ahead: " + r.err.strip().replace("\n", " / "))
        self.assertEqual(r.rc, nb.EXIT_REFUSED, repr(r))
        self.assertNotIn("retracted", r.err)
        self.assertIn("had expired by this node's clock before it arrived", r.err)
        self.assertIn("this computer's clock is 365 days behind noaberd's", r.err)

    def test_a_node_a_year_behind_says_which_clocks_disagree(self):
        r = self.post(self.node(clock="-365d"))
        print("a node a year behind: " + r.err.strip().replace("\n", " / "))
        self.assertEqual(r.rc, nb.EXIT_REFUSED, repr(r))
        self.assertIn("this computer's clock is 365 days ahead of noaberd's", r.err)


class SkewedPeers(unittest.TestCase):
    def test_peers_a_day_apart_log_it_show_it_and_are_not_up_to_date(self):
        a = nb.NetNode("A", config=["peer_exchange = off"])
        b = nb.NetNode("B", config=["peer_exchange = off"], clock="+1d")
        for n in (a, b):
            self.addCleanup(n.cleanup)
            n.start()
        a.create_neighbourhood("Marollen")
        b.join(nb.invite_only_maker(a.invite()))
        nb.wait_for("A and B connected", lambda: a.status()["peers"] == 1 and b.status()["peers"] == 1)
        nb.wait_for("A's log to name B's clock", lambda: "s ahead of this node's" in a.log())
        nb.wait_for("B's log to name A's clock", lambda: "s behind this node's" in b.log())

        # Bob posts on B, with B's clock: to A the record is from the future.
        bob = b.member("bob")
        bob.new_identity()
        rid = bob.ask()

        def a_says_why():
            out = a.operator.run("status", json_out=False).out
            return out if "created in this node's future" in out else None
        out = nb.wait_for("A to say it cannot keep B's records", a_says_why)
        print("A's status: " + " / ".join(l.strip() for l in out.splitlines()
                                          if l.startswith(("Peers:", "Clock:"))))
        self.assertIn("not up to date", out)
        self.assertIn("Clock:", out)
        self.assertIn("noaberd's only peer has a clock 24 hours ahead of this node's and this "
                      "computer's", out)
        self.assertFalse(a.has(rid))
        # The peer is not marked bad for it: the link stays up.
        self.assertEqual(a.status()["peers"], 1)
        self.assertNotIn("invalid record", a.log())
        # On B, with B's clock, the client agrees with B and the peer is off.
        out = b.operator.run("status", json_out=False).out
        self.assertIn("noaberd's only peer has a clock 24 hours behind this node's", out)


if __name__ == "__main__":
    nb.require_binaries()
    if not nb.FAKETIME_LIBS:
        print("skipped: this test needs libfaketime (Debian package faketime)")
        sys.exit(77)
    unittest.main(verbosity=2)
