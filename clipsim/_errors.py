"""The command line's failure path: path checks before any work, and one line per error.

Every error the ``clipsim`` command can meet (bad input, a missing or damaged file, a damaged store,
no memory, an unreachable scheduler, an interrupt) becomes exit code 2 (130 for Ctrl-C) and a single
line on stderr; an unexpected exception says so in one line and how to get its traceback.
"""
from __future__ import annotations

import os
import sqlite3

_MAX_MSG = 400


def _first_existing(path):
    p = os.path.abspath(path)
    while not os.path.exists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


def readable_file(what, path):
    """``path`` must be an existing, readable regular file."""
    if not os.path.exists(path):
        raise ValueError(f"{what} = {path!r} is not allowed: no such file")
    if not os.path.isfile(path):
        raise ValueError(f"{what} = {path!r} is not allowed: not a regular file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{what} = {path!r} is not allowed: not readable")


def writable_file(what, path):
    """``path`` must be a file we can create or overwrite, in an existing directory."""
    if os.path.isdir(path):
        raise ValueError(f"{what} = {path!r} is not allowed: it is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"{what} = {path!r} is not allowed: directory {parent!r} does not exist")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ValueError(f"{what} = {path!r} is not allowed: not writable")


def writable_dir(what, path):
    """``path`` must be a directory, or creatable under the nearest existing directory."""
    base = _first_existing(path)
    if not os.path.isdir(base):
        raise ValueError(f"{what} = {path!r} is not allowed: {base!r} is a file, not a directory")
    if not os.access(base, os.W_OK):
        raise ValueError(f"{what} = {path!r} is not allowed: {base!r} is not writable")


def check_cli_paths(args):
    """Check the spec, store and output paths of a parsed ``clipsim`` command line before any work."""
    cmd = args.command
    if getattr(args, "spec", None) is not None:
        readable_file("spec", args.spec)
    if getattr(args, "store", None) is not None:
        if cmd == "run":
            writable_dir("--store", args.store)
    out = getattr(args, "out", None)
    if cmd == "export" and out and not str(out).endswith((".csv", ".parquet")):
        raise ValueError(f"out = {out!r} is not allowed: must end in .csv or .parquet")
    if cmd == "check" and out and getattr(args, "spec", None) and os.path.exists(out) \
            and os.path.samefile(out, args.spec):
        raise ValueError(f"--out = {out!r} is not allowed: it is the spec itself")
    if cmd in ("check", "export") and out:
        writable_file("--out" if cmd == "check" else "out", out)
    elif cmd == "plot" and out:
        writable_dir("--out", out)


def one_line(e: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception raised by a command."""
    if isinstance(e, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(e, ValueError) and e.args:
        msg = str(e.args[0])
    elif isinstance(e, KeyError):
        msg = f"missing key {e.args[0]!r}" if e.args else "missing key"
    elif isinstance(e, sqlite3.DatabaseError):
        msg = f"the store's index is damaged ({e}): run `clipsim store verify --repair`"
    elif isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        msg = f"{where}{e.strerror or e}"
    elif isinstance(e, MemoryError):
        msg = "out of memory: use fewer seeds, a shorter horizon or a smaller dim"
    elif isinstance(e, RecursionError):
        msg = "input nested too deeply"
    else:
        msg = f"unexpected {type(e).__name__}: {e} (set CLIPSIM_DEBUG=1 for the traceback, and please report it)"
    msg = " ".join(str(msg).split())
    return 2, msg if len(msg) <= _MAX_MSG else msg[:_MAX_MSG - 1] + "…"
