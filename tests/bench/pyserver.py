#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The Python socketserver peer for the benchmark.

    pyserver.py fork|thread tcp|unix|udp ADDRESS HANDLER

Serves ADDRESS (HOST:PORT, or a path for unix) with socketserver's forking or
threading mix-in; each request runs HANDLER with subprocess: for a stream the
connection is the handler's stdin and stdout, for a datagram the packet is
its stdin and its output is sent back as one reply.
"""
import socketserver
import subprocess
import sys

mode, kind, address, handler = sys.argv[1:5]


class Stream(socketserver.BaseRequestHandler):
    def handle(self):
        fd = self.request.fileno()
        subprocess.run([handler], stdin=fd, stdout=fd, check=False)


class Datagram(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        out = subprocess.run([handler], input=data, stdout=subprocess.PIPE, check=False).stdout
        if out:
            sock.sendto(out, self.client_address)


mixin = socketserver.ForkingMixIn if mode == "fork" else socketserver.ThreadingMixIn
if kind == "unix":
    base, handler_class, addr = socketserver.UnixStreamServer, Stream, address
else:
    host, port = address.rsplit(":", 1)
    addr = (host, int(port))
    base, handler_class = (socketserver.UDPServer, Datagram) if kind == "udp" else (socketserver.TCPServer, Stream)


class Server(mixin, base):
    allow_reuse_address = True
    request_queue_size = 128
    daemon_threads = True
    max_children = 256  # ForkingMixIn's default is 40; the others run 256


with Server(addr, handler_class) as server:
    server.serve_forever()
