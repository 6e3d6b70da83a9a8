"""A bound's card as plain text (``clipsim bounds NAME``, ``python -m theory show NAME``)."""
from __future__ import annotations

import re

from .bound import STATUSES, Bound
from .registry import get

__all__ = ["describe", "one_line"]


def one_line(b: Bound) -> str:
    """First sentence of the bound's description (for listings)."""
    text = (b.description or b.quantity).strip()
    head = re.split(r"(?<=[^.]{3})\. (?=[A-Z])", text)[0].rstrip(".")
    return head if len(head) <= 100 else head[:97] + "..."


def _rate_line(b: Bound) -> str:
    var = "T" if "T" in b.symbols else b.rate_var
    try:
        p, q = b.rate(var)
    except ValueError as e:
        return f"(not available: {e})"
    shown = f"1/{var}" if var in ("delta", "eps") else var
    return f"{shown}^({p})" + (f" · log({shown})^({q})" if q != 0 else "")


def describe(bound) -> str:
    """Every field a user needs to check ``bound`` (a Bound or a registry name), one per line."""
    b = get(bound) if isinstance(bound, str) else bound
    rel = ">=" if b.kind == "lower_bound" else "<="
    prob = f"   with probability >= 1 - {b.delta}" if b.delta is not None and b.kind != "lower_bound" else ""
    lines = [
        f"{b.name}",
        f"  {b.description}" if b.description else "",
        f"formula:      {b.quantity} {rel} {b.expr}{prob}",
        f"LaTeX:        {b.latex()}",
        f"kind:         {b.kind}",
        f"status:       {b.status} ({STATUSES[b.status]})" + (f"; {b.status_note}" if b.status_note else ""),
        f"rate:         {_rate_line(b)}",
        "hidden constants: " + (", ".join(h.name for h in b.hidden_constants) or "none")
        + ("  (no default: give them or calibrate them)" if b.hidden_constants else ""),
        "algorithm:    " + (" or ".join(b.algorithms) + " (clipsim.optimizers presets)" if b.algorithms
                            else "not tied to one update rule"),
        "assumptions:" + ("" if b.assumptions else " none listed"),
        *(f"  - {a}" for a in b.assumptions),
        "valid when:" + ("" if b.valid_when else " no conditions"),
        *(f"  - {r}" for r in b.valid_when),
        "schedule:" + ("" if b.schedule else " none prescribed"),
        *(f"  - {k} = {v}" for k, v in b.schedule.items()),
        "defaults:     " + (", ".join(f"{k} = {v}" for k, v in b.defaults.items()) or "none"),
        f"reference:    {b.reference}" + (f" ({b.reference.note})" if b.reference.note else ""),
    ]
    return "\n".join(x for x in lines if x != "")
