#!/usr/bin/env python3
"""Rateless reconciliation between real nodes (docs/protocol.md, "Rateless
reconciliation").

Two nodes that differ by a few records out of a few thousand reconcile with
coded symbols, and `noaber peers` says so; a node whose operator turned the
capability off still syncs with Negentropy; a difference too large for the
coded symbols falls back to Negentropy and both nodes end with every record;
a node that holds nothing reconciles with Negentropy at once, and so does
a node back from days away on its first round.

The stores are filled with bench-make-store (the same records for the same
numbers), so both nodes start from the neighbourhood of one template.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

MAKE_STORE = os.path.join(nb.BUILD_ROOT, "bench", "bench-make-store")
SHARED = 2000  # records both nodes hold
OWN = 40000  # the first of the records only one node holds


class Rateless(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        nb.require_binaries()
        cls.tmp = tempfile.mkdtemp(prefix="nb-riblt-")
        cls.template = os.path.join(cls.tmp, "template.sqlite")
        # Record i is the same bytes in every store only if every store is
        # dated from the same time.  Record i is dated i / 8 seconds after
        # it: three hours ago, the records up to OWN + 10 are in the past
        # and the newest a node holds is recent, as on a node that was not
        # away (one whose newest record is older than six hours starts with
        # Negentropy, test_a_node_back_from_days_away_...).
        cls.epoch = str(int(time.time()) - 3 * 3600)
        cls.away_epoch = str(int(time.time()) - 5 * 24 * 3600)
        subprocess.run([MAKE_STORE, "--store", cls.template, "--count", "0", "--time", cls.epoch],
                       check=True, stdout=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def node(self, name, ranges, config=(), epoch=None):
        """A node whose store holds records first .. first+count-1 of each
        range, of the template's neighbourhood, dated from `epoch`."""
        n = nb.NetNode(name, config=["peer_exchange = off"] + list(config))
        self.addCleanup(n.cleanup)
        os.makedirs(n.data_dir, mode=0o700, exist_ok=True)
        store = os.path.join(n.data_dir, "store.sqlite")
        shutil.copy(self.template, store)
        for first, count in ranges:
            subprocess.run([MAKE_STORE, "--store", store, "--first", str(first), "--count",
                            str(count), "--time", epoch or self.epoch], check=True,
                           stdout=subprocess.DEVNULL)
        return n

    def link_and_sync(self, a, b, records):
        """Starts A (unless it runs), then B dialing A; waits until both hold
        `records` and are in sync."""
        if a.proc is None:
            a.start()
        b.config_lines.append("peer = " + a.address)
        b.start()
        for n in (a, b):
            nb.wait_for("%s in sync with %d records" % (n.name, records),
                        lambda n=n: (lambda s: s["records"] == records and s["in_sync"])(n.status()),
                        timeout=120)

    def row(self, node, other):
        """`other`'s row in `node`'s peers."""
        for p in node.peers():
            if p["node"] == other.node_key and p["state"] == "connected":
                return p
        raise AssertionError("%s is not connected to %s" % (node.name, other.name))

    def test_nodes_that_differ_by_a_few_records_reconcile_with_coded_symbols(self):
        # B was away while A took ten records, and B took five of its own.
        a = self.node("A", [(0, SHARED + 10)])
        b = self.node("B", [(0, SHARED), (OWN, 5)])
        self.link_and_sync(a, b, SHARED + 15)
        nb.wait_for("B's peers row says riblt", lambda: self.row(b, a)["reconcile"] == "riblt")
        nb.wait_for("A's peers row says riblt", lambda: self.row(a, b)["reconcile"] == "riblt")
        self.assertIn("synchronised: by rateless reconciliation", b.log())
        self.assertNotIn("reconciling with Negentropy", b.log())
        # What the operator reads.
        out = b.operator.run("peers", json_out=False)
        self.assertEqual(out.rc, 0, out)
        self.assertIn("synced (riblt)", out.out)

    def test_two_thousand_differences_still_decode(self):
        # B lacks 2,000 of A's records: about 2,800 coded symbols decode
        # them, and the difference comes back in two parts of ids.
        a = self.node("A", [(0, 4000)])
        b = self.node("B", [(0, 2000)])
        self.link_and_sync(a, b, 4000)
        self.assertIn("reconciled: 0 to push, 2000 to fetch at most", b.log())
        self.assertIn("synchronised: by rateless reconciliation", b.log())
        self.assertNotIn("reconciling with Negentropy", b.log())

    def test_a_node_with_rateless_reconciliation_off_syncs_with_negentropy(self):
        a = self.node("A", [(0, SHARED + 10)])
        b = self.node("B", [(0, SHARED), (OWN, 5)], config=["reconcile_riblt = off"])
        self.link_and_sync(a, b, SHARED + 15)
        nb.wait_for("B's peers row says negentropy",
                    lambda: self.row(b, a)["reconcile"] == "negentropy")
        self.assertEqual(self.row(a, b)["reconcile"], "negentropy")
        self.assertIn("synchronised: by Negentropy", b.log())
        self.assertNotIn("rateless", b.log())

    def test_a_difference_too_large_for_coded_symbols_falls_back_to_negentropy(self):
        # B lacks every one of A's 3,000 records and holds one of its own:
        # more than 4,096 coded symbols decode.
        a = self.node("A", [(0, 3000)])
        b = self.node("B", [(OWN, 1)])
        self.link_and_sync(a, b, 3001)
        self.assertIn("rateless reconciliation could not decode the difference; reconciling "
                      "with Negentropy", b.log())
        self.assertIn("synchronised: by Negentropy (rateless could not decode)", b.log())
        # Once in sync, the next rounds find nothing apart with coded symbols again.
        nb.wait_for("B's peers row says riblt", lambda: self.row(b, a)["reconcile"] == "riblt")

    def test_a_node_that_holds_nothing_reconciles_with_negentropy_at_once(self):
        # Coded symbols cannot decode a difference that is the peer's whole
        # set: a new node sends none and gets the list of ids right away.
        a = self.node("A", [(0, 300)])
        b = self.node("B", [])
        self.link_and_sync(a, b, 300)
        self.assertIn("synchronised: by Negentropy, ", b.log())
        self.assertNotIn("could not decode", b.log())
        # Holding records now, its next rounds use coded symbols.
        nb.wait_for("B's peers row says riblt", lambda: self.row(b, a)["reconcile"] == "riblt")

    def test_a_node_back_from_days_away_reconciles_with_negentropy_first(self):
        # B was away five days while A took ten records: B's newest record
        # is days old, so what it lacks is the newest records, which
        # Negentropy's time-ordered ranges find without B streaming coded
        # symbols for them.  Once in sync, its rounds use coded symbols.
        a = self.node("A", [(0, SHARED + 10)], epoch=self.away_epoch)
        b = self.node("B", [(0, SHARED)], epoch=self.away_epoch)
        self.link_and_sync(a, b, SHARED + 10)
        self.assertIn("back after a while away: reconciling with Negentropy", b.log())
        self.assertIn("synchronised: by Negentropy, ", b.log())
        self.assertNotIn("could not decode", b.log())
        nb.wait_for("B's peers row says riblt", lambda: self.row(b, a)["reconcile"] == "riblt")
        self.assertEqual(b.log().count("back after a while away"), 1)

    def test_coded_symbols_follow_a_retraction(self):
        # A holds Alice's requests; she retracts one, which deletes it on A.
        # C, new with one record of its own, then reconciles with A: the
        # difference C's decoder finds is exactly the records A holds now,
        # not the one it deleted (A's coded symbols took it out when its
        # snapshot was read again, without hashing its whole set anew).
        a = self.node("A", [])
        a.start()
        alice = a.member("alice")
        alice.new_identity()
        rids = [alice.ask("Request %d" % i) for i in range(3)]
        # A's first round builds its coded symbols: B reconciles with it.
        b = self.node("B", [(OWN, 1)])
        self.link_and_sync(a, b, 4)
        alice.ok("retract", rids[0])
        nb.wait_for("the retraction on B", lambda: not b.has(rids[0]))
        held = a.status()["records"]
        c = self.node("C", [(OWN + 1, 1)], config=["peer = " + a.address])
        c.start()
        nb.wait_for("C in sync",
                    lambda: (lambda s: s["in_sync"] and s["records"] == held + 1)(c.status()),
                    timeout=120)
        self.assertIn("reconciled: 1 to push, %d to fetch at most" % held, c.log())
        self.assertIn("synchronised: by rateless reconciliation", c.log())
        self.assertFalse(c.has(rids[0]))
        # Built once, at A's first rateless round; followed the store since.
        self.assertEqual(a.log().count("built the coded symbols"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
