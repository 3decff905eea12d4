"""noaber in the neighbour's language (po/, docs/i18n.md).

`noaber show` and `noaber list` through the real binaries with LANGUAGE set
(on a C.UTF-8 base, which every glibc has without generating locales): the
states, categories, urgencies, labels and the safe-practice advice come in
that language; --json stays in the protocol's words.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nb  # noqa: E402


class Languages(nb.NodeTest):
    def setUp(self):
        super().setUp()
        self.rid = self.alice.ask("Soup for Mrs Janssens", "groceries", "Marollen",
                                  "--urgency", "today")
        self.bob.ok("respond", self.rid)

    def show(self, member, language):
        r = member.run("show", self.rid, json_out=False, env={"LANGUAGE": language})
        self.assertEqual(r.rc, 0, r)
        return r.out

    def test_show_in_french_dutch_and_arabic(self):
        fr = self.show(self.alice, "fr")
        self.assertIn("Demande %s: Soup for Mrs Janssens" % self.rid[:8], fr)
        self.assertIn("État :", fr)
        self.assertIn("Expire :      dans 7 jours", fr)
        self.assertIn("ouverte — 1 réponse", fr)
        self.assertIn("Catégorie :   courses (groceries)", fr)
        self.assertIn("Urgence :     aujourd'hui (today)", fr)
        self.assertIn("Réponses :", fr)
        self.assertIn("en attente", fr)
        # Alice chooses a helper: the safe-practice advice, in French.
        self.assertIn("Restez en sécurité", fr)
        self.assertIn("Ne donnez jamais vos clés ni vos cartes bancaires.", fr)
        self.assertNotIn("Category", fr)

        nl = self.show(self.alice, "nl")
        self.assertIn("Hulpvraag %s" % self.rid[:8], nl)
        self.assertIn("open — 1 reactie", nl)
        self.assertIn("boodschappen (groceries)", nl)
        self.assertIn("Veilig blijven", nl)

        ar = self.show(self.alice, "ar")
        self.assertIn("مفتوح — عدد الردود: 1", ar)
        self.assertIn("تسوق (groceries)", ar)
        self.assertIn("خلال 7 أيام", ar)
        self.assertIn("ابقَ في أمان", ar)

    def test_the_assigned_helper_reads_the_advice_before_the_visit(self):
        self.alice.ok("assign", self.rid, self.bob.key)
        fr = self.show(self.bob, "fr")
        self.assertIn("attribuée à vous", fr)
        self.assertIn("Pour une tâche dans un logement, allez-y à deux si possible.", fr)
        # Nobody else is told to get ready for a visit.
        self.assertNotIn("Restez en sécurité", self.show(self.carol, "fr"))

    def test_list_in_dutch(self):
        r = self.alice.run("list", json_out=False, env={"LANGUAGE": "nl"})
        self.assertEqual(r.rc, 0, r)
        self.assertIn("STAND", r.out)
        self.assertIn("hulpvraag", r.out)
        self.assertIn("open — 1 reactie", r.out)

    def test_english_without_language_or_with_one_we_do_not_have(self):
        for env in ({}, {"LANGUAGE": "tlh"}):
            r = self.alice.run("show", self.rid, json_out=False, env=env)
            self.assertIn("State:        open — 1 response", r.out, env)
            self.assertIn("Category:     groceries\n", r.out, env)
            self.assertIn("Stay safe", r.out, env)

    def test_json_stays_in_the_protocols_words(self):
        r = self.alice.run("show", self.rid, env={"LANGUAGE": "fr"})
        shown = r.json()
        self.assertEqual(shown["status"], "open")
        self.assertEqual(shown["category"], "groceries")
        self.assertEqual(shown["urgency"], "today")
        listed = self.alice.run("list", env={"LANGUAGE": "ar"}).json()
        self.assertEqual(listed[0]["status"], "open")


if __name__ == "__main__":
    unittest.main()
