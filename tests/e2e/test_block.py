#!/usr/bin/env python3
"""An operator blocks a member on their node (docs/operating.md, "Blocking a
member"), through the real binaries on 127.0.0.1.

Nodes A and B hold the same neighbourhood.  Bob asks for help on A and Carol
responds.  A's operator blocks Bob: his request and Carol's response vanish
from A, his new records are refused with the reason, and reconciliation with
B, which keeps everything (blocking is A's alone), never brings them back,
whether B was connected at the time or comes back later.  Unblocking lets
Bob's new records in; what was deleted stays deleted.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

REASON = "this node's operator blocked this member"


class Block(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        self.a = self.node("A")
        self.b = self.node("B")
        self.a.create_neighbourhood("Marollen")
        self.b.join(nb.invite_only_maker(self.a.invite()))
        self.wait_linked()
        self.bob = self.a.member("bob")
        self.bob.new_identity()
        self.carol = self.a.member("carol")
        self.carol.new_identity()
        # Bob again, on B: the same identity file.
        self.bob_on_b = self.b.member("bob")
        self.bob_on_b.identity = self.bob.identity
        self.dave = self.b.member("dave")
        self.dave.new_identity()

    def node(self, name):
        n = nb.NetNode(name, config=["peer_exchange = off"])
        self.addCleanup(n.cleanup)
        return n.start()

    def wait_linked(self):
        nb.wait_for("A and B connected",
                    lambda: self.b.node_key in self.a.connected_keys()
                    and self.a.node_key in self.b.connected_keys())

    def rounds(self):
        """Reconciliation rounds finished so far (the initiator of each
        round logs one line when it ends)."""
        return sum(n.log().count(": synchronised: ") for n in (self.a, self.b))

    def synced_after_marker(self, title):
        """A request Dave makes on B reaches A, a whole reconciliation round
        starts and ends after it, and A says it is in sync."""
        marker = self.dave.ask(title)
        nb.wait_for("the marker on A", lambda: marker in self.a.ids())
        # Each link may be in the middle of a round that began before: one
        # more than the links (at most one each way) must end.
        start = self.rounds()
        nb.wait_for("a reconciliation round after the marker", lambda: self.rounds() >= start + 3)
        nb.wait_for("A in sync", lambda: self.a.operator.ok("status")["in_sync"])
        return marker

    def bobs_request_with_a_response(self):
        rid = self.bob.ask("A ladder for the gutters")
        self.carol.ok("respond", rid, "--note", "mine is three metres")
        nb.wait_for("Carol's response on B",
                    lambda: len(self.bob_on_b.show(rid)["responses"]) == 1)
        return rid

    def test_a_blocked_member_vanishes_from_the_node_and_stays_out(self):
        rid = self.bobs_request_with_a_response()
        before = self.a.status()["records"]

        blocked = self.a.operator.ok("block", self.bob.key)
        self.assertEqual(blocked, {"member": self.bob.key, "deleted": 2})
        self.assertEqual(self.a.status()["records"], before - 2)
        self.assertNotIn(rid, self.a.ids())
        gone = self.carol.run("show", rid)
        self.assertNotEqual(gone.rc, 0, repr(gone))

        # His new records are refused with the reason.
        refused = self.bob.run("ask", "--title", "A drill for an afternoon", "--category",
                               "repairs", "--area", "Marollen")
        self.assertEqual(refused.rc, nb.EXIT_REFUSED, repr(refused))
        self.assertIn(REASON, refused.err)

        # B keeps everything, and takes Bob's new records; A gets none of them.
        self.assertIn(rid, self.b.ids())
        later = self.bob_on_b.ask("Seedlings for the community garden")
        self.assertIn(later, self.b.ids())
        self.synced_after_marker("Chairs for a street party")
        self.assertNotIn(rid, self.a.ids())
        self.assertNotIn(later, self.a.ids())
        # A second round changes nothing either, and A does not take Bob's
        # new record in again only to refuse it: it remembers the id.
        refusals = self.a.log().count("record not stored: refused")
        self.assertGreaterEqual(refusals, 1)
        self.synced_after_marker("A pump for a bicycle")
        self.assertEqual(self.a.log().count("record not stored: refused"), refusals)
        a_ids = self.a.ids()
        self.assertNotIn(rid, a_ids)
        self.assertNotIn(later, a_ids)
        self.assertEqual(len(self.bob_on_b.show(rid)["responses"]), 1)

        listed = self.a.operator.ok("blocked")["members"]
        self.assertEqual([m["member"] for m in listed], [self.bob.key])
        self.assertGreater(listed[0]["since"], 0)
        self.assertEqual(self.b.operator.ok("blocked"), {"members": []})

        # Unblocking lets his new records in; the deleted ones stay deleted.
        text = self.a.operator.run("unblock", self.bob.key, json_out=False)
        self.assertEqual(text.rc, 0, repr(text))
        self.assertIn("stays deleted", text.out)
        again = self.bob.ask("A wheelbarrow on Saturday")
        self.assertIn(again, self.a.ids())
        self.assertNotIn(rid, self.a.ids())
        self.assertEqual(self.a.operator.ok("blocked"), {"members": []})
        not_blocked = self.a.operator.run("unblock", self.bob.key)
        self.assertEqual(not_blocked.rc, 1, repr(not_blocked))
        self.assertIn("not blocked", not_blocked.err)

    def test_a_node_that_comes_back_later_does_not_bring_them_back(self):
        rid = self.bobs_request_with_a_response()
        self.b.stop()
        text = self.a.operator.run("block", self.bob.key, json_out=False)
        self.assertEqual(text.rc, 0, repr(text))
        self.assertIn("2 records were deleted", text.out)
        self.assertIn("Blocked " + self.bob.key, text.out)
        listed = self.a.operator.run("blocked", json_out=False)
        self.assertIn(self.bob.key, listed.out)

        # While A was not looking, Bob went on posting through B.
        self.b.start()
        self.wait_linked()
        later = self.bob_on_b.ask("Boxes for a move")
        self.synced_after_marker("Soup for a neighbour with the flu")
        self.assertNotIn(rid, self.a.ids())
        self.assertNotIn(later, self.a.ids())
        self.assertEqual(self.b.ids() - self.a.ids(), {rid, later})

    def test_bad_member_keys_are_usage_errors(self):
        for cmd in ("block", "unblock"):
            r = self.a.operator.run(cmd, "nbm1notakey")
            self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
            self.assertIn("not a member key", r.err)
        with self.a.control() as c:
            reply = c.call("block", member=b"short")
        self.assertFalse(reply["ok"])
        self.assertEqual(reply["error"], "bad_request")


if __name__ == "__main__":
    nb.main()
