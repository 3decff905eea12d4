#!/usr/bin/env python3
"""A burst of 1,000 posts through the real client, with the daemon killed
(-9) in the middle: every id the client printed survives, and the database
passes SQLite's integrity check.  Prints the posts per second it measured."""

import os
import sqlite3
import sys
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

POSTS = 1000
WORKERS = 4


class Durability(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        # One member posts a thousand requests in seconds: far over the
        # quota per member (docs/config.md), which this test is not about.
        self.node = nb.Node(config=["quota_hour = 0", "quota_day = 0"])
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.node.create_neighbourhood("Marollen")
        self.alice = self.node.member("alice")
        self.alice.new_identity()

    def post(self, i):
        r = self.alice.run("ask", "--title", "Burst request %d" % i, "--category", "other",
                           "--area", "Marollen", "--expires", "30d")
        if r.rc == 0:
            rid = r.json()["id"]
            with self.lock:
                self.printed[i] = rid
            return True
        # A post that was not answered must say so; it never prints an id.
        self.assertEqual(r.out, "", repr(r))
        self.assertIn(r.rc, (nb.EXIT_ERROR, nb.EXIT_UNREACHABLE), repr(r))
        return False

    def databases(self):
        found = []
        for top, _, files in os.walk(self.node.data_dir):
            found += [os.path.join(top, f) for f in files if f.endswith((".db", ".sqlite"))]
        return found

    def test_burst_with_kill9_in_the_middle(self):
        self.lock = threading.Lock()
        self.printed = {}
        killed = threading.Event()
        kill_info = {}
        t0 = time.monotonic()

        def killer():
            while not killed.is_set():
                with self.lock:
                    n = len(self.printed)
                if n >= POSTS // 2:
                    kill_info["posts"] = n
                    kill_info["seconds"] = time.monotonic() - t0
                    self.node.kill9()
                    killed.set()
                    return
                time.sleep(0.005)

        watcher = threading.Thread(target=killer)
        watcher.start()
        with ThreadPoolExecutor(WORKERS) as pool:
            done = list(pool.map(self.post, range(POSTS)))
        killed.set()
        watcher.join()
        self.assertIn("posts", kill_info, "the burst ended before the daemon was killed")
        rate = kill_info["posts"] / kill_info["seconds"]
        print("burst: %d posts in %.2f s before kill -9 = %.1f posts/s (%d client processes)"
              % (kill_info["posts"], kill_info["seconds"], rate, WORKERS))
        lost = [i for i, ok in enumerate(done) if not ok]
        print("burst: %d posts answered, %d not answered (daemon down)" % (len(self.printed), len(lost)))
        self.assertGreater(len(lost), 0, "every post succeeded: the kill came too late to test anything")

        # Restart on the same data; every printed id is there.  A kill in
        # the middle of a commit leaves at most an unfinished transaction at
        # the end of the WAL, never one that reads as damage.
        logged = len(self.node.log())
        self.node.start()
        self.assertNotIn("write-ahead log", "".join(
            line for line in self.node.log()[logged:].splitlines(True) if " error: " in line))
        answered = dict(self.printed)
        with self.node.control() as c:
            for i, rid in answered.items():
                reply = c.call("get", record_id=bytes.fromhex(rid))
                self.assertTrue(reply["ok"], (i, rid, reply))
                self.assertEqual(reply["result"]["status"], "open")

        # The rest of the burst goes through after the restart.
        with ThreadPoolExecutor(WORKERS) as pool:
            again = list(pool.map(self.post, lost))
        self.assertTrue(all(again))
        self.assertEqual(len(self.printed), POSTS)
        self.assertEqual(len(set(self.printed.values())), POSTS)
        with self.node.control() as c:
            for i in lost:
                reply = c.call("get", record_id=bytes.fromhex(self.printed[i]))
                self.assertTrue(reply["ok"], (i, reply))
        # With 1,000 ids, some share their first 4 hex digits (about 7 pairs are
        # expected): such a prefix names no record, and the client says so,
        # lists the records it matches, and exits with the usage code.
        by_prefix = {}
        for rid in self.printed.values():
            by_prefix.setdefault(rid[:4], []).append(rid)
        shared = [p for p, ids in by_prefix.items() if len(ids) > 1]
        if shared:
            r = self.alice.run("show", shared[0])
            self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
            self.assertIn("several records", r.err)
            for rid in by_prefix[shared[0]]:
                self.assertIn(rid[:16], r.err)
            longer = by_prefix[shared[0]][0][:12]
            self.assertEqual(self.alice.ok("show", longer)["id"], by_prefix[shared[0]][0])
        else:
            print("burst: no two ids share 4 hex digits this time; ambiguity not exercised")
        records = self.alice.ok("status")["records"]
        self.assertGreaterEqual(records, POSTS)

        self.node.stop()
        dbs = self.databases()
        self.assertTrue(dbs, "no database file in %s" % self.node.data_dir)
        for path in dbs:
            con = sqlite3.connect(path)
            try:
                self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)], path)
            finally:
                con.close()


if __name__ == "__main__":
    nb.main()
