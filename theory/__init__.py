"""theory: SymPy registry of bounds for clipped stochastic optimization (docs/theory.md §4).

    >>> import theory
    >>> b = theory.get("li_liu_2023_clipped_sgd")
    >>> b.exponent("T", alpha=1.5)
    -2/5
    >>> b.evaluate(C_opt=1.0, T=1e4, delta=0.01, alpha=1.5)  # doctest: +SKIP

``BOUNDS`` (name -> Bound), ``get``, ``balance`` (exponent balancing), ``parse_bound`` (user bounds
from text, no code evaluated), ``table`` (rows for ``python -m theory`` and the CLI).
"""
from . import derivations, symbols
from .balance import Balanced, balance
from .bound import KINDS, QUANTITIES, STATUSES, Bound, Reference
from .parse import parse_bound, parse_expr
from .registry import BOUNDS, get, r_sq, register, to_grad_norm
from .table import format_table, table

__all__ = [
    "BOUNDS", "Balanced", "Bound", "KINDS", "derivations", "QUANTITIES", "Reference", "STATUSES", "balance",
    "format_table", "get", "parse_bound", "parse_expr", "r_sq", "register", "symbols", "table",
    "to_grad_norm",
]
