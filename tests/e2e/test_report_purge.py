#!/usr/bin/env python3
"""The unmet-need overview keeps its figures when requests are purged
(docs/operating.md, "The unmet-need overview"): the node keeps anonymous
tallies of what it purges, and `noaber report` adds them.

Alice posts fifteen requests: Bob helps with five, Alice cancels five (on
her neighbour's behalf), five expire with nobody.  The node is started a
day later (the five have expired, nothing is purged yet) and four days
later (everything is purged): the overview is the same both times, and the
store holds no id, author or title of a purged request."""

import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

FIGURES = ("posted", "helped", "cancelled", "expired_unhelped", "open", "on_behalf",
           "median_first_response", "median_assignment")


def figures(report):
    rows = {row["group"]: {k: row[k] for k in FIGURES} for row in report["rows"]}
    return {k: report["total"][k] for k in FIGURES}, rows


class ReportAfterPurge(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        self.node = nb.Node(config=["purge_grace = 2d"])
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.node.create_neighbourhood("Marollen")
        self.operator = self.node.member("operator")

    def restart_at(self, offset):
        self.node.stop()
        self.node.wrapper = nb.faketime(offset)
        self.node.start()

    def report(self, by):
        return self.operator.ok("report", "--by", by)

    def test_the_overview_is_the_same_before_and_after_the_purge(self):
        alice, bob = self.node.member("alice"), self.node.member("bob")
        alice.new_identity()
        bob.new_identity()
        titles = []
        for i in range(5):
            titles.append("Shopping for the Hoogstraat %d" % i)
            rid = alice.ask(titles[-1], "groceries", "Marollen")
            bob.ok("respond", rid)
            alice.ok("assign", rid, bob.key)
            bob.ok("done", rid)
            alice.ok("confirm", rid)
        for i in range(5):
            titles.append("A lift to Sint-Pieter %d" % i)
            rid = alice.ask(titles[-1], "transport", "Marollen", "--on-behalf-of", "M.")
            alice.ok("cancel", rid)
        for i in range(5):
            titles.append("Company on Sunday %d" % i)
            alice.ask(titles[-1], "company", "Zavel", "--expires", "1d")

        # A day later the five have expired; the grace of two days keeps
        # every request in the store.
        self.restart_at("+25h")
        held = self.operator.ok("status")["records"]
        before = {by: figures(self.report(by)) for by in ("category", "area", "month")}
        total = before["category"][0]
        self.assertEqual((total["posted"], total["helped"], total["cancelled"],
                          total["expired_unhelped"], total["on_behalf"]), (15, 5, 5, 5, 5))

        # Four days later everything has been purged.
        self.restart_at("+4d")
        nb.wait_for("the requests purged",
                    lambda: self.operator.ok("status")["records"] < held - 15)
        after = {by: figures(self.report(by)) for by in ("category", "area", "month")}
        self.assertEqual(after, before)

        # What the node kept of them names no one and nothing.
        self.node.stop()
        with sqlite3.connect(os.path.join(self.node.data_dir, "store.sqlite")) as db:
            kept = repr(db.execute("SELECT * FROM report_tallies").fetchall() +
                        db.execute("SELECT * FROM report_delays").fetchall())
        for secret in [alice.key, bob.key, "M."] + titles:
            self.assertNotIn(secret, kept)
        self.assertIn("groceries", kept)


if __name__ == "__main__":
    unittest.main(verbosity=2)
