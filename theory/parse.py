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

Bounded work: the text is at most 2000 characters and 60 levels deep, and every numeric
(symbol-free) sub-expression is evaluated in floating point while the tree is built; one whose
magnitude exceeds 1e300 (``gamma(gamma(100))``, ``exp(exp(exp(100)))``, a product of many
``10**30``) is refused before SymPy would evaluate it exactly (which can take forever).
:func:`evaluate_float` evaluates a parsed expression at given values with the same guards: a
float walk of the tree, never ``evalf``, so it answers in time linear in the tree's size.
"""
from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Mapping

import sympy as sp

from . import symbols as S
from .bound import Bound, Reference

__all__ = ["parse_expr", "parse_bound", "evaluate_float", "FUNCTIONS"]

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
        b = lambda n: _bounded(self.build(n, depth + 1))  # noqa: E731
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
                    # math.log10, exact on powers of ten: 10**300 (= 1e300) passes, as 1e300 does
                    if rf > 1000 or (lf > 1 and rf * math.log10(lf) > 300):
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
            args = [b(a) for a in node.args]
            if not any(a.free_symbols for a in args):  # numeric: refuse before SymPy evaluates exactly
                try:
                    _numeric_call(fname, args)
                except ValueError as err:
                    raise ValueError(f"parse_bound: {fname}(...) refused: {err}") from None
            return fn(*args)
        _reject(node)
        raise AssertionError  # unreachable


_MAX_MAGNITUDE = 1e300


def _bounded(e: sp.Expr) -> sp.Expr:
    """``e`` itself; if it is a number, first check that its magnitude is at most 1e300 (ValueError)."""
    if not e.free_symbols:
        try:
            evaluate_float(e, {})
        except ValueError as err:
            raise ValueError(f"parse_bound: numeric value {str(e)[:40]} refused: {err}") from None
    return e


def _pow(a: float, b: float) -> float:
    if a < 0 and not float(b).is_integer():
        raise ValueError(f"{a!r}**{b!r} is not a real number")
    if a == 0 and b < 0:
        raise ValueError("0 to a negative power")
    if a != 0 and abs(b * math.log10(abs(a))) > 300:
        raise ValueError(f"{a!r}**{b!r} exceeds 1e300")
    return math.pow(a, b)


def _gamma(x: float) -> float:
    if x > 171.0:
        raise ValueError(f"gamma({x!r}) exceeds 1e300")
    if x <= 0 and float(x).is_integer():
        raise ValueError(f"gamma({x!r}) is a pole")
    return math.gamma(x)


def _log(x: float) -> float:
    if x <= 0:
        raise ValueError(f"log({x!r}) is not a real number")
    return math.log(x)


def _exp(x: float) -> float:
    if x > 690.0:
        raise ValueError(f"exp({x!r}) exceeds 1e300")
    return math.exp(x)


_FLOAT_FUNCS = {sp.exp: _exp, sp.log: _log, sp.gamma: _gamma, sp.Abs: abs, sp.Min: min, sp.Max: max}


def _numeric_call(fname: str, args) -> sp.Expr:
    """A float stand-in for fn(*args) with numeric args, so its magnitude is checked without SymPy."""
    x = [evaluate_float(a, {}) for a in args]
    if fname == "sqrt":
        return sp.Float(_pow(x[0], 0.5))
    if fname == "log" and len(x) == 2:
        if _log(x[1]) == 0:
            raise ValueError("log to base 1")
        return sp.Float(_log(x[0]) / _log(x[1]))
    fn = _FLOAT_FUNCS[FUNCTIONS[fname][0]]
    out = fn(x) if fname in ("Min", "Max", "min", "max") else fn(x[0])
    if not (math.isfinite(out) and abs(out) <= _MAX_MAGNITUDE):
        raise ValueError(f"{fname}(...) = {out!r} exceeds 1e300")
    return out


def evaluate_float(expr: sp.Expr, values: Mapping[str, float]) -> float:
    """Value of a parsed expression at ``values`` (symbol name -> number), in floating point.

    Every intermediate value must be a finite real of magnitude <= 1e300; otherwise (overflow, a
    pole, log of a non-positive number, a complex power, an unsupported function) ValueError. Time
    is linear in the size of the tree."""
    def ev(e):
        if e.is_Symbol:
            v = values.get(e.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{e.name} = {v!r} is not a number")
            out = float(v)
        elif e.is_Rational:
            if max(abs(e.p), abs(e.q)).bit_length() > 1000:
                raise ValueError("a number exceeds 1e300")
            out = e.p / e.q
        elif e.is_Float:
            out = float(e)
        elif e in (sp.pi, sp.E):
            out = float(e)
        elif e.is_Add:
            out = math.fsum(ev(a) for a in e.args)
        elif e.is_Mul:
            out = 1.0
            for a in e.args:
                out *= ev(a)
                if not abs(out) <= _MAX_MAGNITUDE:
                    raise ValueError("a product exceeds 1e300")
        elif e.is_Pow:
            out = _pow(ev(e.args[0]), ev(e.args[1]))
        elif e.func in _FLOAT_FUNCS:
            args = [ev(a) for a in e.args]
            out = _FLOAT_FUNCS[e.func](args) if e.func in (sp.Min, sp.Max) else _FLOAT_FUNCS[e.func](*args)
        else:
            raise ValueError(f"{type(e).__name__} cannot be evaluated")
        if not (math.isfinite(out) and abs(out) <= _MAX_MAGNITUDE):
            raise ValueError(f"{str(e)[:40]} = {out!r} is not a finite number of magnitude <= 1e300")
        return out

    return ev(sp.sympify(expr) if not isinstance(expr, sp.Basic) else expr)


def parse_expr(text: str, extra_symbols: Iterable[str] = ()) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """(SymPy expression, hidden-constant symbols) of ``text``; ValueError on anything unsafe."""
    if not isinstance(text, str):
        raise ValueError(f"parse_bound: text must be a string, got {type(text).__name__}")
    if len(text) > _MAX_LEN:
        raise ValueError(f"parse_bound: text longer than {_MAX_LEN} characters")
    extra = {}
    if isinstance(extra_symbols, str) or not isinstance(extra_symbols, Iterable):
        raise ValueError(f"parse_bound: extra_symbols = {extra_symbols!r} is not allowed: must be a list of names")
    for nm in extra_symbols:
        if not isinstance(nm, str):
            raise ValueError(f"parse_bound: extra symbol {nm!r} is not allowed: must be a string")
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
        expr = _bounded(builder.build(tree))
    except RecursionError:
        raise ValueError("parse_bound: expression nested too deeply") from None
    if expr.has(sp.I, sp.zoo, sp.nan):  # sqrt(-T) with T > 0 is I*sqrt(T): a bound must be real
        raise ValueError(f"parse_bound: {text!r} is not real-valued (SymPy reduces it to {str(expr)[:60]})")
    hidden = tuple(sorted((s for s in builder.hidden.values() if s in expr.free_symbols),
                          key=lambda s: s.name))
    return expr, hidden


def parse_bound(text: str, *, name: str, quantity: str, kind: str, status: str = "U",
                reference: Reference | None = None, delta="auto",
                extra_symbols: Iterable[str] = (), assumptions: Iterable[str] = (),
                valid_when: Iterable[str] = (), schedule: Mapping[str, str] | None = None,
                defaults: Mapping[str, float] | None = None, description: str = "",
                rate_var: str | None = None) -> Bound:
    """A ``Bound`` from the text of its right-hand side.

    Hidden constants: every ``C``/``C_*`` name. ``delta="auto"``: the symbol delta if it appears,
    else None. ``valid_when``: strings ``"lhs < rhs"`` etc. (each side parsed the same way).
    ``schedule``: name -> expression text. ``status`` defaults to "U" (user-supplied: neither read
    in a paper nor derived in clipsim's registry). ``rate_var``: default T if it appears, else required.
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
