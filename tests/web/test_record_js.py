"""The page's record.js against libnoaber, in Chromium.

Every vector of tests/vectors/records.txt is built by record.js from its field
values and signed with its author's seed: the bytes, the signature and the id
must be exactly the vector's.  The vector's bytes must decode and verify in
the page, and fail for another neighbourhood.  Member key texts match
tests/vectors/identity.txt.  A part sealed by the page opens with libnoaber's
nb_unseal (tests/web/seal_helper.c) and one sealed by nb_seal opens in the page.
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import browser  # noqa: E402
import nb  # noqa: E402

VECTORS = os.environ.get("NOABER_TEST_VECTORS", "")
SEAL_HELPER = os.path.join(nb.BUILD_ROOT, "tests", "seal-helper")
FIELD_NAMES = [None, "title", "details", "category", "tags", "urgency", "when", "mode",
               "languages", "area", "expires_at", "on_behalf_of", "target", "member",
               "note", "sealed", "paused", "name", "about"]


def blocks(path):
    with open(path) as f:
        block = {}
        for line in f:
            line = line.strip()
            if line.startswith("#"):
                continue
            if not line:
                if block:
                    yield block
                block = {}
                continue
            key, _, value = line.partition(" = ") if " = " in line else line.partition(" ")
            block[key.strip()] = value.strip()
        if block:
            yield block


def record_vectors():
    out = []
    for b in blocks(os.path.join(VECTORS, "records.txt")):
        rec = nb.mp_unpack(bytes.fromhex(b["record"]))
        body = {}
        for num, value in rec[4].items():
            if isinstance(value, bytes):
                value = {"hex": value.hex()}
            body[FIELD_NAMES[num]] = value
        out.append(dict(b, body=body, created_at=rec[3]))
    return out


def member_vectors():
    return [b for b in blocks(os.path.join(VECTORS, "identity.txt")) if "member" in b]


RUN_VECTORS = r"""
const R = await import('/js/record.js');
await R.init();
const [vectors, identities] = args;
const code = (f) => { try { f(); return null; } catch (e) { return e.code || String(e); } };
const out = {records: [], texts: []};
for (const v of vectors) {
  const nid = R.fromHex(v.neighbourhood_id);
  const author = R.memberFromSeed(R.fromHex(v.author_seed));
  const body = {};
  for (const [k, val] of Object.entries(v.body)) {
    body[k] = (val !== null && typeof val === 'object' && 'hex' in val) ? R.fromHex(val.hex) : val;
  }
  const signed = R.signRecord({kind: v.kind, created_at: v.created_at, body}, author, nid);
  const bytes = R.fromHex(v.record);
  const rec = R.verifyRecord(bytes, nid);
  const member = v.member_seed ? R.toHex(R.memberFromSeed(R.fromHex(v.member_seed)).publicKey) : null;
  out.records.push({
    kind: v.kind, bytes: R.toHex(signed.bytes), id: R.toHex(signed.id),
    decoded_kind: rec.kind, decoded_id: R.toHex(rec.id), author: R.toHex(rec.author),
    member_field: rec.body.member ? R.toHex(rec.body.member) : null, member_seed_key: member,
    other_neighbourhood: code(() => R.verifyRecord(bytes, new Uint8Array(32))),
  });
}
for (const m of identities) {
  const member = R.memberFromSeed(R.fromHex(m.seed));
  out.texts.push({pk: R.toHex(member.publicKey), text: R.memberText(member.publicKey)});
}
// Refusals, on the first vector: what a node that changed a record would get.
const nid = R.fromHex(vectors[0].neighbourhood_id);
const good = R.fromHex(vectors[0].record);
const flipped = good.slice(); flipped[flipped.length - 1] ^= 1;
const changed = good.slice(); changed[40] ^= 1;
// created_at (ce and four bytes at offset 37) written as uint 64: not canonical.
const long = R.concat(good.subarray(0, 37), Uint8Array.of(0xcf, 0, 0, 0, 0), good.subarray(38));
out.refusals = {
  signature: code(() => R.verifyRecord(flipped, nid)),
  author_changed: code(() => R.verifyRecord(changed, nid)),
  noncanonical: code(() => R.verifyRecord(long, nid)),
  bomb: code(() => R.decodeRecord(Uint8Array.of(0xdd, 0xff, 0, 0, 0))),
  trailing: code(() => R.decodeRecord(R.concat(good, Uint8Array.of(0)))),
  too_big: code(() => R.decodeRecord(new Uint8Array(8193))),
  truncated: code(() => R.decodeRecord(good.subarray(0, good.length - 1))),
};
return out;
"""

SEAL = r"""
const R = await import('/js/record.js');
await R.init();
const [seedHex, boxHex, message] = args;
const me = R.memberFromSeed(R.fromHex(seedHex));
const other = R.newMember();
const opened = new TextDecoder().decode(R.openSealed(R.fromHex(boxHex), me));
let wrong = null;
try { R.openSealed(R.fromHex(boxHex), other); } catch (e) { wrong = e.code; }
return {opened, wrong, sealed: R.toHex(R.seal(message, me.publicKey)),
        pk: R.toHex(me.publicKey)};
"""


class RecordJsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = browser.StaticServer(browser.PAGE_DIR)
        cls.browser = browser.Browser()
        cls.browser.driver.get(cls.server.url + "/index.html")

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.server.close()

    def test_every_vector(self):
        vectors = record_vectors()
        self.assertEqual(len(vectors), 13, "one vector per kind")
        out = self.browser.run_async(RUN_VECTORS, vectors, member_vectors())
        for v, got in zip(vectors, out["records"]):
            with self.subTest(kind=v["kind"]):
                self.assertEqual(got["bytes"], v["record"], "the page signs other bytes")
                self.assertEqual(got["id"], v["id"])
                self.assertEqual(got["decoded_id"], v["id"])
                self.assertEqual(got["decoded_kind"], v["kind"])
                self.assertEqual(got["other_neighbourhood"], "bad_signature")
                if got["member_field"]:
                    self.assertEqual(got["member_field"], got["member_seed_key"])
        for m, got in zip(member_vectors(), out["texts"]):
            self.assertEqual(got["pk"], m["pk"])
            self.assertEqual(got["text"], m["text"])
        self.assertEqual(out["refusals"], {
            "signature": "bad_signature", "author_changed": "bad_signature",
            "noncanonical": "noncanonical", "bomb": "malformed", "trailing": "trailing",
            "too_big": "too_big", "truncated": "malformed"})

    def test_sealed_both_ways(self):
        seed = bytes(range(64, 96)).hex()
        message = "Kerkstraat 12, bel twee keer — 06 1234 5678"
        # libnoaber seals to the page's member; the page opens it.
        pk = self.browser.run_async(
            "const R = await import('/js/record.js'); await R.init();"
            "return R.toHex(R.memberFromSeed(R.fromHex(args[0])).publicKey);", seed)
        box = subprocess.run([SEAL_HELPER, "seal", pk, message], check=True,
                             capture_output=True, text=True).stdout.strip()
        out = self.browser.run_async(SEAL, seed, box, message)
        self.assertEqual(out["opened"], message)
        self.assertEqual(out["wrong"], "decrypt", "another member opened the box")
        # The page seals to the member; libnoaber opens it.
        self.assertEqual(len(bytes.fromhex(out["sealed"])), len(message.encode()) + 48)
        opened = subprocess.run([SEAL_HELPER, "open", seed, out["sealed"]], check=True,
                                capture_output=True, text=True).stdout.rstrip("\n")
        self.assertEqual(opened, message)


if __name__ == "__main__":
    browser.require_chromium()
    unittest.main(verbosity=2)
