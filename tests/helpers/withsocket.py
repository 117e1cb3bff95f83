#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""withsocket.py HOST ADDRFILE COMMAND...: listen on HOST, port 0, make the
socket fd 3, write "HOST:PORT" to ADDRFILE (whole, by a rename) and exec
COMMAND.  For programs that cannot say which port they bound, such as
HAProxy (`bind fd@3`): the test learns the port before they start."""
import os
import socket
import sys

host, addrfile, command = sys.argv[1], sys.argv[2], sys.argv[3:]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, 0))
s.listen(128)
port = s.getsockname()[1]
if s.fileno() == 3:
    os.set_inheritable(3, True)
else:
    os.dup2(s.fileno(), 3)  # dup2 makes fd 3 inheritable
    s.close()
tmp = addrfile + ".tmp"
with open(tmp, "w") as f:
    f.write("%s:%d\n" % (host if ":" not in host else "[%s]" % host, port))
os.rename(tmp, addrfile)
os.execvp(command[0], command)
