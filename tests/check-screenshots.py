#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Every screenshot the metainfo names is a file in data/screenshots/ (taken
# by tests/test-admin-ui.c and copied there), and every file there is named.
#   check-screenshots.py METAINFO SCREENSHOT_DIR

import os
import sys
import xml.etree.ElementTree as ET

metainfo, directory = sys.argv[1], sys.argv[2]
named = set()
for image in ET.parse(metainfo).getroot().iter("image"):
    url = (image.text or "").strip()
    if "/data/screenshots/" not in url:
        sys.exit(f"{url}: not a screenshot of data/screenshots/")
    named.add(url.rsplit("/", 1)[1])
present = {name for name in os.listdir(directory) if name.endswith(".png")}
for name in sorted(named - present):
    print(f"named in the metainfo but missing from {directory}: {name}")
for name in sorted(present - named):
    print(f"in {directory} but not named in the metainfo: {name}")
if named != present or not named:
    sys.exit(1)
for name in sorted(named):
    with open(os.path.join(directory, name), "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            sys.exit(f"{name} is not a PNG")
print(f"{len(named)} screenshots, all present")
