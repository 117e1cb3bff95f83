#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""docrun.py list DOC...: print the command examples of the README and the man
page, one a line.  docrun.py run SOCKSERVE WORKDIR EXAMPLE [CLIENT]: run one
example as written but for its ADDRESS (a free loopback port, or a path in
WORKDIR), with --print-address added and placeholder programs (./hello) made
stubs that answer "NAME ok"; then one request from CLIENT ("stream" sends a
line, "silent" nothing, "dgram" a datagram, "curl PATH" an HTTP GET), and
print the reply and the exit status after SIGTERM."""
import os
import re
import shlex
import signal
import socket
import subprocess
import sys

TAKES_VALUE = {"-f", "--family", "-t", "--type", "-b", "--backlog", "--max-packet", "-m", "--mode", "-c",
               "--max-children", "--max-per-ip", "-T", "--timeout", "--idle-timeout", "-n", "--max-requests",
               "--grace", "--stderr", "-u", "--user", "-g", "--group", "--socket-mode", "--pidfile",
               "--log-format", "--allow", "--deny", "--rate", "--workers"}
COMMANDS = r"^(sudo )?(sockserve|systemd-socket-activate|systemd-run) "


def examples(paths):
    out = []
    for path in paths:
        text = open(path).read()
        if path.endswith(".1"):
            nf, cont = False, ""
            for line in text.split("\n"):
                if line.startswith(".nf"):
                    nf = True
                elif line.startswith(".fi"):
                    nf = False
                elif nf:
                    t = line.replace("\\e", "\\").replace("\\-", "-").strip()
                    if cont:
                        t, cont = cont + " " + t, ""
                    if t.endswith("\\"):
                        cont = t[:-1].strip()
                    elif re.match(COMMANDS, t):
                        out.append(t)
        else:
            for line in text.split("\n"):
                m = re.match(r"^    (\S.*)$", line)
                if m and re.match(COMMANDS, m.group(1)):
                    out.append(re.sub(r"\s+# .*$", "", m.group(1)).rstrip())
    return out


def run(sockserve, work, example, client):
    argv = shlex.split(example)
    if argv[0] == "sudo":
        argv = argv[1:]
    argv[0] = sockserve
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in TAKES_VALUE else 1
    address = argv[i]
    if "/" in address:
        argv[i] = os.path.join(work, os.path.basename(address))
    elif address.startswith("@"):
        argv[i] = "@docs-%d-%s" % (os.getpid(), address[1:])
    elif address.startswith("["):
        argv[i] = "[::1]:0"
    else:
        argv[i] = "127.0.0.1:0"
    for j, word in enumerate(argv):
        if word == "--pidfile":
            argv[j + 1] = os.path.join(work, "docs.pid")
    # a placeholder program as COMMAND: a stub that says who it is
    command = argv[i + 2] if i + 1 < len(argv) and argv[i + 1] == "--" else argv[i + 1]
    for word in [command]:
        if word.startswith("./") and "/" not in word[2:]:
            stub = os.path.join(work, word[2:])
            with open(stub, "w") as f:
                f.write("#!/bin/sh\ncat >/dev/null\necho '%s ok'\n" % word[2:])
            os.chmod(stub, 0o755)
    if "--print-address" not in argv:
        argv.insert(1, "--print-address")
    server = subprocess.Popen(argv, cwd=work, stdout=subprocess.PIPE, stderr=open(os.path.join(work, "docs.err"), "a"))
    try:
        addr = server.stdout.readline().decode().strip()
        print("reply: " + talk(work, addr, "-t" in argv and argv[argv.index("-t") + 1] == "dgram", client))
    finally:
        server.send_signal(signal.SIGTERM)
        print("exit %d" % server.wait(20))


def talk(work, addr, dgram, client):
    if client.startswith("curl"):
        url = "http://%s%s" % (addr, client.split()[1] if " " in client else "/")
        return subprocess.run(["curl", "-sS", "--max-time", "10", url], capture_output=True, text=True).stdout.strip()
    if addr.startswith("/") or addr.startswith("@"):
        family, target = socket.AF_UNIX, ("\0" + addr[1:] if addr.startswith("@") else addr)
    elif addr.startswith("["):
        host, port = addr[1:].rsplit("]:", 1)
        family, target = socket.AF_INET6, (host, int(port))
    else:
        host, port = addr.rsplit(":", 1)
        family, target = socket.AF_INET, (host, int(port))
    s = socket.socket(family, socket.SOCK_DGRAM if dgram else socket.SOCK_STREAM)
    s.settimeout(10)
    if dgram:
        if family == socket.AF_UNIX:
            s.bind(os.path.join(work, "client.sock"))
        s.sendto(b"hello", target)
        return s.recv(70000).decode(errors="replace").strip()
    s.connect(target)
    if client != "silent":  # a handler that does not read gets nothing
        s.sendall(b"hello\n")
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


if sys.argv[1] == "list":
    print("\n".join(examples(sys.argv[2:])))
else:
    run(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else "stream")
