#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Offline checks of the Flatpak manifest (no runtime or network needed):
#
#   check-flatpak.py check SRCROOT      the manifest parses (and flatpak-builder
#                                        --show-manifest accepts it when present),
#                                        every module but the app has pinned
#                                        sources with a sha256, the modules the
#                                        runtime lacks are there in versions
#                                        meson.build accepts, the finish-args are
#                                        the minimum
#   check-flatpak.py selftest SRCROOT   each rule above catches a manifest
#                                        broken on purpose

import copy
import json
import os
import re
import shutil
import subprocess
import sys

MANIFEST = os.path.join("flatpak", "org.prdtool.Hub.Admin.json")
APP_MODULE = "prdhub"

TOP_KEYS = {"//", "app-id", "id", "runtime", "runtime-version", "sdk", "command",
            "finish-args", "cleanup", "modules"}
MODULE_KEYS = {"//", "name", "buildsystem", "config-opts", "build-commands", "sources",
               "cleanup", "builddir", "make-args", "make-install-args"}
BUILDSYSTEMS = {"autotools", "cmake", "cmake-ninja", "meson", "simple", "qmake"}
SOURCE_KEYS = {
    "archive": {"//", "type", "url", "mirror-urls", "sha256", "archive-type", "strip-components",
                "dest"},
    "file": {"//", "type", "url", "mirror-urls", "sha256", "dest-filename", "dest"},
    "script": {"//", "type", "commands", "dest-filename"},
    "dir": {"//", "type", "path"},
}
ARCHIVE_TYPES = {"tar", "tar-gzip", "tar-compress", "tar-bzip2", "tar-lzip", "tar-lzma",
                 "tar-lzop", "tar-xz", "tar-zst", "zip", "7z"}
# What the app needs: a GUI, the network for the hub, its bus name (which
# also lets the admin app talk to it), and the Secret Service for its
# credentials. Nothing else; in particular no files of the user.
ALLOWED_FINISH_ARGS = {
    "--share=ipc", "--socket=wayland", "--socket=fallback-x11", "--device=dri",
    "--share=network", "--own-name=org.prdtool.Hub", "--talk-name=org.freedesktop.secrets",
    "--system-talk-name=org.freedesktop.Avahi",
}
REQUIRED_FINISH_ARGS = {"--share=network", "--own-name=org.prdtool.Hub", "--socket=wayland",
                        "--socket=fallback-x11"}
# Built here because the GNOME runtime lacks them; pkg-config name → module.
REQUIRED_MODULES = {"libjwt": "libjwt", "libcmark": "cmark", "libgit2": "libgit2"}


def version_of(module):
    for source in module.get("sources", []):
        url = source.get("url", "")
        match = re.search(r"_(\d+(?:\.\d+)+)(?:\+ds)?\.orig\.tar", url)
        if match:
            return tuple(int(x) for x in match.group(1).split("."))
    return None


def meson_minimums(root):
    with open(os.path.join(root, "meson.build"), encoding="utf-8") as f:
        text = f.read()
    minimums = {}
    for name, version in re.findall(r"dependency\('([\w.-]+)', version: '>= ([\d.]+)'\)", text):
        minimums[name] = tuple(int(x) for x in version.split("."))
    return minimums


def meson_options(root):
    with open(os.path.join(root, "meson_options.txt"), encoding="utf-8") as f:
        return set(re.findall(r"option\('([\w-]+)'", f.read()))


def check(manifest, root):
    problems = []
    unknown = set(manifest) - TOP_KEYS
    if unknown:
        problems.append(f"unknown top-level keys {sorted(unknown)}")
    if manifest.get("app-id") != "org.prdtool.Hub.Admin":
        problems.append("app-id must be org.prdtool.Hub.Admin")
    if manifest.get("runtime") != "org.gnome.Platform" or manifest.get("sdk") != "org.gnome.Sdk":
        problems.append("runtime and sdk must be org.gnome.Platform / org.gnome.Sdk")
    if not re.fullmatch(r"\d+", str(manifest.get("runtime-version", ""))):
        problems.append("runtime-version must be a GNOME release such as 50")
    if manifest.get("command") != "prdhub-admin":
        problems.append("command must be prdhub-admin")

    args = manifest.get("finish-args", [])
    for arg in args:
        if arg not in ALLOWED_FINISH_ARGS:
            problems.append(f"finish-arg {arg} is more than the app needs")
    for arg in sorted(REQUIRED_FINISH_ARGS - set(args)):
        problems.append(f"finish-arg {arg} is missing")
    if len(args) != len(set(args)):
        problems.append("a finish-arg is repeated")

    modules = manifest.get("modules", [])
    names = [m.get("name") for m in modules]
    if not modules or names[-1] != APP_MODULE:
        problems.append(f"the last module must be the app, {APP_MODULE}")
    minimums = meson_minimums(root)
    for pkg, name in REQUIRED_MODULES.items():
        module = next((m for m in modules if m.get("name") == name), None)
        if module is None:
            problems.append(f"module {name} is missing (the runtime has no {pkg})")
            continue
        version = version_of(module)
        if version is None:
            problems.append(f"module {name}: no version in its source's file name")
        elif pkg in minimums and version < minimums[pkg]:
            problems.append(f"module {name} {version} is older than meson.build's >= {minimums[pkg]}")

    for module in modules:
        name = module.get("name", "?")
        unknown = set(module) - MODULE_KEYS
        if unknown:
            problems.append(f"module {name}: unknown keys {sorted(unknown)}")
        if module.get("buildsystem") not in BUILDSYSTEMS:
            problems.append(f"module {name}: buildsystem {module.get('buildsystem')!r} is not one "
                            "flatpak-builder knows")
        if module.get("buildsystem") == "simple" and not module.get("build-commands"):
            problems.append(f"module {name}: a simple module needs build-commands")
        sources = module.get("sources", [])
        if not sources:
            problems.append(f"module {name} has no sources")
        pinned = 0
        for source in sources:
            kind = source.get("type")
            if kind not in SOURCE_KEYS:
                problems.append(f"module {name}: source type {kind!r} is not allowed here")
                continue
            unknown = set(source) - SOURCE_KEYS[kind]
            if unknown:
                problems.append(f"module {name}: unknown source keys {sorted(unknown)}")
            if kind in ("archive", "file"):
                if not re.fullmatch(r"[0-9a-f]{64}", source.get("sha256", "")):
                    problems.append(f"module {name}: {source.get('url')} has no sha256")
                else:
                    pinned += 1
                for url in [source.get("url", "")] + source.get("mirror-urls", []):
                    if not url.startswith("https://"):
                        problems.append(f"module {name}: {url!r} is not an https URL")
                if kind == "archive" and source.get("archive-type", "tar") not in ARCHIVE_TYPES:
                    problems.append(f"module {name}: archive-type {source['archive-type']!r}")
            if kind == "dir" and name != APP_MODULE:
                problems.append(f"module {name}: only the app may build from a local folder")
        if name != APP_MODULE and pinned == 0:
            problems.append(f"module {name} has no pinned source with a checksum")

    app = next((m for m in modules if m.get("name") == APP_MODULE), None)
    if app is not None:
        options = meson_options(root)
        for opt in app.get("config-opts", []):
            match = re.fullmatch(r"-D([\w-]+)=.*", opt)
            if match and match.group(1) not in options:
                problems.append(f"app module: -D{match.group(1)} is not in meson_options.txt")
        if "-Dadmin=enabled" not in app.get("config-opts", []):
            problems.append("app module: the Flatpak is the admin app, -Dadmin=enabled")
    return problems


def main():
    mode, root = sys.argv[1], sys.argv[2]
    path = os.path.join(root, MANIFEST)
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)

    if mode == "check":
        problems = check(manifest, root)
        builder = shutil.which("flatpak-builder")
        if builder:
            result = subprocess.run([builder, "--show-manifest", path], capture_output=True,
                                    text=True)
            if result.returncode != 0 or "WARNING" in result.stderr:
                problems.append(f"flatpak-builder --show-manifest: {result.stderr.strip()}")
        for p in problems:
            print(p)
        if problems:
            sys.exit(1)
        print(f"{len(manifest['modules'])} modules, sources pinned, "
              f"{len(manifest['finish-args'])} finish-args"
              + (", accepted by flatpak-builder" if builder else ""))
    elif mode == "selftest":
        def broken(change):
            m = copy.deepcopy(manifest)
            change(m)
            return m

        libgit2 = lambda m: next(x for x in m["modules"] if x["name"] == "libgit2")
        cases = {
            "a missing sha256": lambda m: libgit2(m)["sources"][0].pop("sha256"),
            "home access": lambda m: m["finish-args"].append("--filesystem=home"),
            "the whole session bus": lambda m: m["finish-args"].append("--socket=session-bus"),
            "no network": lambda m: m["finish-args"].remove("--share=network"),
            "a missing module": lambda m: m["modules"].remove(libgit2(m)),
            "an unknown key": lambda m: libgit2(m).__setitem__("config-optz", []),
            "a bad buildsystem": lambda m: libgit2(m).__setitem__("buildsystem", "cmake-nina"),
            "a plain http URL": lambda m: libgit2(m)["sources"][0].__setitem__(
                "url", "http://example.org/libgit2.tar.xz"),
            "an old libgit2": lambda m: libgit2(m)["sources"][0].__setitem__(
                "url", "https://deb.debian.org/libgit2_1.1.0+ds.orig.tar.xz"),
            "an unknown meson option": lambda m: m["modules"][-1]["config-opts"].append("-Dnope=1"),
        }
        if check(manifest, root):
            sys.exit("the manifest itself does not pass")
        for what, change in cases.items():
            if not check(broken(change), root):
                sys.exit(f"a manifest with {what} went unnoticed")
        print(f"all {len(cases)} broken manifests are caught")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
