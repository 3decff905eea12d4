#!/usr/bin/env python3
"""A node that was offline while 1,000 records were posted catches up when it
returns, and `noaber status` then says it is up to date.  A new node that
joins five peers fetches each record of the backlog from one of them,
receives the list of the backlog's ids once rather than from each peer, and
pushes none of it back.

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

    def test_a_new_node_joining_five_peers_over_slow_links_fetches_each_record_once(self):
        backlog = 1000
        a = self.node("A")
        a.create_neighbourhood("Marollen")
        peers = [self.node("P%d" % i) for i in range(1, 5)]
        for p in peers:
            # A star around A: each peer knows A alone.
            p.join(nb.invite_only_maker(a.invite()))
        nb.wait_for("A linked to its four peers", lambda: a.status()["peers"] == 4)
        nid = a.call("status")["neighbourhood_id"]
        signers = [nb.Signer(i) for i in range(1, 9)]
        now = int(time.time())
        backlog_bytes = 0
        with a.control() as c:
            for i in range(backlog):
                rec, _ = nb.make_record(signers[i % len(signers)], nid, "request",
                                        nb.request_body("Backlog %d" % i, now=now), created_at=now - i)
                reply = c.call("submit", record=rec)
                self.assertTrue(reply.get("ok"), reply)
                backlog_bytes += len(rec)
        everyone = [a] + peers
        for n in everyone:
            nb.wait_for("%s holding the backlog" % n.name,
                        lambda n=n: n.status()["records"] == backlog and n.status()["in_sync"],
                        timeout=120)

        # B reaches each of the five through a link of 32 KB/s each way, so
        # that its five reconciliations and fetches overlap.
        relays = [nb.Relay(n.peer_port, rate=32 * 1024) for n in everyone]
        for r in relays:
            self.addCleanup(r.close)
        inv = nb.invite_decode(a.invite())
        b = self.node("B")
        b.join(nb.invite_encode(inv["name"], inv["key"], inv["expires_at"],
                                [(n.node_key, r.address) for n, r in zip(everyone, relays)]))

        def caught_up():
            st = b.status()
            return st["in_sync"] and st["records"] == backlog and st["peers"] == 5
        nb.wait_for("B to catch up from five peers", caught_up, timeout=120, interval=0.1)
        rows = b.peers()
        # Every record came over one link only, and B sent none of the
        # backlog on to peers that hold it.
        print("\nrecords in per link: %s; bytes to B %d, from B %d, the backlog's records %d" % (
            sorted(p["records_in"] for p in rows), sum(r.counts()[1] for r in relays),
            sum(r.counts()[0] for r in relays), backlog_bytes))
        self.assertEqual(sum(p["records_in"] for p in rows), backlog, rows)
        self.assertEqual(sum(p["records_out"] for p in rows), 0, rows)
        for n in everyone:
            self.assertEqual(n.status()["records"], backlog, n.name)
        # One list of the backlog's ids crossed, not one per peer: every link
        # reconciling the whole set would bring B five lists of 32 bytes an
        # id (docs/protocol.md, "Catching up from several peers").
        one_list = backlog * 32
        reconciled = sum(p["reconcile_bytes_in"] for p in rows)
        print("reconciliation bytes to B per link: %s, from B: %s" % (
            sorted(p["reconcile_bytes_in"] for p in rows),
            sorted(p["reconcile_bytes_out"] for p in rows)))
        self.assertGreaterEqual(reconciled, one_list, rows)
        self.assertLess(reconciled, 2 * one_list, rows)

if __name__ == "__main__":
    nb.main()
