#!/usr/bin/env python3
"""What the attacks of issue 12 cost a node, and how long honest nodes wait.

    bench/attacks.py --build BUILD_DIR [--hostile PATH] [--only NAMES]

Runs each attack of tests/e2e/test_attacks.py against the noaberd in
BUILD_DIR, with tests/hostile_peer.c (PATH, default BUILD_DIR's
tests/hostile-peer) as the attacker, and prints per attack the victim's peak
RSS growth, the longest a control call waited on its event loop during the
attack, and the time until the honest node is served again.  BUILD_DIR may
hold an older noaberd (a build of an earlier commit): the victims here use
no setting it would not know, so before/after figures come from the same
script (bench/README.md, "Attacks").  Nothing is asserted.
"""
import argparse
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # it imports tests/e2e/test_attacks.py from the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))

ATTACKS = ["neg-bomb", "half-open", "squat", "poison", "invalid"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--hostile")
    ap.add_argument("--only", default=",".join(ATTACKS))
    ap.add_argument("--seconds", type=float, default=40, help="longest an attack runs")
    args = ap.parse_args()
    os.environ["NOABER_BUILD_ROOT"] = os.path.abspath(args.build)
    import nb  # noqa: E402  (reads NOABER_BUILD_ROOT)
    import test_attacks as ta  # noqa: E402

    hostile_bin = args.hostile or os.path.join(args.build, "tests", "hostile-peer")
    nodes = []

    def node(name, config=()):
        n = nb.NetNode(name, config=list(config), allow_loopback=False)
        nodes.append(n)
        return n.start()

    def pair(victim_config=()):
        victim = node("victim", victim_config)
        victim.create_neighbourhood("Marollen")
        code = victim.invite()
        return victim, code, bytes(nb.invite_decode(code)["key"])

    def pair_with_honest():
        """A victim and an honest node linked to it; returns (victim, key)."""
        victim, code, key = pair()
        honest = node("honest")
        honest.join(nb.invite_only_maker(code))
        wait(lambda: linked(victim, honest), 60)
        return victim, key

    def linked(a, b):
        try:
            return b.node_key in a.connected_keys() and a.node_key in b.connected_keys()
        except Exception:
            return False

    class Watch:
        """Samples the victim's control latency while an attack runs."""

        def __init__(self, victim):
            self.victim, self.worst, self.stop = victim, 0.0, threading.Event()
            self.t = threading.Thread(target=self.run, daemon=True)
            self.t.start()

        def run(self):
            while not self.stop.is_set():
                t0 = time.monotonic()
                try:
                    self.victim.call("status")
                except Exception:
                    pass
                self.worst = max(self.worst, time.monotonic() - t0)
                time.sleep(0.05)

        def end(self):
            self.stop.set()
            self.t.join()
            return self.worst

    def wait(cond, limit):
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if cond():
                return time.monotonic() - t0
            time.sleep(0.05)
        return None

    results = []

    def report(name, victim, before, stall, recover, extra=""):
        _, peak = ta.memory_kib(victim)
        if isinstance(recover, str):
            rec = recover
        else:
            rec = "%.1f s" % recover if recover is not None else "> %.0f s" % args.seconds
        results.append((name, before / 1024, (peak - before) / 1024, stall, rec, extra))

    try:
        only = args.only.split(",")
        if "neg-bomb" in only:
            victim, key = pair_with_honest()
            before, _ = ta.memory_kib(victim)
            port = nb.free_port()
            h = ta.Hostile("neg-bomb", key, "--listen", "127.0.0.2:%d" % port, "--seconds",
                           str(args.seconds), binary=hostile_bin)
            wait(lambda: h.count("listening"), 10)
            w = Watch(victim)
            victim.operator.ok("peer", "add", "127.0.0.2:%d" % port)
            wait(lambda: h.count("up"), 10)
            recover = wait(lambda: h.count("closed") or victim.proc.poll() is not None,
                           args.seconds)
            stall = w.end()
            rounds = max([int(l[1]) for l in h.lines if l and l[0] == "rounds"] or [0])
            report("neg-bomb", victim, before, stall, recover, "%d rounds answered" % rounds)
            h.stop()

        if "half-open" in only:
            victim, code, key = pair()
            before, _ = ta.memory_kib(victim)
            stop, held = threading.Event(), []

            def flood():
                ta.half_open_flood(victim.peer_port, 500, lambda n: "127.0.0.2", stop, held)

            t = threading.Thread(target=flood, daemon=True)
            t.start()
            wait(lambda: len(held) >= 500, 30)
            w = Watch(victim)
            honest = node("honest")
            honest.join(nb.invite_only_maker(code))
            recover = wait(lambda: linked(victim, honest), args.seconds)
            stall = w.end()
            stop.set()
            t.join()
            report("half-open", victim, before, stall, recover, "500 held, then 60/s, one address")

        if "squat" in only:
            victim, code, key = pair()
            before, _ = ta.memory_kib(victim)
            h = ta.Hostile("squat", key, "--from", "127.0.0.2", "--to", victim.address,
                           "--sessions", "16", "--seconds", str(args.seconds + 30),
                           binary=hostile_bin)
            wait(lambda: victim.call("status")["peers"] >= 16, 30)
            w = Watch(victim)
            honest = node("honest")
            honest.join(nb.invite_only_maker(code))
            recover = wait(lambda: linked(victim, honest), args.seconds)
            stall = w.end()
            report("squat", victim, before, stall, recover, "16 idle sessions")
            h.stop()

        if "poison" in only:
            victim, code, key = pair()
            before, _ = ta.memory_kib(victim)
            known0 = victim.call("status").get("known", len(victim.peers()))
            h = ta.Hostile("poison", key, "--from", "127.0.0.2", "--to", victim.address,
                           "--sessions", "12", "--fakes", "22", "--fake-base", "198.51.100.0",
                           "--seconds", str(args.seconds), binary=hostile_bin)
            w = Watch(victim)
            wait(lambda: h.count("up") + h.count("refused") >= 12, 30)
            time.sleep(3)
            stall = w.end()
            rows = victim.peers()
            learned = [p for p in rows if p["source"] == "exchange"]
            dials = sum(1 for l in victim.log().splitlines()
                        if ": connecting" in l and ("198.51.100." in l or "169.254." in l))
            add = victim.operator.run("peer", "add", "203.0.113.7:7447")
            h.stop()
            victim.stop()
            victim.start()
            kept = [p for p in victim.peers() if p["source"] == "exchange"]
            report("poison", victim, before, stall, "-",
                   "addresses %d -> %d (%d learned), %d dials to fakes, peer add %s, %d kept "
                   "after restart" % (known0, len(rows), len(learned), dials,
                                      "ok" if add.rc == 0 else "refused", len(kept)))

        if "invalid" in only:
            victim, key = pair_with_honest()
            before, _ = ta.memory_kib(victim)
            w = Watch(victim)
            h = ta.Hostile("invalid", key, "--from", "127.0.0.2", "--to", victim.address,
                           "--sessions", "5", "--seconds", "30", binary=hostile_bin)
            wait(lambda: h.count("up") + h.count("refused") >= 5, 30)
            stall = w.end()
            report("invalid", victim, before, stall, "-",
                   "%d of 5 fresh keys got a session" % h.count("up"))
            h.stop()
    finally:
        for n in nodes:
            n.cleanup()

    print("%-10s %10s %14s %12s %12s  %s" % ("attack", "rss_MiB", "peak_growth", "worst_call",
                                              "recover", "notes"))
    for name, base, growth, stall, rec, extra in results:
        print("%-10s %10.1f %14.1f %10.2f s %12s  %s" % (name, base, growth, stall, rec, extra))


if __name__ == "__main__":
    main()
