#!/usr/bin/env python3
"""What a neighbour meets at the command line (issue 11): areas matched by
word, list limits said out loud, a view of one's commitments, words spelled
as the options take them, assignment by whatever identifies a helper,
re-assignment only on purpose, sealed messages, watch filters, errors that
name the option, renewing a standing offer and confirmations that wait."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402


def ids(rows):
    return {r["id"] for r in rows}


class Lists(nb.NodeTest):
    def test_area_matches_by_word_or_postcode_without_case_or_accents(self):
        a = self.alice
        schaerbeek = a.ask("Soup", "meals", "Schaerbeek 1030")
        foret = a.ask("A lift", "transport", "Forêt / Vorst")
        street = a.ask("Forms", "paperwork", "Schaerbeekstraat")
        for query in ("Schaerbeek", "schaerbeek", "1030", "SCHAERBEEK 1030"):
            self.assertEqual(ids(a.ok("list", "--area", query)), {schaerbeek}, query)
        self.assertEqual(ids(a.ok("list", "--area", "foret")), {foret})
        self.assertEqual(ids(a.ok("list", "--area", "vorst")), {foret})
        self.assertEqual(ids(a.ok("list", "--area", "Schaerbeekstraat")), {street})
        self.assertEqual(a.ok("list", "--area", "103"), [])

    def test_list_says_when_it_stops_and_takes_limit_or_all(self):
        a = self.alice
        posted = [a.ask("Task %d" % i) for i in range(5)]
        r = a.run("list", "--limit", "3", json_out=False)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("showing the newest 3", r.err)
        self.assertIn("--all", r.err)
        self.assertEqual(len(a.ok("list", "--limit", "3")), 3)
        self.assertEqual(ids(a.ok("list", "--all")), set(posted))
        r = a.run("list", "--all", json_out=False)
        self.assertEqual(r.err, "")
        r = a.run("list", "--limit", "0")
        self.assertEqual(r.rc, nb.EXIT_USAGE, r)
        self.assertIn("--limit", r.err)

    def test_helping_lists_what_i_responded_to(self):
        a, b, c = self.alice, self.bob, self.carol
        helped = a.ask("Carry boxes")
        other = a.ask("Walk the dog", "pets")
        assigned = c.ask("Fix a shelf", "repairs")
        b.ok("respond", helped)
        b.ok("respond", assigned)
        c.ok("assign", assigned, b.key)
        offer = c.offer("Soup on Fridays", "meals")
        b.ok("respond", offer)
        mine = b.ask("Read my letters", "paperwork")
        rows = {r["id"]: r for r in b.ok("list", "--helping")}
        self.assertEqual(set(rows), {helped, assigned, offer})
        self.assertNotIn(other, rows)
        self.assertNotIn(mine, rows)
        self.assertEqual(rows[assigned]["your_response"], "assigned")
        self.assertEqual(rows[helped]["your_response"], "pending")
        self.assertEqual(ids(b.ok("list", "--mine")), {mine})
        text = b.run("list", "--helping", json_out=False)
        self.assertIn("assigned to you", text.out)
        self.assertIn("you responded", text.out)


class Words(nb.NodeTest):
    def test_show_spells_values_as_the_options_take_them(self):
        a, b = self.alice, self.bob
        rid = a.ask("Soup", "meals", "Marollen", "--urgency", "this-week", "--mode", "in-person")
        b.ok("respond", rid)
        a.ok("assign", rid, b.key)
        b.ok("done", rid)
        out = a.run("show", rid, json_out=False).out
        self.assertIn("this-week", out)
        self.assertIn("in-person", out)
        self.assertIn("done-claimed", out)
        for underscored in ("this_week", "in_person", "done_claimed"):
            self.assertNotIn(underscored, out)
        # Both spellings are taken where a status is an option.
        self.assertEqual(ids(a.ok("list", "--status", "done-claimed")), {rid})
        self.assertEqual(ids(a.ok("list", "--status", "done_claimed")), {rid})


if __name__ == "__main__":
    nb.main()
