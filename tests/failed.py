#!/usr/bin/env python3
"""Say why each failed test of the last "meson test" run failed, briefly.

    python3 tests/failed.py BUILD_DIR [LINES]

Meson's summary names the failed tests, not the subtest or the assertion.
This reads build/meson-logs/testlog.json and prints, for each test that
failed or timed out, its failed TAP subtests ("not ok") with the diagnostic
lines that follow each, or, for a test that does not speak TAP, the last
lines of its output: at most LINES lines (default 12) per test.  The whole
output stays in build/meson-logs/testlog.txt.  Prints nothing when nothing
failed; exit status 0 (the summary is the verdict)."""

import json
import os
import sys

BAD = {"FAIL", "ERROR", "TIMEOUT", "UNEXPECTEDPASS"}


def reasons(out: str) -> list:
    lines = out.splitlines()
    picked = []
    for i, line in enumerate(lines):
        if line.startswith("not ok"):
            picked.append(line)
            for diag in lines[i + 1 :]:
                if not diag.startswith("#") and not diag.startswith("  "):
                    break
                picked.append(diag)
    if picked:
        return picked
    return [line for line in lines if line.strip()][-6:]


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    limit = int(sys.argv[2]) if len(sys.argv) == 3 else 12
    path = os.path.join(sys.argv[1], "meson-logs", "testlog.json")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            if t.get("result") not in BAD:
                continue
            why = reasons(t.get("stdout") or "")
            print(f"{t['result']} {t['name']}:")
            for r in why[:limit]:
                print(f"  {r}")
            if len(why) > limit:
                print(f"  ... ({len(why) - limit} more lines in testlog.txt)")
    return 0


sys.exit(main())
