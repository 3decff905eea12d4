#!/usr/bin/env python3
"""Alice, Bob and Carol take a request and a standing offer through their
whole lifecycle on one node, using only the noaber client."""

import json
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

CONTACT = "Blaesstraat 40, bell 2, +32 470 99 88 77"


class RequestLifecycle(nb.NodeTest):
    def test_request_from_ask_to_confirmed(self):
        alice, bob, carol = self.alice, self.bob, self.carol

        rid = alice.ask(
            "Groceries for Mrs Peeters",
            "groceries",
            "Marollen",
            "--details",
            "Bread, milk and apples; she pays on delivery.",
            "--urgency",
            "today",
            "--languages",
            "nl,fr",
            "--tags",
            "shopping,elderly",
            "--mode",
            "in-person",
            "--on-behalf-of",
            "Mrs Peeters",
            "--expires",
            "3d",
        )
        self.assertRegex(rid, r"^[0-9a-f]{64}$")

        # Everyone on the node sees it open, under any unique prefix.
        listed = [x for x in carol.ok("list") if x["id"] == rid]
        self.assertEqual(len(listed), 1)
        item = listed[0]
        self.assertEqual(item["kind"], "request")
        self.assertEqual(item["status"], "open")
        self.assertEqual(item["title"], "Groceries for Mrs Peeters")
        self.assertEqual(item["category"], "groceries")
        self.assertEqual(item["area"], "Marollen")
        self.assertEqual(item["author"], alice.key)
        self.assertEqual(item["responses"], 0)
        self.assertIsNone(item["assigned"])
        self.assertEqual(item["expires_at"] - item["created_at"], 3 * 86400)

        shown = carol.show(rid[:6])
        self.assertEqual(shown["id"], rid)
        self.assertEqual(shown["kind"], "request")
        self.assertEqual(shown["status"], "open")
        self.assertEqual(shown["details"], "Bread, milk and apples; she pays on delivery.")
        self.assertEqual(shown["urgency"], "today")
        self.assertEqual(shown["languages"], ["nl", "fr"])
        self.assertEqual(shown["tags"], ["shopping", "elderly"])
        self.assertEqual(shown["on_behalf_of"], "Mrs Peeters")
        self.assertEqual(shown["author"], alice.key)
        self.assertEqual(shown["responses"], [])
        self.assertIsNone(shown["assigned"])
        self.assertFalse(shown["sealed"])
        self.assertNotIn("contact", shown)

        # Bob and Carol respond.
        bob_resp = bob.ok("respond", rid[:8], "--note", "I can go at five")["id"]
        carol_resp = carol.ok("respond", rid)["id"]
        self.assertNotEqual(bob_resp, carol_resp)
        shown = alice.show(rid)
        self.assertEqual(shown["status"], "open")
        by_author = {r["author"]: r for r in shown["responses"]}
        self.assertEqual(by_author[bob.key]["id"], bob_resp)
        self.assertEqual(by_author[bob.key]["note"], "I can go at five")
        self.assertEqual(by_author[bob.key]["state"], "pending")
        self.assertEqual(by_author[carol.key]["state"], "pending")
        self.assertEqual([x for x in alice.ok("list") if x["id"] == rid][0]["responses"], 2)

        # Alice assigns Bob and seals her contact details to him.
        alice.ok("assign", rid[:10], bob.key, "--contact", CONTACT)
        bob_view = bob.show(rid)
        self.assertEqual(bob_view["status"], "assigned")
        self.assertEqual(bob_view["assigned"], bob.key)
        self.assertTrue(bob_view["sealed"])
        self.assertEqual(bob_view["contact"], CONTACT)
        states = {r["author"]: r["state"] for r in bob_view["responses"]}
        self.assertEqual(states[bob.key], "assigned")
        self.assertEqual(states[carol.key], "declined")

        # Only Bob can open it: not the requester's client, not Carol.
        for other in (alice, carol):
            view = other.show(rid)
            self.assertTrue(view["sealed"])
            self.assertNotIn("contact", view)
            self.assertEqual(view["assigned"], bob.key)
        human = carol.run("show", rid, json_out=False)
        self.assertEqual(human.rc, 0, repr(human))
        self.assertNotIn("Blaesstraat", human.out)
        self.assertIn("assigned to nbm1", human.out)
        human = bob.run("show", rid, json_out=False)
        self.assertIn(CONTACT, human.out)

        # Bob says it is done; Alice confirms with thanks.
        bob.ok("done", rid[:8])
        self.assertEqual(alice.show(rid)["status"], "done_claimed")
        alice.ok("confirm", rid[:8], "--thanks", "Dank je wel, Bob!")
        final = carol.show(rid)
        self.assertEqual(final["status"], "done")
        self.assertEqual(final["thanks"], "Dank je wel, Bob!")
        self.assertEqual({r["author"]: r["state"] for r in final["responses"]}[bob.key], "done")
        self.assertIn(rid, [x["id"] for x in carol.ok("list", "--status", "done")])
        self.assertNotIn(rid, [x["id"] for x in carol.ok("list", "--status", "open")])

    def test_withdrawn_response_reopens_the_request(self):
        alice, bob, carol = self.alice, self.bob, self.carol
        rid = alice.ask("Help with a form from the commune", "paperwork", "Marollen")
        bob.ok("respond", rid)
        carol.ok("respond", rid)
        carol.ok("withdraw", rid[:8])
        states = {r["author"]: r["state"] for r in alice.show(rid)["responses"]}
        self.assertEqual(states[carol.key], "withdrawn")
        self.assertEqual(states[bob.key], "pending")

        alice.ok("assign", rid, bob.key)
        self.assertEqual(alice.show(rid)["status"], "assigned")
        bob.ok("withdraw", rid)
        view = alice.show(rid)
        self.assertEqual(view["status"], "open")
        self.assertIsNone(view["assigned"])

    def test_cancel_and_retract(self):
        alice, bob = self.alice, self.bob
        rid = alice.ask("A lift to the Sint-Pieter hospital", "transport", "Marollen")
        bob.ok("respond", rid)
        alice.ok("cancel", rid[:8])
        self.assertEqual(bob.show(rid)["status"], "cancelled")

        other = alice.ask("Company for an afternoon walk", "company", "Marollen")
        alice.ok("retract", other[:8])
        ids = [x["id"] for x in bob.ok("list")]
        self.assertNotIn(other, ids)
        gone = bob.run("show", other)
        self.assertNotEqual(gone.rc, 0, repr(gone))
        self.assertIn(rid, ids)

    def test_mine_and_filters(self):
        alice, bob = self.alice, self.bob
        a = alice.ask("Fix a dripping tap", "repairs", "Marollen")
        b = bob.ask("Walk the dog this week", "pets", "Anneessens")
        o = bob.offer("Help with Dutch letters", "paperwork", "Anneessens")
        mine = [x["id"] for x in alice.ok("list", "--mine")]
        self.assertEqual(mine, [a])
        self.assertEqual([x["id"] for x in alice.ok("list", "--area", "Anneessens", "--kind", "request")], [b])
        self.assertEqual([x["id"] for x in alice.ok("list", "--kind", "offer")], [o])
        self.assertEqual([x["id"] for x in alice.ok("list", "--category", "repairs")], [a])

        # The human table: short ids, the state in words, relative times.
        table = alice.run("list", json_out=False)
        self.assertEqual(table.rc, 0, repr(table))
        self.assertIn(a[:8], table.out)
        self.assertNotIn(a[:9], table.out)
        self.assertIn("open", table.out)
        self.assertIn("just now", table.out)


class OfferLifecycle(nb.NodeTest):
    def test_offer_from_ask_to_confirmed_pause_resume_withdraw(self):
        alice, bob, carol = self.alice, self.bob, self.carol

        oid = alice.offer("Lifts to the hospital on Tuesday mornings", "transport", "Marollen",
                          "--when", "Tuesdays 8-12", "--expires", "2w")
        shown = bob.show(oid)
        self.assertEqual(shown["kind"], "offer")
        self.assertEqual(shown["status"], "available")
        self.assertEqual(shown["when"], "Tuesdays 8-12")
        self.assertEqual(shown["expires_at"] - shown["created_at"], 14 * 86400)

        # Bob asks for the offer; Alice assigns him with a sealed meeting point.
        ask = bob.ok("respond", oid[:8], "--note", "Tuesday the 12th, 9:00?")["id"]
        view = alice.show(oid)
        self.assertEqual([(r["id"], r["state"]) for r in view["responses"]], [(ask, "pending")])
        alice.ok("assign", oid, bob.key, "--contact", "Pick-up at Vossenplein 3")
        view = bob.show(oid)
        self.assertEqual(view["responses"][0]["state"], "assigned")
        self.assertEqual(view["assigned"], bob.key)
        self.assertEqual(view["contact"], "Pick-up at Vossenplein 3")
        self.assertNotIn("contact", carol.show(oid))

        # The offerer is the helper: Alice says done, Bob (who was helped) confirms.
        alice.ok("done", oid[:8])
        self.assertEqual(bob.show(oid)["responses"][0]["state"], "done_claimed")
        bob.ok("confirm", oid[:8], "--thanks", "Merci Alice")
        view = carol.show(oid)
        self.assertEqual(view["responses"][0]["state"], "done")
        self.assertEqual(view["status"], "available")

        # A standing offer stays: pause, resume, then withdraw it for good.
        alice.ok("pause", oid[:8])
        self.assertEqual(carol.show(oid)["status"], "paused")
        self.assertTrue(carol.show(oid)["paused"])
        alice.ok("resume", oid[:8])
        self.assertEqual(carol.show(oid)["status"], "available")
        carol_ask = carol.ok("respond", oid)["id"]
        carol.ok("withdraw", oid)
        states = {r["id"]: r["state"] for r in alice.show(oid)["responses"]}
        self.assertEqual(states[carol_ask], "withdrawn")
        alice.ok("withdraw", oid[:8])
        self.assertEqual(bob.show(oid)["status"], "withdrawn")
        self.assertIn(oid, [x["id"] for x in bob.ok("list", "--status", "withdrawn")])


class Output(nb.NodeTest):
    def test_ids_status_and_help(self):
        key = self.alice.key
        self.assertRegex(key, r"^nbm1[0-9a-z]{58}$")
        plain = self.alice.run("id", "show", json_out=False)
        self.assertEqual(plain.out.strip(), key)

        st = self.alice.ok("status")
        self.assertEqual(st["neighbourhood"], "Marollen")
        for field in ("records", "peers", "in_sync"):
            self.assertIn(field, st)
        self.assertEqual(st["peers"], 0)
        self.alice.ask()
        self.assertGreater(self.alice.ok("status")["records"], st["records"])

        # --json works after the command as well as before it.
        r = self.alice.run("status", "--json", json_out=False)
        self.assertEqual(r.rc, 0, repr(r))
        self.assertEqual(r.json()["neighbourhood"], "Marollen")

        helptext = self.alice.run("help", json_out=False)
        self.assertEqual(helptext.rc, 0)
        for code in ("0 ok", "2 usage", "3 noaberd unreachable", "4 refused"):
            self.assertIn(code, helptext.out)

    def test_watch_prints_each_new_record(self):
        argv = [nb.NOABER, "--socket", self.node.socket, "--identity", self.bob.identity, "--json", "watch"]
        watcher = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=self.node.env())
        try:
            # Watch has started once the node knows of the connection; post until an event arrives.
            rid = None
            deadline = time.monotonic() + 20
            lines = []
            while time.monotonic() < deadline:
                rid = self.alice.ask("Watched request")
                ready, _, _ = select.select([watcher.stdout], [], [], 0.5)
                if ready:
                    break
            for _ in range(50):
                line = watcher.stdout.readline()
                self.assertTrue(line, watcher.stderr.read() if watcher.poll() is not None else "")
                lines.append(json.loads(line))
                if lines[-1]["id"] == rid:
                    break
            event = lines[-1]
            self.assertEqual(event["id"], rid)
            self.assertEqual(event["event"], "record")
            self.assertEqual(event["kind"], "request")
            self.assertEqual(event["author"], self.alice.key)
            self.assertEqual(event["title"], "Watched request")
            self.assertIsNone(event["target"])
            resp = self.bob.ok("respond", rid)["id"]
            event = json.loads(watcher.stdout.readline())
            self.assertEqual((event["id"], event["kind"], event["target"]), (resp, "response", rid))
        finally:
            watcher.kill()
            watcher.wait()
            watcher.stdout.close()
            watcher.stderr.close()

    def test_any_text_round_trips_through_json(self):
        title = 'Soup "de poulet" \\ for Oma \u2014 cr\u00e8me \U0001f475'
        details = "Line one\nLine two: {\"json\": [1, 2]}"
        area = "Sint-Gillis / Saint-Gilles"
        rid = self.alice.ask(title, "meals", area, "--details", details, "--tags", "soup,\u00e9t\u00e9")
        self.bob.ok("respond", rid, "--note", 'I\'ll bring "two" pots')
        item = [x for x in self.carol.ok("list") if x["id"] == rid][0]
        self.assertEqual((item["title"], item["area"]), (title, area))
        shown = self.carol.show(rid)
        self.assertEqual(shown["title"], title)
        self.assertEqual(shown["details"], details)
        self.assertEqual(shown["tags"], ["soup", "\u00e9t\u00e9"])
        self.assertEqual(shown["responses"][0]["note"], 'I\'ll bring "two" pots')
        human = self.carol.run("show", rid, json_out=False)
        self.assertEqual(human.rc, 0, repr(human))
        self.assertIn(title, human.out)
        self.assertIn("Line one\nLine two", human.out)

    def test_ask_prints_safe_practice(self):
        r = self.alice.run("ask", "--title", "Hang a shelf", "--category", "repairs",
                           "--area", "Marollen", json_out=False)
        self.assertEqual(r.rc, 0, repr(r))
        self.assertIn("keys or\nbank cards", r.out)
        self.assertIn("(id ", r.out)


if __name__ == "__main__":
    nb.main()
