#!/usr/bin/env python3
"""The benchmarks still run: bench/run.py --smoke with tiny sizes must write
bench results with every figure it promises, each with a numeric value (and a
numeric ratio wherever it names a baseline value).  Timings are never
checked; a smoke run's numbers mean nothing.

Needs NOABER_BUILD_ROOT (set by meson).
"""
import csv
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402

COLUMNS = ["figure", "value", "unit", "baseline", "baseline_value", "ratio"]


def number(text, what):
    try:
        v = float(text)
    except ValueError:
        sys.exit("FAIL: %s is %r, not a number" % (what, text))
    if not math.isfinite(v):
        sys.exit("FAIL: %s is %r" % (what, text))
    return v


def main():
    build = os.environ.get("NOABER_BUILD_ROOT")
    if not build:
        sys.exit("NOABER_BUILD_ROOT is not set")
    with tempfile.TemporaryDirectory(prefix="noaber-bench-smoke-") as out:
        p = subprocess.run([sys.executable, os.path.join(HERE, "run.py"), "--smoke",
                            "--build", build, "--out", out],
                           capture_output=True, text=True, timeout=300)
        sys.stdout.write(p.stdout)
        if p.returncode != 0:
            sys.exit("FAIL: run.py --smoke exited %d:\n%s" % (p.returncode, p.stderr[-3000:]))
        with open(os.path.join(out, "latest.csv"), newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != COLUMNS:
                sys.exit("FAIL: columns are %r" % reader.fieldnames)
            rows = {r["figure"]: r for r in reader}
    peers = run.peer_support(os.path.join(build, "daemon", "noaberd")) is None
    browser = run.web.browser_support() is None
    want = run.expected_figures(run.SMOKE, peers, browser)
    missing = [f for f in want if f not in rows]
    if missing:
        sys.exit("FAIL: figures missing from latest.csv: %s" % ", ".join(missing))
    for name, r in rows.items():
        number(r["value"], name + " value")
        if not r["unit"]:
            sys.exit("FAIL: %s has no unit" % name)
        if r["baseline_value"] != "":
            if not r["baseline"]:
                sys.exit("FAIL: %s has a baseline value but no baseline named" % name)
            if number(r["baseline_value"], name + " baseline_value") != 0:
                number(r["ratio"], name + " ratio")
    print("ok   %d figures, all numeric%s" % (len(rows), "" if peers else
                                               " (no peer networking: network figures not expected)"))


if __name__ == "__main__":
    main()
