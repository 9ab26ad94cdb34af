#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Smoke test with Debian's python3-socketio (a second, independent Socket.IO
# client): start a real prdhub, mint a token with `prdhub token`, connect to
# /prds, emit ping, receive pong, disconnect.
#
# Exit codes: 0 pass, 1 fail, 77 skip (python3-socketio missing).

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

try:
    import socketio
except ImportError:
    print("SKIP: python3-socketio is not installed")
    sys.exit(77)

TIMEOUT = 30
HERE = os.path.dirname(os.path.abspath(__file__))
PRDHUB = os.environ.get(
    "PRDHUB_BIN", os.path.join(HERE, "..", "..", "_build", "src", "hub", "prdhub")
)
LISTEN_RE = re.compile(r"^prdhub listening on (https?)://127\.0\.0\.1:(\d+)/$")


def fail(msg, hub=None):
    print(f"FAIL: {msg}")
    if hub is not None:
        hub.kill()
        _, err = hub.communicate(timeout=TIMEOUT)
        if err:
            sys.stdout.write(err)
    sys.exit(1)


def start_hub(data_dir):
    # No PRDHUB_JWT_SECRET: the hub generates its secret into the data dir
    # and `prdhub token --data-dir` must sign with that same secret.
    env = {k: v for k, v in os.environ.items() if k != "PRDHUB_JWT_SECRET"}
    hub = subprocess.Popen(
        [PRDHUB, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    result = {}

    def read_line():
        for line in hub.stdout:
            m = LISTEN_RE.match(line.rstrip("\n"))
            if m:
                result["url"] = f"{m.group(1)}://127.0.0.1:{m.group(2)}"
                return

    reader = threading.Thread(target=read_line, daemon=True)
    reader.start()
    reader.join(TIMEOUT)
    if "url" not in result:
        fail("prdhub did not print its listening line", hub)
    return hub, result["url"], env


def main():
    data_dir = tempfile.mkdtemp(prefix="prdhub-smoke-")
    hub = None
    try:
        hub, url, env = start_hub(data_dir)
        token = subprocess.run(
            [PRDHUB, "token", "--user", "user_py", "--name", "Python Smoke",
             "--org", "org_py", "--role", "editor", "--ttl", "600",
             "--data-dir", data_dir],
            check=True, capture_output=True, text=True, env=env, timeout=TIMEOUT,
        ).stdout.strip()
        if token.count(".") != 2:
            fail(f"prdhub token printed {token!r}", hub)

        sio = socketio.Client(reconnection=False)
        pong = threading.Event()
        got = {}

        @sio.on("pong", namespace="/prds")
        def on_pong(data):
            got["pong"] = data
            pong.set()

        sio.connect(url, namespaces=["/prds"], auth={"token": token},
                    transports=["polling", "websocket"], wait_timeout=TIMEOUT)
        ack = sio.call("ping", namespace="/prds", timeout=TIMEOUT)
        if ack != {"ok": True}:
            fail(f"ping ack was {ack!r}", hub)
        if not pong.wait(TIMEOUT):
            fail("no pong within the bound", hub)
        # docs/protocol.md: pong's timestamp is ms since the epoch (Date.now()).
        ts = got["pong"].get("timestamp") if isinstance(got["pong"], dict) else None
        if (not isinstance(ts, int) or isinstance(ts, bool)
                or abs(ts / 1000 - time.time()) > 3600):
            fail(f"pong payload {got['pong']!r} has no current ms timestamp", hub)
        transport = sio.transport()
        sio.disconnect()

        # A bad token is refused with the protocol's error object.
        bad = socketio.Client(reconnection=False)
        refused = {}

        @bad.on("connect_error", namespace="/prds")
        def on_err(data):
            refused["data"] = data

        try:
            bad.connect(url, namespaces=["/prds"], auth={"token": token + "x"},
                        transports=["websocket"], wait_timeout=3)
            bad.disconnect()
            fail("a token with a broken signature was accepted", hub)
        except socketio.exceptions.ConnectionError:
            pass
        # python-socketio 5.7 hands over the whole CONNECT_ERROR payload.
        err = refused.get("data") or {}
        code = (err.get("data") or err).get("code") if isinstance(err, dict) else None
        if code != "AUTHENTICATION_FAILED":
            fail(f"connect_error data was {refused.get('data')!r}", hub)

        hub.send_signal(signal.SIGTERM)
        rc = hub.wait(TIMEOUT)
        if rc != 0:
            fail(f"prdhub exited with {rc} after SIGTERM", hub)
        print(f"PASS: python-socketio connected to {url}/prds over {transport}, "
              f"ping→pong, ack {ack}, bad token refused, clean shutdown")
        return 0
    except Exception as e:  # any client or process error is a failure
        fail(f"{type(e).__name__}: {e}", hub)
    finally:
        if hub is not None and hub.poll() is None:
            hub.kill()
            hub.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
