#!/usr/bin/env python3
"""List every skipped test and TAP subtest of the last "meson test" run,
with its reason.

    python3 tests/skipped.py BUILD_DIR

Meson's summary counts whole tests: a TAP test whose every subtest skips
(or whose plan is "1..0 # SKIP why") is a SKIP there, but one that skips
some of its subtests is OK, with only the subtests that ran counted in
"N subtests passed".  This reads build/meson-logs/testlog.json, where
meson keeps each test's output, and prints one line per skip, then the
count.  Exit status 0 (skips are not failures)."""

import json
import os
import re
import sys

DIRECTIVE = re.compile(r"^(ok\b.*?|1\.\.\d+)\s*#\s*SKIP\S*\s*(.*)$", re.I)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = os.path.join(sys.argv[1], "meson-logs", "testlog.json")
    n = 0
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            if t.get("result") == "SKIP" and "SKIP" not in (t.get("stdout") or ""):
                n += 1
                print(f"SKIP {t['name']}: (exit status 77)")
            for out in (t.get("stdout") or "").splitlines():
                m = DIRECTIVE.match(out.strip())
                if m:
                    n += 1
                    what = m.group(1)
                    what = "" if what.startswith("1..") else " " + what[2:].strip(" -")
                    print(f"SKIP {t['name']}{what}: {m.group(2).strip()}")
    print(f"{n} skipped")
    return 0


sys.exit(main())
