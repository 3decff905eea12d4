#!/usr/bin/env python3
"""A node that was offline while 1,000 records were posted catches up when it
returns, and `noaber status` then says it is up to date.

Prints how long the catch-up took (a measurement, never asserted)."""

import concurrent.futures
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

RECORDS = 1000
CATEGORIES = ["groceries", "transport", "meals", "company", "paperwork", "repairs", "pets", "other"]


class CatchUp(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()

    def node(self, name):
        # Four members post a thousand requests in minutes: far over the
        # quota per member (docs/config.md), which this test is not about.
        n = nb.NetNode(name, config=["peer_exchange = off", "quota_hour = 0", "quota_day = 0"])
        self.addCleanup(n.cleanup)
        return n.start()

    def test_a_node_back_from_offline_catches_up_on_a_thousand_records(self):
        a, b = self.node("A"), self.node("B")
        a.create_neighbourhood("Marollen")
        b.join(a.invite())
        nb.wait_for("A and B connected", lambda: b.status()["peers"] == 1 and a.status()["peers"] == 1)
        members = [a.member("m%d" % i) for i in range(4)]
        for m in members:
            m.new_identity()
        first = members[0].ask("Before B went away")
        nb.wait_for("the first request on B", lambda: first in b.ids())

        b.stop()
        # Four neighbours post at once, as they would on a busy evening.
        def post(i):
            m = members[i % len(members)]
            return m.ask("Request %d of the evening" % i, CATEGORIES[i % len(CATEGORIES)],
                         "Marollen", "--details", "Posted while node B was offline.")
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            posted = list(pool.map(post, range(RECORDS - 1)))
        posted.append(first)
        self.assertEqual(len(set(posted)), RECORDS)
        self.assertEqual(a.status()["records"], RECORDS)

        started = time.monotonic()
        b.start()

        def caught_up():
            st = b.status()
            return st["in_sync"] and st["records"] == RECORDS and st["peers"] == 1
        nb.wait_for("B to catch up with %d records" % RECORDS, caught_up, timeout=240, interval=0.1)
        took = time.monotonic() - started
        print("\ncatch-up: %d records in %.2f s after the node came back" % (RECORDS, took))

        # Everything arrived intact: the newest 500 as `list` shows them on
        # both nodes, and a sample of all of them one by one.
        self.assertEqual(b.ids(), a.ids())
        for rid in random.sample(posted, 50):
            self.assertEqual(b.call("get", record_id=bytes.fromhex(rid))["id"].hex(), rid)
        # And the operator reads it in words.
        human = b.operator.run("status", json_out=False)
        self.assertEqual(human.rc, 0, repr(human))
        self.assertRegex(human.out, r"(?m)^Records:\s+%d$" % RECORDS)
        self.assertRegex(human.out, r"(?m)^Peers:\s+up to date with 1 peer$")


if __name__ == "__main__":
    nb.main()
