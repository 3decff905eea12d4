#!/usr/bin/env python3
"""End-to-end tests of noaberd: the real binary in a temporary directory,
spoken to over its control socket with nb.py's msgpack codec and framing.

Needs NOABER_BUILD_ROOT (set by meson) to find the binaries.  Records are
signed with nb.py's pure-Python Ed25519 so that submit is exercised end to
end without the client.
"""
import os
import signal
import socket
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402
from nb import F_EXPIRES_AT, F_NOTE, F_TARGET, make_record, request_body  # noqa: E402
from nb import Signer  # noqa: E402
from nb import mp_pack as enc  # noqa: E402

NOABERD = nb.NOABERD


# ---- the daemon -------------------------------------------------------------

class Daemon(nb.Node):
    """nb.Node with its files in the test's directory, its socket in a
    directory noaberd makes itself (run/), extra flags, and a stop() that
    says how noaberd exited."""

    def __init__(self, root, extra=()):
        super().__init__(tmp=root)
        self.socket = os.path.join(root, "run", "noaberd.sock")
        self.member_socket = os.path.join(root, "run", "noaberd-member.sock")
        self.extra = list(extra)

    def argv(self):
        return super().argv() + self.extra

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError("noaberd did not stop on %s" % sig)
        self.stopped()
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Conn(nb.Control):
    """A control connection that can also send raw bytes (malformed frames)
    and whose calls assert that noaberd answered."""

    def __init__(self, path):
        super().__init__(path, timeout=20)

    def send_raw(self, data):
        self.sock.sendall(data)

    def read(self):
        """The next message, or None when the daemon closed the connection."""
        return self.read_frame()

    def result(self, op, **args):
        reply = self.call(op, **args)
        assert reply["ok"] is True, reply
        return reply["result"]


# ---- the tests -------------------------------------------------------------

def expect_error_and_close(d, raw, what):
    c = Conn(d.socket)
    c.send_raw(raw)
    reply = c.read()
    if reply is not None:
        assert reply["ok"] is False and reply["error"] == "bad_request", (what, reply)
        assert reply["id"] is None, (what, reply)
        assert c.read() is None, what + ": connection stays open"
    c.close()
    # The daemon keeps serving.
    c = Conn(d.socket)
    assert c.result("hello")["version"] == 1, what
    c.close()


def daemon_with_a_request(tmp, neighbourhood, member, title):
    """A started daemon with a neighbourhood and one request in it; returns
    the daemon, the neighbourhood id, the request and its id."""
    d = Daemon(tmp).start()
    c = Conn(d.socket)
    nid = c.result("neighbourhood.create", name=neighbourhood)["neighbourhood_id"]
    rec, rid = make_record(member, nid, "request", request_body(title))
    c.result("submit", record=rec)
    c.close()
    return d, nid, rec, rid


class DaemonTests(unittest.TestCase):
    """Each test gets a fresh directory; its daemon lives in it."""

    def setUp(self):
        nb.require_binaries()
        d = tempfile.TemporaryDirectory(prefix="noaberd-e2e-")
        self.addCleanup(d.cleanup)
        self.tmp = d.name

    def test_hello_status_and_permissions(self):
        tmp = self.tmp
        d = Daemon(tmp).start()
        try:
            c = Conn(d.socket)
            hello = c.result("hello")
            assert hello["version"] == 1 and hello["role"] == "operator", hello
            assert hello["software"].startswith("noaberd "), hello
            assert abs(hello["now"] - time.time()) < 60, hello
            assert hello["neighbourhood"] is None and hello["neighbourhood_id"] is None, hello
            status = c.result("status")
            assert status["records"] == 0 and status["peers"] == 0, status
            assert status["data_dir"] == d.data_dir, status
            for sock in (d.socket, d.member_socket):
                assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600, oct(os.stat(sock).st_mode)
            assert stat.S_IMODE(os.stat(os.path.dirname(d.socket)).st_mode) == 0o700
            assert stat.S_IMODE(os.stat(d.data_dir).st_mode) == 0o700
            assert stat.S_IMODE(os.stat(os.path.join(d.data_dir, "store.sqlite")).st_mode) == 0o600
            c.close()
        finally:
            assert d.stop() == 0

    def test_bad_frames_do_not_hurt(self):
        tmp = self.tmp
        d = Daemon(tmp).start()
        try:
            expect_error_and_close(d, struct.pack(">I", 1) + b"\xc1", "malformed msgpack")
            expect_error_and_close(d, struct.pack(">I", 0xFFFFFFFF), "oversized length")
            expect_error_and_close(d, struct.pack(">I", 1024 * 1024 + 1) + b"\x80", "just too long")
            expect_error_and_close(d, struct.pack(">I", 0), "zero length")
            expect_error_and_close(d, struct.pack(">I", 5) + b"\xdd\xff\x00\x00\x00",
                                   "array header claiming 4 G elements")
            expect_error_and_close(d, struct.pack(">I", 2) + b"\x91\x01", "not a map")
            expect_error_and_close(d, struct.pack(">I", 2) + b"\x80\x80", "trailing bytes")

            # A truncated frame: the daemon waits for the rest, then the client goes.
            c = Conn(d.socket)
            c.send_raw(struct.pack(">I", 100) + b"\x83\xa1v\x01")
            c.sock.shutdown(socket.SHUT_WR)
            assert c.read() is None
            c.close()

            # Errors about a request's contents keep the connection.
            c = Conn(d.socket)
            r = c.call("levitate")
            assert r["ok"] is False and r["error"] == "unknown_op", r
            c.send_frame(enc({"v": 2, "id": 77, "op": "hello"}))
            r = c.read()
            assert r["id"] == 77 and r["error"] == "version", r
            c.send_frame(enc({"id": 78, "op": "hello"}))
            r = c.read()
            assert r["id"] == 78 and r["error"] == "bad_request", r
            c.send_frame(enc({"v": 1, "op": "hello"}))
            r = c.read()
            assert r["id"] is None and r["error"] == "bad_request", r
            r = c.call("get", prefix="zz")
            assert r["error"] == "bad_request", r
            r = c.call("submit", record=b"\x96\x01")
            assert r["error"] == "refused", r  # no neighbourhood yet
            assert "noaber neighbourhood create" in r["message"], r
            assert c.result("hello")["version"] == 1
            c.close()
            assert d.alive()
        finally:
            assert d.stop() == 0

    def test_records_end_to_end(self):
        tmp = self.tmp
        d = Daemon(tmp).start()
        ann, bob = Signer(1), Signer(2)
        secret = "phone 0470 12 34 56, Hoogstraat 12"
        try:
            c = Conn(d.socket)
            created = c.result("neighbourhood.create", name="Marollen")
            nid = created["neighbourhood_id"]
            assert len(nid) == 32 and created["name"] == "Marollen", created
            r = c.call("neighbourhood.create", name="Again")
            assert r["error"] == "refused", r

            watcher = Conn(d.socket)
            assert watcher.result("watch") == {"watching": True}

            req, req_id = make_record(ann, nid, "request", request_body("groceries: " + secret))
            assert c.result("submit", record=req) == {"id": req_id}
            event = watcher.read()
            assert event == {"event": "record", "id": req_id, "record": req}, event
            # The same record again is acknowledged, not stored twice.
            assert c.result("submit", record=req) == {"id": req_id}

            resp, resp_id = make_record(bob, nid, "response", {F_TARGET: req_id, F_NOTE: "I can"})
            assert c.result("submit", record=resp)["id"] == resp_id
            assert watcher.read()["id"] == resp_id

            # On the watching connection itself, the reply comes before the event.
            third, third_id = make_record(Signer(5), nid, "response", {F_TARGET: req_id})
            assert watcher.result("submit", record=third) == {"id": third_id}
            assert watcher.read() == {"event": "record", "id": third_id, "record": third}
            retract_third, _ = make_record(Signer(5), nid, "retraction", {F_TARGET: third_id})
            watcher.result("submit", record=retract_third)
            assert watcher.read()["event"] == "record"

            # Pipelined requests are answered in order.
            c.send_raw(b"".join(struct.pack(">I", len(b)) + b for b in
                                (enc({"v": 1, "id": 100 + i, "op": "hello"}) for i in range(3))))
            assert [c.read()["id"] for _ in range(3)] == [100, 101, 102]

            got = c.result("get", prefix=req_id.hex()[:8])
            assert got["id"] == req_id and got["record"] == req, got
            # The retracted response is gone; its retraction stays, for peers.
            # (Made in the same second, they are ordered by id: compare as sets.)
            assert got["status"] == "open", got
            assert sorted(got["timeline"]) == sorted([resp, retract_third]), got
            got = c.result("get", record_id=resp_id)
            assert got["status"] == "pending", got
            r = c.call("get", prefix="0000" if not req_id.hex().startswith("0000") else "ffff")
            assert r["error"] in ("not_found", "ambiguous"), r

            items = c.result("list")["items"]
            assert [i["id"] for i in items] == [req_id], items
            assert items[0]["status"] == "open" and items[0]["responses"] == 1, items
            assert c.result("list", status="cancelled")["items"] == []
            assert len(c.result("list", category="groceries", area="Marollen")["items"]) == 1
            r = c.call("list", status="sleeping")
            assert r["error"] == "bad_request", r

            bad, _ = make_record(bob, b"\x07" * 32, "request", request_body("elsewhere"))
            r = c.call("submit", record=bad)
            assert r["error"] == "invalid_record", r
            orphan, _ = make_record(bob, nid, "response", {F_TARGET: b"\x42" * 32})
            r = c.call("submit", record=orphan)
            assert r["error"] == "not_found", r
            own, _ = make_record(ann, nid, "response", {F_TARGET: req_id})
            r = c.call("submit", record=own)
            assert r["error"] == "refused" and r["message"], r
            not_yours, _ = make_record(bob, nid, "retraction", {F_TARGET: req_id})
            r = c.call("submit", record=not_yours)
            assert r["error"] == "refused", r

            retract, _ = make_record(ann, nid, "retraction", {F_TARGET: req_id})
            c.result("submit", record=retract)
            r = c.call("get", record_id=req_id)
            assert r["error"] == "gone", r
            r = c.call("submit", record=req)
            assert r["error"] == "gone", r
            assert c.result("list")["items"] == []
            c.close()
            watcher.close()
        finally:
            assert d.stop() == 0
        log = d.log()
        assert secret not in log and "groceries" not in log and "I can" not in log, log

    def test_second_daemon_is_refused(self):
        tmp = self.tmp
        d = Daemon(tmp).start()
        try:
            other = Daemon(tmp)
            other.socket = os.path.join(tmp, "run2", "other.socket")
            p = subprocess.run(other.argv(), capture_output=True, timeout=30)
            assert p.returncode != 0, p
            want = "another noaberd (pid %d) is already using %s" % (d.proc.pid, d.data_dir)
            assert want in p.stderr.decode(), p.stderr
            c = Conn(d.socket)
            assert c.result("hello")["version"] == 1
            c.close()
        finally:
            assert d.stop() == 0

    def test_broken_config_names_file_and_line(self):
        tmp = self.tmp
        conf = os.path.join(tmp, "noaberd.conf")
        with open(conf, "w") as f:
            f.write("# a node for the Marollen\nlog_level = info\n\nlisen = 0.0.0.0:7000\n")
        d = Daemon(tmp, ["--config", conf])
        p = subprocess.run(d.argv(), capture_output=True, timeout=30)
        assert p.returncode != 0
        assert "%s:4: unknown key 'lisen'" % conf in p.stderr.decode(), p.stderr

        with open(conf, "w") as f:
            f.write("purge_grace = 2d\nlog_level = shouty\n")
        p = subprocess.run(d.argv(), capture_output=True, timeout=30)
        assert p.returncode != 0
        assert "%s:2: log_level must be" % conf in p.stderr.decode(), p.stderr

        p = subprocess.run([NOABERD, "--bogus"], capture_output=True, timeout=30)
        assert p.returncode != 0 and b"unknown option '--bogus'" in p.stderr, p.stderr
        p = subprocess.run([NOABERD, "--version"], capture_output=True, timeout=30)
        assert p.returncode == 0 and p.stdout.startswith(b"noaberd "), p

    def test_sigterm_exits_0_and_restart_keeps_the_store(self):
        tmp = self.tmp
        d, nid, rec, rid = daemon_with_a_request(tmp, "Anneessens", Signer(3), "a lift on Tuesday")
        assert d.stop(signal.SIGTERM) == 0
        assert not os.path.exists(d.socket), "socket left behind"
        assert not os.path.exists(d.member_socket), "member socket left behind"
        assert "stopped" in d.log()

        d.start()
        try:
            c = Conn(d.socket)
            hello = c.result("hello")
            assert hello["neighbourhood"] == "Anneessens" and hello["neighbourhood_id"] == nid
            assert c.result("get", record_id=rid)["record"] == rec
            assert c.result("status")["records"] == 1
            c.close()
        finally:
            assert d.stop(signal.SIGINT) == 0

    def test_kill_9_keeps_acknowledged_records_and_stale_socket_goes(self):
        tmp = self.tmp
        d, _, rec, rid = daemon_with_a_request(tmp, "Brigittines", Signer(4), "soup for a neighbour")
        d.kill9()
        assert os.path.exists(d.socket), "a killed daemon leaves its socket"
        d.start()
        try:
            c = Conn(d.socket)
            assert c.result("get", record_id=rid)["record"] == rec
            c.close()
        finally:
            assert d.stop() == 0

    def test_corrupted_store_is_a_clear_error(self):
        tmp = self.tmp
        d = Daemon(tmp)
        os.makedirs(d.data_dir, mode=0o700)
        with open(os.path.join(d.data_dir, "store.sqlite"), "wb") as f:
            f.write(b"this is not a database, it is a shopping list" * 200)
        p = subprocess.run(d.argv(), capture_output=True, timeout=30)
        assert p.returncode == 1, p  # an error, not a crash (a signal gives < 0)
        err = p.stderr.decode()
        assert "store.sqlite" in err and "not a database" in err, err

    def test_damage_found_beside_the_loop_stops_the_daemon(self):
        # noaberd checks every page of its store beside its loop (so that
        # starting does not grow with the store): damage that nothing read
        # at startup still stops it, with the same message as at startup.
        tmp = self.tmp
        d, _, _, _ = daemon_with_a_request(tmp, "Sablon", Signer(5), "a ladder for an hour")
        assert d.stop() == 0
        path = os.path.join(d.data_dir, "store.sqlite")
        with sqlite3.connect(path) as db:
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            # The root page of an index that starting never reads.
            (page,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'devices_member'"
                                 ).fetchone()
        with open(path, "r+b") as f:
            f.seek((page - 1) * page_size)
            f.write(b"\x5a" * page_size)
        p = subprocess.run(d.argv(), capture_output=True, timeout=60)
        assert p.returncode == 1, p  # an error, not a crash (a signal gives < 0)
        err = p.stderr.decode()
        assert "store.sqlite: the store is corrupted" in err and "restore a backup" in err, err

    def test_world_accessible_socket_dir_is_refused(self):
        tmp = self.tmp
        d = Daemon(tmp)
        shared = os.path.join(tmp, "shared")
        os.makedirs(shared)
        os.chmod(shared, 0o777)
        d.socket = os.path.join(shared, "noaberd.sock")
        p = subprocess.run(d.argv(), capture_output=True, timeout=30)
        assert p.returncode == 1, p
        assert "every user can enter it" in p.stderr.decode(), p.stderr

    def test_expired_requests_show_expired_then_go(self):
        tmp = self.tmp
        conf = os.path.join(tmp, "noaberd.conf")
        with open(conf, "w") as f:
            f.write("purge_grace = 0\npurge_interval = 1s\n")
        d = Daemon(tmp, ["--config", conf]).start()
        try:
            c = Conn(d.socket)
            nid = c.result("neighbourhood.create", name="Sablon")["neighbourhood_id"]
            now = int(time.time())
            body = request_body("a quick errand")
            body[F_EXPIRES_AT] = now + 2
            rec, rid = make_record(Signer(6), nid, "request", body, created_at=now)
            c.result("submit", record=rec)
            resp, resp_id = make_record(Signer(7), nid, "response", {F_TARGET: rid}, created_at=now)
            c.result("submit", record=resp)
            # The purge timer removes both soon after the expiry (no grace here).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                r = c.call("get", record_id=rid)
                if not r["ok"]:
                    break
                assert r["result"]["status"] in ("open", "expired"), r
                time.sleep(0.2)
            assert r["error"] == "gone", r
            assert c.call("get", record_id=resp_id)["error"] == "gone"
            assert c.result("status")["records"] == 0
            assert c.call("submit", record=rec)["error"] == "gone"
            c.close()
        finally:
            assert d.stop() == 0
        assert "purged 2 expired or ended records" in d.log()


if __name__ == "__main__":
    nb.main()
