"""User bounds from text, e.g. from TOML sweep files, without evaluating code.

The text is parsed with Python's ``ast`` (parsing never runs code) and the tree is walked over a
whitelist: numbers, names, + - * / ** (and unary +/-), and calls of whitelisted functions with
positional arguments. The SymPy expression is built node by node (no ``sympify``/``eval``).
Anything else (attributes, subscripts, strings, lambdas, comprehensions, keyword arguments,
comparisons, ``^``...) raises ValueError naming the construct.

Names: canonical symbols (theory.symbols) map to the canonical Symbols; ``C`` and ``C_*`` become
positive hidden constants; ``pi`` and ``E`` are the constants. Any other name is rejected unless
declared in ``extra_symbols`` (then a positive symbol): a typo like ``sigam`` must not become a
silent new parameter. Float literals become exact decimals (0.1 -> 1/10).
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping

import sympy as sp

from . import symbols as S
from .bound import Bound, Reference

__all__ = ["parse_expr", "parse_bound", "FUNCTIONS"]

#: function name -> (SymPy callable, allowed argument counts)
FUNCTIONS = {
    "log": (sp.log, (1, 2)), "ln": (sp.log, (1,)), "sqrt": (sp.sqrt, (1,)),
    "exp": (sp.exp, (1,)), "Min": (sp.Min, None), "Max": (sp.Max, None),
    "min": (sp.Min, None), "max": (sp.Max, None), "Abs": (sp.Abs, (1,)), "abs": (sp.Abs, (1,)),
    "gamma": (sp.gamma, (1,)),
}
_CONSTANTS = {"pi": sp.pi, "E": sp.E}
_HIDDEN = re.compile(r"^C(_[A-Za-z0-9_]+)?$")
_MAX_LEN = 2000
_MAX_DEPTH = 60
_BINOPS = {ast.Add: sp.Add, ast.Sub: lambda a, b: a - b, ast.Mult: sp.Mul,
           ast.Div: lambda a, b: a / b}


def _reject(node: ast.AST, what: str | None = None) -> None:
    what = what or {
        ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
        ast.ListComp: "comprehensions", ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions", ast.GeneratorExp: "comprehensions",
        ast.Compare: "comparisons", ast.BoolOp: "boolean operators",
        ast.IfExp: "conditional expressions", ast.NamedExpr: "assignment expressions",
        ast.JoinedStr: "strings", ast.List: "lists", ast.Tuple: "tuples", ast.Dict: "dicts",
        ast.Set: "sets", ast.Starred: "starred arguments", ast.Await: "await",
    }.get(type(node), f"{type(node).__name__} nodes")
    raise ValueError(f"parse_bound: {what} not allowed (col {getattr(node, 'col_offset', '?')})")


class _Builder:
    def __init__(self, extra: Mapping[str, sp.Symbol]):
        self.extra = extra
        self.hidden: dict[str, sp.Symbol] = {}

    def name(self, node: ast.Name) -> sp.Expr:
        nm = node.id
        if nm in S.CANONICAL:
            return S.CANONICAL[nm]
        if nm in _CONSTANTS:
            return _CONSTANTS[nm]
        if nm in self.extra:
            return self.extra[nm]
        if _HIDDEN.match(nm):
            return self.hidden.setdefault(nm, sp.Symbol(nm, positive=True))
        if nm in FUNCTIONS:
            raise ValueError(f"parse_bound: function {nm!r} used as a value")
        raise ValueError(f"parse_bound: unknown name {nm!r}; use a canonical symbol "
                         f"({', '.join(sorted(S.CANONICAL))}), a hidden constant C or C_*, "
                         "or declare it in extra_symbols")

    def build(self, node: ast.AST, depth: int = 0) -> sp.Expr:
        if depth > _MAX_DEPTH:
            raise ValueError("parse_bound: expression nested too deeply")
        b = lambda n: self.build(n, depth + 1)  # noqa: E731
        if isinstance(node, ast.Expression):
            return b(node.body)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                _reject(node, f"constant {type(v).__name__} {v!r}" if not isinstance(v, str)
                        else "strings")
            if isinstance(v, int):
                if abs(v) > 10 ** 30:
                    raise ValueError("parse_bound: integer literal too large")
                return sp.Integer(v)
            if v != v or v in (float("inf"), float("-inf")):
                raise ValueError("parse_bound: non-finite literal")
            return sp.Rational(repr(v))
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                _reject(node, "assignment")
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -b(node.operand)
            if isinstance(node.op, ast.UAdd):
                return b(node.operand)
            _reject(node, f"operator {type(node.op).__name__}")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitXor):
                raise ValueError("parse_bound: '^' is not allowed; write powers as '**'")
            left, right = b(node.left), b(node.right)
            if isinstance(node.op, ast.Pow):
                if left.is_number and right.is_number:
                    lf, rf = abs(complex(sp.N(left))), abs(complex(sp.N(right)))
                    if rf > 1000 or (lf > 1 and rf * sp.log(lf, 10) > 300):
                        raise ValueError("parse_bound: numeric power too large")
                return sp.Pow(left, right)
            op = _BINOPS.get(type(node.op))
            if op is None:
                _reject(node, f"operator {type(node.op).__name__}")
            return op(left, right)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                _reject(node.func)
            fname = node.func.id
            if fname not in FUNCTIONS:
                raise ValueError(f"parse_bound: function {fname!r} not allowed; allowed: "
                                 f"{', '.join(sorted(FUNCTIONS))}")
            if node.keywords:
                raise ValueError("parse_bound: keyword arguments not allowed")
            for a in node.args:
                if isinstance(a, ast.Starred):
                    _reject(a)
            fn, nargs = FUNCTIONS[fname]
            if (nargs is not None and len(node.args) not in nargs) or not node.args:
                raise ValueError(f"parse_bound: {fname} takes {nargs or 'at least 1'} argument(s), "
                                 f"got {len(node.args)}")
            return fn(*[b(a) for a in node.args])
        _reject(node)
        raise AssertionError  # unreachable


def parse_expr(text: str, extra_symbols: Iterable[str] = ()) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """(SymPy expression, hidden-constant symbols) of ``text``; ValueError on anything unsafe."""
    if not isinstance(text, str):
        raise ValueError(f"parse_bound: text must be a string, got {type(text).__name__}")
    if len(text) > _MAX_LEN:
        raise ValueError(f"parse_bound: text longer than {_MAX_LEN} characters")
    extra = {}
    for nm in extra_symbols:
        if nm in S.CANONICAL:  # e.g. gamma: a symbol as a value, the function when called
            extra[nm] = S.CANONICAL[nm]
            continue
        if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", nm) or nm in FUNCTIONS or nm in _CONSTANTS:
            raise ValueError(f"parse_bound: extra symbol {nm!r} is not a free identifier")
        extra[nm] = S.CANONICAL.get(nm) or sp.Symbol(nm, positive=True)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"parse_bound: syntax error in {text!r}: {e.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ValueError("parse_bound: expression cannot be parsed (too complex)") from None
    builder = _Builder(extra)
    try:
        expr = builder.build(tree)
    except RecursionError:
        raise ValueError("parse_bound: expression nested too deeply") from None
    hidden = tuple(sorted((s for s in builder.hidden.values() if s in expr.free_symbols),
                          key=lambda s: s.name))
    return expr, hidden


def parse_bound(text: str, *, name: str, quantity: str, kind: str, status: str = "D",
                reference: Reference | None = None, delta="auto",
                extra_symbols: Iterable[str] = (), assumptions: Iterable[str] = (),
                valid_when: Iterable[str] = (), schedule: Mapping[str, str] | None = None,
                defaults: Mapping[str, float] | None = None, description: str = "",
                rate_var: str | None = None) -> Bound:
    """A ``Bound`` from the text of its right-hand side.

    Hidden constants: every ``C``/``C_*`` name. ``delta="auto"``: the symbol delta if it appears,
    else None. ``valid_when``: strings ``"lhs < rhs"`` etc. (each side parsed the same way).
    ``schedule``: name -> expression text. ``status`` defaults to "D" (a user bound is not a
    read source). ``rate_var``: default T if it appears, else required.
    Raises ValueError on any rejected construct.
    """
    extra = tuple(extra_symbols)
    expr, hidden = parse_expr(text, extra)
    if delta == "auto":
        delta = S.delta if S.delta in expr.free_symbols else None
    elif isinstance(delta, str):
        delta = S.CANONICAL.get(delta) or sp.Symbol(delta, positive=True)
    if rate_var is None:
        if S.T not in expr.free_symbols:
            raise ValueError(f"parse_bound: {name}: T does not appear; give rate_var=")
        rate_var = "T"
    rels = tuple(_parse_relation(r, extra) for r in valid_when)
    sched = {k: parse_expr(v, extra)[0] for k, v in dict(schedule or {}).items()}
    return Bound(name=name, expr=expr, quantity=quantity, kind=kind, status=status,
                 reference=reference or Reference("user-supplied"), delta=delta,
                 hidden_constants=hidden, assumptions=tuple(assumptions), valid_when=rels,
                 schedule=sched, defaults=dict(defaults or {}), description=description,
                 rate_var=rate_var)


_REL = re.compile(r"^(.*?)(<=|>=|<|>)(.*)$")


def _parse_relation(text: str, extra) -> sp.Basic:
    m = _REL.match(text)
    if not m or any(op in m.group(3) for op in ("<", ">")):
        raise ValueError(f"parse_bound: valid_when {text!r} must be one 'a < b' style relation")
    lhs, op, rhs = m.groups()
    a, b = parse_expr(lhs, extra)[0], parse_expr(rhs, extra)[0]
    return {"<": sp.StrictLessThan, "<=": sp.LessThan, ">": sp.StrictGreaterThan,
            ">=": sp.GreaterThan}[op](a, b)
