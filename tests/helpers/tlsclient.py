#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tlsclient.py [options] HOST:PORT: a TLS client for the tests.  Connects,
sends --send (or --bytes N of random data while reading back concurrently),
then ends its side as asked, and prints what came back until the server
closed.  With --bytes it prints "sent SHA256 received SHA256 N" instead.
Options:
  --cafile FILE       verify the server against FILE (default: no verification)
  --sni NAME          the server name to send (default: none; with --cafile,
                      the name checked is NAME or localhost)
  --alpn P1,P2        ALPN protocols to offer
  --cert FILE --key FILE   a client certificate
  --send TEXT         what to send
  --bytes N           send N random bytes, read back concurrently
  --end fin|none      after sending: half-close TCP (no close_notify) or
                      nothing (default: fin)
  --timeout S         (default 20)
On a TLS error it prints "tls error: REASON" and exits 3.
"""
import argparse
import hashlib
import os
import socket
import ssl
import sys
import select
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cafile")
    ap.add_argument("--sni")
    ap.add_argument("--alpn")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--send", default="")
    ap.add_argument("--bytes", type=int, default=-1)
    ap.add_argument("--end", default="fin")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("address")
    a = ap.parse_args()
    host, _, port = a.address.rpartition(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if a.cafile:
        ctx.load_verify_locations(a.cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if a.alpn:
        ctx.set_alpn_protocols(a.alpn.split(","))
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    raw = socket.create_connection((host.strip("[]"), int(port)), timeout=a.timeout)
    name = a.sni or ("localhost" if a.cafile else None)
    try:
        s = ctx.wrap_socket(raw, server_hostname=name)
        if a.bytes >= 0:
            # one thread, non-blocking: an SSL object is not to be read and
            # written from two threads at once
            data = os.urandom(a.bytes)
            got = bytearray()
            off, eof, ended = 0, False, False
            s.setblocking(False)
            deadline = time.monotonic() + a.timeout
            while not eof:
                if time.monotonic() > deadline:
                    sys.exit("tlsclient.py: timed out")
                moved = False
                if off < len(data):
                    try:
                        off += s.send(data[off:off + 65536])
                        moved = True
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        pass
                elif not ended:
                    if a.end == "fin":
                        socket.socket.shutdown(s, socket.SHUT_WR)  # TCP only: no close_notify
                    ended = True
                try:
                    chunk = s.recv(65536)
                    if chunk:
                        got.extend(chunk)
                        moved = True
                    else:
                        eof = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                if not moved and not eof:
                    select.select([s], [s] if off < len(data) else [], [], 1)
            print("sent %s received %s %d" % (hashlib.sha256(data).hexdigest(),
                                               hashlib.sha256(bytes(got)).hexdigest(), len(got)))
            return
        s.sendall(a.send.encode())
        if a.end == "fin":
            socket.socket.shutdown(s, socket.SHUT_WR)  # TCP only: no close_notify
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        sys.stdout.buffer.write(out)
    except ssl.SSLError as e:
        print("tls error: %s" % (e.reason or e), flush=True)
        sys.exit(3)
    except ConnectionResetError:
        print("tls error: connection reset", flush=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
