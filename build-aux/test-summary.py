#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Reads a meson build dir's meson-logs/testlog.json and prints what ran:
# TAP test points for TAP tests, node --test's own summary for the e2e suite,
# one count per test otherwise. Prints "PASSED FAILED SKIPPED" on the last
# line for build-aux/bootstrap to add up.

import json
import re
import sys

build_dir = sys.argv[1]
passed = failed = skipped = 0
node_summary = []

try:
    with open(f"{build_dir}/meson-logs/testlog.json", encoding="utf-8") as f:
        entries = [json.loads(line) for line in f if line.strip()]
except (OSError, ValueError) as e:
    print(f"==> {build_dir}: no test log: {e}")
    print("0 1 0")
    sys.exit(0)

NODE_RE = re.compile(r"^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) (\S+)$",
                     re.M)
TAP_RE = re.compile(r"^(not ok|ok)\b[^\n#]*(#\s*(SKIP|TODO)\b)?", re.M | re.I)

for e in entries:
    result = e.get("result", "")
    out = e.get("stdout") or ""
    node = dict(NODE_RE.findall(out))
    ok_result = result in ("OK", "EXPECTEDFAIL")
    if "pass" in node and "fail" in node:
        p = int(node["pass"])
        f = int(node["fail"]) + int(node.get("cancelled", 0))
        s = int(node.get("skipped", 0)) + int(node.get("todo", 0))
        node_summary.append(f"==> {build_dir}: node --test summary of {e['name']}:")
        node_summary.extend(f"# {k} {node[k]}" for k in
                            ("tests", "suites", "pass", "fail", "cancelled", "skipped", "todo")
                            if k in node)
        if f == 0 and not ok_result:
            f = 1  # the runner failed after its summary (crash, sanitizer report)
        passed, failed, skipped = passed + p, failed + f, skipped + s
        continue
    points = TAP_RE.findall(out)
    if points and result != "SKIP":
        p = sum(1 for status, _, d in points if status.lower() == "ok" and not d)
        s = sum(1 for status, _, d in points if d)
        f = sum(1 for status, _, d in points if status.lower() == "not ok" and not d)
        if f == 0 and not ok_result:
            f = 1
        passed, failed, skipped = passed + p, failed + f, skipped + s
    elif result == "SKIP":
        skipped += 1
    elif ok_result:
        passed += 1
    else:
        failed += 1

for line in node_summary:
    print(line)
print(f"==> {build_dir}: test points: pass {passed} / fail {failed} / skip {skipped}")
print(f"{passed} {failed} {skipped}")
