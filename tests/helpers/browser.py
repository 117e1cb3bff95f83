#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""browser.py PAGE ELEMENT-ID INITIAL [TIMEOUT]: load PAGE (a file) in
headless Chromium (Debian's chromium) and wait, through the DevTools
protocol (python3-websockets), until the text of the element ELEMENT-ID is no
longer INITIAL; print it.  Exits 2 on a timeout (default 30 s), 3 when
Chromium cannot start.  Chromium runs with a profile of its own in a
temporary directory, without a sandbox when run as root, and is killed at the
end."""
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets


def main():
    page, element, initial = sys.argv[1], sys.argv[2], sys.argv[3]
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit(3)
    profile = tempfile.mkdtemp(prefix="sockserve-chromium.")
    args = [chromium, "--headless", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1", "--user-data-dir=" + profile]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    proc = subprocess.Popen(args + ["file://" + os.path.abspath(page)], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + limit
    try:
        port = None
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                sys.exit(3)
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
        text = asyncio.run(watch(port, element, initial, deadline))
        if text is None:
            sys.exit(2)
        print(text)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def watch(port, element, initial, deadline):
    # the page's target, once Chromium lists it
    target = None
    while target is None and time.monotonic() < deadline:
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        if pages:
            target = pages[0]["webSocketDebuggerUrl"]
        else:
            await asyncio.sleep(0.05)
    if target is None:
        return None
    expression = "(document.getElementById(%s) || {}).textContent" % json.dumps(element)
    async with websockets.connect(target, max_size=None) as cdp:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            await cdp.send(json.dumps({"id": n, "method": "Runtime.evaluate",
                                       "params": {"expression": expression, "returnByValue": True}}))
            while True:
                reply = json.loads(await asyncio.wait_for(cdp.recv(), max(0.1, deadline - time.monotonic())))
                if reply.get("id") == n:
                    break
            value = reply.get("result", {}).get("result", {}).get("value")
            if isinstance(value, str) and value != initial:
                return value
            await asyncio.sleep(0.05)
    return None


if __name__ == "__main__":
    main()
