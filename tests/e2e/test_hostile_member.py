#!/usr/bin/env python3
"""A member who means harm, through real daemons (issue 12): a retraction of
someone else's request that reaches a node before the request, and one
author flooding the neighbourhood through a peer link and through the
client.  Records the client would never sign are signed with nb.py's signer.
"""
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402
from nb import NetNode, wait_for  # noqa: E402

# The longest a retraction of a record a node does not hold is kept
# (docs/protocol.md, "Retention"): NB_EXPIRY_MAX + NB_FUTURE_SKEW.
KEEP_UNSEEN = 90 * 24 * 3600 + 600


def neighbourhood_id(node):
    return node.call("status")["neighbourhood_id"]


def to_nowhere(code):
    """The invite's neighbourhood with an address where nothing listens: the
    node that joins links to nobody until the test says so."""
    inv = nb.invite_decode(code)
    key = inv["addresses"][0][0]
    return nb.invite_encode(inv["name"], inv["key"], inv["expires_at"],
                            [(key, "127.0.0.1:%d" % nb.free_port())])


class HostileMember(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        self.nodes = []

    def node(self, name, config=()):
        n = NetNode(name, config=["peer_exchange = off"] + list(config))
        self.addCleanup(n.cleanup)
        self.nodes.append(n)
        return n

    def authored(self, node, signer):
        """Ids (hex) of the requests `signer` signed that `node` holds."""
        items = node.call("list", author=signer.pk, limit=500)["items"]
        return {item["id"].hex() for item in items}

    def test_a_retraction_by_another_member_cannot_erase_a_request(self):
        """Cas retracts Alice's request.  His node H holds the retraction (as
        a node of his would); the victim node C gets it from H before it
        has Alice's request; then the request arrives from A.  Every node
        ends with the request and without the retraction."""
        a, h, c = self.node("a"), self.node("h"), self.node("c")
        a.start()
        a.operator.ok("neighbourhood", "create", "Marollen")
        code = to_nowhere(a.invite())
        for n in (h, c):
            n.start()
            n.join(code)
        nid = neighbourhood_id(a)

        alice = a.member("alice")
        alice.new_identity()
        rid = alice.ask("A lift to the hospital on Thursday")
        rid_bytes = bytes.fromhex(rid)

        # Cas's retraction, put in H's store as a node that took it from
        # some peer keeps it: H does not hold the request either.
        cas = nb.Signer(0xCA)
        now = int(time.time())
        retraction, xid = nb.make_record(cas, nid, "retraction", {nb.F_TARGET: rid_bytes},
                                         created_at=now)
        # No node takes it from a client: the target is not there.
        with h.control() as ctl:
            reply = ctl.call("submit", record=retraction)
        self.assertEqual(reply["error"], "not_found", reply)
        h.stop()
        db = sqlite3.connect(os.path.join(h.data_dir, "store.sqlite"))
        with db:
            db.execute("INSERT INTO records(id, kind, author, created_at, expires_at, target, root,"
                       " bytes) VALUES (?, 9, ?, ?, ?, ?, NULL, ?)",
                       (xid, cas.pk, now, now + KEEP_UNSEEN, rid_bytes, retraction))
        db.close()
        h.start()
        self.assertTrue(h.has(xid.hex()))

        # C learns of the retraction first, and keeps it: it decides nothing yet.
        c.operator.ok("peer", "add", h.address)
        wait_for("C holds Cas's retraction", lambda: c.has(xid.hex()))
        self.assertFalse(c.has(rid))

        # Then the request reaches C.
        c.operator.ok("peer", "add", a.address)
        wait_for("C holds Alice's request", lambda: c.has(rid))
        wait_for("C dropped Cas's retraction", lambda: not c.has(xid.hex()))
        # H learns the request through C and drops the retraction too; A
        # never takes it.
        wait_for("H holds Alice's request", lambda: h.has(rid))
        wait_for("H dropped Cas's retraction", lambda: not h.has(xid.hex()))
        for n in (a, h, c):
            self.assertTrue(n.has(rid), n)
            self.assertFalse(n.has(xid.hex()), n)
            self.assertEqual(n.call("get", prefix=rid)["status"], "open", n)
        for n in (a, h, c):
            st = n.status()
            self.assertEqual(st["records"], 1, (n, st))

    def test_a_flooding_member_stops_at_the_first_honest_node(self):
        """P takes everything (its quota is off); N, the first honest node,
        keeps 5 records per member per hour; Q sits behind N.  Cas pushes 12
        records dated in one hour into P: N stores 5, relays 5, names Cas in
        its log once, and shows him in `noaber status`.  Then Dora posts as
        much through her client on N, and is told why the next is refused."""
        n = self.node("n", config=["quota_hour = 5", "quota_day = 20"])
        p = self.node("p", config=["quota_hour = 0", "quota_day = 0"])
        q = self.node("q")
        n.start()
        n.operator.ok("neighbourhood", "create", "Marollen")
        code = nb.invite_only_maker(n.invite())
        for other in (p, q):
            other.start()
            other.join(code)
        wait_for("N linked to P and Q", lambda: len(n.connected_keys()) == 2)
        nid = neighbourhood_id(n)

        cas = nb.Signer(0xC5)
        at = int(time.time()) - 60  # one created_at: one hour window whatever the clock does
        flood = []
        with p.control() as ctl:
            for i in range(12):
                rec, rid = nb.make_record(cas, nid, "request",
                                          nb.request_body("lifts for sale %d" % i, now=at),
                                          created_at=at)
                reply = ctl.call("submit", record=rec)
                self.assertTrue(reply["ok"], reply)
                flood.append(rid.hex())
        self.assertEqual(len(self.authored(p, cas)), 12)

        def over_quota(node):
            return {(o["author"], o["window"]): o for o in node.status()["over_quota"]}

        wait_for("N refused the 7 over the quota",
                 lambda: over_quota(n).get((cas.pk.hex(), "hour"), {}).get("refused") == 7)
        self.assertEqual(len(self.authored(n, cas)), 5)
        wait_for("Q holds what N kept", lambda: len(self.authored(q, cas)) == 5)
        self.assertEqual(self.authored(q, cas), self.authored(n, cas))
        # Nothing more arrives with the next rounds: N tombstoned the rest.
        before = n.status()["tombstones"]
        self.assertGreaterEqual(before, 7)
        self.assertEqual(len(self.authored(n, cas)), 5)

        named = [line for line in n.log().splitlines()
                 if cas.pk.hex() in line and "signed more than" in line]
        self.assertEqual(len(named), 1, named)
        self.assertIn("signed more than 5 records dated in one hour", named[0])

        # Through the client: Dora fills her hour, then asks once more.  The
        # records are dated now; a full hour must fit before the boundary.
        wait_for("two minutes left in this hour", lambda: time.time() % 3600 < 3480,
                 timeout=130, interval=1)
        dora = n.member("dora")
        dora.new_identity()
        signer = dora.signer()
        with n.control() as ctl:
            for i in range(5):
                rec, _ = nb.make_record(signer, nid, "request",
                                        nb.request_body("soup %d" % i))
                reply = ctl.call("submit", record=rec)
                self.assertTrue(reply["ok"], reply)
        r = dora.run("ask", "--title", "one more soup", "--category", "meals", "--area", "Marollen")
        self.assertEqual(r.rc, nb.EXIT_REFUSED, r)
        self.assertIn("this member has signed 5 records dated in this hour (UTC), the most a node "
                      "accepts", r.err)

        text = n.operator.run("status", json_out=False)
        self.assertEqual(text.rc, 0, text)
        self.assertIn("Over quota:", text.out)
        self.assertIn(cas.pk.hex()[:16], text.out)
        self.assertIn(signer.pk.hex()[:16], text.out)


if __name__ == "__main__":
    nb.main()
