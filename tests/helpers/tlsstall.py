#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tlsstall.py HOST:PORT SECONDS: a TLS client that finishes its handshake,
prints "handshaken", and then reads nothing (a small receive buffer) for
SECONDS, or until killed."""
import socket
import ssl
import sys
import time

host, _, port = sys.argv[1].rpartition(":")
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect((host, int(port)))
s = ctx.wrap_socket(raw)
print("handshaken", flush=True)
time.sleep(float(sys.argv[2]))
