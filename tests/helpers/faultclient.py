#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""faultclient.py: a client for the tests of sockserve's testing options.

  faultclient.py stream [--tls] [--send TEXT] [--bytes N] [--shut] [--timeout S] HOST:PORT
      Connect (TLS without verification with --tls), send TEXT (or N bytes of
      'x'), half-close with --shut, then read until the server ends the
      connection, each read of up to 65536 bytes.  Prints one JSON object:
      first (seconds from connect to the first byte, or null), total
      (seconds to the end), bytes, reads (the size of each read), end ("eof",
      "reset" or "timeout"), data (what came, as text, cut at 200 bytes).

  faultclient.py dgram [--count N] HOST:PORT
      Send N datagrams "p1".."pN" (default 20), then collect the replies
      until standard input ends (the test closes it once the server has
      answered them all), and print each reply on a line of its own, in the
      order they came.
"""
import argparse
import json
import select
import socket
import ssl
import sys
import time


def split(address):
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def stream(a):
    raw = socket.create_connection(split(a.address), timeout=a.timeout)
    s = raw
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(raw, suppress_ragged_eofs=False)
    start = time.monotonic()
    payload = a.send.encode() if a.bytes < 0 else b"x" * a.bytes
    if payload:
        s.sendall(payload)
    if a.shut:
        raw.shutdown(socket.SHUT_WR) if not a.tls else None
    first = None
    reads = []
    data = bytearray()
    end = "eof"
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            end = "reset"
            break
        except (socket.timeout, TimeoutError):
            end = "timeout"
            break
        except ssl.SSLError as e:
            end = "reset" if "EOF" in str(e) or "reset" in str(e).lower() else "tls: " + str(e)
            break
        if not chunk:
            break
        if first is None:
            first = time.monotonic() - start
        reads.append(len(chunk))
        data += chunk
    print(json.dumps({"first": first, "total": time.monotonic() - start, "bytes": len(data), "reads": reads,
                      "end": end, "data": data[:200].decode("latin-1")}))


def dgram(a):
    host, port = split(a.address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.connect((host, port))
    for i in range(1, a.count + 1):
        s.send(b"p%d" % i)
    out = []
    stdin_open = True
    while stdin_open:
        r, _, _ = select.select([s, sys.stdin], [], [], 30)
        if not r:
            break
        if s in r:
            out.append(s.recv(65536).decode())
        if sys.stdin in r and not sys.stdin.buffer.read1(4096):
            stdin_open = False
    s.setblocking(False)
    while True:
        try:
            out.append(s.recv(65536).decode())
        except BlockingIOError:
            break
    for reply in out:
        print(reply)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["stream", "dgram"])
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--send", default="")
    ap.add_argument("--bytes", type=int, default=-1)
    ap.add_argument("--shut", action="store_true")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("address")
    a = ap.parse_args()
    if a.kind == "stream":
        stream(a)
    else:
        dgram(a)


if __name__ == "__main__":
    main()
