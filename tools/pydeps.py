"""pydeps.py: the third-party Python packages a tool in tools/ needs, checked up front.

A tool calls require() before it uses any of them. When one is missing the user gets
one message naming every missing package and how to install it (pip, and the Debian
package where Debian has one) for the Python that ran the tool, and exit status 2,
instead of a traceback from deep inside the tool.

  from pydeps import require
  np, torch = require("dump_torch.py", ["numpy", "torch"])
"""
import importlib
import sys

# import name -> (pip name, Debian package or None)
PACKAGES = {
    "numpy": ("numpy", "python3-numpy"),
    "h5py": ("h5py", "python3-h5py"),
    "pandas": ("pandas", "python3-pandas"),
    "torch": ("torch", "python3-torch"),
    "transformers": ("transformers", None),
    "sentence_transformers": ("sentence-transformers", None),
}


def missing_message(tool, missing):
    """The message for the (import name, reason) pairs in missing."""
    names = [m for m, _ in missing]
    pip = " ".join(PACKAGES.get(m, (m, None))[0] for m in names)
    debs = [PACKAGES[m][1] for m in names if m in PACKAGES and PACKAGES[m][1]]
    lines = ["%s: missing Python package%s: %s (for %s)" % (
        tool, "s" if len(names) > 1 else "", ", ".join(names), sys.executable)]
    for m, reason in missing:
        if reason:
            lines.append("  %s is installed but does not import: %s" % (m, reason))
    lines.append("  install: %s -m pip install %s" % (sys.executable, pip))
    if debs:
        no_deb = [m for m in names if not (m in PACKAGES and PACKAGES[m][1])]
        lines.append("  or on Debian: apt-get install %s%s" % (
            " ".join(debs), " (and pip for %s, which Debian does not package)" % ", ".join(no_deb)
            if no_deb else ""))
    return "\n".join(lines)


def require(tool, names, library=False):
    """Imports the modules `names` and returns them in that order (a list).

    When any is missing: prints one message to stderr naming them all with the pip
    and Debian commands and exits with status 2; with library=True (a tool's function
    called from someone's Python) raises ImportError with that message instead."""
    mods, missing = [], []
    for name in names:
        try:
            mods.append(importlib.import_module(name))
        except ImportError as e:
            # the package itself absent, or present but one of its own imports failing
            absent = getattr(e, "name", None) in (name, None)
            missing.append((name, None if absent else str(e)))
    if missing:
        msg = missing_message(tool, missing)
        if library:
            raise ImportError(msg)
        sys.stderr.write(msg + "\n")
        sys.exit(2)
    return mods
