#!/usr/bin/env python3
"""The member socket (docs/control-api.md, "Roles"), through the real binaries.

noaberd serves two sockets: the operator's, where every op works, and one
beside it for neighbours' programs.  On the member socket a program may say
hello, post and read records, watch and ask for the status; every op that
manages the node, shows the neighbourhood key (an invite) or a peer's
address is refused with `forbidden`, and refusing it changes nothing.
"""

import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

# Every operator op with arguments it would accept on the operator socket.
OPERATOR_OPS = {
    "neighbourhood.create": {"name": "Elsewhere"},
    "invite": {},
    "join": {"code": "nbi1notacode"},
    "peers": {},
    "peer.add": {"address": "127.0.0.1:9"},
    "peer.remove": {"address": "127.0.0.1:9"},
    "block": {"member": b"\x01" * 32},
    "unblock": {"member": b"\x01" * 32},
    "blocked": {},
    "welcome": {},
    "devices": {},
    "device.revoke": {"device_id": 1},
}


class Roles(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        self.node = nb.Node("roles")
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.node.create_neighbourhood("Marollen")
        self.ann = self.node.member("ann", socket=self.node.member_socket)
        self.ann.new_identity()

    def test_member_socket_is_beside_the_operators_and_private(self):
        st = os.stat(self.node.member_socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        # Without socket_group_access both sockets are the user's alone.
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

    def test_hello_says_the_role(self):
        with self.node.member_control() as c:
            self.assertEqual(c.call("hello")["result"]["role"], "member")
        with self.node.control() as c:
            self.assertEqual(c.call("hello")["result"]["role"], "operator")

    def test_every_operator_op_is_forbidden_and_changes_nothing(self):
        with self.node.member_control() as c:
            for op, args in OPERATOR_OPS.items():
                reply = c.call(op, **args)
                self.assertFalse(reply["ok"], op)
                self.assertEqual(reply["error"], "forbidden", op)
                self.assertEqual(
                    reply["message"],
                    "this socket serves neighbours' programs; `%s` needs the operator socket" % op,
                )
            # The connection stays usable after a refusal.
            self.assertTrue(c.call("hello")["ok"])
        with self.node.control() as c:
            hello = c.call("hello")["result"]
            self.assertEqual(hello["neighbourhood"], "Marollen")
            self.assertEqual(c.call("peers")["result"], [])
            self.assertEqual(c.call("blocked")["result"]["members"], [])
            self.assertEqual(c.call("devices")["result"]["devices"], [])

    def test_an_unknown_op_is_unknown_not_forbidden(self):
        with self.node.member_control() as c:
            self.assertEqual(c.call("neighbourhood.delete")["error"], "unknown_op")

    def test_member_ops_work(self):
        rid = self.ann.ask("Groceries from the market")
        with self.node.member_control() as watcher:
            self.assertEqual(watcher.call("watch")["result"], {"watching": True})
            oid = self.ann.offer("Lifts to the hospital on Tuesdays")
            event = watcher.read_frame()
            self.assertEqual(event["event"], "record")
            self.assertEqual(event["id"].hex(), oid)
        with self.node.member_control() as c:
            got = c.call("get", record_id=bytes.fromhex(rid))
            self.assertTrue(got["ok"], got)
            self.assertEqual(got["result"]["status"], "open")
            listed = c.call("list")
            self.assertEqual({i["id"].hex() for i in listed["result"]["items"]}, {rid, oid})
            status = c.call("status")["result"]
            self.assertEqual(status["records"], 2)
            # Counts only: where the node keeps its data is the operator's.
            self.assertNotIn("data_dir", status)
        shown = self.ann.show(rid)
        self.assertEqual(shown["id"], rid)

    def test_client_on_the_member_socket(self):
        self.ann.ask("Soup for a neighbour with the flu")
        listed = self.ann.ok("list")
        self.assertEqual([i["title"] for i in listed], ["Soup for a neighbour with the flu"])
        r = self.ann.run("invite", json_out=False)
        self.assertEqual(r.rc, nb.EXIT_REFUSED, repr(r))
        self.assertIn("`invite` needs the operator socket", r.err)
        r = self.ann.run("block", self.ann.key, json_out=False)
        self.assertEqual(r.rc, nb.EXIT_REFUSED, repr(r))
        self.assertIn("`block` needs the operator socket", r.err)


if __name__ == "__main__":
    nb.main()
