#!/usr/bin/env python3
"""Copies `cargo test` output from stdin to stdout as it comes, and writes to the file named
by the first argument how long each test binary ran: one line "seconds<TAB>binary<TAB>tests"
per group, in the order they ran. cargo prints "Running <target> (<binary path>)" before
each binary ("Doc-tests <crate>" before documentation tests) and "test result: ... N passed
..." after it."""
import re
import sys
import time

RUNNING = re.compile(r"^\s+Running (?:unittests )?(\S+) \((?:.*/)?([^/)]+?)(?:-[0-9a-f]{16})?\)")
DOCTESTS = re.compile(r"^\s+Doc-tests (\S+)")
RESULT = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored")

groups = []  # [name, start, end, passed]
for line in sys.stdin:
    sys.stdout.write(line)
    sys.stdout.flush()
    now = time.monotonic()
    m = RUNNING.match(line)
    d = None if m else DOCTESTS.match(line)
    if m or d:
        if groups and groups[-1][2] is None:
            groups[-1][2] = now
        name = f"{m.group(2)} ({m.group(1)})" if m else f"{d.group(1)} (doc-tests)"
        groups.append([name, now, None, 0])
    elif (m := RESULT.match(line)) and groups:
        groups[-1][2] = now
        groups[-1][3] = int(m.group(1)) + int(m.group(2))
end = time.monotonic()
with open(sys.argv[1], "w") as out:
    for name, start, stop, tests in groups:
        out.write(f"{(stop or end) - start:.0f}\t{name}\t{tests}\n")
