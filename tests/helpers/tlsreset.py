#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tlsreset.py [--echo] HOST:PORT BYTES: a TLS client that sends BYTES in
16 KiB pieces (with --echo, reading 16 KiB back after each), then resets the
connection (SO_LINGER 0: an RST, no close_notify), and prints "reset"."""
import socket
import ssl
import struct
import sys

args = sys.argv[1:]
echo = args[0] == "--echo"
if echo:
    args = args[1:]
host, _, port = args[0].rpartition(":")
left = int(args[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=60))
while left > 0:
    piece = min(left, 16384)
    s.sendall(b"x" * piece)
    left -= piece
    if echo:
        got = 0
        while got < piece:
            got += len(s.recv(piece - got))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("reset")
