#!/usr/bin/env python3
"""Ten nodes in a ring converge.

Node 1 creates the neighbourhood, node k joins with an invite from node k-1
(kept to node k-1's own address), and node 1 closes the ring with `peer add` to node 10.  Peer exchange is off,
so every node has exactly its two neighbours in the ring.  A record posted on
one node reaches all the others (the farthest is five hops away); records
posted on every node at once end up everywhere.

Prints how long a record took to cross the ring (a measurement, never
asserted)."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

N = 10


class Ring(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()

    def test_ten_nodes_in_a_ring_converge(self):
        nodes = []
        for i in range(N):
            n = nb.NetNode("n%d" % (i + 1), config=["peer_exchange = off"])
            self.addCleanup(n.cleanup)
            nodes.append(n.start())
        nodes[0].create_neighbourhood("Marollen")
        for prev, node in zip(nodes, nodes[1:]):
            # The invite would also name the nodes prev is connected to,
            # which would add chords to the ring.
            self.assertEqual(node.join(nb.invite_only_maker(prev.invite()))["peers"], 1)
        nodes[0].operator.ok("peer", "add", nodes[-1].address)

        keys = [n.node_key for n in nodes]
        for i, node in enumerate(nodes):
            want = {keys[(i - 1) % N], keys[(i + 1) % N]}
            nb.wait_for("%s linked to exactly its two neighbours" % node.name,
                        lambda node=node, want=want: node.connected_keys() == want, timeout=90)

        # One record around the ring, timed on every node.
        alice = nodes[0].member("alice")
        alice.new_identity()
        started = time.monotonic()
        rid = alice.ask("Groceries for Mrs Peeters")
        asked = time.monotonic() - started
        arrived = {}
        while len(arrived) < N and time.monotonic() - started < 120:
            for node in nodes:
                if node.name not in arrived and rid in node.ids():
                    arrived[node.name] = time.monotonic() - started
            time.sleep(0.02)
        self.assertEqual(len(arrived), N, "the record did not reach every node: %r" % arrived)
        print("\nring of %d: a record posted on n1 was on every node %.3f s after `noaber ask` "
              "started (the ask itself took %.3f s; n6, five hops away: %.3f s)"
              % (N, max(arrived.values()), asked, arrived["n6"]))

        # Every node posts at once; all end with the same records.
        posted = {rid}
        for node in nodes:
            m = node.member("m-" + node.name)
            m.new_identity()
            posted.add(m.ask("Company for a walk, from " + node.name, "company"))
        for node in nodes:
            nb.wait_for("%s to hold all %d records" % (node.name, len(posted)),
                        lambda node=node: node.ids() == posted, timeout=120)
        counts = {node.status()["records"] for node in nodes}
        self.assertEqual(counts, {len(posted)})


if __name__ == "__main__":
    nb.main()
