"""Rows describing the registry (used by ``python -m theory`` and the ``clipsim bounds`` CLI)."""
from __future__ import annotations

import sympy as sp

from .registry import BOUNDS

__all__ = ["table", "format_table"]


def _rate(b, var, **subs):
    try:
        return b.rate(var, **subs)
    except ValueError:
        return None, None


def table(names=None) -> list[dict]:
    """One dict per bound: name, kind, status, quantity, rate_var, rate (exponent in rate_var,
    symbolic in α), log_power, rate_at_1_5 (α = 3/2), reference."""
    rows = []
    for name in (names or sorted(BOUNDS)):
        b = BOUNDS[name]
        var = "T" if "T" in b.symbols else b.rate_var
        p, q = _rate(b, var)
        p15, _ = _rate(b, var, alpha=sp.Rational(3, 2))
        rows.append(dict(name=b.name, kind=b.kind, status=b.status, quantity=b.quantity,
                         rate_var=var, rate=p, log_power=q, rate_at_1_5=p15,
                         reference=str(b.reference)))
    return rows


def format_table(rows=None) -> str:
    """Plain-text table of ``table()`` rows."""
    rows = table() if rows is None else rows
    head = ("name", "kind", "status", "quantity", "rate in", "exponent", "at α=3/2", "log^")
    body = [(r["name"], r["kind"], r["status"], r["quantity"],
             r["rate_var"] if r["rate_var"] not in ("delta", "eps") else f"1/{r['rate_var']}",
             str(r["rate"]), str(r["rate_at_1_5"]), str(r["log_power"])) for r in rows]
    widths = [max(len(h), *(len(x[i]) for x in body)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa
    return "\n".join([line(head), line(tuple("-" * w for w in widths))] + [line(x) for x in body])
