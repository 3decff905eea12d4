#!/usr/bin/env python3
"""Coordinators and care organisations through the real binaries
(docs/client.md, "Coordinators"; docs/operating.md, "The unmet-need overview").

Mia runs the buurthuis node and takes three requests by phone for people
without a device; Bob and Dan, volunteers on another node, help two of
them; the third expires with nobody.  Mia's caseload knows who to phone
about what, the helpers get the contact she chose, the notes never reach a
node's disk or log, the noticeboard sheet and the ValueFlows export show
no names, and the overview the node signs shows exactly what happened with
the small cells suppressed."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402

MIA_PHONE = "+32 2 555 01 01"
PEOPLE = {
    "M.": dict(name="Maria Janssens", phone="+32 470 11 22 33", address="Hoogstraat 99",
               notes="Knock twice; pays cash on delivery"),
    "Jef": dict(name="Jef Peeters", phone="0479 44 55 66", address="Blaesstraat 7",
                notes="Wheelchair, needs the big car"),
    "An": dict(name="Anna Claes", phone="0488 77 66 55", address="Vossenplein 3",
               notes="Hard of hearing, speak slowly"),
}
# What must never leave Mia's caseload in clear.
SECRETS = [v for p in PEOPLE.values() for v in p.values()] + ["Janssens", "Peeters", "Claes",
                                                              "470 11 22 33", "Hoogstraat"]


class Care(unittest.TestCase):
    def setUp(self):
        nb.require_binaries()
        self.buurthuis = self.node("buurthuis", ["share_report = on"])
        self.volunteers = self.node("volunteers", [])
        self.buurthuis.create_neighbourhood("Marollen")
        # The volunteers' node reaches the buurthuis through a relay that
        # keeps every byte of the link: a capture of the wire to search.
        self.wire = nb.Relay(self.buurthuis.peer_port, keep=True)
        self.addCleanup(self.wire.close)
        inv = nb.invite_decode(self.buurthuis.invite())
        self.volunteers.join(nb.invite_encode(inv["name"], inv["key"], inv["expires_at"],
                                              [(inv["addresses"][0][0], self.wire.address)]))
        nb.wait_for("the two nodes connected",
                    lambda: self.volunteers.node_key in self.buurthuis.connected_keys())
        # Mia uses the member socket, as a coordinator who is not the operator would.
        self.mia = self.buurthuis.member("mia", socket=self.buurthuis.member_socket)
        self.bob = self.volunteers.member("bob")
        self.dan = self.volunteers.member("dan")
        self.nel = self.buurthuis.member("nel")
        for m, name in ((self.mia, "Mia"), (self.bob, "Bob"), (self.dan, "Dan"), (self.nel, "Nel")):
            m.new_identity()
            m.ok("profile", "--name", name)

    def node(self, name, config):
        n = nb.NetNode(name, config=["peer_exchange = off"] + config)
        self.addCleanup(n.cleanup)
        return n.start()

    def intake(self, label, title, category, *extra):
        p = PEOPLE[label]
        return self.mia.ok("intake", label, title, "--category", category, "--area", "Marollen",
                           "--name", p["name"], "--phone", p["phone"], "--address", p["address"],
                           "--notes", p["notes"], *extra)["id"]

    def wait_has(self, node, rid):
        nb.wait_for("%s on %s" % (rid[:8], node.name), lambda: node.has(rid))

    def calls(self):
        return {c["label"]: c for c in self.mia.ok("calls")["calls"]}

    def test_a_coordinator_takes_three_phone_intakes_and_the_overview_shows_what_happened(self):
        mia, bob, dan = self.mia, self.bob, self.dan
        mia.ok("people", "--my-phone", MIA_PHONE)
        m_id = self.intake("M.", "Groceries from the market", "groceries")
        jef_id = self.intake("Jef", "A lift to Saint-Pierre hospital", "transport",
                             "--contact", "me", "--urgency", "today")
        an_id = self.intake("An", "Company on Sunday afternoon", "company", "--expires", "5s")
        # Five more requests from a neighbour with a device: a cell of 5 or more.
        for i in range(5):
            self.nel.ask("Groceries round %d" % i, "groceries", "Marollen")

        # The neighbourhood sees the label only.
        shown = nb.wait_for("M.'s request on the volunteers' node",
                            lambda: self.volunteers.has(m_id) and bob.show(m_id))
        self.assertEqual(shown["on_behalf_of"], "M.")
        self.assertNotIn("Maria", json.dumps(shown))

        self.wait_has(self.volunteers, jef_id)
        r = bob.ok("respond", m_id)
        d = dan.ok("respond", jef_id)
        self.wait_has(self.buurthuis, r["id"])
        self.wait_has(self.buurthuis, d["id"])

        # Assign without --contact: the caseload's choice is sealed to the helper.
        a1 = mia.ok("assign", m_id, "Bob")
        a2 = mia.ok("assign", jef_id, "Dan")
        self.wait_has(self.volunteers, a1["id"])
        self.wait_has(self.volunteers, a2["id"])
        bob_contact = bob.show(m_id)["contact"]
        self.assertIn(PEOPLE["M."]["phone"], bob_contact)
        self.assertIn(PEOPLE["M."]["address"], bob_contact)
        dan_contact = dan.show(jef_id)["contact"]
        self.assertIn(MIA_PHONE, dan_contact)
        self.assertNotIn(PEOPLE["Jef"]["phone"], dan_contact)

        # What needs a call: both assignments, then the expiry.
        calls = nb.wait_for("An's request expired and in the calls",
                            lambda: (lambda c: c if "An" in c else None)(self.calls()))
        self.assertEqual(calls["M."]["call"], "assigned")
        self.assertEqual(calls["M."]["helper"].split()[-1], "(Bob)")
        self.assertEqual(calls["M."]["phone"], PEOPLE["M."]["phone"])
        self.assertEqual(calls["Jef"]["call"], "assigned")
        self.assertEqual(calls["An"]["call"], "expired")
        text = mia.run("calls", json_out=False)
        self.assertIn("phone Maria Janssens (%s) with their name" % PEOPLE["M."]["phone"], text.out)
        mia.ok("calls", "--done", m_id[:8])
        mia.ok("calls", "--done", an_id[:8])
        self.assertEqual(set(self.calls()), {"Jef"})

        # Bob is done, Mia phones Maria and confirms for her.
        done = bob.ok("done", m_id)
        self.wait_has(self.buurthuis, done["id"])
        self.assertEqual(self.calls()["M."]["call"], "done_claimed")
        mia.ok("confirm", m_id)
        people = {p["label"]: p for p in mia.ok("people")["people"]}
        self.assertEqual([r["status"] for r in people["M."]["requests"]], ["done"])
        self.assertEqual([r["status"] for r in people["Jef"]["requests"]], ["assigned"])
        self.assertEqual([r["status"] for r in people["An"]["requests"]], ["expired"])
        self.assertEqual(people["M."]["notes"], PEOPLE["M."]["notes"])
        self.assertEqual(people["Jef"]["contact"], "me")

        # The overview: 8 posted, 5 open; 2 helped, 1 expired and 3 on
        # someone's behalf are cells under 5, suppressed.
        report = mia.ok("report", "--by", "category")
        total = report["total"]
        self.assertEqual(total["posted"], 8)
        self.assertEqual(total["open"], 5)
        self.assertEqual(total["cancelled"], 0)
        for suppressed in ("helped", "expired_unhelped", "on_behalf", "median_first_response",
                           "median_assignment"):
            self.assertIsNone(total[suppressed], suppressed)
        rows = {row["group"]: row for row in report["rows"]}
        self.assertEqual(set(rows), {"groceries", "transport", "company"})
        self.assertEqual(rows["groceries"]["posted"], 6)
        self.assertEqual(rows["groceries"]["open"], 5)
        self.assertIsNone(rows["transport"]["posted"])
        self.assertIsNone(rows["company"]["expired_unhelped"])
        self.assertIn("suppressed", report["suppressed"])
        self.assertEqual(mia.ok("report", "--since", "2099-01-01")["total"]["posted"], 0)
        self.assertEqual(mia.run("report", "--since", "yesterday").rc, nb.EXIT_USAGE)
        self.assertEqual(report["neighbourhood"], "Marollen")
        self.assertTrue(report["node"].startswith("nbn1"), report["node"])
        text = json.dumps(report)
        for secret in SECRETS + ["Groceries round", "Saint-Pierre", mia.key, bob.key]:
            self.assertNotIn(secret, text)
        as_text = mia.run("report", "--by", "category", json_out=False)
        self.assertEqual(as_text.rc, 0, as_text)
        self.assertIn("<5", as_text.out)
        self.assertIn("suppressed", as_text.out)
        csv = mia.run("report", "--by", "category", "--format", "csv", json_out=False).out
        self.assertIn('"all",8,<5,0,<5,5,<5,,', csv)

        # Signed: the organisation checks it, and a changed number fails.
        signed = os.path.join(self.buurthuis.tmp, "overview.json")
        mia.ok("report", "--by", "month", "--format", "json", "--out", signed)
        good = mia.run("report", "--verify", signed, json_out=False)
        self.assertEqual(good.rc, 0, good)
        self.assertIn("Good signature", good.out)
        with open(signed) as f:
            key = json.load(f)["report_key"]
        self.assertEqual(mia.run("report", "--verify", signed, "--key", key).rc, 0)
        wrong = mia.run("report", "--verify", signed, "--key", mia.key)
        self.assertEqual(wrong.rc, nb.EXIT_REFUSED, wrong)
        with open(signed) as f:
            data = f.read()
        forged = os.path.join(self.buurthuis.tmp, "forged.json")
        with open(forged, "w") as f:
            f.write(data.replace('"posted":8', '"posted":80'))
        bad = mia.run("report", "--verify", forged, json_out=False)
        self.assertEqual(bad.rc, nb.EXIT_REFUSED, bad)
        self.assertIn("changed", bad.err)

        # The chart.
        png = os.path.join(self.buurthuis.tmp, "overview.png")
        mia.ok("report", "--by", "category", "--png", png)
        with open(png, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

        # The volunteers' node does not share: members are refused, the
        # operator sees it unsigned, and it does not verify.
        refused = self.volunteers.member("dan", socket=self.volunteers.member_socket).run("report")
        self.assertEqual(refused.rc, nb.EXIT_REFUSED, refused)
        self.assertIn("share_report", refused.err)
        unsigned = os.path.join(self.volunteers.tmp, "unsigned.json")
        self.volunteers.operator.ok("report", "--out", unsigned)
        with open(unsigned) as f:
            self.assertIsNone(json.load(f)["signature"])
        self.assertNotEqual(dan.run("report", "--verify", unsigned).rc, 0)

        # The noticeboard sheet and the ValueFlows export: no names.
        pdf = os.path.join(self.buurthuis.tmp, "sheet.pdf")
        self.nel.offer("Lifts to the hospital on Tuesdays", "transport", "Marollen")
        mia.ok("sheet", "--out", pdf, "--page", "https://marollen.example/noaber")
        with open(pdf, "rb") as f:
            self.assertEqual(f.read(5), b"%PDF-")
        if shutil.which("pdftotext"):
            sheet = subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True).stdout
            self.assertIn("groceries", sheet)
            self.assertIn("Marollen", sheet)
            self.assertIn("transport", sheet)
            self.assertIn(MIA_PHONE, sheet)
            for secret in SECRETS + ["Groceries round", "Saint-Pierre", "Lifts", "M.", "Jef", "Nel"]:
                self.assertNotIn(secret, sheet)
        # The sheet in French and Dutch from the catalogs; Arabic is refused
        # with a reason (Cairo's simple text functions cannot join its
        # letters) and no file, rather than printed as broken glyphs.
        for language, heading, category in (("fr", "Aide demandée et proposée à Marollen", "courses"),
                                            ("nl", "Hulp gevraagd en aangeboden in Marollen", "boodschappen")):
            translated = os.path.join(self.buurthuis.tmp, "sheet-%s.pdf" % language)
            r = mia.run("sheet", "--out", translated, "--page", "https://marollen.example/noaber",
                        env={"LANGUAGE": language})
            self.assertEqual(r.rc, 0, r)
            if shutil.which("pdftotext"):
                text = subprocess.run(["pdftotext", translated, "-"], capture_output=True, text=True).stdout
                self.assertIn(heading, text)
                self.assertIn(category, text)
                self.assertIn(MIA_PHONE, text)
        arabic = os.path.join(self.buurthuis.tmp, "sheet-ar.pdf")
        r = mia.run("sheet", "--out", arabic, "--page", "https://marollen.example/noaber",
                    env={"LANGUAGE": "ar"})
        self.assertEqual(r.rc, 2, r)
        self.assertIn("right to left", r.err)
        self.assertFalse(os.path.exists(arabic))
        vf = mia.run("export", "--valueflows", json_out=False)
        self.assertEqual(vf.rc, 0, vf)
        graph = json.loads(vf.out)["@graph"]
        self.assertEqual(len(graph), 5)
        self.assertEqual({i["@type"] for i in graph}, {"vf:Intent"})
        self.assertTrue(all(i["vf:receiver"].startswith("urn:noaber:member:nbm1") for i in graph))

        # The caseload is on Mia's side only, encrypted; no node holds the notes.
        caseload = mia.identity + ".caseload"
        self.assertTrue(os.path.exists(caseload))
        self.buurthuis.assert_nowhere_in_clear(SECRETS, extra=[caseload])
        self.volunteers.assert_nowhere_in_clear(SECRETS)
        # Nor does the link between the nodes carry them, though it carried
        # the requests and the sealed contacts both ways.
        wire = self.wire.capture()
        self.assertGreater(len(wire), 5 * 400, "the capture holds the records that crossed")
        for secret in SECRETS:
            self.assertNotIn(secret.encode(), wire, "%r crossed the wire in clear" % secret)
        # The search does find what the neighbourhood may see: a title.
        with self.assertRaises(AssertionError):
            self.buurthuis.assert_nowhere_in_clear(["Company on Sunday afternoon"])

    def test_a_caseload_opens_only_with_its_identity_and_labels_stay_short(self):
        mia = self.mia
        long_label = mia.run("intake", "Maria Janssens", "Groceries", "--category", "groceries",
                             "--area", "Marollen")
        self.assertEqual(long_label.rc, nb.EXIT_USAGE, long_label)
        self.assertIn("initials or a first name", long_label.err)
        self.intake("M.", "Groceries from the market", "groceries")
        # Another identity (a copied file) cannot open it, and it is left alone.
        other = self.buurthuis.member("other")
        other.new_identity()
        shutil.copy(mia.identity + ".caseload", other.identity + ".caseload")
        r = other.run("people")
        self.assertEqual(r.rc, nb.EXIT_ERROR, r)
        self.assertIn("does not open with your identity", r.err)
        self.assertEqual(len(mia.ok("people")["people"]), 1)
        # Forgetting a person deletes what the caseload knew about them.
        self.assertEqual(mia.ok("people", "--forget", "m.")["forgot"], "m.")
        self.assertEqual(mia.ok("people")["people"], [])
        with open(mia.identity + ".caseload", "rb") as f:
            self.assertEqual(f.read(8), b"NBCASE1\n")
        self.assertEqual(mia.run("people", "--forget", "M.").rc, nb.EXIT_USAGE)


if __name__ == "__main__":
    nb.main()
