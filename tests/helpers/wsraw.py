# SPDX-License-Identifier: BSD-2-Clause
"""A WebSocket upgrade by hand, for the tests that need the bytes a library
hides: upgrade(ADDRESS, PREFIX, UNTIL) sends PREFIX and the request, reads
until UNTIL is in what came (or the end), and returns the socket, the
response's head lines and the bytes after it."""
import socket

REQUEST = (b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def upgrade(address, prefix=b"", until=b"\r\n\r\n", timeout=20):
    host, port = address.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.sendall(prefix + REQUEST)
    data = b""
    while until not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return s, head.split(b"\r\n"), rest
