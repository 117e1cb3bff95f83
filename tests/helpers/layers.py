#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""layers.py OBJDIR SRCDIR: the call graph between lib/'s files, from the symbols each
object file defines and uses (nm); prints the layers from the top down and
exits 1 if any files call each other in a cycle, or if a file other than
server.c and workers.c includes server.h (the others are handed the view)."""
import os
import subprocess
import sys

objdir, srcdir = sys.argv[1], sys.argv[2]
defined, used = {}, {}
for name in sorted(os.listdir(objdir)):
    if not name.endswith(".o"):
        continue
    unit = name[:-2]
    if not os.path.exists(os.path.join(srcdir, unit + ".c")):
        continue  # a stale object of a file that is gone
    out = subprocess.run(["nm", os.path.join(objdir, name)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDRB":
            defined[parts[2]] = unit
        elif len(parts) == 2 and parts[0] == "U":
            used.setdefault(unit, set()).add(parts[1])
    used.setdefault(unit, set())

edges = {u: sorted({defined[s] for s in syms if s in defined and defined[s] != u}) for u, syms in used.items()}

# Tarjan's strongly connected components: any with more than one file is a cycle.
index, low, stack, on, comps = {}, {}, [], set(), []
def visit(v, counter=[0]):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        comps.append(comp)
for v in edges:
    if v not in index:
        visit(v)
cycles = [c for c in comps if len(c) > 1]
SERVER_H_OWNERS = {"server.c", "workers.c", "server.h"}
wrong = []
for name in sorted(os.listdir(srcdir)):
    if name.endswith((".c", ".h")) and name not in SERVER_H_OWNERS:
        with open(os.path.join(srcdir, name)) as f:
            if any(line.strip().startswith("#include") and '"server.h"' in line for line in f):
                wrong.append(name)
for name in wrong:
    print("%s includes server.h: only server.c and workers.c may (hand it the view, view.h)" % name)
for c in cycles:
    print("cycle: " + " <-> ".join(sorted(c)))
    for u in sorted(c):
        print("  %s calls %s" % (u, ", ".join(w for w in edges[u] if w in c)))
if cycles or wrong:
    sys.exit(1)

# Depth: leaves are 0, a file is one above the deepest file it calls.
depth = {}
def d(v):
    if v not in depth:
        depth[v] = 0
        depth[v] = 1 + max((d(w) for w in edges[v]), default=-1)
    return depth[v]
for v in edges:
    d(v)
for level in sorted(set(depth.values()), reverse=True):
    print("%d: %s" % (level, " ".join(sorted(u for u in depth if depth[u] == level))))
