#!/usr/bin/env python3
"""What the node refuses, and how the client says so: exit code 4, the reason
on stderr, and nothing changed.  Also records no honest client would send
(forged, malformed) written straight onto the control socket, and the
client's own usage and connection errors."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402


class LifecycleRefusals(nb.NodeTest):
    def assertUnchanged(self, rid, before):
        after = self.carol.show(rid)
        self.assertEqual(after, before)

    def test_only_the_requester_assigns(self):
        rid = self.alice.ask()
        self.carol.ok("respond", rid)
        before = self.carol.show(rid)
        r = self.bob.run("assign", rid, self.carol.key)
        self.assertRefused(r)
        self.assertUnchanged(rid, before)

    def test_no_response_to_a_cancelled_request(self):
        rid = self.alice.ask()
        self.alice.ok("cancel", rid)
        before = self.carol.show(rid)
        self.assertEqual(before["status"], "cancelled")
        self.assertRefused(self.bob.run("respond", rid), "cancel")
        self.assertUnchanged(rid, before)

    def test_no_response_to_an_expired_request(self):
        rid = self.alice.ask("Water the plants today", "other", "Marollen", "--expires", "2s")
        time.sleep(3)
        before = self.carol.show(rid)
        self.assertEqual(before["status"], "expired")
        r = self.bob.run("respond", rid)
        self.assertRefused(r, "expire")
        self.assertUnchanged(rid, before)

    def test_no_response_to_a_done_request_and_no_double_confirmation(self):
        rid = self.alice.ask()
        self.bob.ok("respond", rid)
        self.alice.ok("assign", rid, self.bob.key)
        self.bob.ok("done", rid)

        # Only the requester confirms.
        before = self.carol.show(rid)
        self.assertRefused(self.carol.run("confirm", rid))
        self.assertUnchanged(rid, before)

        self.alice.ok("confirm", rid, "--thanks", "Thanks!")
        before = self.carol.show(rid)
        self.assertEqual(before["status"], "done")
        self.assertRefused(self.carol.run("respond", rid))
        self.assertUnchanged(rid, before)
        self.assertRefused(self.alice.run("confirm", rid, "--thanks", "Thanks again"))
        self.assertUnchanged(rid, before)

    def test_only_the_requester_cancels(self):
        rid = self.alice.ask()
        before = self.carol.show(rid)
        self.assertRefused(self.bob.run("cancel", rid))
        self.assertUnchanged(rid, before)

    def test_only_the_author_retracts(self):
        rid = self.alice.ask()
        resp = self.bob.ok("respond", rid)["id"]
        before = self.carol.show(rid)
        self.assertRefused(self.carol.run("retract", rid))
        self.assertRefused(self.alice.run("retract", resp))
        self.assertUnchanged(rid, before)
        self.assertIn(rid, [x["id"] for x in self.carol.ok("list")])


class WireRefusals(nb.NodeTest):
    def stored_record(self, rid):
        with self.node.control() as c:
            reply = c.call("get", record_id=bytes.fromhex(rid))
        self.assertTrue(reply["ok"], reply)
        return reply["result"]["record"]

    def record_count(self):
        return self.alice.ok("status")["records"]

    def test_forged_signature_is_refused(self):
        # Alice's genuine request with Bob's key put in as the author: valid,
        # canonical encoding, but the signature is by a key other than the author's.
        rid = self.alice.ask()
        real = self.stored_record(rid)
        bob_rid = self.bob.ask("Bob's own request")
        bob_key = nb.mp_unpack(self.stored_record(bob_rid))[2]
        alice_key = nb.mp_unpack(real)[2]
        self.assertEqual(len(bob_key), 32)
        forged = real.replace(alice_key, bob_key, 1)
        self.assertNotEqual(forged, real)
        self.assertEqual(nb.mp_unpack(forged)[2], bob_key)

        count = self.record_count()
        with self.node.control() as c:
            reply = c.call("submit", record=forged)
            self.assertFalse(reply["ok"], reply)
            self.assertEqual(reply["error"], "invalid_record", reply)
            self.assertTrue(reply["message"])
            # The connection stays usable after a refused record.
            self.assertTrue(c.call("hello")["ok"])
        self.assertEqual(self.record_count(), count)
        # Nothing claims to be Bob's but the request Bob really posted.
        bobs = [x["id"] for x in self.alice.ok("list") if x["author"] == self.bob.key]
        self.assertEqual(bobs, [bob_rid])

    def test_malformed_records_are_refused(self):
        count = self.record_count()
        rid = self.alice.ask()
        real = self.stored_record(rid)
        count += 1
        bad = [
            b"",  # empty
            b"\x96\x01",  # truncated array
            b"\xdd\xff\xff\xff\xff",  # a 4-billion element array header
            real[:-1],  # the last signature byte missing
            real + b"\x00",  # trailing byte
            b"\xc1" * 64,  # the unused msgpack byte
        ]
        with self.node.control() as c:
            for record in bad:
                reply = c.call("submit", record=record)
                self.assertFalse(reply["ok"], (record, reply))
                self.assertIn(reply["error"], ("invalid_record", "bad_request"), reply)
        self.assertEqual(self.record_count(), count)

    def assertClosedAfterError(self, c):
        """The daemon may send one error reply, then closes the connection."""
        reply = c.read_frame()
        if reply is not None:
            self.assertIs(reply.get("ok"), False, reply)
            self.assertIsNone(c.read_frame())
        c.close()

    def test_malformed_frames_close_only_that_connection(self):
        count = self.record_count()
        c = self.node.control()
        c.send_frame(b"\x93\x01\x02\x03")  # a body that is an array, not a map
        self.assertClosedAfterError(c)
        c = self.node.control()
        c.sock.sendall(b"\x80\x00\x00\x00garbage")  # a frame that claims 2 GiB
        self.assertClosedAfterError(c)
        c = self.node.control()
        c.sock.sendall(b"\x00\x00\x00\x00")  # a zero-length frame
        self.assertClosedAfterError(c)
        c = self.node.control()
        c.send_frame(b"\x81\xa2op\xdd\xff\xff\xff\xff")  # a map holding a huge array header
        self.assertClosedAfterError(c)
        # The node still serves everybody else.
        self.assertEqual(self.record_count(), count)
        self.alice.ask()
        self.assertEqual(self.record_count(), count + 1)


class ClientErrors(nb.NodeTest):
    def test_unreachable_daemon_exit_3(self):
        missing = os.path.join(self.node.tmp, "nobody-here.sock")
        p = subprocess.run(
            [nb.NOABER, "--socket", missing, "status"], capture_output=True, text=True, env=self.node.env()
        )
        self.assertEqual(p.returncode, nb.EXIT_UNREACHABLE, p)
        self.assertIn(missing, p.stderr)
        self.assertIn("Start it with `noaberd`", p.stderr)
        # NOABER_SOCKET is the same as --socket.
        env = self.node.env()
        env["NOABER_SOCKET"] = missing
        p = subprocess.run([nb.NOABER, "list"], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, nb.EXIT_UNREACHABLE, p)
        self.assertIn(missing, p.stderr)
        env["NOABER_SOCKET"] = self.node.socket
        p = subprocess.run([nb.NOABER, "--json", "status"], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p)

    def test_usage_errors_exit_2(self):
        for args in (
            ("ask", "--title", "No category"),
            ("ask", "--title", "T", "--category", "gardening", "--area", "Marollen"),
            ("ask", "--title", "T", "--category", "meals", "--area", "X", "--expires", "soon"),
            ("ask", "--title", "T", "--category", "meals", "--area", "X", "--expires", "91d"),
            ("show", "zz"),
            ("show", "abc"),
            ("assign", "abc", "bob"),
            ("list", "--kind", "gift"),
            ("frobnicate",),
            ("respond",),
        ):
            r = self.alice.run(*args)
            self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
            self.assertTrue(r.err.startswith("noaber: "), repr(r))

    def test_a_field_out_of_bounds_is_named(self):
        for option, value, bound in (
            ("--title", "", "needs at least 1 character"),
            ("--details", "x" * 2001, "is too long: it takes at most 2000 bytes"),
            ("--area", "a" * 65, "is too long: it takes at most 64 bytes"),
        ):
            args = {"--title": "A lift", "--category": "transport", "--area": "Marollen"}
            args[option] = value
            r = self.alice.run("ask", *[x for kv in args.items() for x in kv])
            self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
            self.assertIn(option + " " + bound, r.err)
        self.assertEqual(self.alice.ok("list", "--mine"), [])

    def test_a_command_group_names_its_subcommands(self):
        r = self.alice.run("id", "frob")
        self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
        self.assertIn('"id" has no subcommand "frob"; use new or show.', r.err)
        r = self.alice.run("peer")
        self.assertEqual(r.rc, nb.EXIT_USAGE, repr(r))
        self.assertIn('"peer" needs a subcommand: add or remove.', r.err)

    def test_identity_is_never_overwritten(self):
        key = self.alice.key
        r = self.alice.run("id", "new")
        self.assertEqual(r.rc, nb.EXIT_ERROR, repr(r))
        self.assertIn("already exists", r.err)
        self.assertEqual(self.alice.key, key)
        self.assertEqual(os.stat(self.alice.identity).st_mode & 0o777, 0o600)

    def test_unknown_and_ambiguous_ids(self):
        r = self.alice.run("show", "0123456789abcdef")
        self.assertEqual(r.rc, nb.EXIT_ERROR, repr(r))
        self.assertIn("0123456789abcdef", r.err)


if __name__ == "__main__":
    nb.main()
