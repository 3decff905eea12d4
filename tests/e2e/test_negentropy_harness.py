#!/usr/bin/env python3
"""End-to-end test of negentropy-harness through its line protocol.

Two harness processes play initiator and responder exactly as the reference
implementation's cross-language driver pairs two harnesses: random items are
dealt to one side, the other or both, the initiator's messages are relayed
until it prints "done", and its have/need lines must then be exactly the ids
only it holds and the ids only the responder holds.  Also checks the frame
size limit, version negotiation and that garbage is refused.

Needs NOABER_BUILD_ROOT (set by meson) or the harness path as argv[1].
"""
import os
import random
import subprocess
import sys

BASE_TIME = 1677970534


def harness_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    root = os.environ.get("NOABER_BUILD_ROOT")
    if not root:
        sys.exit("NOABER_BUILD_ROOT is not set and no harness path given")
    return os.path.join(root, "tests", "negentropy-harness")


class Harness:
    """One harness process, spoken to a line at a time."""

    def __init__(self, cmd, frame_size_limit=None):
        env = dict(os.environ)
        env.pop("FRAMESIZELIMIT", None)
        if frame_size_limit is not None:
            env["FRAMESIZELIMIT"] = str(frame_size_limit)
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, text=True, bufsize=1)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def recv(self):
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            raise AssertionError(f"harness ended early: {err.strip()}")
        return line.rstrip("\n")

    def close(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            code = self.proc.wait(timeout=30)
        finally:
            self.proc.stdout.close()
            err = self.proc.stderr.read()
            self.proc.stderr.close()
        return code, err


def deal(rng, recs, p1, p2, p3):
    """Items as (created, idhex, where) with where in {1, 2, 3}."""
    total = p1 + p2 + p3
    items = []
    for _ in range(recs):
        created = BASE_TIME + rng.randrange(max(recs, 1))
        idhex = f"{rng.getrandbits(256):064x}"
        r = rng.random() * total
        where = 1 if r < p1 else (2 if r < p1 + p2 else 3)
        items.append((created, idhex, where))
    return items


def reconcile(cmd1, cmd2, items, limit1=None, limit2=None, trace=None):
    """Runs a session; returns (have set, need set, rounds)."""
    a = Harness(cmd1, limit1)
    b = Harness(cmd2, limit2)
    for created, idhex, where in items:
        if where & 1:
            a.send(f"item,{created},{idhex}")
        if where & 2:
            b.send(f"item,{created},{idhex}")
    a.send("seal")
    b.send("seal")
    a.send("initiate")

    have, need = set(), set()
    rounds = 0
    while True:
        line = a.recv()
        kind, _, payload = line.partition(",")
        if kind in ("have", "need"):
            assert len(payload) == 64, line
            (have if kind == "have" else need).add(payload)
            continue
        if kind == "done":
            break
        assert kind == "msg", f"unexpected line from initiator: {line!r}"
        if limit1:
            assert len(payload) // 2 <= limit1, "initiator exceeded its frame size limit"
        if trace is not None:
            trace.append(("up", payload))
        b.send(f"msg,{payload}")
        reply = b.recv()
        kind, _, payload = reply.partition(",")
        assert kind == "msg", f"unexpected line from responder: {reply!r}"
        if limit2:
            assert len(payload) // 2 <= limit2, "responder exceeded its frame size limit"
        if trace is not None:
            trace.append(("down", payload))
        a.send(f"msg,{payload}")
        rounds += 1
        assert rounds < 10000, "no progress"

    for h in (a, b):
        code, err = h.close()
        assert code == 0, f"harness exited {code}: {err}"
    return have, need, rounds


def check_session(cmd1, cmd2, seed, recs, p1, p2, p3, limit1=None, limit2=None):
    rng = random.Random(seed)
    items = deal(rng, recs, p1, p2, p3)
    have, need, rounds = reconcile(cmd1, cmd2, items, limit1, limit2)
    want_have = {i for _, i, w in items if w == 1}
    want_need = {i for _, i, w in items if w == 2}
    assert have == want_have, (
        f"have: {len(have - want_have)} extra, {len(want_have - have)} missing")
    assert need == want_need, (
        f"need: {len(need - want_need)} extra, {len(want_need - need)} missing")
    print(f"ok   recs={recs} P={p1}/{p2}/{p3} limits={limit1}/{limit2}: "
          f"{len(have)} have, {len(need)} need, {rounds} rounds")


def run_lines(cmd, lines, limit=None):
    """Feeds lines to one harness; returns (exit code, stdout lines, stderr)."""
    env = dict(os.environ)
    env.pop("FRAMESIZELIMIT", None)
    if limit is not None:
        env["FRAMESIZELIMIT"] = str(limit)
    p = subprocess.run(cmd, input="".join(l + "\n" for l in lines), env=env,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.splitlines(), p.stderr


def check_version_negotiation(cmd):
    # A responder offered an unknown version replies with its own version
    # byte alone, then serves the retried version-1 message normally.
    ee = "ee" * 32
    code, out, err = run_lines(cmd, [
        f"item,12345,{ee}", "seal",
        "msg,62aabbccddeeff",
        "msg,6100000200",
    ])
    assert code == 0, err
    assert out == ["msg,61", f"msg,6100000201{ee}"], out
    print("ok   version negotiation")


def check_empty_initiate(cmd):
    code, out, err = run_lines(cmd, ["seal", "initiate"])
    assert code == 0, err
    assert out == ["msg,6100000200"], out
    print("ok   empty-set initiate bytes")


def check_refusals(cmd):
    ee = "ee" * 32
    cases = [
        (["seal", "msg,61ff"], "truncated varint"),
        (["seal", "msg,"], "empty message"),
        (["seal", "msg,6100000203"], "id list count beyond the message"),
        (["seal", "msg,50"], "not a Negentropy version"),
        (["seal", "msg,6g"], "bad hex"),
        (["frobnicate"], "unknown command"),
        ([f"item,1,{ee}", f"item,1,{ee}", "seal"], "duplicate item"),
        ([f"item,1,{ee[:-2]}"], "short id"),
        ([f"item,18446744073709551615,{ee}"], "infinite timestamp"),
        (["seal", "initiate", "msg,62"], "initiator offered another version"),
    ]
    for lines, what in cases:
        code, _, err = run_lines(cmd, lines)
        assert code == 1, f"{what}: exit {code}"
        assert "negentropy-harness:" in err, f"{what}: no reason given: {err!r}"
    code, _, err = run_lines(cmd, ["seal"], limit=4095)
    assert code == 1 and "argument" in err, err
    print(f"ok   {len(cases) + 1} malformed inputs refused")


def main():
    cmd = [harness_path()]
    check_empty_initiate(cmd)
    check_version_negotiation(cmd)
    check_refusals(cmd)

    check_session(cmd, cmd, 1, 0, 1, 1, 98)
    check_session(cmd, cmd, 2, 1, 1, 1, 98)
    check_session(cmd, cmd, 3, 5000, 0, 0, 1)
    check_session(cmd, cmd, 4, 5000, 1, 0, 0)
    check_session(cmd, cmd, 5, 5000, 0, 1, 0)
    check_session(cmd, cmd, 6, 10000, 1, 1, 98)
    check_session(cmd, cmd, 7, 10000, 1, 1, 10)
    # The reference's interop settings, on fewer records to stay quick.
    check_session(cmd, cmd, 8, 20000, 1, 1, 5, 60000, 500000)
    check_session(cmd, cmd, 9, 20000, 1, 0, 0, 60000, 500000)
    check_session(cmd, cmd, 10, 20000, 0, 1, 0, 60000, 500000)
    check_session(cmd, cmd, 11, 5000, 1, 1, 10, 4096, 4096)


if __name__ == "__main__":
    main()
