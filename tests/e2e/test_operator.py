#!/usr/bin/env python3
"""What a node operator does (docs/operating.md), through the real binaries:
noaberd --check-config, the control socket's group access for the system
service, noaberd backup while the daemon runs and a restore from it,
noaberd fsck on an intact and on a damaged store, and noaberd erase-member."""

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402


def noaberd(node, *args, timeout=120):
    return subprocess.run(
        [nb.NOABERD, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=node.env(),
    )


class CheckConfig(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        self.node = nb.Node()
        self.addCleanup(self.node.cleanup)

    def write(self, text):
        path = os.path.join(self.node.tmp, "noaberd.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_good_config_passes_and_shows_the_settings(self):
        # The packaged config's keys, in directories of this test's own.
        path = self.write(
            "# the packaged config\n"
            "data_dir = %s\n"
            "socket = %s/run/noaber/noaberd.sock\n"
            "socket_group_access = on\n"
            "log_level = info\n"
            "purge_grace = 1w\n" % (self.node.data_dir, self.node.tmp)
        )
        r = noaberd(self.node, "--check-config", "--config", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(path + ": ok", r.stdout)
        self.assertIn("data_dir = %s" % self.node.data_dir, r.stdout)
        self.assertIn("socket_group_access = on", r.stdout)
        # It checks and exits: nothing was created.
        self.assertFalse(os.path.exists(self.node.data_dir))

    def test_a_broken_config_names_the_file_the_line_and_the_problem(self):
        path = self.write("data_dir = /var/lib/noaber\n\nsockt = /run/noaber/noaberd.sock\n")
        r = noaberd(self.node, "--check-config", "--config", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("%s:3: unknown key 'sockt' (did you mean 'socket'?)" % path, r.stderr)
        self.assertEqual(r.stdout, "")

        path = self.write("socket_group_access = yes\n")
        r = noaberd(self.node, "--check-config", "--config", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("%s:1: socket_group_access must be on or off, not 'yes'" % path, r.stderr)

    def test_it_refuses_what_start_up_would_refuse(self):
        # A socket directory every user can enter: start-up refuses it, so
        # the check does too, in the same words.
        run_dir = os.path.join(self.node.tmp, "open")
        os.mkdir(run_dir)
        os.chmod(run_dir, 0o755)
        path = self.write("data_dir = %s\nsocket = %s/noaberd.sock\n" % (self.node.data_dir, run_dir))
        r = noaberd(self.node, "--check-config", "--config", path)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("refusing the socket directory %s: every user can enter it (mode 0755)" % run_dir,
                      r.stderr)
        self.assertEqual(r.stdout, "")
        self.node.socket = os.path.join(run_dir, "noaberd.sock")
        self.node.config_lines = ["data_dir = " + self.node.data_dir]
        with self.assertRaises(RuntimeError) as started:
            self.node.start(timeout=10)
        self.assertIn("every user can enter it (mode 0755)", str(started.exception))
        # A data directory that is a file.
        afile = os.path.join(self.node.tmp, "afile")
        open(afile, "w").close()
        path = self.write("data_dir = %s\n" % afile)
        r = noaberd(self.node, "--check-config", "--config", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("the data directory %s is not a directory" % afile, r.stderr)

    def test_a_missing_config_file_is_an_error(self):
        missing = os.path.join(self.node.tmp, "nope.conf")
        r = noaberd(self.node, "--check-config", "--config", missing)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(missing, r.stderr)


class SocketGroupAccess(unittest.TestCase):
    def start(self, config_text):
        node = nb.Node(config=config_text.splitlines())
        self.addCleanup(node.cleanup)
        # The socket's own directory, as systemd's RuntimeDirectory=noaber
        # with RuntimeDirectoryMode=0750 makes it.
        run_dir = os.path.join(node.tmp, "run")
        os.mkdir(run_dir, 0o750)
        os.chmod(run_dir, 0o750)
        node.socket = os.path.join(run_dir, "noaberd.sock")
        node.start()
        return node

    def test_the_service_socket_lets_its_group_in(self):
        node = self.start("socket_group_access = on\n")
        self.assertEqual(stat.S_IMODE(os.stat(node.socket).st_mode), 0o660)

    def test_by_default_the_socket_is_the_users_alone(self):
        node = self.start("log_level = info\n")
        self.assertEqual(stat.S_IMODE(os.stat(node.socket).st_mode), 0o600)


class Operator(nb.NodeTest):
    def lifecycle(self):
        """A request through assignment (with a sealed contact), an offer,
        and a retracted request: a store with every sort of row."""
        rid = self.alice.ask("Help with a form in Dutch", "paperwork")
        resp = self.bob.ok("respond", rid, "--note", "I can come on Friday")["id"]
        self.alice.ok("assign", rid, self.bob.key, "--contact", "Rue Haute 1, bell 3")
        oid = self.carol.offer()
        gone = self.carol.ask("A lift", "transport")
        self.carol.ok("retract", gone)
        return rid, resp, oid

    def ids(self, node):
        with node.control() as c:
            reply = c.call("list", limit=500)
            self.assertTrue(reply["ok"], reply)
            return sorted(item["id"].hex() for item in reply["result"]["items"])

    def record(self, node, rid):
        with node.control() as c:
            reply = c.call("get", prefix=rid)
            self.assertTrue(reply["ok"], reply)
            return reply["result"]["record"], [bytes(t) for t in reply["result"]["timeline"]]

    def fsck(self, data_dir):
        return noaberd(self.node, "fsck", "--data-dir", data_dir)

    def test_a_backup_taken_while_the_daemon_runs_restores_the_same_records(self):
        rid, resp, oid = self.lifecycle()
        before = {r: self.record(self.node, r) for r in (rid, oid)}

        # Keep the daemon writing while the backup runs: the backup must not
        # need the daemon's lock nor stop it.
        stop = threading.Event()
        posted = []
        # Asks begun: a record may be committed (and so be in the backup)
        # before its ask returns and lands in `posted`.
        begun = [0]

        def writer():
            i = 0
            while not stop.is_set() and i < 200:
                begun[0] += 1
                r = self.carol.run("ask", "--title", "Burst %d" % i, "--category", "other",
                                   "--area", "Marollen")
                if r.rc == 0:
                    posted.append(r.json()["id"])
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        try:
            while len(posted) < 3:
                time.sleep(0.05)
            dest = os.path.join(self.node.tmp, "backup")
            r = noaberd(self.node, "backup", dest, "--data-dir", self.node.data_dir)
            begun_before_end = begun[0]
        finally:
            stop.set()
            t.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("backed up", r.stdout)
        self.assertIsNone(self.node.proc.poll(), "the daemon kept running")
        self.assertTrue(self.alice.run("list").rc == 0)
        self.assertEqual(stat.S_IMODE(os.stat(dest).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(dest, "store.sqlite")).st_mode), 0o600)
        # One file, not a WAL that a copy could separate from its database.
        self.assertEqual(sorted(f for f in os.listdir(dest) if f.startswith("store")),
                         ["store.sqlite"])
        self.assertEqual(self.fsck(dest).returncode, 0)
        # The node key goes with the store, so a restored node is the same
        # node to its peers.
        node_key = os.path.join(self.node.data_dir, "node.key")
        if os.path.exists(node_key):
            with open(node_key, "rb") as a, open(os.path.join(dest, "node.key"), "rb") as b:
                self.assertEqual(a.read(), b.read())
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(dest, "node.key")).st_mode), 0o600)

        # Restore, as docs/operating.md says: the files into a new data
        # directory, and a node started on it.
        restored = nb.Node()
        self.addCleanup(restored.cleanup)
        os.mkdir(restored.data_dir, 0o700)
        for name in os.listdir(dest):
            with open(os.path.join(dest, name), "rb") as src:
                data = src.read()
            fd = os.open(os.path.join(restored.data_dir, name), os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        restored.start()

        with sqlite3.connect(os.path.join(dest, "store.sqlite")) as db:
            in_backup = sorted(row[0].hex() for row in db.execute(
                "SELECT id FROM records WHERE kind IN (1, 2)"))
            n_backup = db.execute("SELECT count(*) FROM records").fetchone()[0]
        self.assertEqual(self.ids(restored), in_backup)
        # Everything acknowledged before the backup began is in it.
        for pid in posted[:3]:
            self.assertIn(pid, in_backup)
        # Nothing asked for after the backup ended is in it.
        self.assertLessEqual(len([p for p in posted if p in in_backup]), begun_before_end)
        with restored.control() as c:
            status = c.call("status")["result"]
            original = self.node.control()
            try:
                ostatus = original.call("status")["result"]
            finally:
                original.close()
        self.assertEqual(status["records"], n_backup)
        self.assertEqual(status["neighbourhood_id"], ostatus["neighbourhood_id"])
        for r, (rec, timeline) in before.items():
            self.assertEqual(self.record(restored, r), (rec, timeline))
        # The sealed contact still opens for Bob on the restored node.
        bob = restored.member("bob")
        bob.identity = self.bob.identity
        self.assertEqual(bob.show(rid).get("contact"), "Rue Haute 1, bell 3")

    def test_fsck_passes_an_intact_store_and_names_a_corrupted_record(self):
        rid, resp, oid = self.lifecycle()
        r = self.fsck(self.node.data_dir)  # while the daemon runs
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"checked [1-9][0-9]* records .*: 0 bad records, 0 store problems")
        self.node.stop()

        full = self.record_id(rid)
        path = os.path.join(self.node.data_dir, "store.sqlite")
        with sqlite3.connect(path) as db:
            (blob,) = db.execute("SELECT bytes FROM records WHERE id = ?",
                                 (bytes.fromhex(full),)).fetchone()
            damaged = bytearray(blob)
            damaged[len(damaged) // 2] ^= 0x01
            db.execute("UPDATE records SET bytes = ? WHERE id = ?",
                       (bytes(damaged), bytes.fromhex(full)))
        r = self.fsck(self.node.data_dir)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("record %s: " % full, r.stdout)
        self.assertIn("do not hash to its id", r.stdout)
        self.assertIn("1 bad records", r.stdout)
        bad_lines = [line for line in r.stdout.splitlines() if line.startswith("record ")]
        self.assertEqual(len(bad_lines), 1, r.stdout)

    def test_fsck_finds_a_row_whose_columns_disagree_with_its_bytes(self):
        rid, resp, oid = self.lifecycle()
        self.node.stop()
        full = self.record_id(oid)
        with sqlite3.connect(os.path.join(self.node.data_dir, "store.sqlite")) as db:
            db.execute("UPDATE records SET created_at = created_at + 1 WHERE id = ?",
                       (bytes.fromhex(full),))
        r = self.fsck(self.node.data_dir)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("record %s: its created_at column does not match its bytes" % full, r.stdout)

    def test_fsck_finds_a_record_signed_for_another_neighbourhood(self):
        rid, resp, oid = self.lifecycle()
        self.node.stop()
        with sqlite3.connect(os.path.join(self.node.data_dir, "store.sqlite")) as db:
            (nid,) = db.execute("SELECT value FROM meta WHERE key = 'neighbourhood.id'").fetchone()
            other = bytes(b ^ 0xFF for b in nid)
            db.execute("UPDATE meta SET value = ? WHERE key = 'neighbourhood.id'", (other,))
        r = self.fsck(self.node.data_dir)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("not the id of the stored neighbourhood key", r.stdout)
        self.assertIn("signature does not verify", r.stdout)

    def record_id(self, prefix):
        with self.node.control() if self.node.proc else _Stored(self.node) as c:
            return c.full_id(prefix)

    def test_erase_member_deletes_a_members_records_for_good(self):
        rid, resp, oid = self.lifecycle()
        kept = self.bob.ask("Company for a walk", "company")
        full_rid = self.record_id(rid)
        request_bytes, _ = self.record(self.node, rid)
        alice_key = self.alice.key

        # The daemon holds the data directory: erase-member refuses to run
        # beside it rather than change the store under it.
        r = noaberd(self.node, "erase-member", alice_key, "--data-dir", self.node.data_dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("stop it first", r.stderr)

        self.node.stop()
        r = noaberd(self.node, "erase-member", "nbm1notakey", "--data-dir", self.node.data_dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a member key", r.stderr)
        path = os.path.join(self.node.data_dir, "store.sqlite")
        with sqlite3.connect(path) as db:
            (alice_raw,) = db.execute("SELECT author FROM records WHERE id = ?",
                                      (bytes.fromhex(full_rid),)).fetchone()
        r = noaberd(self.node, "erase-member", alice_key, "--data-dir", self.node.data_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Her request and her assignment, with Bob's response to the request.
        self.assertIn("erased 2 records by %s, 3 records in all" % alice_key, r.stdout)
        # What it does not reach, and what to ask the other operators.
        self.assertIn("on this node only", r.stdout)
        self.assertIn("other nodes of the\nneighbourhood still hold their copies", r.stdout)
        self.assertIn("noaberd erase-member %s" % alice_key, r.stdout)
        self.assertIn("noaber retract ID", r.stdout)
        with sqlite3.connect(path) as db:
            left = db.execute("SELECT count(*) FROM records WHERE author = ?",
                              (alice_raw,)).fetchone()[0]
            self.assertEqual(left, 0)
        # Nothing of the request is left in the file, not even in free pages.
        with open(path, "rb") as f:
            self.assertNotIn(b"Help with a form in Dutch", f.read())
        self.assertEqual(self.fsck(self.node.data_dir).returncode, 0)

        self.node.start()
        shown = self.alice.run("show", rid[:8])
        self.assertEqual(shown.rc, nb.EXIT_ERROR, repr(shown))
        self.assertIn("nothing on this node has that id", shown.err)
        self.assertEqual(self.bob.show(kept)["title"], "Company for a walk")
        self.assertEqual(self.carol.show(oid)["status"], "available")
        # A peer (or a client) offering the erased request again is refused:
        # the deletion sticks.
        with self.node.control() as c:
            reply = c.call("submit", record=request_bytes)
            self.assertFalse(reply["ok"], reply)
            self.assertEqual(reply["error"], "gone", reply)
            reply = c.call("get", record_id=bytes.fromhex(full_rid))
            self.assertEqual(reply["error"], "gone", reply)


class _Stored:
    """Reads ids from a stopped node's store."""

    def __init__(self, node):
        self.path = os.path.join(node.data_dir, "store.sqlite")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def full_id(self, prefix):
        with sqlite3.connect(self.path) as db:
            rows = [r[0].hex() for r in db.execute("SELECT id FROM records")]
        found = [r for r in rows if r.startswith(prefix)]
        assert len(found) == 1, (prefix, found)
        return found[0]


def _control_full_id(self, prefix):
    reply = self.call("get", prefix=prefix)
    if not reply.get("ok"):
        raise AssertionError(reply)
    return reply["result"]["id"].hex()


nb.Control.full_id = _control_full_id


if __name__ == "__main__":
    nb.main()
