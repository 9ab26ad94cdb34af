#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs a command against a real GNOME Keyring on a private session bus:
#   tests/run-with-keyring.sh COMMAND [ARG...]
#
# The keyring lives in a throw-away home, so the user's own keyrings are
# never touched. gnome-keyring-daemon creates and unlocks a "login"
# collection (the default alias) with the password read from standard input,
# which is what a headless machine needs: no prompt is ever shown. It exits
# with the session bus when the command is done.
set -eu

if ! command -v dbus-run-session >/dev/null || ! command -v gnome-keyring-daemon >/dev/null; then
  # A TAP skip, so that meson reports the suite as skipped, not failed.
  echo "1..0 # SKIP dbus-run-session and gnome-keyring-daemon are required"
  echo "run-with-keyring: dbus-run-session and gnome-keyring-daemon are required" >&2
  exit 0
fi

home=$(mktemp -d "${TMPDIR:-/tmp}/prd-keyring-XXXXXX")
trap 'rm -rf "$home"' EXIT INT TERM
mkdir -m 700 "$home/runtime"

export HOME="$home"
export XDG_DATA_HOME="$home/data"
export XDG_CONFIG_HOME="$home/config"
export XDG_CACHE_HOME="$home/cache"
export XDG_RUNTIME_DIR="$home/runtime"
unset DISPLAY WAYLAND_DISPLAY

# Not exec: the trap must remove the throw-away home afterwards.
dbus-run-session -- sh -c '
  printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec "$@"
' prd-keyring "$@"
