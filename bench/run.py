#!/usr/bin/env python3
"""Noaber's benchmarks: how close the real daemon and client code come to the
limits of the machine they run on (bench/README.md explains every figure).

    bench/run.py --build BUILD_DIR [--smoke] [--out DIR] [--only NAMES]

Every figure is measured on the binaries in BUILD_DIR (noaberd, noaber and the
bench-* tools built from bench/) and compared with a baseline measured in the
same run.  Prints a table and writes DIR/latest.csv (figure, value, unit,
baseline, baseline_value, ratio) and DIR/latest.png (gnuplot, when it is
installed).  DIR defaults to bench/results/.

--smoke runs every benchmark with tiny sizes in well under a minute: it keeps
the benchmarks working (the 'bench-smoke' test), its numbers mean nothing.
--only runs some groups: ingest, reconcile, sync, propagation, footprint.

Nothing here asserts a timing.  The run fails only when a measurement could
not be made (a daemon that does not start, a record refused, a
reconciliation with the wrong answer), with the reason.
"""
import argparse
import csv
import hashlib
import math
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "e2e"))
import nb  # noqa: E402  (the e2e tests' control-API client)
import web  # noqa: E402  (the page's figures)

GROUPS = ["ingest", "reconcile", "sync", "catchup", "propagation", "footprint", "web"]

FULL = {
    "verify_seconds": 3.0,
    "store_n": 100000,  # records of the node used for ingest and footprint
    "ingest_n": 20000,  # records submitted pipelined
    "ingest_serial_n": 5000,  # records submitted one at a time
    "recon_n": [10**4, 10**5, 10**6],
    "recon_k": [1, 10, 100, 1000],
    "reference_max_n": 10**6,
    "e2e_k": 100,  # records that differ in the end-to-end reconciliation
    "sync_n": 100000,
    "catchup_n": 5000,  # the backlog a new node fetches from catchup_peers peers
    "catchup_peers": 5,
    "catchup_rate": 16384,  # bytes a second each way on each of its links
    "week_n": 100000,  # what the peers of a node back from a week away hold
    "week_new": 1000,  # of which posted while it was away
    "week_retract": 100,  # of those, retractions of records the node holds
    "prop_nodes": 16,
    "prop_degree": 3,
    "prop_records": 200,
    "footprint_peers": 8,
    "footprint_away": 1000,  # records the 8-peer node lacks at start (a week away)
    "idle_seconds": 20.0,
    "startup_n": [100000, 1000000],
    "startup_repeat": 3,
    "web_open": 1000,  # open requests on the node whose page is listed
    "web_calls": 2000,  # list and submit calls through noaber-web and direct
}

SMOKE = {
    "verify_seconds": 0.2,
    "store_n": 500,
    "ingest_n": 200,
    "ingest_serial_n": 50,
    "recon_n": [1000, 4000],
    "recon_k": [1, 100],
    "reference_max_n": 0,
    "e2e_k": 10,
    "sync_n": 300,
    "catchup_n": 100,
    "catchup_peers": 3,
    "catchup_rate": 65536,
    "week_n": 2000,
    "week_new": 100,
    "week_retract": 10,
    "prop_nodes": 4,
    "prop_degree": 2,
    "prop_records": 5,
    "footprint_peers": 2,
    "footprint_away": 20,
    "idle_seconds": 0.5,
    "startup_n": [500, 2000],
    "startup_repeat": 1,
    "web_open": 20,
    "web_calls": 10,
}


def peer_support(noaberd):
    """None when noaberd has peer networking, else the reason it cannot be
    measured."""
    try:
        p = subprocess.run([noaberd, "--help"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return str(e)
    if "--listen" not in p.stdout:
        return "peer networking is not in this noaberd yet (no --listen)"
    return None


def wait_caught_up(name, node, records, peers, deadline):
    """Waits until `node` is in sync with `peers` peers and holds `records`."""
    while True:
        st = node.call("status")
        if st.get("in_sync") and st.get("records") == records and st.get("peers") == peers:
            return
        if time.monotonic() > deadline:
            raise BenchError("%s: not in sync after 20 minutes: %r" % (name, st))
        time.sleep(0.02)


def stop_linked(node, peers, relays):
    """Stops a node, its peers and the relays between them."""
    node.stop()
    for d in peers:
        d.stop()
    for r in relays:
        r.close()


def expected_figures(p, peers=True, browser=True):
    """Every figure a run with parameters p writes (peers: noaberd has peer
    networking; browser: Chromium can run the page).  The smoke test checks
    the CSV against this list."""
    f = ["ingest.verify_raw", "ingest.record_open", "ingest.node_accept", "ingest.node_catchup",
         "store.pages_per_record.submit", "store.pages_per_record.catchup",
         "ingest.control_serial", "ingest.control_pipelined",
         "store.read_unchecked", "store.read_checked", "store.read_id_hash",
         "store.wal_mark", "store.commit_unmarked", "store.commit_marked"]
    for n in p["recon_n"]:
        for k in p["recon_k"]:
            for m in ("bytes_up", "bytes_down", "bytes_total", "round_trips"):
                f.append("reconcile.n=%d.k=%d.%s" % (n, k, m))
            for m in ("bytes_total", "round_trips", "symbols_per_difference", "seconds"):
                f.append("reconcile.n=%d.k=%d.riblt.%s" % (n, k, m))
        f.append("reconcile.n=%d.riblt.build_seconds" % n)
    f += ["footprint.idle_rss.n=%d.peers=0" % p["store_n"],
          "footprint.idle_cpu.n=%d.peers=0" % p["store_n"]]
    f += ["footprint.startup.n=%d" % n for n in p["startup_n"]]
    if peers:
        f += ["ingest.peer_link", "ingest.peer_link.all_cores",
              "ingest.peer_link.records_per_cpu_s", "sync.initial.n=%d" % p["sync_n"],
              "sync.initial.n=%d.index_build_ms" % p["sync_n"]]
        f += ["sync.initial.n=%d.%s" % (p["sync_n"], m)
              for m in ("records_per_cpu_s", "joining_cpu_s", "unpinned",
                        "unpinned.records_per_cpu_s", "unpinned.joining_cpu_s")]
        f += ["reconcile.e2e.n=%d.k=%d.wire_bytes" % (p["store_n"], p["e2e_k"])]
        f += ["reconcile.e2e.n=%d.k=%d.riblt.wire_bytes" % (p["store_n"], p["e2e_k"])]
        f += ["catchup.peers=%d.n=%d.%s" % (p["catchup_peers"], p["catchup_n"], m)
              for m in ("bytes_in", "records_in", "records_out", "in_sync_s", "live_ms")]
        f += ["catchup.week.peers=%d.n=%d.new=%d.%s" % (p["catchup_peers"], p["week_n"],
                                                       p["week_new"], m)
              for m in ("bytes_in", "bytes_out", "records_in", "records_out", "in_sync_s")]
        f += ["propagation.nodes=%d.%s" % (p["prop_nodes"], m)
              for m in ("median_ms", "p99_ms", "deliveries_per_record_node", "mean_degree")]
        f += ["footprint.%s.n=%d.peers=%d" % (m, p["store_n"], p["footprint_peers"])
              for m in ("idle_rss", "idle_cpu", "caught_up_rss", "peak_rss")]
    if browser:
        f += web.expected(p)
    return f


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    """A measurement could not be made; the message says why."""


def run(cmd, timeout=1800, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        raise BenchError("%s failed (exit %d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p.stdout


def kv(line):
    """'a 1 b 2.5' -> {'a': 1.0, 'b': 2.5}"""
    f = line.split()
    return {f[i]: float(f[i + 1]) for i in range(0, len(f) - 1, 2)}


def have_taskset():
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pin(core, cmd):
    """cmd pinned to one core when the machine has taskset and two cores."""
    return (["taskset", "-c", str(core)] + cmd) if have_taskset() else cmd


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(s)))
    return s[rank - 1]


def die_with_parent():
    """In a child before exec: SIGTERM when the benchmark dies, so a run
    killed by a timeout leaves no daemons behind (Linux; elsewhere a no-op)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def regular_graph(n, degree, rng):
    """A random connected simple graph on n nodes where every node has
    `degree` neighbours (n * degree even, degree < n): adjacency sets."""
    for _ in range(10000):
        half_edges = [v for v in range(n) for _ in range(degree)]
        rng.shuffle(half_edges)
        adj = [set() for _ in range(n)]
        ok = True
        for a, b in zip(half_edges[::2], half_edges[1::2]):
            if a == b or b in adj[a]:
                ok = False
                break
            adj[a].add(b)
            adj[b].add(a)
        if ok and max(eccentricities(adj)) < n:
            return adj
    raise BenchError("no connected %d-regular graph on %d nodes" % (degree, n))


def eccentricities(adj):
    """Longest shortest path from each node (n when the graph is not connected)."""
    out = []
    for s in range(len(adj)):
        dist = {s: 0}
        todo = [s]
        for v in todo:
            for w in adj[v]:
                if w not in dist:
                    dist[w] = dist[v] + 1
                    todo.append(w)
        out.append(max(dist.values()) if len(dist) == len(adj) else len(adj))
    return out


def read_records(path):
    """The signed records of a records file (bench-make-store --out)."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 32
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


# --- processes -----------------------------------------------------------------


class Daemon:
    """One noaberd on a data directory of its own under `root`."""

    def __init__(self, bench, root, name, extra_args=(), core=None, config=None):
        self.bench = bench
        self.dir = os.path.join(root, name)
        self.data_dir = os.path.join(self.dir, "data")
        self.sock_dir = os.path.join(self.dir, "run")
        self.socket = os.path.join(self.sock_dir, "noaberd.sock")
        self.log_path = os.path.join(self.dir, "noaberd.log")
        self.extra_args = list(extra_args)
        self.core = core
        self.perf = None  # a perf.data path: run under `perf record -g`
        self.proc = None
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.sock_dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.port = None
        # The benchmarks' synthetic members sign hundreds of records a day
        # each: far over the quota per member, which is not what is measured.
        config = dict({"quota_hour": "0", "quota_day": "0"}, **(config or {}))
        if config is not None:
            path = os.path.join(self.dir, "noaberd.conf")
            with open(path, "w") as f:
                f.write("".join("%s = %s\n" % kv for kv in config.items()))
            self.extra_args += ["--config", path]

    def listen(self):
        """Accept peer links on 127.0.0.1 (call before start)."""
        self.port = free_port()
        self.extra_args += ["--listen", "127.0.0.1:%d" % self.port, "--no-discovery"]
        return self

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    @property
    def store(self):
        return os.path.join(self.data_dir, "store.sqlite")

    def start(self, timeout=300):
        """Starts noaberd; returns the seconds until it answered `hello`."""
        cmd = [self.bench.noaberd, "--data-dir", self.data_dir, "--socket", self.socket,
               "--log-level", "info"] + self.extra_args
        if self.perf is not None:
            cmd = ["perf", "record", "-g", "-q", "-o", self.perf, "--"] + cmd
        if self.core is not None:
            cmd = pin(self.core, cmd)
        self._log = open(self.log_path, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     # preexec_fn is unsafe once threads run (the relay's).
                                     preexec_fn=die_with_parent
                                     if threading.active_count() == 1 else None)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("noaberd exited with %d:\n%s" % (self.proc.returncode, self.log()))
            if os.path.exists(self.socket):
                try:
                    with nb.Control(self.socket, timeout=timeout) as c:
                        if c.call("hello").get("ok"):
                            return time.monotonic() - t0
                except (OSError, ValueError, ConnectionError):
                    pass
            time.sleep(0.002)
        raise BenchError("noaberd did not answer within %d s:\n%s" % (timeout, self.log()))

    def call(self, op, **args):
        with nb.Control(self.socket, timeout=600) as c:
            r = c.call(op, **args)
        if not r.get("ok"):
            raise BenchError("%s: %s: %s" % (op, r.get("error"), r.get("message")))
        return r["result"]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def rss_kib(self, field="VmRSS"):
        """VmRSS (KiB), or another field of /proc/PID/status such as VmHWM,
        the peak RSS."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise BenchError("no %s for noaberd" % field)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


# --- the run -------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.out = os.path.abspath(args.out)
        self.smoke = args.smoke
        self.perf = getattr(args, "perf", None)
        self.p = SMOKE if args.smoke else FULL
        self.groups = args.only.split(",") if args.only else GROUPS
        self.rows = []
        self.skipped = []  # (group, reason)
        self.curves = {}  # data for the plot
        self.tmp = tempfile.mkdtemp(prefix="noaber-bench-")
        os.chmod(self.tmp, 0o700)
        self.noaberd = os.path.join(self.build, "daemon", "noaberd")
        self.noaber = os.path.join(self.build, "client", "noaber")
        self.tool = lambda name: os.path.join(self.build, "bench", "bench-" + name)
        for exe in (self.noaberd, self.noaber, self.tool("make-store"), self.tool("ingest"),
                    self.tool("verify"), self.tool("reconcile"), self.tool("read-check"),
                    self.tool("wal-mark")):
            if not os.access(exe, os.X_OK):
                raise BenchError("%s is not built" % exe)
        self._stores = {}
        self.peers_missing = peer_support(self.noaberd)
        # Every record of the run is dated from this one time, so record
        # number i is the same bytes in every store that holds it.
        self.epoch = str(int(time.time()) - 5 * 24 * 3600)
        self._verify = None

    def add(self, figure, value, unit, baseline="", baseline_value=None):
        ratio = ""
        if baseline_value not in (None, "") and baseline_value != 0:
            ratio = value / baseline_value
        self.rows.append({
            "figure": figure, "value": value, "unit": unit, "baseline": baseline,
            "baseline_value": "" if baseline_value is None else baseline_value, "ratio": ratio,
        })
        log("%s = %s %s" % (figure, fmt(value), unit))

    def skip(self, group, reason):
        self.skipped.append((group, reason))
        log("SKIPPED %s: %s" % (group, reason))

    # --- stores ------------------------------------------------------------

    def template(self):
        """An empty store with a neighbourhood: copied, every node of a run
        belongs to the same neighbourhood."""
        path = os.path.join(self.tmp, "template.sqlite")
        if not os.path.exists(path):
            run([self.tool("make-store"), "--store", path, "--count", "0", "--time", self.epoch])
        return path

    def store_with(self, n):
        """A store holding records 0 .. n-1 (made once per n, then copied)."""
        if n not in self._stores:
            path = os.path.join(self.tmp, "store-%d.sqlite" % n)
            shutil.copy(self.template(), path)
            t0 = time.monotonic()
            run([self.tool("make-store"), "--store", path, "--count", str(n), "--time", self.epoch])
            log("made a store of %d records in %.1f s" % (n, time.monotonic() - t0))
            self._stores[n] = path
        return self._stores[n]

    def node_with(self, name, n, extra_args=(), core=None, config=None):
        d = Daemon(self, self.tmp, name, extra_args, core, config)
        shutil.copy(self.store_with(n) if n > 0 else self.template(), d.store)
        return d

    def records_file(self, name, first, count, retract=0):
        path = os.path.join(self.tmp, name + ".records")
        run([self.tool("make-store"), "--store", self.template(), "--first", str(first),
             "--count", str(count), "--out", path, "--time", self.epoch,
             "--retract", str(retract)])
        return path

    # --- 1. ingest -----------------------------------------------------------

    def verify_baseline(self):
        """libsodium's crypto_sign_verify_detached per second, one core."""
        if self._verify is None:
            recs = self.records_file("verify", 10**8, 2000 if not self.smoke else 100)
            out = run(pin(0, [self.tool("verify"), "--records", recs,
                              "--seconds", str(self.p["verify_seconds"])]))
            self._verify = kv(out)
        return self._verify

    def bench_ingest(self):
        p = self.p
        v = self.verify_baseline()
        base = ("libsodium crypto_sign_verify_detached, 1 core", v["verify_rate"])
        self.add("ingest.verify_raw", v["verify_rate"], "records/s")
        self.add("ingest.record_open", v["open_rate"], "records/s", *base)

        serial = self.records_file("serial", 2 * 10**8, p["ingest_serial_n"])
        piped = self.records_file("piped", 3 * 10**8, p["ingest_n"])
        local = self.records_file("local", 4 * 10**8, p["ingest_n"])

        # The node's whole ingest path in one process, no socket.
        d = self.node_with("accept", p["store_n"])
        out = run(pin(0, [self.tool("make-store"), "--store", d.store, "--accept", local]))
        self.add("ingest.node_accept", kv(out)["rate"], "records/s", *base)

        # Pages the store writes per record (bench/README.md, "Page writes
        # per record"): the same records on copies of the same store, in the
        # order a client submits them (by created_at) and in the order a
        # catch-up fetches them (by id, the node told it is catching up),
        # against the indexes of schemas 2-6 written as they were, in this run.
        for order, name in (("file", "submit"), ("id", "catchup")):
            res = {}
            for old in (True, False):
                c = self.node_with("pages-%s-%s" % (order, "old" if old else "new"), p["store_n"])
                cmd = [self.tool("make-store"), "--store", c.store, "--accept", local,
                       "--order", order] + (["--old-indexes"] if old else [])
                res[old] = kv(run(pin(0, cmd)))
                shutil.rmtree(c.dir, ignore_errors=True)
            self.add("store.pages_per_record." + name, res[False]["pages"], "pages",
                     "the indexes of schemas 2-6, the same records", res[True]["pages"])
            if name == "catchup":
                self.add("ingest.node_catchup", res[False]["rate"], "records/s", *base)

        # Every read for a client or a peer hashes the record and compares
        # it with its id (damage is never served): what that costs.
        out = kv(run(pin(0, [self.tool("read-check"), "--store", d.store,
                             "--seconds", str(p["verify_seconds"])])))
        unchecked = 1.0 / (1.0 / out["checked"] - 1.0 / out["hash"])
        self.add("store.read_id_hash", out["hash"], "hashes/s")
        self.add("store.read_unchecked", unchecked, "reads/s")
        self.add("store.read_checked", out["checked"], "reads/s",
                 "the same reads without the id check (1/checked - 1/hash)", unchecked)

        # After every commit the store writes the WAL mark (a WAL cut at a
        # commit is seen): what that costs a commit.
        mark_dir = os.path.join(self.tmp, "wal-mark")
        os.makedirs(mark_dir, exist_ok=True)
        out = kv(run(pin(0, [self.tool("wal-mark"), "--dir", mark_dir,
                             "--seconds", str(p["verify_seconds"])])))
        unmarked = 1.0 / (1.0 / out["commits"] - 1.0 / out["marks"])
        self.add("store.wal_mark", out["marks"], "marks/s")
        self.add("store.commit_unmarked", unmarked, "commits/s")
        self.add("store.commit_marked", out["commits"], "commits/s",
                 "the same commits without the WAL mark (1/marked - 1/mark)", unmarked)

        d = self.node_with("ingest", p["store_n"], core=0)
        d.start()
        try:
            for path, window, name in ((serial, 1, "ingest.control_serial"),
                                       (piped, 64, "ingest.control_pipelined")):
                out = run(pin(1, [self.tool("ingest"), "--socket", d.socket, "--records", path,
                                  "--window", str(window)]))
                self.add(name, kv(out)["rate"], "records/s", *base)
        finally:
            d.stop()

        self.bench_ingest_peer(base)

    def bench_ingest_peer(self, base):
        if self.peers_missing:
            self.skip("ingest.peer_link", self.peers_missing)
            return
        # A node holding store_n records fetches ingest_n more from a peer
        # that holds them all: reconciliation, then want/record, each record
        # verified and committed by the receiving node on core 0.
        p = self.p
        n, extra = p["store_n"], p["ingest_n"]
        rate, cpu = self.sync_rate("ingest-peer", n + extra, n)
        self.add("ingest.peer_link", rate, "records/s", *base)
        cores = os.cpu_count() or 1
        self.add("ingest.peer_link.all_cores", rate, "records/s",
                 "%d cores x one core's crypto_sign_verify_detached" % cores, cores * base[1])
        if cpu is not None:
            self.add("ingest.peer_link.records_per_cpu_s", extra / cpu, "records/CPU-s",
                     "one core's crypto_sign_verify_detached (records/CPU-s)", base[1])

    def sync_rate(self, name, full_n, have_n, joiner_core=0):
        """Records per second for a node holding records 0 .. have_n-1 to
        catch up with a peer holding 0 .. full_n-1, from its start until its
        status says in sync with every record, and the CPU seconds the
        joining node spent meanwhile, all its threads (None under perf).
        The serving node runs on core 1; the joining node on joiner_core,
        or on any core with joiner_core None."""
        full = self.node_with(name + "-full", full_n, core=1).listen()
        joiner = self.node_with(name + "-joining", have_n, core=joiner_core).listen()
        joiner.extra_args += ["--peer", full.address]
        if name == "sync" and self.perf:
            joiner.perf = os.path.abspath(self.perf)
        cpu = None
        full.start()
        try:
            t0 = time.monotonic()
            joiner.start()
            try:
                deadline = t0 + 1200
                while True:
                    st = joiner.call("status")
                    if st.get("in_sync") and st.get("records") == full_n and st.get("peers", 0) > 0:
                        break
                    if time.monotonic() > deadline:
                        raise BenchError("%s: not in sync after 20 minutes: %r\n%s"
                                         % (name, st, joiner.log()))
                    time.sleep(0.02)
                dt = time.monotonic() - t0
                if joiner.perf is None:
                    cpu = joiner.cpu_seconds()
                self.index_build_ms = self.wait_index_build(joiner)
            finally:
                joiner.stop()
        finally:
            full.stop()
        shutil.rmtree(full.dir, ignore_errors=True)
        shutil.rmtree(joiner.dir, ignore_errors=True)
        self.sync_seconds = dt
        return (full_n - have_n) / dt, cpu

    def wait_index_build(self, d):
        """Milliseconds the node took to build the indexes it set aside
        during the catch-up (daemon/node.c, nbd_node_catching_up), once it
        is in sync; 0 when it set none aside (a small catch-up)."""
        with open(d.log_path, "rb") as f:
            if b"catching up on" not in f.read():
                return 0.0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with open(d.log_path, "rb") as f:
                m = re.search(rb"built the store's order, kind and expiry indexes in (\d+) ms",
                              f.read())
            if m:
                return float(m.group(1))
            time.sleep(0.1)
        raise BenchError("the indexes set aside during the catch-up were not built:\n%s" % d.log())

    # --- 2. reconciliation -----------------------------------------------------

    def bench_reconcile(self):
        p = self.p
        ref = None
        if p["reference_max_n"] > 0:
            ref = self.reference_negentropy()
        curve = []
        for n in p["recon_n"]:
            for k in p["recon_k"]:
                dump = None
                if ref is not None and n <= p["reference_max_n"]:
                    dump = os.path.join(self.tmp, "sets-%d-%d" % (n, k))
                cmd = [self.tool("reconcile"), "--n", str(n), "--k", str(k), "--seed", str(n + k)]
                if dump:
                    cmd += ["--dump", dump]
                r = kv(run(cmd))
                name = "reconcile.n=%d.k=%d" % (n, k)
                naive = ("naive: every id, 32 bytes x n", 32 * n)
                self.add(name + ".bytes_up", r["bytes_up"], "bytes", *naive)
                self.add(name + ".bytes_down", r["bytes_down"], "bytes", *naive)
                total = r["bytes_up"] + r["bytes_down"]
                if dump:
                    rr = ref(dump)
                    os.unlink(dump + ".a")
                    os.unlink(dump + ".b")
                    refname = "reference Negentropy (nostr-tools initiator)"
                    self.add(name + ".bytes_total", total, "bytes", refname, rr["bytes"])
                    self.add(name + ".round_trips", r["rounds"], "round trips", refname,
                             rr["rounds"])
                else:
                    self.add(name + ".bytes_total", total, "bytes", "naive: both ways, 64 bytes x n",
                             64 * n)
                    self.add(name + ".round_trips", r["rounds"], "round trips",
                             "naive: one exchange", 1)
                rb = kv(run([self.tool("reconcile"), "--n", str(n), "--k", str(k), "--seed",
                             str(n + k), "--mode", "riblt"]))
                # The rateless reconciliation on the same sets, against
                # libnoaber's Negentropy measured just before (bytes and
                # round trips are deterministic; the time is a ratio).
                neg = "Negentropy (libnoaber), same sets"
                self.add(name + ".riblt.bytes_total", rb["bytes_up"] + rb["bytes_down"], "bytes",
                         neg, total)
                self.add(name + ".riblt.round_trips", rb["rounds"], "round trips", neg,
                         r["rounds"])
                self.add(name + ".riblt.symbols_per_difference", rb["symbols"] / k,
                         "coded symbols per record that differs", "the paper: 1.35 to 1.7", 1.5)
                self.add(name + ".riblt.seconds", rb["seconds"], "s", neg + ", same run",
                         r["seconds"])
                curve.append((n, k, r["bytes_up"], r["bytes_down"], r["rounds"],
                              rb["bytes_up"] + rb["bytes_down"]))
            # What building one node's coded symbols of n records from scratch
            # costs in CPU time (noaberd does it once, at its first rateless
            # round, then keeps them): against the 0.5 s that startup at 10^6
            # may take.
            self.add("reconcile.n=%d.riblt.build_seconds" % n, rb["build_seconds"], "s",
                     "startup limit at 10^6 records", 0.5)
        self.curves["reconcile"] = curve
        if self.peers_missing:
            self.skip("reconcile.e2e", self.peers_missing)
            return
        n, k = self.p["store_n"], self.p["e2e_k"]
        name = "reconcile.e2e.n=%d.k=%d" % (n, k)
        neg, naive = self.reconcile_e2e(riblt=False)
        self.add(name + ".wire_bytes", neg, "bytes",
                 "every id both ways (64 x n) + the %d records" % k, naive)
        rb, _ = self.reconcile_e2e(riblt=True)
        self.add(name + ".riblt.wire_bytes", rb, "bytes", "Negentropy between the same daemons",
                 neg)

    def reconcile_e2e(self, riblt=True):
        """Two real daemons reconcile over a peer link through a byte-counting
        TCP relay: every byte of the session from connect to in-sync
        (handshake, hellos, peer lists, rateless reconciliation or, with
        riblt=False, Negentropy, want/record, synced, all inside Noise
        frames)."""
        n, k = self.p["store_n"], self.p["e2e_k"]
        only_a, only_b = (k + 1) // 2, k // 2
        # A holds records 0 .. n-1; B lacks A's newest ceil(k/2) and holds
        # floor(k/2) of its own: a node that was away while others posted.
        config = None if riblt else {"reconcile_riblt": "off"}
        a = self.node_with("e2e-a", n, core=1, config=config).listen()
        b = self.node_with("e2e-b", n - only_a, core=0, config=config).listen()
        if only_b:
            run([self.tool("make-store"), "--store", b.store, "--first", str(10**7),
                 "--count", str(only_b), "--time", self.epoch])
        # Both nodes hold one record of a minute ago, as nodes kept in sync do:
        # a node whose newest record is older than NET_AWAY_S starts its first
        # round with Negentropy (docs/protocol.md), and this figure is about
        # the mode each run asks for.  Record 2^21 is dated at --time itself.
        recent = str(int(time.time()) - 60)
        for d in (a, b):
            run([self.tool("make-store"), "--store", d.store, "--first", str(2**21),
                 "--count", "1", "--time", recent])
        held = n + only_b + 1
        sizes = [len(r) for r in read_records(self.records_file("e2e-sizes", n - only_a, only_a))]
        sizes += [len(r) for r in read_records(self.records_file("e2e-sizes", 10**7, only_b))]
        relay = nb.Relay(a.port)
        b.extra_args += ["--peer", "127.0.0.1:%d" % relay.port]
        try:
            a.start()
            b.start()
            deadline = time.monotonic() + 300
            while True:
                sa, sb = a.call("status"), b.call("status")
                if (sa.get("in_sync") and sb.get("in_sync") and sa.get("records") == held
                        and sb.get("records") == held and sb.get("peers", 0) > 0):
                    break
                if time.monotonic() > deadline:
                    raise BenchError("reconcile.e2e: not in sync after 300 s: %r %r" % (sa, sb))
                time.sleep(0.02)
            up, down = relay.counts()
        finally:
            b.stop()
            a.stop()
            relay.close()
        for d in (a, b):
            shutil.rmtree(d.dir, ignore_errors=True)
        return up + down, 64 * n + sum(sizes)

    def reference_negentropy(self):
        """A function running the reference Negentropy on dumped sets, or None.

        hoytech's JavaScript package is not on npm; nostr-tools' nip77 module
        is a byte-exact port of it (tests/e2e/test_negentropy_interop.py
        checks that), installed here into a temporary directory.  It is an
        initiator only (it never answers an id list), so it is paired with
        libnoaber's responder, which answers byte for byte as the reference
        does: the messages of the session are the reference's.
        """
        import test_negentropy_interop as interop

        workdir = os.path.join(self.tmp, "npm")
        os.makedirs(workdir, exist_ok=True)
        try:
            adapter = interop.install(workdir)
        except SystemExit:
            self.skip("reconcile reference baseline", "node, npm or nostr-tools unavailable")
            return None
        harness = os.path.join(self.build, "tests", "negentropy-harness")
        if not os.access(harness, os.X_OK):
            self.skip("reconcile reference baseline", "tests/negentropy-harness is not built")
            return None
        limit = 60000

        def session(prefix):
            a = LineProc(["node", adapter, "nostr-tools"], limit)
            b = LineProc([harness], limit)
            a.feed_file(prefix + ".a")
            b.feed_file(prefix + ".b")
            a.send("initiate")
            rounds = up = down = 0
            while True:
                line = a.recv()
                if line.startswith(("have,", "need,")):
                    continue
                if line == "done":
                    break
                if not line.startswith("msg,"):
                    raise BenchError("reference initiator said %r" % line[:80])
                up += (len(line) - 4) // 2
                b.send(line)
                reply = b.recv()
                if not reply.startswith("msg,"):
                    raise BenchError("responder said %r" % reply[:80])
                down += (len(reply) - 4) // 2
                a.send(reply)
                rounds += 1
            a.close()
            b.close()
            return {"bytes": up + down, "rounds": rounds}

        return session

    # --- 3. initial sync, 4. propagation --------------------------------------

    def bench_sync(self):
        if self.peers_missing:
            self.skip("sync", self.peers_missing)
            return
        v = self.verify_baseline()
        n = self.p["sync_n"]
        one = ("libsodium crypto_sign_verify_detached, 1 core", v["verify_rate"])
        rate, cpu = self.sync_rate("sync", n, 0)
        self.add("sync.initial.n=%d" % n, rate, "records/s", *one)
        # Built after `in_sync`, on the loop: the figure above leaves it out.
        self.add("sync.initial.n=%d.index_build_ms" % n, self.index_build_ms, "ms",
                 "the sync itself", n / rate * 1000)
        self.sync_cpu("sync.initial.n=%d" % n, n, cpu, one)
        # The same with the joining node free to use both cores (the
        # serving node still on core 1): what pipelining and the verifier's
        # threads give a node that has the machine to itself.
        cores = os.cpu_count() or 1
        rate, cpu = self.sync_rate("sync-unpinned", n, 0, joiner_core=None)
        self.add("sync.initial.n=%d.unpinned" % n, rate, "records/s",
                 "%d cores x one core's crypto_sign_verify_detached" % cores, cores * v["verify_rate"])
        self.sync_cpu("sync.initial.n=%d.unpinned" % n, n, cpu, one)

    def sync_cpu(self, figure, n, cpu, one):
        """The joining node's CPU: records per CPU-second (against one
        core's verify rate, the most a CPU-second can check) and the share
        of the sync's wall time it was on a CPU (the rest it waited)."""
        if cpu is None:
            return
        self.add(figure + ".records_per_cpu_s", n / cpu, "records/CPU-s", one[0], one[1])
        self.add(figure + ".joining_cpu_s", cpu, "CPU-s", "the sync's wall time (s)",
                 self.sync_seconds)

    def bench_catchup(self):
        """A new node joins catchup_peers peers that hold the same backlog,
        each over its own link paced at catchup_rate bytes a second each way
        (nb.Relay).  A record posted at one peer a third of the way through
        is timed until the new node holds it."""
        if self.peers_missing:
            self.skip("catchup", self.peers_missing)
            return
        p = self.p
        n, count, rate = p["catchup_n"], p["catchup_peers"], p["catchup_rate"]
        name = "catchup.peers=%d.n=%d" % (count, n)
        backlog = sum(len(r) for r in read_records(self.records_file("catchup-sizes", 0, n)))
        live = read_records(self.records_file("catchup-live", 5 * 10**8, 2))
        full = [self.node_with("catchup-full%d" % i, n).listen() for i in range(count)]
        joiner = self.node_with("catchup-joining", 0).listen()
        relays = [nb.Relay(d.port, rate=rate) for d in full]
        joiner.extra_args += [a for r in relays for a in ("--peer", r.address)]

        def arrival(rec, deadline):
            rid = hashlib.blake2b(rec, digest_size=32).digest()
            t = time.monotonic()
            full[0].call("submit", record=rec)
            while time.monotonic() < deadline:
                with nb.Control(joiner.socket, timeout=60) as c:
                    if c.call("get", record_id=rid).get("ok"):
                        return (time.monotonic() - t) * 1000
                time.sleep(0.01)
            raise BenchError("%s: a live record did not arrive" % name)

        try:
            for d in full:
                d.start()
            t0 = time.monotonic()
            joiner.start()
            deadline = t0 + 1200
            while joiner.call("status").get("records", 0) < n // 3:
                if time.monotonic() > deadline:
                    raise BenchError("%s: the catch-up did not start" % name)
                time.sleep(0.02)
            live_ms = arrival(live[0], deadline)
            wait_caught_up(name, joiner, n + 1, count, deadline)
            dt = time.monotonic() - t0
            down = sum(r.counts()[1] for r in relays)
            rows = joiner.call("peers")
            idle_ms = arrival(live[1], time.monotonic() + 120)
        finally:
            stop_linked(joiner, full, relays)
        self.add(name + ".bytes_in", down, "bytes", "the backlog's records, once", backlog)
        self.add(name + ".records_in", sum(r["records_in"] for r in rows), "records",
                 "each record once", n + 1)
        self.add(name + ".records_out", sum(r["records_out"] for r in rows), "records",
                 "the backlog pushed back to every other peer", n * (count - 1))
        self.add(name + ".in_sync_s", dt, "s",
                 "the backlog's records over the %d links" % count, backlog / (count * rate))
        self.add(name + ".live_ms", live_ms, "ms", "the same on the idle links afterwards",
                 idle_ms)
        for d in full + [joiner]:
            shutil.rmtree(d.dir, ignore_errors=True)
        self.bench_catchup_week()

    def bench_catchup_week(self):
        """A node that holds week_n - week_new records comes back to
        catchup_peers peers that hold week_n, week_new of them posted while
        it was away, week_retract of those retractions of records it holds;
        over links paced as in bench_catchup."""
        p = self.p
        n, new, retract = p["week_n"], p["week_new"], p["week_retract"]
        count, rate = p["catchup_peers"], p["catchup_rate"]
        name = "catchup.week.peers=%d.n=%d.new=%d" % (count, n, new)
        # The week's records are accepted as the peers' node did (so that
        # the retractions delete their targets), once, then copied.
        week = self.records_file("week", n - new, new, retract=retract)
        week_bytes = sum(len(r) for r in read_records(week))
        peer_store = os.path.join(self.tmp, "week-peers.sqlite")
        shutil.copy(self.store_with(n - new), peer_store)
        run([self.tool("make-store"), "--store", peer_store, "--accept", week])
        full = []
        for i in range(count):
            d = self.node_with("week-peer%d" % i, 0).listen()
            shutil.copy(peer_store, d.store)
            full.append(d)
        away = self.node_with("week-away", n - new).listen()
        relays = [nb.Relay(d.port, rate=rate) for d in full]
        away.extra_args += [a for r in relays for a in ("--peer", r.address)]
        try:
            for d in full:
                d.start()
            held = full[0].call("status")["records"]
            t0 = time.monotonic()
            away.start()
            wait_caught_up(name, away, held, count, t0 + 1200)
            dt = time.monotonic() - t0
            up = sum(r.counts()[0] for r in relays)
            down = sum(r.counts()[1] for r in relays)
            rows = away.call("peers")
        finally:
            stop_linked(away, full, relays)
        self.add(name + ".bytes_in", down, "bytes", "the week's records, once", week_bytes)
        self.add(name + ".bytes_out", up, "bytes", "the week's records, once", week_bytes)
        self.add(name + ".records_in", sum(r["records_in"] for r in rows), "records",
                 "each of the week's records once", new)
        # The node holds nothing its peers lack: any record it pushed was
        # one retracted meanwhile, which they refuse.
        self.add(name + ".records_out", sum(r["records_out"] for r in rows), "records",
                 "the records retracted meanwhile, pushed back", retract)
        self.add(name + ".in_sync_s", dt, "s",
                 "the week's records over the %d links" % count, week_bytes / (count * rate))
        for d in full + [away]:
            shutil.rmtree(d.dir, ignore_errors=True)

    def bench_propagation(self):
        if self.peers_missing:
            self.skip("propagation", self.peers_missing)
            return
        p = self.p
        count, degree = self.prop_nodes(), p["prop_degree"]
        rng = random.Random(7)
        adj = regular_graph(count, degree, rng)
        # Each node may hold `degree` links (max_peers) and is told of its
        # neighbours in a random degree-regular graph.  Peer exchange may
        # still rewire a few links while they come up (a node connects to
        # addresses it hears of while it has room), as it would in a real
        # neighbourhood: the graph measured is the one the links form, and
        # its mean degree is reported.
        # The nodes all listen on loopback, and a node does not take a
        # loopback address a peer names unless told to: without it, a node
        # that only dials out is known to the others by its ephemeral port,
        # and the links cannot be matched to the nodes.
        config = {"max_peers": str(degree), "peer_exchange_allow_loopback": "on"}
        nodes = [self.node_with("prop-%02d" % i, 0, config=config).listen() for i in range(count)]
        records = read_records(self.records_file("prop", 5 * 10**8, p["prop_records"]))
        watchers = []
        try:
            for d in nodes:
                d.start()
            for i, d in enumerate(nodes):
                for j in adj[i]:
                    if i < j:
                        d.call("peer.add", address=nodes[j].address)
            links = self.wait_graph(nodes)
            out0 = self.records_out(nodes)
            for d in nodes:
                w = nb.Control(d.socket, timeout=60)
                if not w.call("watch").get("ok"):
                    raise BenchError("watch refused")
                watchers.append(w)
            arrivals, reach_all, submit_ms = self.propagate(nodes, watchers, records, rng)
            self.wait_graph(nodes)
            out1 = self.records_out(nodes)
        finally:
            for w in watchers:
                w.close()
            for d in nodes:
                d.stop()
        diameter = max(eccentricities(links))
        mean_degree = sum(len(a) for a in links) / count
        hop = statistics.median(submit_ms)
        base = ("diameter %d x median submit-to-commit at one node" % diameter, diameter * hop)
        name = "propagation.nodes=%d" % count
        self.add(name + ".median_ms", statistics.median(reach_all), "ms", *base)
        self.add(name + ".p99_ms", percentile(reach_all, 99), "ms", *base)
        deliveries = (out1 - out0) / (len(records) * (count - 1))
        self.add(name + ".deliveries_per_record_node", deliveries, "records",
                 "ideal: each node receives a record once", 1.0)
        self.add(name + ".mean_degree", mean_degree, "links", "chosen degree", degree)
        self.curves["propagation"] = arrivals
        for d in nodes:
            shutil.rmtree(d.dir, ignore_errors=True)

    def link_graph(self, nodes):
        """The links that are up, as adjacency sets of node indices, and
        whether every node is in sync.  Node keys are matched to nodes
        through the listen addresses the `peers` rows show."""
        by_port = {d.address: i for i, d in enumerate(nodes)}
        key_of = {}
        rows, in_sync = [], True
        for d in nodes:
            r = d.call("peers")
            rows.append(r)
            in_sync = in_sync and d.call("status").get("in_sync", False)
            for row in r:
                if row.get("node") and row.get("address") in by_port:
                    key_of[row["node"]] = by_port[row["address"]]
        seen = set(key_of.values())
        unknown = [i for i in range(len(nodes)) if i not in seen]
        adj = [set() for _ in nodes]
        for i, r in enumerate(rows):
            for row in r:
                if row.get("state") != "connected" or not row.get("node"):
                    continue
                j = key_of.get(row["node"])
                if j is None and len(unknown) == 1:
                    j = key_of[row["node"]] = unknown[0]
                if j is None:
                    return None, False
                adj[i].add(j)
                adj[j].add(i)
        return adj, in_sync

    def wait_graph(self, nodes, timeout=120):
        """Until the links form a connected graph that stays the same for a
        second with every node in sync; returns it."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            adj, in_sync = self.link_graph(nodes)
            if adj is not None and in_sync and max(eccentricities(adj)) < len(nodes):
                if adj == last:
                    return adj
                last = adj
            else:
                last = None
            if time.monotonic() > deadline:
                raise BenchError("the %d nodes did not settle into a connected neighbourhood in "
                                 "%d s" % (len(nodes), timeout))
            time.sleep(1.0)

    def prop_nodes(self):
        """16, or fewer when the machine cannot run that many daemons."""
        want = self.p["prop_nodes"]
        try:
            import resource
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        except (ImportError, ValueError):
            soft = 1024
        with open("/proc/meminfo") as f:
            avail_kib = next(int(l.split()[1]) for l in f if l.startswith("MemAvailable:"))
        fit = min(want, avail_kib // (64 * 1024), (soft - 64) // 8)
        fit -= fit % 2  # n * degree must be even
        if fit < want:
            log("propagation: the machine holds %d nodes, not %d" % (fit, want))
        if fit <= self.p["prop_degree"]:
            raise BenchError("the machine cannot hold a neighbourhood of degree %d"
                             % self.p["prop_degree"])
        return fit

    def wait_links(self, nodes, want, timeout=120, records=None):
        """Until every node has its links up and is in sync (and holds
        `records` records, when given)."""
        deadline = time.monotonic() + timeout
        while True:
            states = [d.call("status") for d in nodes]
            if all(st.get("peers", 0) >= w and st.get("in_sync")
                   and records in (None, st.get("records")) for st, w in zip(states, want)):
                return
            if time.monotonic() > deadline:
                bad = [(i, st.get("peers"), st.get("in_sync")) for i, st in enumerate(states)]
                raise BenchError("links not up after %d s: %r" % (timeout, bad))
            time.sleep(0.05)

    def records_out(self, nodes):
        """Record messages sent by all nodes.  `peers` can list one link
        twice (under a known address with the node's key, and as an inbound
        link), so rows are counted once per node key."""
        total = 0
        for d in nodes:
            by_node = {}
            for row in d.call("peers"):
                key = row.get("node") or row.get("address")
                by_node[key] = max(by_node.get(key, 0), row.get("records_out", 0))
            total += sum(by_node.values())
        return total

    def propagate(self, nodes, watchers, records, rng):
        """Submits each record at a random node and times its arrival at every
        node.  Returns (all arrival times in ms, per-record time to reach the
        last node in ms, per-record submit-to-reply time at the origin)."""
        socks = {w.sock.fileno(): (i, w) for i, w in enumerate(watchers)}
        bufs = {fd: b"" for fd in socks}
        arrivals, reach_all, submit_ms = [], [], []
        for n, rec in enumerate(records):
            origin = rng.randrange(len(nodes))
            seen = {}
            with nb.Control(nodes[origin].socket, timeout=60) as c:
                t0 = time.monotonic()
                c.send_frame(nb.mp_pack({"v": 1, "id": 1, "op": "submit", "record": rec}))
                reply = c.read_frame()
                submit_ms.append((time.monotonic() - t0) * 1000)
            if not reply or not reply.get("ok"):
                raise BenchError("submit refused: %r" % (reply,))
            rid = reply["result"]["id"]
            deadline = t0 + 30
            while len(seen) < len(nodes):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError("record %d reached %d of %d nodes in 30 s"
                                     % (n, len(seen), len(nodes)))
                ready, _, _ = select.select(list(socks), [], [], left)
                now = time.monotonic()
                for fd in ready:
                    chunk = socks[fd][1].sock.recv(1 << 16)
                    if not chunk:
                        raise BenchError("a watch connection closed")
                    bufs[fd] += chunk
                    while len(bufs[fd]) >= 4:
                        (size,) = struct.unpack(">I", bufs[fd][:4])
                        if len(bufs[fd]) < 4 + size:
                            break
                        ev = nb.mp_unpack(bufs[fd][4:4 + size])
                        bufs[fd] = bufs[fd][4 + size:]
                        if ev.get("event") == "record" and ev.get("id") == rid:
                            seen.setdefault(socks[fd][0], (now - t0) * 1000)
            others = [ms for i, ms in seen.items() if i != origin]
            arrivals += others
            reach_all.append(max(others))
        return arrivals, reach_all, submit_ms

    # --- 5. footprint -----------------------------------------------------------

    def idle(self, d):
        """RSS (KiB) and CPU share of a running node left alone."""
        time.sleep(min(2.0, self.p["idle_seconds"]))  # let startup work settle
        c0, t0 = d.cpu_seconds(), time.monotonic()
        time.sleep(self.p["idle_seconds"])
        c1, t1 = d.cpu_seconds(), time.monotonic()
        return d.rss_kib(), 100.0 * (c1 - c0) / (t1 - t0)

    def bench_footprint(self):
        p = self.p
        empty = self.node_with("empty", 0)
        base_start = statistics.median(self.startups(empty, p["startup_repeat"]))
        empty.start()
        try:
            base_rss, base_cpu = self.idle(empty)
        finally:
            empty.stop()

        self.footprint_loaded(base_rss, base_cpu)

        for n in p["startup_n"]:
            d = self.node_with("start-%d" % n, n)
            t = statistics.median(self.startups(d, p["startup_repeat"]))
            self.add("footprint.startup.n=%d" % n, t * 1000, "ms",
                     "startup with an empty store", base_start * 1000)
            shutil.rmtree(d.dir, ignore_errors=True)

    def footprint_loaded(self, base_rss, base_cpu):
        p = self.p
        n = p["store_n"]
        d = self.node_with("idle", n)
        d.start()
        try:
            rss, cpu = self.idle(d)
        finally:
            d.stop()
        self.add("footprint.idle_rss.n=%d.peers=0" % n, rss, "KiB",
                 "idle node, empty store", base_rss)
        self.add("footprint.idle_cpu.n=%d.peers=0" % n, cpu, "% of a core",
                 "idle node, empty store", base_cpu)
        if self.peers_missing:
            self.skip("footprint with %d peers" % p["footprint_peers"], self.peers_missing)
            return
        # The same node back from a week away (footprint_away records
        # short) with footprint_peers peers holding all n records: links up,
        # caught up and reconciled, then left alone.  Its RSS right after
        # the catch-up and its peak (VmHWM) are set against what it
        # settles to.
        d = self.node_with("idle-peers", n - p["footprint_away"]).listen()
        others = [self.node_with("idle-peer-%d" % i, n).listen()
                  for i in range(p["footprint_peers"])]
        try:
            d.start()
            for o in others:
                o.extra_args += ["--peer", d.address]
                o.start()
            self.wait_links([d], [len(others)], records=n)
            caught_up = d.rss_kib()
            rss, cpu = self.idle(d)
            peak = d.rss_kib("VmHWM")
        finally:
            d.stop()
            for o in others:
                o.stop()
        name = "footprint.%s.n=%d.peers=%d"
        self.add(name % ("idle_rss", n, len(others)), rss, "KiB", "idle node, empty store",
                 base_rss)
        self.add(name % ("idle_cpu", n, len(others)), cpu, "% of a core",
                 "idle node, empty store", base_cpu)
        settled = "the same node settled (idle_rss)"
        self.add(name % ("caught_up_rss", n, len(others)), caught_up, "KiB", settled, rss)
        self.add(name % ("peak_rss", n, len(others)), peak, "KiB", settled, rss)
        for x in [d] + others:
            shutil.rmtree(x.dir, ignore_errors=True)

    def startups(self, d, repeat):
        times = []
        for _ in range(repeat):
            times.append(d.start())
            d.stop()
        return times

    # --- 6. the page ---------------------------------------------------------------

    def bench_web(self):
        reason = web.browser_support()
        if reason is not None:
            self.skip("web", reason)
            return
        web.WebBench(self, nb, BenchError, read_records, log).run()

    # --- output -----------------------------------------------------------------

    def write(self):
        os.makedirs(self.out, exist_ok=True)
        path = os.path.join(self.out, "latest.csv")
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["figure", "value", "unit", "baseline",
                                              "baseline_value", "ratio"])
            w.writeheader()
            for r in self.rows:
                w.writerow({k: (("%.6g" % v) if isinstance(v, float) else v) for k, v in r.items()})
        self.plot()
        return path

    def table(self):
        lines = ["%-44s %14s %-12s %10s  %s" % ("figure", "value", "unit", "ratio", "baseline")]
        for r in self.rows:
            ratio = "" if r["ratio"] == "" else ("%.3g" % r["ratio"])
            base = r["baseline"]
            if r["baseline_value"] != "":
                base += " = " + fmt(r["baseline_value"])
            lines.append("%-44s %14s %-12s %10s  %s" % (r["figure"], fmt(r["value"]), r["unit"],
                                                       ratio, base))
        for group, reason in self.skipped:
            lines.append("SKIPPED %s: %s" % (group, reason))
        return "\n".join(lines)

    def plot(self):
        gnuplot = shutil.which("gnuplot")
        if gnuplot is None:
            log("gnuplot is not installed: no plot")
            return
        data = os.path.join(self.tmp, "reconcile.dat")
        with open(data, "w") as f:
            last_n = None
            for n, k, up, down, rounds, riblt in self.curves.get("reconcile", []):
                if last_n is not None and n != last_n:
                    f.write("\n\n")
                f.write("%d %d %d %d %d %d\n" % (n, k, up + down, 64 * n, rounds, riblt))
                last_n = n
        prop = self.curves.get("propagation")
        pdata = os.path.join(self.tmp, "propagation.dat")
        with open(pdata, "w") as f:
            for i, ms in enumerate(sorted(prop or [])):
                f.write("%.3f %.5f\n" % (ms, (i + 1) / len(prop)))
        ns = sorted({c[0] for c in self.curves.get("reconcile", [])})
        script = [
            "set terminal pngcairo size 1400,500 font ',10'",
            "set output '%s'" % os.path.join(self.out, "latest.png"),
            "set multiplot layout 1,2",
            "set title 'Reconciliation: bytes both ways vs records that differ'",
            "set logscale xy", "set xlabel 'k (records that differ)'", "set ylabel 'bytes'",
            "set key outside right top vertical", "set grid",
        ]
        plots = []
        for i, n in enumerate(ns):
            plots.append("'%s' index %d using 2:3 with linespoints lw 2 lc %d "
                         "title 'Negentropy, n=%d'" % (data, i, i + 1, n))
            plots.append("'%s' index %d using 2:4 with lines dt 2 lc %d "
                         "title 'every id both ways, n=%d'" % (data, i, i + 1, n))
            plots.append("'%s' index %d using 2:6 with linespoints lw 2 dt 3 lc %d "
                         "title 'rateless (RIBLT), n=%d'" % (data, i, i + 1, n))
        script.append("plot " + ", ".join(plots) if plots else "plot 0 title 'no data'")
        script += ["unset logscale", "set title 'Propagation: time for a new record to reach a node'",
                   "set xlabel 'ms after submit'", "set ylabel 'fraction of (record, node) pairs'",
                   "set key inside bottom right"]
        if prop:
            script.append("plot '%s' using 1:2 with steps lw 2 title 'arrivals (CDF)'" % pdata)
        else:
            script += ["set label 1 'not measured (peer networking missing)' at graph 0.5,0.5 center",
                       "plot [0:1][0:1] NaN notitle"]
        script.append("unset multiplot")
        p = subprocess.run([gnuplot], input="\n".join(script) + "\n", capture_output=True, text=True)
        if p.returncode != 0:
            log("gnuplot failed: %s" % p.stderr.strip())

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class LineProc:
    """A process speaking the reference harness line protocol."""

    def __init__(self, cmd, limit):
        env = dict(os.environ)
        env["FRAMESIZELIMIT"] = str(limit)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, text=True, bufsize=1 << 20)

    def feed_file(self, path):
        with open(path) as f:
            shutil.copyfileobj(f, self.proc.stdin, 1 << 20)
        self.send("seal")

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def recv(self):
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError("harness ended early: %s" % self.proc.stderr.read().strip()[:300])
        return line.rstrip("\n")

    def close(self):
        self.proc.stdin.close()
        code = self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self.proc.stderr.close()
        if code != 0:
            raise BenchError("harness exited %d" % code)


def fmt(v):
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-2):
            return "%.3e" % v
        return "%.4g" % v if abs(v) < 1000 else "%.0f" % v
    return str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("NOABER_BUILD_ROOT", "build-bench"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--perf", metavar="FILE",
                    help="record the joining node of the initial sync with `perf record -g` "
                         "into FILE (bench/README.md, \"Where initial sync spends its time\")")
    args = ap.parse_args()
    for g in filter(None, args.only.split(",")):
        if g not in GROUPS:
            ap.error("unknown group %r (groups: %s)" % (g, ", ".join(GROUPS)))

    t0 = time.monotonic()
    try:
        b = Bench(args)
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 1
    status = 0
    try:
        for g in b.groups:
            getattr(b, "bench_" + g)()
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        status = 1
    finally:
        path = b.write()
        if args.keep:
            log("kept %s" % b.tmp)
        else:
            b.cleanup()
    print(b.table())
    print("\nwrote %s (%.0f s)" % (path, time.monotonic() - t0))
    return status


if __name__ == "__main__":
    sys.exit(main())
