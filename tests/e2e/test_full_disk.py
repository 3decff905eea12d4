#!/usr/bin/env python3
"""A full disk, through the real binaries: the node's data directory on a
2 MiB tmpfs filled with ballast.  A post that cannot be stored says the disk
is full and names the directory, in the client and in the log; reads keep
working; once the ballast goes, posts are stored again without a restart.

Mounting a tmpfs needs root: elsewhere the test is skipped (exit 77)."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402


def can_mount_tmpfs():
    probe = tempfile.mkdtemp(prefix="nb-tmpfs-probe-")
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return r.stderr.strip() or "mount failed"
        subprocess.run(["umount", probe], check=True)
        return None
    except OSError as e:
        return str(e)
    finally:
        os.rmdir(probe)


def on_tmpfs(test, node):
    """Mounts a 2 MiB tmpfs as the node's data directory (before it starts)."""
    os.makedirs(node.data_dir, mode=0o700)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", node.data_dir],
                       capture_output=True, text=True)
    test.assertEqual(r.returncode, 0, r.stderr)
    test.addCleanup(subprocess.run, ["umount", "-l", node.data_dir])


def fill(directory):
    """Writes ballast until the file system is full; returns its path."""
    ballast = os.path.join(directory, "ballast")
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return ballast


class FullDisk(unittest.TestCase):
    """The data directory on a 2 MiB tmpfs, with ballast filling it."""

    def setUp(self):
        nb.require_binaries()
        self.node = nb.Node(config=["quota_hour = 0", "quota_day = 0"])
        self.addCleanup(self.node.cleanup)
        on_tmpfs(self, self.node)
        self.node.start()
        self.node.create_neighbourhood("Marollen")
        self.alice = self.node.member("alice")
        self.alice.new_identity()

    def test_a_full_disk_is_named_reads_go_on_and_writing_resumes(self):
        kept = self.alice.ask("Before the disk filled up")
        ballast = fill(self.node.data_dir)
        failed = None
        for i in range(500):
            r = self.alice.run("ask", "--title", "Post %d on a full disk" % i, "--category",
                               "other", "--area", "Marollen")
            if r.rc != 0:
                failed = r
                break
        self.assertIsNotNone(failed, "500 posts went through on a full disk")
        print("a post on a full disk: " + failed.err.strip())
        self.assertEqual(failed.out, "")
        self.assertIn("is full (ENOSPC)", failed.err)
        self.assertIn(self.node.data_dir, failed.err)
        self.assertIn("free space there", failed.err)
        self.assertIn("is full (ENOSPC)", self.node.log())
        self.assertNotIn("input/output error", self.node.log())

        # Reads keep working.
        self.assertEqual(self.alice.show(kept)["title"], "Before the disk filled up")
        # Space returns: the next post is stored without a restart.
        os.unlink(ballast)
        rid = self.alice.ask("After space returned")
        self.assertEqual(self.alice.show(rid)["title"], "After space returned")


class FullDiskPeer(unittest.TestCase):
    """A node whose disk is full while a peer sends it records."""

    def test_records_a_node_could_not_keep_leave_it_not_up_to_date_until_space_returns(self):
        nb.require_binaries()
        a = nb.NetNode("A", config=["peer_exchange = off", "quota_hour = 0", "quota_day = 0"])
        self.addCleanup(a.cleanup)
        # A sync interval far longer than the test: catching up after space
        # returns is the backoff's doing.
        b = nb.NetNode("B", sync_interval="10m", config=["peer_exchange = off"])
        self.addCleanup(b.cleanup)
        on_tmpfs(self, b)
        a.start()
        b.start()
        a.create_neighbourhood("Marollen")
        b.join(nb.invite_only_maker(a.invite()))
        nb.wait_for("B linked and up to date", lambda: b.status().get("in_sync") and b.status()["peers"] == 1)
        ballast = fill(b.data_dir)
        alice = a.member("alice")
        alice.new_identity()
        posted = {alice.ask("Request %d while B's disk is full" % i) for i in range(20)}

        def not_up_to_date():
            out = b.operator.run("status", json_out=False).out
            return out if "not up to date" in out else None
        out = nb.wait_for("B to say it is not up to date", not_up_to_date)
        print("B's status on a full disk: " + [l for l in out.splitlines() if "Peers:" in l][0])
        self.assertIn("could not be kept", out)
        self.assertIn("could not be kept", b.log())
        self.assertIn("is full (ENOSPC)", b.log())

        os.unlink(ballast)
        nb.wait_for("B to hold every record once space returns", lambda: posted <= b.ids(), timeout=90)
        nb.wait_for("B up to date again",
                    lambda: "up to date with 1 peer" in b.operator.run("status", json_out=False).out)


if __name__ == "__main__":
    nb.require_binaries()
    why = can_mount_tmpfs()
    if why is not None:
        print("skipped: this test mounts a small tmpfs, which needs root (%s)" % why)
        sys.exit(77)
    unittest.main(verbosity=2)
