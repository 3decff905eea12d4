#!/usr/bin/env python3
"""Contact details sealed to the assigned helper never reach the node's disk
or log in clear, only the helper's client opens them, and a restart keeps
every record and its derived state."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

CONTACT = "Rue Haute 12, 3rd floor, +32 470 12 34 56"
# The whole text and distinctive parts of it, as they might be stored.
NEEDLES = [CONTACT, "Rue Haute 12", "3rd floor", "470 12 34 56", "+32 470", "470123456"]


class Sealed(nb.NodeTest):
    def node_files(self):
        """Every file the node wrote: its data directory and its log."""
        paths = [self.node.log_path]
        for top, _, files in os.walk(self.node.data_dir):
            paths += [os.path.join(top, f) for f in files]
        return paths

    def assertNowhereInClear(self):
        paths = self.node_files()
        names = [os.path.basename(p) for p in paths]
        self.assertTrue(any(n.endswith((".db", ".sqlite")) for n in names), names)
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            for needle in NEEDLES:
                for form in (needle.encode(), needle.encode("utf-16-le")):
                    self.assertNotIn(form, data, "%r found in %s" % (needle, path))

    def test_contact_is_sealed_on_disk_and_survives_restart(self):
        alice, bob, carol = self.alice, self.bob, self.carol
        rid = alice.ask("Carry a new mattress upstairs", "repairs", "Marollen",
                        "--details", "The lift is broken this week.")
        bob.ok("respond", rid, "--note", "With my brother, Saturday")
        carol.ok("respond", rid)
        alice.ok("assign", rid, bob.key, "--contact", CONTACT)
        oid = carol.offer("Soup on Fridays", "meals", "Marollen")
        alice.ok("respond", oid)

        # The contact exists, and Bob's client can open it...
        self.assertEqual(bob.show(rid)["contact"], CONTACT)
        # ...while the node holds it only sealed, in the database, its WAL and its log.
        # (WAL mode keeps a -wal file while the database is open: it is searched too.)
        self.assertTrue([p for p in self.node_files() if p.endswith("-wal")], self.node_files())
        self.assertNowhereInClear()

        before_list = carol.ok("list")
        before = {m.name: m.show(rid) for m in (alice, bob, carol)}
        before_offer = carol.show(oid)
        self.node.restart()

        self.assertEqual(carol.ok("list"), before_list)
        for m in (alice, bob, carol):
            self.assertEqual(m.show(rid), before[m.name])
        self.assertEqual(carol.show(oid), before_offer)
        self.assertEqual(bob.show(rid)["contact"], CONTACT)
        self.assertNotIn("contact", carol.show(rid))
        self.assertTrue(carol.show(rid)["sealed"])

        # The lifecycle goes on after the restart.
        bob.ok("done", rid)
        alice.ok("confirm", rid)
        self.assertEqual(carol.show(rid)["status"], "done")

        self.node.stop()
        self.assertNowhereInClear()


if __name__ == "__main__":
    nb.main()
