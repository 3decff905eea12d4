"""Two noaberd on 127.0.0.1 talking to each other (docs/protocol.md, "Peer network").

Alice's node and Bob's node hold the same neighbourhood key (Bob's store starts
as a copy of Alice's, the way a restored backup would); each has its own node
key.  A request posted on one reaches the other by push, one posted while the
other was down arrives by reconciliation when it comes back, and a node of
another neighbourhood cannot connect: both logs say why in words.
"""

import os
import shutil
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nb  # noqa: E402


class PeerLinkTest(unittest.TestCase):
    def node(self, name, peers=()):
        """A node accepting peers on 127.0.0.1 at a port of its own, that
        dials `peers` (config `peer` lines)."""
        n = nb.NetNode(name, config=["peer = " + p for p in peers])
        self.addCleanup(n.cleanup)
        return n

    def log_lines(self, node, word):
        return [l for l in node.log().splitlines() if word in l]

    def test_records_reach_the_other_node(self):
        alice_node = self.node("alice")
        alice_node.start()
        alice_node.create_neighbourhood("Marollen")
        alice = alice_node.member("alice")
        alice.new_identity()
        first = alice.ask("Soup for a neighbour with the flu")
        alice_node.stop()

        # Bob's node starts from a copy of the store: same neighbourhood,
        # same records, its own node key.
        bob_node = self.node("bob", peers=[alice_node.address])
        os.makedirs(bob_node.data_dir, mode=0o700)
        shutil.copy(os.path.join(alice_node.data_dir, "store.sqlite"),
                    os.path.join(bob_node.data_dir, "store.sqlite"))
        alice_node.start()
        while_bob_was_away = alice.ask("A lift to Saint-Pierre hospital on Tuesday")
        # Responses and their requests arrive in id order, not in the order
        # they act on each other: a response that comes before its request
        # waits for it.
        carol = alice_node.member("carol")
        carol.new_identity()
        timeline = []
        for i in range(8):
            rid = alice.ask("Errand number %d" % i)
            timeline += [rid, carol.ok("respond", rid)["id"]]
        bob_node.start()

        # Catch-up by reconciliation: Bob's node dials, reconciles, fetches.
        nb.wait_for("bob to fetch the request posted while he was away",
                 lambda: bob_node.has(while_bob_was_away))
        self.assertTrue(bob_node.has(first))
        nb.wait_for("the requests and their responses", lambda: all(bob_node.has(r) for r in timeline))
        nb.wait_for("both nodes to report in_sync",
                 lambda: bob_node.call("status")["in_sync"] and alice_node.call("status")["in_sync"])
        self.assertEqual(bob_node.call("status")["peers"], 1)
        self.assertEqual(alice_node.call("status")["peers"], 1)

        # Push, both ways.
        live = alice.ask("Help with a letter from the commune")
        nb.wait_for("the new request to be pushed to bob", lambda: bob_node.has(live))
        bob = bob_node.member("bob")
        bob.new_identity()
        answer = bob.ask("Company for a walk in the park")
        nb.wait_for("bob's request to be pushed to alice", lambda: alice_node.has(answer))

        # Both nodes list each other: Bob dialed (out), Alice was dialed (in)
        # and learned Bob's listen address from his hello.
        bob_peers = bob_node.call("peers")
        self.assertEqual(len(bob_peers), 1, bob_peers)
        self.assertEqual(bob_peers[0]["address"], alice_node.address)
        self.assertEqual(bob_peers[0]["state"], "connected")
        self.assertEqual(bob_peers[0]["direction"], "out")
        self.assertEqual(bob_peers[0]["source"], "config")
        self.assertTrue(bob_peers[0]["synced"])
        self.assertGreaterEqual(bob_peers[0]["records_in"], 2)
        alice_peers = alice_node.call("peers")
        self.assertEqual([p["state"] for p in alice_peers], ["connected"], alice_peers)
        self.assertEqual(alice_peers[0]["direction"], "in")
        self.assertEqual(alice_peers[0]["address"], bob_node.address)
        # Each lists the other's node key, learned in the handshake.
        self.assertEqual(len(alice_peers[0]["node"]), 32)
        self.assertEqual(len(bob_peers[0]["node"]), 32)
        self.assertNotEqual(alice_peers[0]["node"], bob_peers[0]["node"])

        # What an operator sees: `noaber status` says in words that the node
        # is up to date, `noaber peers` lists the link.
        nb.wait_for("bob's node to be in sync again", lambda: bob_node.call("status")["in_sync"])
        text = bob.run("status", json_out=False)
        self.assertEqual(text.rc, 0, repr(text))
        self.assertIn("up to date with 1 peer", text.out)
        rows = bob.ok("peers")
        self.assertEqual([r["state"] for r in rows], ["connected"])
        self.assertTrue(rows[0]["node"].startswith("nbn1"), rows)
        self.assertEqual(rows[0]["address"], alice_node.address)
        table = bob.run("peers", json_out=False)
        self.assertIn(alice_node.address, table.out)
        self.assertIn("synced", table.out)

        # The node key file exists, private, and its key is logged.
        mode = os.stat(os.path.join(bob_node.data_dir, "node.key")).st_mode & 0o777
        self.assertEqual(mode, 0o600)
        self.assertTrue(self.log_lines(bob_node, "node key nbn1"))

        # A restarted node remembers its peers (they are kept in its store).
        alice_node.stop()
        alice_node.start()
        nb.wait_for("alice's node to reconnect after a restart",
                 lambda: alice_node.call("status")["peers"] == 1)

    def test_a_node_that_sends_invalid_records_is_cut_off(self):
        # Mallory's node holds the right neighbourhood key, but its store
        # also holds 20 records signed for another neighbourhood (copied in
        # behind the daemon's back): it pushes them, they do not verify.
        alice_node = self.node("alice")
        alice_node.start()
        alice_node.create_neighbourhood("Marollen")
        alice_node.stop()
        elsewhere = self.node("elsewhere")
        elsewhere.start()
        elsewhere.create_neighbourhood("Elsewhere")
        eve = elsewhere.member("eve")
        eve.new_identity()
        for i in range(20):
            eve.ask("Request number %d from another neighbourhood" % i)
        elsewhere.stop()
        mallory_node = self.node("mallory", peers=[alice_node.address])
        os.makedirs(mallory_node.data_dir, mode=0o700)
        store = os.path.join(mallory_node.data_dir, "store.sqlite")
        shutil.copy(os.path.join(alice_node.data_dir, "store.sqlite"), store)
        db = sqlite3.connect(store)
        db.execute("ATTACH DATABASE ? AS other", (os.path.join(elsewhere.data_dir, "store.sqlite"),))
        db.execute("INSERT INTO records SELECT * FROM other.records")
        db.commit()
        db.close()

        alice_node.start()
        mallory_node.start()
        nb.wait_for("alice's node to cut mallory's node off",
                 lambda: self.log_lines(alice_node, "more than 16 invalid messages"))
        self.assertEqual(alice_node.call("status")["records"], 0)
        rows = alice_node.call("peers")
        self.assertEqual(len(rows), 1, rows)
        self.assertGreater(rows[0]["invalid"], 16)
        self.assertNotEqual(rows[0]["state"], "connected")
        # It stays cut off: when mallory's node dials again it is refused,
        # by its address, before the handshake.
        nb.wait_for("mallory's node to be refused again",
                 lambda: self.log_lines(alice_node, "address banned for now"), timeout=20)
        self.assertEqual(alice_node.call("status")["records"], 0)
        # One warning about the bad records, not one per record.
        warnings = [l for l in self.log_lines(alice_node, "sent an invalid record")
                    if " warn: " in l]
        self.assertEqual(len(warnings), 1, warnings)

    def test_a_joining_node_stores_every_good_record_of_a_batch_with_bad_ones(self):
        # The serving node holds 200 requests and 100 responses to them,
        # and 5 records signed for another neighbourhood (copied into its
        # store behind its back).  A new node fetches them all in id order:
        # batches of records whose signatures are checked on worker threads
        # while the next are read, good and bad mixed, many responses before
        # their requests.  Each good record is stored, each bad one refused
        # and counted, one warning logged, and the link stays up.
        quiet = ["quota_hour = 0", "quota_day = 0"]
        serving = nb.NetNode("serving", sync_interval="120s", config=quiet)
        self.addCleanup(serving.cleanup)
        serving.start()
        serving.create_neighbourhood("Marollen")
        nid = serving.call("status")["neighbourhood_id"]
        signers = [nb.Signer(i) for i in range(1, 9)]
        now = int(time.time())
        requests, good = [], []
        with serving.control() as c:
            for i in range(200):
                rec, rid = nb.make_record(signers[i % 4], nid, "request",
                                          nb.request_body("Errand %d" % i, now=now),
                                          created_at=now - 600 + i)
                self.assertTrue(c.call("submit", record=rec).get("ok"))
                requests.append(rid)
            for i in range(100):
                rec, rid = nb.make_record(signers[4 + i % 4], nid, "response",
                                          {nb.F_TARGET: requests[i], nb.F_NOTE: "I can"},
                                          created_at=now - 300 + i)
                reply = c.call("submit", record=rec)
                self.assertTrue(reply.get("ok"), reply)
                good.append(rid)
        good += requests
        serving.stop()

        elsewhere = self.node("elsewhere")
        elsewhere.start()
        elsewhere.create_neighbourhood("Elsewhere")
        other_nid = elsewhere.call("status")["neighbourhood_id"]
        bad = []
        with elsewhere.control() as c:
            for i in range(5):
                rec, rid = nb.make_record(nb.Signer(20 + i), other_nid, "request",
                                          nb.request_body("Elsewhere %d" % i, now=now),
                                          created_at=now - 100 + i)
                self.assertTrue(c.call("submit", record=rec).get("ok"))
                bad.append(rid)
        elsewhere.stop()
        db = sqlite3.connect(os.path.join(serving.data_dir, "store.sqlite"))
        db.execute("ATTACH DATABASE ? AS other", (os.path.join(elsewhere.data_dir, "store.sqlite"),))
        db.execute("INSERT INTO records SELECT * FROM other.records")
        db.commit()
        db.close()
        serving.start()

        joining = nb.NetNode("joining", sync_interval="120s", config=quiet)
        self.addCleanup(joining.cleanup)
        joining.start()
        joining.join(serving.invite())
        nb.wait_for("the joining node to store the 300 good records",
                    lambda: joining.status()["records"] == len(good), timeout=60)
        rows = joining.peers()
        self.assertEqual([r["state"] for r in rows], ["connected"], rows)
        nb.wait_for("the 5 bad records to be counted",
                    lambda: joining.peers()[0]["invalid"] == len(bad))
        self.assertEqual(joining.peers()[0]["records_in"], len(good))
        for rid in good:
            self.assertTrue(joining.has(rid.hex()), rid.hex())
        for rid in bad:
            self.assertFalse(joining.has(rid.hex()), rid.hex())
        warnings = [l for l in self.log_lines(joining, "sent an invalid record") if " warn: " in l]
        self.assertEqual(len(warnings), 1, warnings)

    def test_another_neighbourhood_cannot_connect(self):
        alice_node = self.node("alice")
        alice_node.start()
        alice_node.create_neighbourhood("Marollen")
        stranger = self.node("stranger")
        stranger.start()
        stranger.create_neighbourhood("Elsewhere")
        operator = stranger.member("operator")
        text = operator.run("status", json_out=False)
        self.assertIn("no peers connected", text.out)
        self.assertEqual(operator.ok("peer", "add", alice_node.address)["address"],
                         alice_node.address)
        bad = operator.run("peer", "add", "not-an-address")
        self.assertEqual(bad.rc, nb.EXIT_USAGE, repr(bad))

        nb.wait_for("both sides to log the refusal",
                 lambda: self.log_lines(alice_node, "does not hold this neighbourhood's key")
                 and self.log_lines(stranger, "refused our handshake"))
        refusal = self.log_lines(alice_node, "does not hold this neighbourhood's key")[0]
        self.assertIn("neighbourhood", refusal)
        self.assertIn("127.0.0.1:", refusal)
        refused = self.log_lines(stranger, "refused our handshake")[0]
        self.assertIn("another neighbourhood", refused)
        self.assertIn(alice_node.address, refused)
        self.assertEqual(alice_node.call("status")["peers"], 0)
        self.assertEqual(stranger.call("status")["peers"], 0)
        self.assertFalse(stranger.call("status")["in_sync"])
        row = stranger.call("peers")[0]
        self.assertIn(row["state"], ("backoff", "connecting", "handshaking"))
        self.assertIn("neighbourhood", row["last_error"] or "")


if __name__ == "__main__":
    nb.main()
