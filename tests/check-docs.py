#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/protocol.md stands alone and is complete.

- It refers to no document outside the repository (the contract it grew
  from is restated in it).
- Every `README, "Section"` it cites is a heading of README.md, every
  `[...](#anchor)` a heading of its own, every `[...](file.md)` a file of docs/.
- Every Socket.IO event the hub handles (PrdHubEventEntry tables,
  prd_sio_namespace_on, `#define EVENT`) or sends (the emit calls in
  src/hub and src/sio) has a row in its event index.
- D-Bus error names are documented in docs/dbus.md, not in protocol.md.

Usage: check-docs.py check SOURCE_ROOT | selftest SOURCE_ROOT
"""
import os
import re
import sys
import tempfile


def slug(title):
    t = re.sub(r'[^\w\- ]', '', title.strip().lower())
    return t.replace(' ', '-')


def headings(markdown):
    body = re.sub(r'```.*?```', '', markdown, flags=re.S)
    return [m.group(1).strip() for m in re.finditer(r'^#{1,6} (.*)$', body, flags=re.M)]


def hub_events(root):
    handled, sent = set(), set()
    for sub in ('src/hub', 'src/sio'):
        folder = os.path.join(root, sub)
        for name in sorted(os.listdir(folder)):
            if not name.endswith('.c'):
                continue
            with open(os.path.join(folder, name), encoding='utf-8') as f:
                text = f.read()
            handled.update(re.findall(r'\{\s*"([a-z][a-z-]*)",\s*on_\w+\s*\}', text))
            handled.update(re.findall(r'prd_sio_namespace_on \(\w+, "([a-z][a-z-]*)"', text))
            handled.update(re.findall(r'#define EVENT "([a-z][a-z-]*)"', text))
            flat = ' '.join(text.split())
            for m in re.finditer(r'(?:emit\w*|room_emit) \([^;]{0,200}?"([a-z][a-z-]*[a-z])"', flat):
                sent.add(m.group(1))
    return handled, sent


def check(root):
    problems = []
    with open(os.path.join(root, 'docs', 'protocol.md'), encoding='utf-8') as f:
        doc = f.read()
    with open(os.path.join(root, 'README.md'), encoding='utf-8') as f:
        readme_headings = set(headings(f.read()))
    own = {slug(h) for h in headings(doc)}

    for outside in ('websocket-api.md', '../shared', '§'):
        if outside in doc:
            problems.append(f'protocol.md refers to "{outside}", which is not in the repository')
    for m in re.finditer(r'README, "([^"]+)"', doc):
        section = ' '.join(m.group(1).split())
        if section not in readme_headings:
            problems.append(f'protocol.md cites README section "{section}", which README.md lacks')
    for anchor in re.findall(r'\]\(#([^)]+)\)', doc):
        if anchor not in own:
            problems.append(f'protocol.md links to #{anchor}, which is none of its headings')
    for target in re.findall(r'\]\(([^)#:]+\.md)\)', doc):
        if not os.path.exists(os.path.join(root, 'docs', target)):
            problems.append(f'protocol.md links to {target}, which docs/ lacks')
    if re.search(r'org\.prdtool\.Hub1\.Error\.\w', doc):
        problems.append('protocol.md names D-Bus errors; they belong in dbus.md')

    index = set(re.findall(r'^\| `([a-z][a-z-]*)`', doc, flags=re.M))
    handled, sent = hub_events(root)
    if not handled or not sent:
        problems.append('found no events in the sources: the scan is broken')
    for event in sorted(handled | sent):
        if event not in index:
            problems.append(f'event "{event}" has no row in the event index of protocol.md')
    return problems


def selftest(root):
    """The check finds what it is meant to find, on altered copies."""
    with open(os.path.join(root, 'docs', 'protocol.md'), encoding='utf-8') as f:
        doc = f.read()
    cases = [
        ('outside reference', doc + '\nSee websocket-api.md.\n', 'not in the repository'),
        ('README section', doc + '\n(README, "No Such Section")\n', 'README section'),
        ('anchor', doc + '\n[x](#no-such-heading)\n', '#no-such-heading'),
        ('D-Bus', doc + '\norg.prdtool.Hub1.Error.NotFound\n', 'D-Bus'),
        ('event index', doc.replace('| `ai-review-complete` (added) |', '| ai-review-complete |'),
         'ai-review-complete'),
    ]
    failures = 0
    for name, text, expected in cases:
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, 'docs'))
            with open(os.path.join(tmp, 'docs', 'protocol.md'), 'w', encoding='utf-8') as f:
                f.write(text)
            for other in os.listdir(os.path.join(root, 'docs')):
                if other != 'protocol.md':
                    os.symlink(os.path.join(root, 'docs', other), os.path.join(tmp, 'docs', other))
            os.symlink(os.path.join(root, 'README.md'), os.path.join(tmp, 'README.md'))
            os.symlink(os.path.join(root, 'src'), os.path.join(tmp, 'src'))
            problems = check(tmp)
        if not any(expected in p for p in problems):
            print(f'selftest {name}: expected a problem mentioning "{expected}", got {problems}')
            failures += 1
    return failures


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('check', 'selftest'):
        print(__doc__)
        return 2
    root = os.path.abspath(sys.argv[2])
    if sys.argv[1] == 'selftest':
        return 1 if selftest(root) else 0
    problems = check(root)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
