#!/usr/bin/env python3
"""Faults an operator meets (docs/operating.md, "When things go wrong"), through
the real binaries: a record changed on disk is never served and comes back
from a peer; damaged indexes read as damage; a changed neighbourhood key stops
the node at start; a lost store does not start as a new node; a backup of a
damaged store fails; a peer that stops answering is not counted as up to
date; a local user cannot hold the control socket.  The full disk is
test_full_disk.py's."""

import json
import os
import signal
import sqlite3
import subprocess
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402


def noaberd(node, *args, timeout=120):
    return subprocess.run([nb.NOABERD, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, env=node.env())


def store_path(node):
    return os.path.join(node.data_dir, "store.sqlite")


def full_id(node, prefix):
    """The full id of a record, from the (stopped) node's store."""
    with sqlite3.connect(store_path(node)) as db:
        for (rid,) in db.execute("SELECT id FROM records"):
            if rid.hex().startswith(prefix):
                return rid.hex()
    raise AssertionError("no record starts with " + prefix)


def lone_node(test):
    """A running node with a neighbourhood, and Alice with an identity."""
    n = nb.Node()
    test.addCleanup(n.cleanup)
    n.start()
    n.create_neighbourhood("Marollen")
    alice = n.member("alice")
    alice.new_identity()
    return n, alice


def peered_pair(test):
    """Nodes A and B of one neighbourhood, linked, A up to date."""
    a = nb.NetNode("A", config=["peer_exchange = off"])
    b = nb.NetNode("B", config=["peer_exchange = off"])
    for n in (a, b):
        test.addCleanup(n.cleanup)
        n.start()
    a.create_neighbourhood("Marollen")
    b.join(nb.invite_only_maker(a.invite()))
    nb.wait_for("A up to date", lambda: a.status().get("in_sync") and a.status()["peers"] == 1)
    return a, b


def flip_record_byte(node, rid, title):
    """Changes one byte of the record's title in the stopped node's store,
    as a failing disk would: the title reads differently, the id stays."""
    with sqlite3.connect(store_path(node)) as db:
        (blob,) = db.execute("SELECT bytes FROM records WHERE id = ?", (bytes.fromhex(rid),)).fetchone()
        at = bytes(blob).index(title.encode())
        damaged = bytearray(blob)
        damaged[at] ^= 0x01  # "Groceries" becomes "Froceries"
        db.execute("UPDATE records SET bytes = ? WHERE id = ?", (bytes(damaged), bytes.fromhex(rid)))
    return bytes(damaged[at:at + len(title)]).decode()


class Damage(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()

    def node(self, name):
        n = nb.NetNode(name, config=["peer_exchange = off"])
        self.addCleanup(n.cleanup)
        return n.start()

    def test_a_changed_byte_is_refused_logged_once_and_fetched_again_from_a_peer(self):
        a, b = self.node("A"), self.node("B")
        a.create_neighbourhood("Marollen")
        b.join(nb.invite_only_maker(a.invite()))
        alice = a.member("alice")
        alice.new_identity()
        title = "Groceries from the market"
        rid = alice.ask(title)
        nb.wait_for("the request on B", lambda: b.has(rid))
        b.stop()
        altered = flip_record_byte(b, full_id(b, rid), title)
        b.start()

        r = b.operator.run("show", rid)
        self.assertNotEqual(r.rc, 0, repr(r))
        self.assertNotIn(altered, r.out + r.err)
        self.assertIn("damaged", r.err)
        self.assertIn("noaberd fsck", r.err)
        # The node removed the damaged copy and fetched the record again.
        shown = nb.wait_for("the intact record back on B",
                            lambda: (lambda r: r.json() if r.rc == 0 else None)(b.operator.run("show", rid)))
        self.assertEqual(shown["title"], title)
        lines = [line for line in b.log().splitlines() if "was damaged in the store" in line]
        self.assertEqual(len(lines), 1, b.log())
        self.assertIn(full_id(b, rid) if b.proc is None else rid, lines[0])
        # A listing never shows the damaged bytes either.
        self.assertNotIn(altered, b.operator.run("list").out)

    def test_a_lone_node_refuses_a_damaged_record_and_lists_the_rest(self):
        n, alice = lone_node(self)
        title = "Groceries from the market"
        rid = alice.ask(title)
        other = alice.ask("A ladder for the gutter")
        n.stop()
        altered = flip_record_byte(n, full_id(n, rid), title)
        n.start()
        r = alice.run("show", rid)
        self.assertEqual(r.rc, nb.EXIT_ERROR, repr(r))
        self.assertIn("damaged", r.err)
        self.assertNotIn(altered, r.out + r.err)
        listed = alice.run("list")
        self.assertEqual(listed.rc, 0, repr(listed))
        self.assertIn(other[:8], listed.out)
        self.assertNotIn(altered, listed.out)

    def test_a_damaged_index_reads_as_damage_not_internal(self):
        n, alice = lone_node(self)
        rid = alice.ask()
        # While the index is whole, an id the node never held is simply not found.
        r = alice.run("show", "ab" * 32)
        self.assertNotEqual(r.rc, 0, repr(r))
        self.assertIn("nothing on this node has that id", r.err)
        self.assertNotIn("damaged", r.err)
        n.stop()
        full = bytes.fromhex(full_id(n, rid))
        # The last byte of the id in the id index's entry changes; the table
        # row keeps the right id, and the page stays a valid b-tree.
        with sqlite3.connect(store_path(n)) as db:
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            pages = {p for (p,) in db.execute(
                "SELECT pageno FROM dbstat WHERE name = 'sqlite_autoindex_records_1'")}
        with open(store_path(n), "r+b") as f:
            data = f.read()
            at = -1
            while True:
                at = data.find(full, at + 1)
                self.assertNotEqual(at, -1, "the id is not in the index's pages")
                if at // page_size + 1 in pages:
                    break
            f.seek(at + len(full) - 1)
            f.write(bytes([full[-1] ^ 0x01]))
        r = noaberd(n, "fsck", "--data-dir", n.data_dir)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("missing from index", r.stdout)
        n.start()
        # The full id finds no entry in the damaged index; a look at the
        # entries around it tells that from a record the node lacks.
        r = alice.run("show", full.hex())
        self.assertEqual(r.rc, nb.EXIT_ERROR, repr(r))
        self.assertIn("index of record ids is damaged", r.err)
        self.assertIn("noaberd fsck", r.err)
        self.assertNotIn("nothing on this node has that id", r.err)
        # The short prefix a person types finds the damaged index entry,
        # which leads to a row with another id.
        r = alice.run("show", rid[:12])
        self.assertNotEqual(r.rc, 0, repr(r))
        self.assertIn("damaged", r.err)
        self.assertIn("noaberd fsck", r.err)
        self.assertNotIn("internal", r.err)
        # The row the damaged entry leads to goes, with the entry, so that a
        # peer's copy can take its place.
        nb.wait_for("the damage in the log", lambda: "was damaged in the store" in n.log())

    def test_a_changed_neighbourhood_key_stops_the_node_at_start(self):
        n = nb.Node()
        self.addCleanup(n.cleanup)
        n.start()
        n.create_neighbourhood("Marollen")
        n.stop()
        with sqlite3.connect(store_path(n)) as db:
            (key,) = db.execute("SELECT value FROM meta WHERE key = 'neighbourhood.key'").fetchone()
            key = bytearray(key)
            key[5] ^= 0x40
            db.execute("UPDATE meta SET value = ? WHERE key = 'neighbourhood.key'", (bytes(key),))
        with self.assertRaises(RuntimeError):
            n.start()
        self.assertIn("does not match the neighbourhood's id: the store is damaged", n.log())
        self.assertIn("restore the store from a backup", n.log())
        n.stopped()

    def test_a_damaged_node_key_names_the_fix(self):
        n, _ = lone_node(self)
        n.stop()
        path = os.path.join(n.data_dir, "node.key")
        with open(path) as f:
            text = f.read()
        at = text.index("nbn1") + 10
        with open(path, "w") as f:
            f.write(text[:at] + ("q" if text[at] != "q" else "p") + text[at + 1:])
        before = len(n.log())
        with self.assertRaises(RuntimeError):
            n.start()
        n.stopped()
        log = n.log()[before:]
        self.assertIn("restore %s from a backup, or move it aside" % path, log)

    def test_a_backup_of_a_damaged_store_fails_and_writes_nothing(self):
        n, alice = lone_node(self)
        rid = alice.ask()
        n.stop()
        flip_record_byte(n, full_id(n, rid), "Groceries")
        dest = os.path.join(n.tmp, "backup")
        r = noaberd(n, "backup", dest, "--data-dir", n.data_dir)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("is damaged", r.stderr)
        self.assertIn("no backup was written", r.stderr)
        self.assertIn("do not hash to its id", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(dest, "store.sqlite")))
        self.assertFalse(os.path.exists(os.path.join(dest, "store.sqlite.partial")))


def wal_path(node):
    return store_path(node) + "-wal"


def damaged_wal_copies(node):
    return [f for f in os.listdir(node.data_dir) if f.startswith("store.sqlite-wal.damaged-")]


class DamagedWal(unittest.TestCase):
    """The store's write-ahead log damaged after a kill -9 (before a
    checkpoint moved it into the store): SQLite would drop every committed
    transaction after the damage without a word; the node says so, keeps a
    copy, and fetches the records again from a peer."""

    def setUp(self):
        nb.require_binaries()

    def test_a_flipped_byte_in_the_wal_is_logged_kept_and_healed_from_a_peer(self):
        a, b = peered_pair(self)
        alice = a.member("alice")
        alice.new_identity()
        nb.wait_for("A up to date", lambda: a.status().get("in_sync"))
        before = os.path.getsize(wal_path(a))
        rids = [alice.ask("Soup on day %d" % i) for i in range(3)]
        for rid in rids:
            nb.wait_for("the request on B", lambda: b.has(rid))
        a.kill9()
        # A byte in the first frame written after the requests were posted
        # changes: its checksum fails, and SQLite would drop it with every
        # frame after it.
        self.assertGreater(os.path.getsize(wal_path(a)), before + 2 * 4096)
        with open(wal_path(a), "r+b") as f:
            f.seek(before + 24 + 100)
            byte = f.read(1)
            f.seek(before + 24 + 100)
            f.write(bytes([byte[0] ^ 0x10]))
        with open(wal_path(a), "rb") as f:
            damaged = f.read()
        r = noaberd(a, "fsck", "--data-dir", a.data_dir)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("write-ahead log", r.stdout)
        self.assertIn("fails its checksum", r.stdout)
        logged = len(a.log())
        a.start()
        log = a.log()[logged:]
        print([line for line in log.splitlines() if "write-ahead log" in line][0])
        self.assertIn("store.sqlite-wal was damaged: frame", log)
        self.assertIn("fails its checksum", log)
        self.assertRegex(log, r"holding [1-9][0-9]* committed transactions?")
        self.assertIn("fetched again from its peers", log)
        copies = damaged_wal_copies(a)
        self.assertEqual(len(copies), 1, os.listdir(a.data_dir))
        self.assertIn(os.path.join(a.data_dir, copies[0]), log)
        with open(os.path.join(a.data_dir, copies[0]), "rb") as f:
            self.assertEqual(f.read(), damaged)
        out = a.operator.run("status", json_out=False).out
        self.assertIn("committed records were lost at start", out)
        # B holds the requests: A fetches them again.
        for rid in rids:
            nb.wait_for("the request back on A", lambda: a.has(rid))

    def test_a_truncated_wal_is_logged_and_fsck_names_it(self):
        n, alice = lone_node(self)
        # A kill -9 alone loses nothing and says nothing.
        n.kill9()
        logged = len(n.log())
        n.start()
        self.assertNotIn("write-ahead log", n.log()[logged:])
        before = os.path.getsize(wal_path(n))
        rid = alice.ask("A ladder for the gutter")
        n.kill9()
        with open(wal_path(n), "r+b") as f:
            f.truncate(before + 100)
        r = noaberd(n, "fsck", "--data-dir", n.data_dir)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("it ends 100 bytes into a frame: it was cut short", r.stdout)
        self.assertEqual(damaged_wal_copies(n), [])  # fsck only looks
        logged = len(n.log())
        n.start()
        log = n.log()[logged:]
        self.assertIn("it ends 100 bytes into a frame: it was cut short", log)
        self.assertEqual(len(damaged_wal_copies(n)), 1)
        # A node without peers has lost the request, and says so.
        r = alice.run("show", rid)
        self.assertNotEqual(r.rc, 0, repr(r))
        self.assertIn("committed records were lost at start",
                      alice.run("status", json_out=False).out)


    def test_a_wal_cut_at_a_commit_is_caught_by_the_mark_beside_it(self):
        n, alice = lone_node(self)
        before = os.path.getsize(wal_path(n))
        alice.ask("A ladder for the gutter")
        n.kill9()
        # Cut exactly where the request's transaction began: what is left
        # is a valid, shorter WAL, which SQLite replays without a word.
        with open(wal_path(n), "r+b") as f:
            f.truncate(before)
        logged = len(n.log())
        n.start()
        log = n.log()[logged:]
        self.assertIn("store.sqlite-wal was damaged: it holds", log)
        self.assertIn("its end was cut off", log)
        self.assertEqual(len(damaged_wal_copies(n)), 1)
        # A clean stop empties the WAL and the mark with it: the next start
        # says nothing.
        n.stop()
        logged = len(n.log())
        n.start()
        self.assertNotIn("write-ahead log", n.log()[logged:])


class LostStore(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        self.node = nb.Node()
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.node.create_neighbourhood("Marollen")
        self.marker = os.path.join(self.node.data_dir, "neighbourhood.id")

    def test_an_emptied_store_does_not_start_as_a_new_node(self):
        self.assertTrue(os.path.exists(self.marker))
        self.node.stop()
        before = len(self.node.log())
        with open(store_path(self.node), "wb"):
            pass  # truncated to 0 bytes
        for suffix in ("-wal", "-shm"):
            if os.path.exists(store_path(self.node) + suffix):
                os.unlink(store_path(self.node) + suffix)
        with self.assertRaises(RuntimeError):
            self.node.start()
        self.node.stopped()
        log = self.node.log()[before:]
        self.assertIn("holds no neighbourhood, but this node belonged to neighbourhood", log)
        self.assertIn("restore the store from a backup", log)
        self.assertIn("remove " + self.marker, log)
        self.assertNotIn("run `noaber neighbourhood create", log)

        r = noaberd(self.node, "fsck", "--data-dir", self.node.data_dir)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("the store was lost or replaced", r.stdout)

        # Starting afresh is a decision the operator takes by removing the marker.
        os.unlink(self.marker)
        self.node.start()
        self.assertIn("no neighbourhood yet", self.node.log())

    def test_the_marker_is_written_again_for_a_node_that_predates_it(self):
        self.node.stop()
        os.unlink(self.marker)
        self.node.start()
        with open(self.marker) as f:
            marked = f.read().strip()
        with self.node.control() as c:
            nid = c.call("status")["result"]["neighbourhood_id"]
        self.assertEqual(marked, nid.hex())


class SilentPeer(unittest.TestCase):
    def test_a_peer_that_stops_answering_is_not_counted_as_up_to_date(self):
        nb.require_binaries()
        a, b = peered_pair(self)
        # B stops answering, its links left up: as a partition that drops
        # packets looks from A.
        os.kill(b.proc.pid, signal.SIGSTOP)
        try:
            out = nb.wait_for("A to say B is silent",
                              lambda: (lambda o: o if "silent" in o else None)(
                                  a.operator.run("status", json_out=False).out))
            print("A's status with B stopped: " + [l for l in out.splitlines() if "Peers:" in l][0])
            self.assertIn("not up to date: 1 of 1 peer silent for over 15 s", out)
            self.assertFalse(a.status()["in_sync"])
            self.assertIn("silent", a.operator.run("peers", json_out=False).out)
        finally:
            os.kill(b.proc.pid, signal.SIGCONT)
        nb.wait_for("A up to date again",
                    lambda: "up to date with 1 peer" in a.operator.run("status", json_out=False).out)

    def test_a_silent_link_is_closed_and_dialed_again_so_a_healed_partition_heals(self):
        nb.require_binaries()
        a, b = peered_pair(self)
        alice = a.member("alice")
        alice.new_identity()
        os.kill(b.proc.pid, signal.SIGSTOP)
        try:
            # A closes the link that answers no ping instead of keeping it
            # until a long silence timeout; meanwhile a request is posted.
            nb.wait_for("A to close the silent link",
                        lambda: "answered no ping for 25 s; closing the link and dialing again"
                        in a.log(), timeout=90)
            closed_at = a.log().index("answered no ping for 25 s")
            rid = alice.ask("Soup for the neighbour who is ill")
        finally:
            os.kill(b.proc.pid, signal.SIGCONT)
        # The partition heals: a new link comes up (whichever side dials)
        # and the request posted during the partition reaches B.
        nb.wait_for("a new link between A and B",
                    lambda: "connected (" in a.log()[closed_at:], timeout=60)
        nb.wait_for("the request on B", lambda: b.has(rid), timeout=60)
        nb.wait_for("A up to date again",
                    lambda: "up to date with 1 peer" in a.operator.run("status", json_out=False).out)


# Run as another user in the socket's group: opens connections to the
# socket until refused, reports what it saw, then holds them without a word.
HOLDER = r"""
import json, socket, struct, sys, time
path, n = sys.argv[1], int(sys.argv[2])
held, refused = [], None
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(0.5)
    try:
        head = s.recv(4)
    except socket.timeout:
        held.append(s)
        continue
    if len(head) == 4:
        body = s.recv(struct.unpack(">I", head)[0])
        refused = body.decode("utf-8", "replace")
    break
print(json.dumps({"held": len(held), "refused": refused}), flush=True)
t0 = time.monotonic()
closed = 0
for s in held:
    s.settimeout(120)
    if s.recv(1) == b"":
        closed += 1
print(json.dumps({"closed": closed, "after": round(time.monotonic() - t0)}), flush=True)
"""


class ControlSocket(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        if os.geteuid() != 0:
            self.skipTest("needs root to run a second user")
        self.node = nb.Node(config=["socket_group_access = on"])
        self.addCleanup(self.node.cleanup)
        os.chmod(self.node.tmp, 0o750)  # the socket's directory: the group may enter
        self.node.start()

    def test_one_user_cannot_hold_the_socket_and_idle_connections_close(self):
        def other_user():
            os.setgid(0)  # the socket's group, as members of `noaber` are
            os.setuid(65534)
        # The system's python: the test's own may live where that user
        # cannot read.
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        holder = subprocess.Popen([python, "-c", HOLDER, self.node.socket, "64"],
                                  stdout=subprocess.PIPE, text=True, preexec_fn=other_user)
        def stop_holder():
            holder.kill()
            holder.wait()
            holder.stdout.close()
        self.addCleanup(stop_holder)
        first = json.loads(holder.stdout.readline())
        self.assertEqual(first["held"], 16, first)
        self.assertIn("this user already has 16 control connections open", first["refused"])
        # The operator still gets in, with the other user's 16 held.
        with self.node.control() as c:
            self.assertTrue(c.call("hello")["ok"])
        self.assertEqual(self.node.member("alice").run("status").rc, 0)
        # Idle connections are closed by the daemon.
        second = json.loads(holder.stdout.readline())
        self.assertEqual(second["closed"], 16, second)
        self.assertIn("refusing a control connection from uid 65534", self.node.log())


def read_frame(sock):
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return head + body


class LosingProxy:
    """A control socket in front of the daemon's that passes everything on,
    except that it loses the answer to the first `submit`: the daemon
    stores the record, and the client sees its connection close."""

    def __init__(self, target, path):
        self.target = target
        self.path = path
        self.lost = threading.Event()
        self.submits = 0
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        self.server.listen(4)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        with client, socket.socket(socket.AF_UNIX) as daemon:
            daemon.connect(self.target)
            while True:
                request = read_frame(client)
                if request is None:
                    return
                daemon.sendall(request)
                reply = read_frame(daemon)
                if reply is None:
                    return
                if nb.mp_unpack(request[4:]).get("op") == "submit":
                    self.submits += 1
                    if not self.lost.is_set():
                        self.lost.set()
                        return  # the record is stored; its answer is lost
                client.sendall(reply)

    def close(self):
        self.server.close()


class Retry(unittest.TestCase):
    def test_a_lost_answer_resubmits_the_same_signed_bytes_and_stores_one_record(self):
        nb.require_binaries()
        n, alice = lone_node(self)
        proxy = LosingProxy(n.socket, os.path.join(n.tmp, "losing.sock"))
        self.addCleanup(proxy.close)
        alice.socket = proxy.path
        r = alice.run("ask", "--title", "Soup for a neighbour with flu", "--category", "meals",
                      "--area", "Marollen")
        self.assertEqual(r.rc, 0, repr(r))
        print("noaber after a lost answer: " + r.err.strip().replace("\n", " / "))
        self.assertIn("closed the connection before it answered; sending the same signed bytes",
                      r.err)
        self.assertIn("stores only once", r.err)
        self.assertEqual(proxy.submits, 2)
        rid = r.json()["id"]
        self.assertIn(rid[:16], r.err)
        # One record, under the id the client printed.
        with n.control() as c:
            items = c.call("list", limit=500)["result"]["items"]
        self.assertEqual([i["id"].hex() for i in items], [rid])


if __name__ == "__main__":
    nb.require_binaries()
    unittest.main(verbosity=2)
