#!/usr/bin/env python3
"""Say why each failed test of the last "meson test" run failed, briefly.

    python3 tests/failed.py BUILD_DIR [LINES]

Meson's summary names the failed tests, not the subtest or the assertion.
This reads build/meson-logs/testlog.json and prints, for each test that
failed or timed out, its failed TAP subtests ("not ok") with the diagnostic
lines that follow each, then the last lines of each log the test dumped
(the harness's "# ---- FILE ----" sections: hbwatch's log, its workers'),
or, for a test that does not speak TAP, the last lines of its output: at
most LINES lines (default 12) of each.  The whole output stays in
build/meson-logs/testlog.txt.  Prints nothing when nothing failed; exit
status 0 (the summary is the verdict)."""

import json
import os
import sys

BAD = {"FAIL", "ERROR", "TIMEOUT", "UNEXPECTEDPASS"}


def failed_subtests(lines: list) -> list:
    picked = []
    for i, line in enumerate(lines):
        if line.startswith("not ok"):
            picked.append(line)
            for diag in lines[i + 1 :]:
                if not diag.startswith("#") and not diag.startswith("  "):
                    break
                picked.append(diag)
    return picked


def dumps(lines: list) -> list:
    """[(title, body lines)] of the "# ---- FILE ----" sections."""
    out, cur = [], None
    for line in lines:
        if line.startswith("# ---- end ----"):
            if cur:
                out.append(cur)
            cur = None
        elif line.startswith("# ---- ") and line.endswith(" ----"):
            cur = (line[2:], [])
        elif cur is not None:
            cur[1].append(line[2:] if line.startswith("# ") else line)
    return out


def show(lines: list, limit: int, indent: str) -> None:
    if len(lines) > limit:
        print(f"{indent}... ({len(lines) - limit} lines before these in testlog.txt)")
    for line in lines[-limit:]:
        print(f"{indent}{line}")


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
            lines = (t.get("stdout") or "").splitlines()
            print(f"{t['result']} {t['name']}:")
            subtests = failed_subtests(lines)
            if not subtests:
                show([x for x in lines if x.strip()], limit, "  ")
                continue
            for x in subtests[:limit]:
                print(f"  {x}")
            for title, body in dumps(lines):
                print(f"  {title}")
                show(body, limit, "    ")
    return 0


sys.exit(main())
