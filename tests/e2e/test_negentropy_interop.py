#!/usr/bin/env python3
"""Interoperability of negentropy-harness with independent implementations.

hoytech's own JavaScript package is not published on npm, so this test
installs, at test time, two published JavaScript implementations of the
reference algorithm: nostr-tools' nip77 module and the Negentropy class of
@nostr-dev-kit/sync.  A small adapter written here puts each behind the
reference harness line protocol, and the sessions below pair it with ours.

  * Both roles, random sets: both sides must end with the same have/need.
  * Byte for byte (the reference suite's "delta" check) against nostr-tools,
    which mirrors the reference JavaScript: its initiator and ours, each
    paired with our responder, must exchange identical messages; and its
    responder and ours must answer the same first message identically
    (only the first: nostr-tools is a NIP-77 client and never answers an
    id list, so later rounds cannot be compared).

@nostr-dev-kit/sync 1.0.0 differs from the reference in two ways that do not
break reconciliation but change bytes: it pads every received bound to 32
bytes when echoing it, and it does not shrink its range when a frame size
limit cuts a responder's id list.  So it is checked for outcomes only, and
never as a limited responder.

Prints SKIP and exits 77 when node, npm or the packages are unavailable.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_negentropy_harness as th  # noqa: E402

PACKAGES = ["@nostr-dev-kit/sync@1.0.0", "nostr-tools@2.25.2"]

# The adapter: the reference harness line protocol over either library.
ADAPTER = r"""
import readline from 'node:readline';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = path.dirname(new URL(import.meta.url).pathname);
const impl = process.argv[2];
const limit = process.env.FRAMESIZELIMIT ? parseInt(process.env.FRAMESIZELIMIT) : 0;
const hex = (u8) => Buffer.from(u8).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));
const out = (line) => process.stdout.write(line + '\n');

let storage, ne;
if (impl === 'ndk') {
  const m = await import(pathToFileURL(path.join(dir,
    'node_modules/@nostr-dev-kit/sync/dist/index.js')));
  storage = new m.NegentropyStorage();
  ne = () => new m.Negentropy(storage, limit);
} else if (impl === 'nostr-tools') {
  const m = await import(pathToFileURL(path.join(dir,
    'node_modules/nostr-tools/lib/esm/nip77.js')));
  storage = new m.NegentropyStorageVector();
  // This library has no "unlimited" setting; a limit no message reaches
  // behaves the same.
  ne = () => new m.Negentropy(storage, limit === 0 ? 2 ** 40 : limit);
} else {
  throw new Error('unknown implementation ' + impl);
}

let session;
const rl = readline.createInterface({ input: process.stdin, terminal: false });
for await (const raw of rl) {
  const line = raw.trim();
  if (!line) continue;
  const f = line.split(',');
  if (f[0] === 'item') {
    storage.insert(parseInt(f[1]), f[2]);
  } else if (f[0] === 'seal') {
    storage.seal();
    session = ne();
  } else if (f[0] === 'initiate') {
    const q = await session.initiate();
    out('msg,' + (typeof q === 'string' ? q : hex(q)));
  } else if (f[0] === 'msg') {
    if (impl === 'ndk') {
      const r = await session.reconcile(unhex(f[1] || ''));
      for (const id of r.have) out('have,' + hex(id));
      for (const id of r.need) out('need,' + hex(id));
      out(r.nextMessage === undefined ? 'done' : 'msg,' + hex(r.nextMessage));
    } else {
      const have = [], need = [];
      const q = session.reconcile(f[1] || '', (id) => have.push(id), (id) => need.push(id));
      for (const id of have) out('have,' + id);
      for (const id of need) out('need,' + id);
      out(q === null ? 'done' : 'msg,' + q);
    }
  } else {
    throw new Error('unknown command ' + f[0]);
  }
}
"""


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


def install(workdir):
    if shutil.which("node") is None or shutil.which("npm") is None:
        skip("node or npm is not installed")
    try:
        p = subprocess.run(
            ["npm", "install", "--prefix", workdir, "--no-audit", "--no-fund",
             "--no-save", "--loglevel=error", *PACKAGES],
            capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        skip("npm install timed out")
    if p.returncode != 0:
        skip(f"npm install failed: {p.stderr.strip()[:300]}")
    adapter = os.path.join(workdir, "adapter.mjs")
    with open(adapter, "w") as f:
        f.write(ADAPTER)
    return adapter


def sets_for(items):
    return ({i for _, i, w in items if w == 1}, {i for _, i, w in items if w == 2})


def check_pair(name, cmd1, cmd2, seed, recs, p, limit1=None, limit2=None):
    items = th.deal(random.Random(seed), recs, *p)
    have, need, rounds = th.reconcile(cmd1, cmd2, items, limit1, limit2)
    want_have, want_need = sets_for(items)
    assert have == want_have and need == want_need, (
        f"{name}: have {len(have)}/{len(want_have)}, need {len(need)}/{len(want_need)}")
    print(f"ok   {name} recs={recs} P={p} limits={limit1}/{limit2}: "
          f"{len(have)} have, {len(need)} need, {rounds} rounds")


def check_same_bytes(name, theirs, ours, seed, recs, p, limit1=None, limit2=None):
    """theirs and ours are (initiator cmd, responder cmd) pairs."""
    items = th.deal(random.Random(seed), recs, *p)
    trace_theirs, trace_ours = [], []
    th.reconcile(*theirs, items, limit1, limit2, trace=trace_theirs)
    th.reconcile(*ours, items, limit1, limit2, trace=trace_ours)
    assert len(trace_theirs) == len(trace_ours), (
        f"{name}: {len(trace_theirs)} vs {len(trace_ours)} messages")
    for n, (a, b) in enumerate(zip(trace_theirs, trace_ours)):
        assert a == b, f"{name}: message {n} ({a[0]}) differs"
    total = sum(len(m) // 2 for _, m in trace_ours)
    print(f"ok   {name} recs={recs} P={p} limits={limit1}/{limit2}: "
          f"{len(trace_ours)} messages, {total} bytes identical")


def first_reply(cmd, items, query, limit):
    lines = [f"item,{c},{i}" for c, i, w in items if w & 2]
    code, out, err = th.run_lines(cmd, lines + ["seal", f"msg,{query}"], limit)
    assert code == 0, err
    assert len(out) == 1, f"expected one line, got {len(out)}: {out[:2]}"
    # nostr-tools reports a bare version byte as "nothing to send".
    return "msg,61" if out[0] == "done" else out[0]


def check_same_first_reply(nt, ours, seed, recs, p, limit):
    items = th.deal(random.Random(seed), recs, *p)
    lines = [f"item,{c},{i}" for c, i, w in items if w & 1]
    code, out, err = th.run_lines(ours, lines + ["seal", "initiate"])
    assert code == 0 and out[0].startswith("msg,"), err
    query = out[0][4:]
    a = first_reply(nt, items, query, limit)
    b = first_reply(ours, items, query, limit)
    assert a == b, f"first replies differ (limit {limit})"
    print(f"ok   nostr-tools responder vs ours recs={recs} P={p} limit={limit}: "
          f"{len(b) // 2 - 2} bytes identical")


def main():
    ours = [th.harness_path()]
    with tempfile.TemporaryDirectory(prefix="noaber-negentropy-") as workdir:
        adapter = install(workdir)
        ndk = ["node", adapter, "ndk"]
        nt = ["node", adapter, "nostr-tools"]

        mixes = [(1, 1, 98), (1, 1, 5), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
        for k, p in enumerate(mixes):
            check_pair("ndk->ours", ndk, ours, 100 + k, 5000, p)
            check_pair("ours->ndk", ours, ndk, 200 + k, 5000, p)
            check_pair("nostr-tools->ours", nt, ours, 300 + k, 5000, p)
        # Frame limits as in the reference suite (fewer records).
        for k, p in enumerate([(1, 1, 5), (1, 0, 0), (0, 1, 0)]):
            check_pair("ndk->ours", ndk, ours, 400 + k, 20000, p, 60000, 500000)
            check_pair("nostr-tools->ours", nt, ours, 500 + k, 20000, p, 60000, 500000)
            check_pair("ours->ndk", ours, ndk, 600 + k, 20000, p, 60000, None)
        check_pair("nostr-tools->ours", nt, ours, 700, 5000, (1, 1, 10), 4096, 4096)

        # Byte for byte: their initiator against ours, same responder.
        for k, p in enumerate([(1, 1, 98), (1, 1, 10), (1, 0, 0), (0, 1, 0)]):
            check_same_bytes("nostr-tools initiator vs ours", (nt, ours), (ours, ours),
                             800 + k, 10000, p)
        for k, p in enumerate([(1, 1, 5), (1, 1, 10)]):
            check_same_bytes("nostr-tools initiator vs ours", (nt, ours), (ours, ours),
                             900 + k, 20000, p, 4096, 60000)
        # Byte for byte: their responder against ours, on a first message,
        # unlimited and cut by a small frame.
        # (The initiator must hold 32 items or more, so that its first message
        # holds fingerprints only.)
        for k, p in enumerate([(1, 1, 98), (1, 1, 5), (1, 0, 0), (0, 0, 1)]):
            check_same_first_reply(nt, ours, 1000 + k, 20000, p, None)
            check_same_first_reply(nt, ours, 1100 + k, 20000, p, 4096)


if __name__ == "__main__":
    main()
