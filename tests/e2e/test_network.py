#!/usr/bin/env python3
"""A neighbourhood of several nodes, built with invites, through the real
binaries on 127.0.0.1 (docs/protocol.md, "Peer network" and "Invites").

Nodes A, B and C stand in a line A - B - C: A creates the neighbourhood, B
joins with A's invite, C with B's (kept to B's own address: an invite also
names the nodes its maker is connected to).  Peer exchange is off, so C never
learns A's address and everything between A and C goes through B.  A request takes
its whole lifecycle across the line; a partition heals; a retraction sticks
even against a node that was away when it happened; a node of another
neighbourhood cannot connect and says why; invites refuse what they must.
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

CONTACT = "Blaesstraat 40, bell 2, +32 470 99 88 77"


class Network(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()

    def node(self, name, **kw):
        n = nb.NetNode(name, config=["peer_exchange = off"], **kw)
        self.addCleanup(n.cleanup)
        return n.start()

    def line(self, *names):
        """Nodes in a line, each joined with an invite from the one before."""
        nodes = [self.node(name) for name in names]
        nodes[0].create_neighbourhood("Marollen")
        for prev, node in zip(nodes, nodes[1:]):
            # The invite would also name the nodes prev is connected to.
            joined = node.join(nb.invite_only_maker(prev.invite()))
            self.assertEqual(joined["neighbourhood"], "Marollen")
            self.assertEqual(joined["peers"], 1)
        for prev, node in zip(nodes, nodes[1:]):
            self.wait_linked(prev, node)
        return nodes

    def wait_linked(self, a, b, timeout=60):
        nb.wait_for("%s and %s connected" % (a.name, b.name),
                    lambda: b.node_key in a.connected_keys() and a.node_key in b.connected_keys(),
                    timeout=timeout)

    def shows(self, node, rid):
        """The request as a member on `node` sees it, or None if not there."""
        r = node.operator.run("show", rid)
        return r.json() if r.rc == 0 else None

    def test_a_request_crosses_a_line_of_nodes_through_its_whole_lifecycle(self):
        a, b, c = self.line("A", "B", "C")
        # The line is a line: C reaches A only through B.
        self.assertNotIn(a.node_key, c.connected_keys())
        self.assertNotIn(c.node_key, a.connected_keys())

        alice = a.member("alice")
        alice.new_identity()
        carol = c.member("carol")
        carol.new_identity()

        rid = alice.ask("Groceries for Mrs Peeters", "groceries", "Marollen", "--urgency", "today")
        nb.wait_for("the request on C", lambda: self.shows(c, rid))
        carol.ok("respond", rid, "--note", "I can go at five")
        nb.wait_for("Carol's response on A", lambda: len(alice.show(rid)["responses"]) == 1)
        self.assertEqual(alice.show(rid)["responses"][0]["author"], carol.key)

        alice.ok("assign", rid, carol.key, "--contact", CONTACT)
        nb.wait_for("the sealed contact readable on C", lambda: carol.show(rid).get("contact") == CONTACT)
        self.assertEqual(carol.show(rid)["status"], "assigned")
        # B carried the contact but cannot read it, and it is not in its store in the clear.
        self.assertNotIn("contact", self.shows(b, rid))
        for name in os.listdir(b.data_dir):
            with open(os.path.join(b.data_dir, name), "rb") as f:
                self.assertNotIn(CONTACT.encode(), f.read(), name)

        carol.ok("done", rid)
        nb.wait_for("the done claim on A", lambda: alice.show(rid)["status"] == "done_claimed")
        alice.ok("confirm", rid, "--thanks", "Dank je wel, Carol!")
        for node in (a, b, c):
            nb.wait_for("done on " + node.name, lambda node=node: self.shows(node, rid)["status"] == "done")
        # Still a line at the end.
        self.assertNotIn(a.node_key, c.connected_keys())

    def test_a_partition_heals_when_the_middle_node_returns(self):
        a, b, c = self.line("A", "B", "C")
        alice = a.member("alice")
        alice.new_identity()
        carol = c.member("carol")
        carol.new_identity()
        before = alice.ask("Soup for a neighbour with the flu")
        nb.wait_for("the first request on C", lambda: before in c.ids())

        b.stop()
        on_a = [alice.ask("A lift to Saint-Pierre on Tuesday", "transport"),
                alice.offer("Dutch lessons on Wednesday evenings", "paperwork")]
        on_c = [carol.ask("Help with a form from the commune", "paperwork"),
                carol.ask("Company for a walk in the Marollen", "company")]
        # Without B the two sides cannot hear each other.
        time.sleep(3)
        self.assertEqual(a.ids(), {before, *on_a})
        self.assertEqual(c.ids(), {before, *on_c})

        b.start()
        everything = {before, *on_a, *on_c}
        for node in (a, b, c):
            nb.wait_for("%s to hold every record" % node.name, lambda node=node: node.ids() == everything)
        counts = {node.name: node.status()["records"] for node in (a, b, c)}
        self.assertEqual(len(set(counts.values())), 1, counts)

    def test_a_retraction_sticks_against_a_node_that_was_away(self):
        # A - C - D: D has the record, goes away, A retracts, C learns it;
        # D comes back connected to C only.
        a, c, d = self.line("A", "C", "D")
        alice = a.member("alice")
        alice.new_identity()
        rid = alice.ask("Keys to the community garden", "other")
        nb.wait_for("the record on D", lambda: rid in d.ids())

        d.stop()
        alice.ok("retract", rid)
        nb.wait_for("the retraction on C", lambda: rid not in c.ids())
        gone = c.operator.run("show", rid)
        self.assertEqual(gone.rc, nb.EXIT_ERROR, repr(gone))
        self.assertIn("retracted", gone.err)

        d.start()
        self.wait_linked(c, d)
        # D loses the record; C never shows it again, however often they reconcile.
        nb.wait_for("D to lose the record", lambda: rid not in d.ids())
        # D fetched the retraction before pushing what C lacked: it pushed
        # nothing, so C had nothing to refuse.
        nb.wait_for("D in sync", lambda: d.status()["in_sync"])
        self.assertEqual(sum(p["records_out"] for p in d.peers()), 0, d.peers())
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            self.assertNotIn(rid, c.ids())
            self.assertNotIn(rid, d.ids())
            time.sleep(0.5)
        self.assertNotIn(a.node_key, d.connected_keys())
        # And a member on D cannot bring it back either.
        refused = d.operator.run("show", rid)
        self.assertNotEqual(refused.rc, 0)

    def test_a_node_of_another_neighbourhood_cannot_connect_and_says_why(self):
        a = self.node("A")
        a.create_neighbourhood("Marollen")
        stranger = nb.NetNode("stranger", config=["peer = " + a.address])
        self.addCleanup(stranger.cleanup)
        stranger.start()
        stranger.create_neighbourhood("Elsewhere")
        alice = a.member("alice")
        alice.new_identity()
        rid = alice.ask("Soup for a neighbour with the flu")

        def refusal():
            return [line for line in stranger.log().splitlines()
                    if a.address in line and "neighbourhood" in line]
        lines = nb.wait_for("the stranger's log to say why it cannot connect", refusal)
        self.assertIn("another neighbourhood", lines[0])
        nb.wait_for("A's log to say why it refused",
                    lambda: "does not hold this neighbourhood's key" in a.log())
        self.assertEqual(stranger.status()["peers"], 0)
        self.assertEqual(a.status()["peers"], 0)
        self.assertNotIn(rid, stranger.ids())

    def test_invites_refuse_what_they_must(self):
        a = self.node("A")
        # No neighbourhood, no invite.
        r = a.operator.run("invite")
        self.assertEqual(r.rc, nb.EXIT_ERROR, repr(r))
        self.assertIn("no neighbourhood", r.err)
        with a.control() as ctl:
            reply = ctl.call("invite")
        self.assertEqual(reply["error"], "refused")
        a.create_neighbourhood("Marollen")

        # The code names A: its address and its node key; it holds the key
        # of A's neighbourhood and expires when asked.
        before = int(time.time())
        code = a.invite("--expires", "2h")
        inv = nb.invite_decode(code)
        self.assertEqual(inv["name"], "Marollen")
        self.assertEqual(inv["addresses"][0], (a.node_key, a.address))
        self.assertTrue(before + 7200 <= inv["expires_at"] <= int(time.time()) + 7200)
        # Human output: the warning, and the code alone on the last line.
        human = a.operator.run("invite", json_out=False)
        self.assertEqual(human.rc, 0, repr(human))
        lines = human.out.rstrip("\n").split("\n")
        self.assertTrue(lines[-1].startswith("nbi1") and " " not in lines[-1], lines[-1])
        self.assertIn("house key", human.out)
        self.assertEqual(nb.invite_decode(lines[-1])["key"], inv["key"])
        # The default is 7 days.
        week = nb.invite_decode(a.invite())["expires_at"] - int(time.time())
        self.assertTrue(7 * 86400 - 60 <= week <= 7 * 86400, week)

        b = self.node("B")
        # A typo is caught before anything reaches the node.
        typo = code[:20] + ("0" if code[20] != "0" else "1") + code[21:]
        r = b.operator.run("join", typo)
        self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
        self.assertIn("typo", r.err)
        # A code that lost its end is incomplete, never a typo, wherever it
        # was cut (the length characters after nbi1 say how long it is).
        for cut in (1, 2, 3, 5, 8, 13, len(code) // 2, len(code) - 5):
            r = b.operator.run("join", code[:-cut])
            self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
            self.assertIn("incomplete", r.err)
        r = b.operator.run("join", code + "xy")
        self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
        self.assertIn("damaged", r.err)
        r = b.operator.run("join", "nbm1txd9g0c2p45bfnabzv9wjs07787e2wqkvak269df08d6hxr7a4dajwkks4")
        self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
        self.assertIn("not an invite", r.err)
        # The daemon checks for itself too.
        with b.control() as ctl:
            reply = ctl.call("join", code=typo)
        self.assertEqual(reply["error"], "bad_request")
        self.assertIn("typo", reply["message"])
        self.assertIsNone(b.status()["neighbourhood"])

        # An expired code (made by hand with A's own key and address).
        expired = nb.invite_encode("Marollen", inv["key"], int(time.time()) - 1, inv["addresses"])
        r = b.operator.run("join", expired)
        self.assertEqual(r.rc, nb.EXIT_REFUSED, repr(r))
        self.assertIn("expired", r.err)
        self.assertIsNone(b.status()["neighbourhood"])

        # The real code works, from standard input too; twice is harmless.
        joined = b.operator.run("join", "-", stdin=code + "\n")
        self.assertEqual(joined.rc, 0, repr(joined))
        self.assertEqual(joined.json(), {"neighbourhood": "Marollen", "peers": 1, "already": False})
        again = b.join(code)
        self.assertTrue(again["already"])
        self.assertEqual(b.status()["neighbourhood_id"], a.status()["neighbourhood_id"])
        self.wait_linked(a, b)
        # B's own invite names B first, then A, which it is connected to.
        names = [addr for _, addr in nb.invite_decode(b.invite())["addresses"]]
        self.assertEqual(names, [b.address, a.address])

        # A node of another neighbourhood refuses the code.
        c = self.node("C")
        c.create_neighbourhood("Elsewhere")
        r = c.operator.run("join", code)
        self.assertEqual(r.rc, nb.EXIT_REFUSED, repr(r))
        self.assertIn("another neighbourhood", r.err)
        self.assertEqual(c.status()["neighbourhood"], "Elsewhere")

    def test_peers_lists_a_connected_node_once(self):
        # B's invite names A by its node key at an address where nothing
        # listens (A moved, say), so B knows A's key before they meet.
        a = self.node("A")
        b = self.node("B")
        a.create_neighbourhood("Marollen")
        inv = nb.invite_decode(a.invite())
        moved = "127.0.0.1:%d" % nb.free_port()
        b.join(nb.invite_encode(inv["name"], inv["key"], inv["expires_at"], [(a.node_key, moved)]))
        # Then A dials B: one link, inbound on B, under A's real address.
        a.operator.ok("peer", "add", b.address)
        self.wait_linked(a, b)
        rows = b.peers()
        connected = [r for r in rows if r["state"] == "connected"]
        self.assertEqual(len(connected), 1, rows)
        self.assertEqual(connected[0]["node"], a.node_key)
        self.assertEqual(connected[0]["address"], a.address)
        self.assertEqual(connected[0]["direction"], "in")
        self.assertEqual([r["node"] for r in rows].count(a.node_key), 1, rows)
        self.assertEqual(len(b.operator.ok("peers")), len(rows))

    def test_a_node_that_cannot_listen_makes_no_invite(self):
        # Another program holds the node's peer port.
        squatter = socket.socket()
        self.addCleanup(squatter.close)
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        a = nb.NetNode("A")
        self.addCleanup(a.cleanup)
        a.peer_port = squatter.getsockname()[1]
        a.start()
        a.create_neighbourhood("Marollen")
        r = a.operator.run("invite")
        self.assertEqual(r.rc, nb.EXIT_REFUSED, repr(r))
        self.assertIn("does not accept connections from other nodes", r.err)
        self.assertEqual(r.out, "")


if __name__ == "__main__":
    nb.main()
