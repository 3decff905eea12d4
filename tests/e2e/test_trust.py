#!/usr/bin/env python3
"""Members vouch for each other and say who they are (docs/client.md,
"Vouches and trust"), through the real binaries.

Alice vouches for Bob, Bob vouches for Carol, and nobody knows Dave.  Alice
trusts herself, Bob (one hop) and Carol (two hops): `list --trusted` shows
their requests and not Dave's, and `show` marks who among the responders
she trusts.  When Alice takes her vouch back, Bob and Carol drop out of her
trusted list.  Profiles put names next to keys.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402


class Trust(nb.NodeTest):
    def setUp(self):
        super().setUp()
        self.dave = self.node.member("dave")
        self.dave.new_identity()
        self.alice.ok("vouch", self.bob.key, "--note", "my neighbour at number 12")
        self.bob.ok("vouch", self.carol.key)
        self.requests = {
            "alice": self.alice.ask("A lift to the dentist"),
            "bob": self.bob.ask("Help with a form in Dutch"),
            "carol": self.carol.ask("Someone to walk the dog"),
            "dave": self.dave.ask("Keys to your house, please"),
        }

    def listed(self, member, *args):
        return {item["id"] for item in member.ok("list", *args)}

    def test_trusted_list_reaches_two_hops_and_not_strangers(self):
        r = self.requests
        self.assertEqual(self.listed(self.alice, "--trusted"), {r["alice"], r["bob"], r["carol"]})
        self.assertEqual(self.listed(self.alice), set(r.values()))
        items = {i["id"]: i for i in self.alice.ok("list")}
        self.assertTrue(items[r["carol"]]["trusted"])
        self.assertFalse(items[r["dave"]]["trusted"])
        # Trust is each member's own: Dave vouched for nobody, so he trusts
        # only himself.
        self.assertEqual(self.listed(self.dave, "--trusted"), {r["dave"]})
        # Carol trusts herself only: vouches point one way.
        self.assertEqual(self.listed(self.carol, "--trusted"), {r["carol"]})

    def test_show_marks_trusted_responders(self):
        rid = self.requests["dave"]
        self.bob.ok("respond", rid, "--note", "I can come by")
        seen = self.alice.show(rid)
        self.assertFalse(seen["trusted"])
        by_author = {resp["author"]: resp for resp in seen["responses"]}
        self.assertTrue(by_author[self.bob.key]["trusted"])
        self.assertEqual(by_author[self.bob.key]["vouched_by"], 1)

        # A response from someone nobody vouched for, on his own request
        # (Dave can't respond to himself), is marked as such.
        rid2 = self.bob.ask("Company on Sunday")
        self.dave.ok("respond", rid2)
        self.alice.ok("respond", rid2)
        seen = self.alice.show(rid2)
        by_author = {resp["author"]: resp for resp in seen["responses"]}
        self.assertFalse(by_author[self.dave.key]["trusted"])
        self.assertEqual(by_author[self.dave.key]["vouched_by"], 0)
        self.assertTrue(by_author[self.alice.key]["trusted"])

        text = self.alice.run("show", rid2, json_out=False)
        self.assertEqual(text.rc, 0, repr(text))
        dave_line = [ln for ln in text.out.splitlines() if self.dave.key in ln]
        self.assertEqual(len(dave_line), 1, text.out)
        self.assertIn("not vouched by anyone you trust", dave_line[0])
        # Carol is vouched for by Bob, whom Alice trusts.
        self.carol.ok("respond", rid2)
        text = self.alice.run("show", rid2, json_out=False)
        carol_line = [ln for ln in text.out.splitlines() if self.carol.key in ln]
        self.assertIn("vouched by 1 you trust", carol_line[0])

    def test_retracting_a_vouch_drops_the_chain(self):
        r = self.requests
        self.alice.ok("vouch", "--retract", self.bob.key)
        self.assertEqual(self.listed(self.alice, "--trusted"), {r["alice"]})
        self.assertEqual(self.alice.ok("vouches"), [])
        # Bob's vouch for Carol still stands; it is Alice's trust that ended.
        by_bob = self.bob.ok("vouches")
        self.assertEqual([(v["by"], v["member"]) for v in by_bob], [(self.bob.key, self.carol.key)])
        again = self.alice.run("vouch", "--retract", self.bob.key)
        self.assertEqual(again.rc, nb.EXIT_ERROR, repr(again))
        self.assertIn("do not vouch", again.err)

    def test_retract_by_id_works_for_a_vouch(self):
        r = self.requests
        vid = [v["id"] for v in self.alice.ok("vouches") if v["member"] == self.bob.key][0]
        self.alice.ok("retract", vid[:8])
        self.assertEqual(self.listed(self.alice, "--trusted"), {r["alice"]})

    def test_vouches_lists_by_and_for(self):
        mine = self.bob.ok("vouches")
        pairs = {(v["by"], v["member"]) for v in mine}
        self.assertEqual(pairs, {(self.alice.key, self.bob.key), (self.bob.key, self.carol.key)})
        note = [v["note"] for v in mine if v["by"] == self.alice.key][0]
        self.assertEqual(note, "my neighbour at number 12")
        self.assertEqual(self.dave.ok("vouches", self.carol.key),
                         [v for v in mine if v["member"] == self.carol.key])
        self.assertRefused_usage(self.alice.run("vouch", self.alice.key))
        self.assertRefused_usage(self.alice.run("vouch", "nbm1nonsense"))
        # Vouching twice keeps one vouch.
        self.alice.ok("vouch", self.bob.key)
        self.assertEqual(len(self.alice.ok("vouches", self.alice.key)), 1)

    def assertRefused_usage(self, result):
        self.assertEqual(result.rc, nb.EXIT_USAGE, repr(result))

    def test_profiles_show_names(self):
        rid = self.requests["dave"]
        self.bob.ok("profile", "--name", "Bobby", "--languages", "nl,fr", "--area", "Marollen")
        self.bob.ok("profile", "--name", "Bob", "--about", "Handy with forms")
        self.bob.ok("respond", rid)
        seen = self.alice.show(rid)
        self.assertEqual(seen["responses"][0]["author_name"], "Bob")
        self.assertIsNone(seen["author_name"])
        items = {i["id"]: i for i in self.alice.ok("list")}
        self.assertEqual(items[self.requests["bob"]]["author_name"], "Bob")
        text = self.alice.run("list", json_out=False)
        self.assertEqual(text.rc, 0, repr(text))
        self.assertIn("(Bob)", text.out)
        text = self.alice.run("show", rid, json_out=False)
        self.assertIn(self.bob.key + " (Bob)", text.out)
        vouches = self.alice.ok("vouches")
        self.assertEqual(vouches[0]["member_name"], "Bob")
        missing = self.carol.run("profile", "--about", "no name")
        self.assertEqual(missing.rc, nb.EXIT_USAGE, repr(missing))


if __name__ == "__main__":
    nb.main()
