#!/usr/bin/env python3
"""LAN discovery on loopback multicast (docs/protocol.md, "LAN discovery").

Nodes A and B belong to one neighbourhood and know no address of each other:
B joined with a code that names only B itself (made here from A's invite), so
only beacons can bring them together.  Node E, of another neighbourhood, hears
their beacons and ignores them, and they ignore E's.

All three listen on 127.0.0.1, so their beacons go out on the loopback
interface.  Where multicast does not work at all (no route, or nothing comes
back), the test prints SKIP with the reason and exits 77.
"""

import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

GROUP = "239.255.74.47"
SKIPPED = []


def multicast_problem():
    """None if a datagram sent to the group on loopback comes back, else why not."""
    port = nb.free_port()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        rx.bind(("", port))
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                      socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1"))
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        tx.sendto(b"noaber discovery test", (GROUP, port))
        rx.settimeout(3)
        data, _ = rx.recvfrom(64)
        return None if data == b"noaber discovery test" else "a different datagram arrived"
    except OSError as e:
        return "multicast on the loopback interface does not work here: %s" % e
    finally:
        rx.close()
        tx.close()


class Discovery(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()

    def node(self, name):
        n = nb.NetNode(name, discovery=True)
        self.addCleanup(n.cleanup)
        return n.start()

    def skip_unless_beacons_flow(self, nodes):
        for n in nodes:
            if "cannot send LAN discovery beacons" in n.log():
                SKIPPED.append("%s cannot send beacons: see its log" % n.name)
                self.skipTest(SKIPPED[-1])
            if "LAN discovery is off: cannot" in n.log():
                SKIPPED.append("%s: %s" % (n.name, [l for l in n.log().splitlines() if "LAN discovery is off" in l][0]))
                self.skipTest(SKIPPED[-1])

    def test_nodes_of_one_neighbourhood_find_each_other_and_ignore_others(self):
        a = self.node("A")
        a.create_neighbourhood("Marollen")
        b = self.node("B")
        # A's invite, rewritten to name only B itself: B joins the
        # neighbourhood but learns no address from the code (a node skips
        # its own node key).
        inv = nb.invite_decode(a.invite())
        lonely = nb.invite_encode(inv["name"], inv["key"], inv["expires_at"], [(b.node_key, b.address)])
        self.assertEqual(b.join(lonely)["peers"], 0)
        self.assertEqual(b.peers(), [])
        e = self.node("E")
        e.create_neighbourhood("Elsewhere")

        def found():
            self.skip_unless_beacons_flow((a, b, e))
            return b.node_key in a.connected_keys() and a.node_key in b.connected_keys()
        try:
            nb.wait_for("A and B to discover each other", found, timeout=100)
        except AssertionError:
            if not any("discovered node" in n.log() or "ignoring a discovery beacon" in n.log()
                       for n in (a, b, e)):
                SKIPPED.append("no node received any beacon within 100 s")
                self.skipTest(SKIPPED[-1])
            raise

        # They found each other through beacons, and only each other.
        rows = a.peers() + b.peers()
        self.assertEqual({r["source"] for r in rows if r["state"] == "connected"} & {"discovery"},
                         {"discovery"}, rows)
        self.assertNotIn(e.node_key, a.connected_keys() | b.connected_keys())
        self.assertIn("discovered node " + nb.base32_checked_encode("nbn1", "noaber/node-key/v1", b.node_key), a.log())

        # E heard their beacons and ignored them, and they ignored E's.
        nb.wait_for("E to log an ignored beacon",
                    lambda: "ignoring a discovery beacon" in e.log(), timeout=70)
        ignored = [l for l in e.log().splitlines() if "ignoring a discovery beacon" in l]
        self.assertIn("another neighbourhood", ignored[0])
        self.assertEqual(e.peers(), [])
        self.assertEqual(e.status()["peers"], 0)
        for n in (a, b):
            self.assertFalse([r for r in n.peers() if r["node"] == e.node_key])

        # And the neighbourhood works across the link beacons made.
        alice = a.member("alice")
        alice.new_identity()
        rid = alice.ask("Soup for a neighbour with the flu")
        nb.wait_for("the request on B", lambda: rid in b.ids())
        self.assertNotIn(rid, e.ids())


if __name__ == "__main__":
    nb.require_binaries()
    problem = multicast_problem()
    if problem is not None:
        print("SKIP: " + problem)
        sys.exit(77)
    result = unittest.main(verbosity=2, exit=False).result
    if SKIPPED and result.wasSuccessful():
        print("SKIP: " + "; ".join(SKIPPED))
        sys.exit(77)
    sys.exit(0 if result.wasSuccessful() else 1)
