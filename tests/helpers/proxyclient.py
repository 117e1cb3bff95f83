#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""proxyclient.py [options] HOST:PORT HEADER: connect, send a PROXY protocol
HEADER (then --payload), close the sending side and print what comes back
until end of file.  HEADER is one of
  v1:TEXT                       TEXT and CRLF ("v1:PROXY TCP4 192.0.2.1 ...")
  v2:CMD:FAMILY:SRC:DST:SPORT:DPORT[:TLVBYTES]
                                CMD local|proxy, FAMILY tcp4|tcp6|unix|unspec;
                                TLVBYTES of a PP2_TYPE_NOOP TLV after the addresses
  hex:HEX                       raw bytes
  none                          nothing (with --payload: a client without a header)
Options:
  --payload TEXT   sent after the header
  --split N        send the first N bytes of header+payload, pause --pause
                   seconds, then the rest (a header that arrives in pieces)
  --pause S        (default 0.2)
  --keep-open      do not close the sending side (a silent client: waits for
                   the server to close); prints the seconds it waited on stderr
  --timeout S      give up reading after S seconds (default 15)
"""
import argparse
import ipaddress
import socket
import struct
import sys
import time

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def build(spec):
    kind, _, rest = spec.partition(":")
    if kind == "none":
        return b""
    if kind == "v1":
        return rest.encode() + b"\r\n"
    if kind == "hex":
        return bytes.fromhex(rest)
    if kind != "v2":
        sys.exit("proxyclient.py: bad header " + spec)
    f = rest.split(":")
    cmd, fam = f[0], f[1]
    tlv = int(f[6]) if len(f) > 6 else 0
    ver_cmd = 0x20 | (1 if cmd == "proxy" else 0)
    if fam == "tcp4":
        fam_byte = 0x11
        addrs = (ipaddress.IPv4Address(f[2]).packed + ipaddress.IPv4Address(f[3]).packed
                 + struct.pack("!HH", int(f[4]), int(f[5])))
    elif fam == "tcp6":
        # v6 addresses hold colons: SRC and DST are given with '-' for ':'
        fam_byte = 0x21
        addrs = (ipaddress.IPv6Address(f[2].replace("-", ":")).packed
                 + ipaddress.IPv6Address(f[3].replace("-", ":")).packed
                 + struct.pack("!HH", int(f[4]), int(f[5])))
    elif fam == "unix":
        fam_byte = 0x31
        addrs = f[2].encode().ljust(108, b"\0") + f[3].encode().ljust(108, b"\0")
    else:
        fam_byte = 0x00
        addrs = b""
    if tlv:
        # PP2_TYPE_NOOP (0x04) of tlv-3 bytes of value
        addrs += struct.pack("!BH", 0x04, tlv - 3) + b"\xab" * (tlv - 3)
    return SIG + bytes([ver_cmd, fam_byte]) + struct.pack("!H", len(addrs)) + addrs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--payload", default="")
    ap.add_argument("--split", type=int, default=-1)
    ap.add_argument("--pause", type=float, default=0.2)
    ap.add_argument("--keep-open", action="store_true")
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("address")
    ap.add_argument("header")
    a = ap.parse_args()
    host, _, port = a.address.rpartition(":")
    host = host.strip("[]")
    data = build(a.header) + a.payload.encode()
    s = socket.create_connection((host, int(port)), timeout=a.timeout)
    start = time.monotonic()
    # the server may close first (a bad header): what it sent is the answer
    try:
        if a.split >= 0:
            s.sendall(data[:a.split])
            time.sleep(a.pause)
            data = data[a.split:]
        s.sendall(data)
        if not a.keep_open:
            s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    sys.stdout.buffer.write(out)
    if a.keep_open:
        print("%.2f" % (time.monotonic() - start), file=sys.stderr)


if __name__ == "__main__":
    main()
