#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""wsclient.py ACTION URL [options]: a WebSocket client for the tests, on
python3-websockets (Debian's; run with /usr/bin/python3).  wss:// URLs are
not verified.  Actions:

  roundtrip   a text message, a binary one, 70,000 bytes, a ping, a message
              in two fragments, then a close; prints what came back
  listen      sends --send (if any), then prints each message that comes until
              the server closes; then "close CODE REASON"
  refused     expects the upgrade to fail: prints "status CODE"
  many N M    N connections at once, each echoing M messages: "ok TOTAL"
Options: --origin O, --protocol P (prints "protocol P" once connected),
--send TEXT, --binary (messages as bytes), --timeout S (default 20).
"""
import argparse
import asyncio
import ssl
import sys

import websockets


def context(url):
    if not url.startswith("wss:"):
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(a, url):
    kw = {"ssl": context(url), "max_size": 2**24, "open_timeout": a.timeout}
    if a.origin:
        kw["origin"] = a.origin
    if a.protocol:
        kw["subprotocols"] = [a.protocol]
    return websockets.connect(url, **kw)


async def roundtrip(a):
    async with connect(a, a.url) as ws:
        await ws.send("hello")
        print("text", repr(await ws.recv()))
        await ws.send(b"\x00\xffbin")
        print("binary", repr(await ws.recv()))
        await ws.send("x" * 70000)
        print("big", len(await ws.recv()))
        await asyncio.wait_for(await ws.ping(b"p"), a.timeout)
        print("pong")
        await ws.send(["frag1", "frag2"])
        print("fragments", repr(await ws.recv()))
        await ws.close()
        print("close", ws.close_code)


async def listen(a):
    async with connect(a, a.url) as ws:
        if a.protocol:
            print("protocol", ws.subprotocol)
        if a.send is not None:
            await ws.send(a.send.encode() if a.binary else a.send)
        try:
            while True:
                m = await asyncio.wait_for(ws.recv(), a.timeout)
                print(repr(m) if isinstance(m, bytes) else m)
        except websockets.ConnectionClosed:
            pass
        print("close", ws.close_code, ws.close_reason)


async def refused(a):
    try:
        async with connect(a, a.url):
            print("upgraded")
    except websockets.InvalidStatusCode as e:
        print("status", e.status_code)


async def many(a, n, m):
    async def one(i):
        async with connect(a, a.url) as ws:
            for k in range(m):
                msg = "c%d m%d" % (i, k)
                await ws.send(msg)
                if await ws.recv() != msg:
                    return 0
            return m
    results = await asyncio.gather(*(one(i) for i in range(n)))
    print("ok", sum(results))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("action")
    ap.add_argument("url")
    ap.add_argument("counts", nargs="*", type=int)
    ap.add_argument("--origin")
    ap.add_argument("--protocol")
    ap.add_argument("--send")
    ap.add_argument("--binary", action="store_true")
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args()
    run = {"roundtrip": lambda: roundtrip(a), "listen": lambda: listen(a), "refused": lambda: refused(a),
           "many": lambda: many(a, *a.counts)}[a.action]
    asyncio.run(asyncio.wait_for(run(), 120))


if __name__ == "__main__":
    main()
