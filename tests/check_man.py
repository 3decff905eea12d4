#!/usr/bin/env python3
"""Renders each manual page given on the command line with groff (all
warnings on) and with man(1) --warnings, and fails on any warning or error.
./dev installs groff-base and man-db."""

import os
import re
import shutil
import subprocess
import sys


def render(argv, env):
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    problems = p.stderr.strip()
    if p.returncode != 0 and not problems:
        problems = "exit status %d" % p.returncode
    return problems, p.stdout


def main():
    pages = sys.argv[1:]
    if not pages:
        sys.exit("usage: check_man.py PAGE...")
    for tool in ("groff", "man"):
        if shutil.which(tool) is None:
            sys.exit("check_man: %s is not installed (apt-get install groff-base man-db, or ./dev test)" % tool)
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    failed = 0
    for page in pages:
        name = os.path.basename(page)
        before = failed
        for argv in (["groff", "-man", "-ww", "-z", "-Tutf8", page],
                     ["man", "--warnings", "-l", page]):
            problems, out = render(argv, env)
            if problems:
                print("%s: %s:\n%s" % (name, " ".join(argv[:-1]), problems))
                failed += 1
            # Without a terminal, man may still overstrike bold letters.
            elif argv[0] == "man" and "NAME" not in re.sub(".\b", "", out):
                print("%s: man printed no NAME section" % name)
                failed += 1
        print("%s: %s" % (name, "ok" if failed == before else "see above"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
