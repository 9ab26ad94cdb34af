#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Translation checks, run by meson test:
#
#   check-po.py potfiles SRCROOT           every file with translatable strings
#                                          is in po/POTFILES.in, and every file
#                                          listed there exists
#   check-po.py potfiles-selftest SRCROOT  the check above fails when a file is
#                                          left out of POTFILES.in
#   check-po.py complete SRCROOT LANG      po/LANG.po translates every string the
#                                          sources have now, none fuzzy

import os
import re
import subprocess
import sys
import tempfile

# What makes a file translatable, by kind.
C_MARKERS = re.compile(r"\b(?:_|N_|C_|NC_|g_dngettext|g_dpgettext2)\s*\(")
UI_MARKER = 'translatable="yes"'
SCANNED = [
    ("src", (".c",)),
    ("ui", (".ui",)),
    ("data", (".desktop.in", ".metainfo.xml.in", ".gschema.xml")),
]


def translatable_files(root):
    found = set()
    for top, suffixes in SCANNED:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in names:
                if not name.endswith(suffixes):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                if name.endswith(".c"):
                    # Comments and strings are not code; strip comments.
                    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
                    if C_MARKERS.search(code) and "glib/gi18n" in code:
                        found.add(rel)
                elif name.endswith(".ui"):
                    if UI_MARKER in text:
                        found.add(rel)
                else:
                    found.add(rel)
    return found


def listed_files(potfiles):
    with open(potfiles, encoding="utf-8") as f:
        return [line.strip() for line in f
                if line.strip() and not line.lstrip().startswith("#")]


def check_potfiles(root, listed):
    problems = []
    for rel in sorted(translatable_files(root) - set(listed)):
        problems.append(f"{rel} has translatable strings but is not in po/POTFILES.in")
    for rel in listed:
        if not os.path.exists(os.path.join(root, rel)):
            problems.append(f"po/POTFILES.in lists {rel}, which does not exist")
    return problems


def main():
    mode, root = sys.argv[1], sys.argv[2]
    potfiles = os.path.join(root, "po", "POTFILES.in")
    listed = listed_files(potfiles)

    if mode == "potfiles":
        problems = check_potfiles(root, listed)
        for p in problems:
            print(p)
        if problems:
            sys.exit(1)
        print(f"{len(listed)} files in po/POTFILES.in, none missing")
    elif mode == "potfiles-selftest":
        # Leaving any one file out must be caught.
        for left_out in listed:
            rest = [rel for rel in listed if rel != left_out]
            problems = check_potfiles(root, rest)
            if not any(left_out in p for p in problems):
                sys.exit(f"leaving {left_out} out of POTFILES.in went unnoticed")
        print(f"each of the {len(listed)} files, left out, is reported")
    elif mode == "complete":
        lang = sys.argv[3]
        with tempfile.TemporaryDirectory() as tmp:
            pot = os.path.join(tmp, "fresh.pot")
            merged = os.path.join(tmp, "merged.po")
            # The keywords of meson's i18n 'glib' preset.
            subprocess.run(
                ["xgettext", "--from-code=UTF-8", "--add-comments=Translators",
                 "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
                 "--keyword=g_dcgettext:2", "--keyword=g_dngettext:2,3",
                 "--keyword=g_dpgettext2:2c,3", "--directory", root, "--output", pot,
                 "--package-name=prdhub"] + listed, check=True)
            subprocess.run(["msgmerge", "--quiet", "--no-fuzzy-matching", "--output-file", merged,
                            os.path.join(root, "po", lang + ".po"), pot], check=True)
            stats = subprocess.run(["msgfmt", "--check", "--statistics", "--output-file",
                                    os.devnull, merged], capture_output=True, text=True)
            print(stats.stderr.strip())
            if stats.returncode != 0:
                sys.exit(1)
            if "untranslated" in stats.stderr or "fuzzy" in stats.stderr:
                sys.exit(f"po/{lang}.po is not complete")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
