#!/usr/bin/env python3
"""check_layers.py: the architecture rules of docs/DESIGN.md, checked on the built objects.

Reads the symbols each object file of a build defines and uses (nm), makes the graph
"file A calls file B", and fails when
  - a file calls a file of a higher layer (quant < kernels < core < store < models <
    backends < workloads < sweep < report < cli), or
  - files call each other in a circle (any strongly connected component of more than
    one file), inside a layer as well as across layers.
Usage (from the repository root): check_layers.py BUILD_DIR (default build). Exit 0 clean, 1 a violation, 2 usage.
"""
import os
import shutil
import subprocess
import sys

LAYERS = ["quant", "kernels", "harness/core", "harness/store", "harness/models", "harness/backends",
          "harness/workloads", "harness/sweep", "harness/report", "harness/cli"]


def layer_of(rel):
    for i, name in enumerate(LAYERS):
        if rel.startswith(name + "/"):
            return i
    return None


def symbols(path):
    out = subprocess.run(["nm", "--defined-only", "-g", path], capture_output=True, text=True, check=True).stdout
    defined = {l.split()[-1] for l in out.splitlines() if len(l.split()) == 3 and l.split()[1] in "TDBRCV"}
    out = subprocess.run(["nm", "-u", path], capture_output=True, text=True, check=True).stdout
    used = {l.split()[-1] for l in out.splitlines() if l.strip()}
    return defined, used


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    if shutil.which("nm") is None:
        print("check_layers: needs nm (binutils): apt-get install binutils", file=sys.stderr)
        return 2
    if not os.path.isdir(build):
        print(f"check_layers: {build} is not a build directory (make first)", file=sys.stderr)
        return 2
    files = {}
    for root, _, names in os.walk(build):
        for n in names:
            if n.endswith(".o"):
                rel = os.path.relpath(os.path.join(root, n), build)[:-2]
                # objects of sources that no longer exist (stale) are not the code
                if layer_of(rel) is not None and (os.path.exists(rel + ".c") or os.path.exists(rel + ".cu")):
                    files[rel] = symbols(os.path.join(root, n))
    owner = {}
    for f, (defined, _) in files.items():
        for s in defined:
            owner[s] = f
    calls = {f: sorted({owner[s] for s in used if s in owner and owner[s] != f}) for f, (_, used) in files.items()}
    bad = 0
    for f, targets in sorted(calls.items()):
        for t in targets:
            if layer_of(t) > layer_of(f):
                print(f"check_layers: {f} calls {t}, a higher layer")
                bad = 1
    # Tarjan's strongly connected components.
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in calls[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(comp)

    for v in sorted(calls):
        if v not in index:
            visit(v)
    for comp in comps:
        if len(comp) > 1:
            print("check_layers: files call each other in a circle: " + ", ".join(sorted(comp)))
            bad = 1
    if not bad:
        print(f"check_layers: ok, {len(files)} files in {len(LAYERS)} layers, every call downward or "
              f"sideways, no circle")
    return bad


if __name__ == "__main__":
    sys.exit(main())
