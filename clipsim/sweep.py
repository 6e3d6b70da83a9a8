"""Sweep specs: a TOML file → validated cells (one full ``simulate`` config each).

Format (all tables but ``[sweep]``, ``[objective]``, ``[noise]`` and ``[optimizer]`` optional)::

    [sweep]
    name = "e1_rate"           # names the sweep in the store
    n_steps = 1000             # T (may be gridded as "n_steps")
    seeds = 400                # seeds per cell
    seed = 0                   # root seed
    streams = "independent"    # or "common": see "Random streams" below
    record = 12                # log-spaced record points (optional)
    # allow_code = true, module = "pieces.py"   # user pieces (docs/howto_own_pieces.md): runs its code

    [vars]                     # constants usable in expressions
    c_eta = 0.5

    [objective]                # clipsim.objectives.get(name, dim, **params)
    name = "quadratic"
    dim = 16

    [noise]                    # clipsim.noise.Noise.from_dict
    family = "stable"
    alpha = 1.5

    [optimizer]                # clipsim.optimizers.from_dict; numbers may be {expr = "..."}
    name = "clipped_sgd"
    eta = {kind = "horizon", c = {expr = "c_eta"}, a = {expr = "-alpha/(3*alpha - 2)"}}
    clip = {kind = "horizon", c = 1.0, a = {expr = "1/(3*alpha - 2)"}}
    # or a chain: stages = [{stage = "clip_by_global_norm", clip = 1.0}, {stage = "sgd", eta = 0.1}]

    [grid]                     # dotted paths → lists; the cells are their Cartesian product
    "noise.alpha" = [1.25, 1.5, 1.75, 2.0]
    n_steps = [100, 1000, 10000]
    optimizer = [{label = "sgd", name = "clipped_sgd", eta = 0.1, clip = 1.0},   # whole tables
                 {label = "momentum", name = "clipped_momentum", eta = 0.1, clip = 1.0, beta = 0.9}]

    [[check]]                  # bound checks run by `clipsim check`
    bound = "li_liu_2023_clipped_sgd"   # or your own: {name, expr, quantity, kind, delta, hidden}
    delta = [0.1, 0.01]
    values = {alpha = {expr = "alpha - 0.05"}, C_opt = 1.0}
    calibrate = {n_steps = [100, 1000]}   # cells whose values match calibrate hidden constants
    # rate = "n_steps"  statistic = "median"  tolerance = 0.05   → fitted exponent vs bound.exponent("T")
    # growth = true     → per cell, polylog vs polynomial growth of the (1-δ)-quantile over the δ list
    # rare = "splitting"  → per cell and δ, P(Q > B(δ)) by rare-event estimation (δ down to 1e-8; or "is")
    # shape = ["n_steps", "delta"]  → does quantile / B(δ) trend in T or 1/δ across cells? (clipsim.decisions)

    [[figure]]                 # figures made by `clipsim plot` from the store
    kind = "rate"
    x = "n_steps"
    group = "noise.alpha"

Random streams: with ``streams = "independent"`` (the default) each cell draws from its own streams,
rooted at :func:`cell_stream_seed` of (root seed, the cell's content without its seed count, seed or
record grid): no two cells share draws, seed m of a cell is the same whatever ``seeds`` is, and a rerun
finds the same cells. ``streams = "common"`` gives every cell the root seed itself (common random
numbers): a tool for paired comparisons between cells (e.g. batch sizes in E6), never for calibrating a
constant on some cells and testing it on others (``clipsim check`` refuses that). The cell config
records ``streams`` and ``root_seed``; ``seed`` is the derived stream root.

Expressions (``{expr = "..."}``) are parsed by :func:`theory.parse_expr` (arithmetic and a whitelist
of functions, never ``eval``). Their variables: ``T`` (= n_steps), ``d`` (objective dim), the last
component of every grid path (``alpha`` for "noise.alpha"), and ``[vars]``. A ``[vars]`` name may not
reuse a built-in name (:data:`BUILTIN_NAMES`, grid components, function names): it would silently change
what an expression means. Every value is type- and range-checked when the spec is loaded (``where`` and
``calibrate`` must match a cell, ``group`` must name a grid path, figure names must be plain file names),
and a grid may expand to at most :data:`MAX_CELLS` cells.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field

from . import _limits
from . import _validate as V

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOP_KEYS = ("sweep", "vars", "objective", "noise", "optimizer", "grid", "check", "figure", "falsify")
SWEEP_KEYS = ("name", "description", "n_steps", "seeds", "seed", "record", "x0", "streams", "allow_code", "module")
STREAMS = ("independent", "common")
CHECK_KEYS = ("bound", "metric", "delta", "values", "calibrate", "confidence", "where", "rate", "statistic",
              "tolerance", "n_boot", "growth", "shape", "rare", "rare_budget")
FIGURE_KEYS = ("kind", "x", "group", "metric", "statistic", "bound", "values", "where", "title", "name",
               "deltas", "series", "calibrate")
FIGURE_KINDS = ("rate", "quantile_delta", "failure_probability", "gen_gap", "tail_index", "trajectory")
#: [falsify] (clipsim.falsify): the hunted bound, its box [falsify.search] (ranges or lists), an own bound table
FALSIFY_KEYS = ("bound", "delta", "values", "budget", "search", "confidence", "confirm", "confirm_fraction",
                "initial")
FALSIFY_RANGE_KEYS = ("min", "max", "log")
FALSIFY_BOUND_KEYS = ("name", "expr", "quantity", "kind", "delta", "hidden", "valid_when")
#: The grid is expanded (and every cell validated) before anything runs; beyond this many cells a spec is
#: almost surely a mistake (and expanding it would itself take minutes).
MAX_CELLS = 100_000
#: Names every expression already knows (run values, noise parameters, T, d, n, t): ``[vars]`` may not
#: redefine them, or an expression would silently mean something else than the spec says.
BUILTIN_NAMES = ("T", "d", "n", "t", "L", "B", "eta", "lam", "beta", "mu", "Delta", "sigma", "alpha",
                 "tail_index", "df", "scale", "pi", "E")


@dataclass(frozen=True)
class Cell:
    """One point of a sweep: its grid coordinates, its variables and the full simulate config."""

    sweep: str
    coords: tuple          # ((dotted path, value), ...)
    variables: dict = field(compare=False)
    config: dict = field(compare=False)

    @property
    def key(self) -> str:
        return cell_key(self.config)

    def label(self) -> str:
        return ", ".join(f"{p}={v}" for p, v in self.coords) or "(single cell)"


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep spec: name, cells, checks and figures (plain data)."""

    name: str
    description: str
    cells: tuple
    checks: tuple
    figures: tuple
    spec: dict = field(compare=False, repr=False)
    path: str = ""


def cell_key(config) -> str:
    """Content hash of a cell's full config plus the clipsim version (the store's primary key)."""
    from . import __version__

    blob = json.dumps({"config": config, "clipsim": __version__}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def cell_stream_seed(root, config) -> int:
    """Stream root of a cell under ``streams = "independent"``: SHA-256 of (root seed, the cell's
    objective, noise, optimizer, n_steps and x0), first 8 bytes, top bit cleared (a 63-bit integer).

    The seed count, the record grid and the seed itself are left out, so seed m of a cell is the
    same whatever ``seeds`` or ``record`` is.
    """
    content = {k: config.get(k) for k in ("objective", "noise", "optimizer", "n_steps", "x0")}
    blob = json.dumps({"root": int(root), "cell": content}, sort_keys=True, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big") >> 1


def load(path) -> Sweep:
    """Read and validate a TOML sweep spec (``path``: a file path, str or path-like)."""
    if not isinstance(path, (str, os.PathLike)):  # an int would be read as a file descriptor (0: stdin)
        raise ValueError(f"spec = {path!r} is not allowed: must be a TOML file path, a spec dict or a Sweep")
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"spec = {str(path)!r} is not allowed: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"spec {path}: not valid TOML: {e}") from None
    return from_spec(spec, path=str(path))


def _check_keys(where, table, allowed):
    if not isinstance(table, dict):
        raise ValueError(f"{where} = {table!r} is not allowed: must be a table")
    for k in table:
        if k not in allowed:
            raise ValueError(f"{where}: unknown key {k!r}: valid keys are {', '.join(allowed)}")


def _set_path(spec, path, value):
    parts = path.split(".")
    node = spec
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ValueError(f"grid path {path!r}: {p!r} is not a table")
    node[parts[-1]] = value


def _resolve(node, variables, where):
    """Replace every {expr = "..."} in ``node`` by its value under ``variables``."""
    if isinstance(node, dict):
        if set(node) == {"expr"}:
            return evaluate_expr(node["expr"], variables, where)
        return {k: _resolve(v, variables, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, variables, f"{where}[{i}]") for i, v in enumerate(node)]
    return node


@functools.lru_cache(maxsize=4096)
def _parsed(text, names):
    from theory import parse_expr

    return parse_expr(text, extra_symbols=names)[0]


def evaluate_expr(text, variables, where="expr"):
    """Value of a whitelisted arithmetic expression (``theory.parse_expr``) under ``variables``.

    Evaluated in floating point with bounded work (:func:`theory.parse.evaluate_float`): an
    overflow, a pole or a complex value is a one-line ValueError, never a hang."""
    from theory.parse import evaluate_float

    if not isinstance(text, str):
        raise ValueError(f"{where}: expr = {text!r} is not allowed: must be a string")
    try:
        expr = _parsed(text, tuple(sorted(variables)))
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    free = {s.name for s in expr.free_symbols}
    missing = sorted(free - set(variables))
    if missing:
        raise ValueError(f"{where}: expr {text!r} uses {', '.join(missing)} with no value; "
                         f"known: {', '.join(sorted(variables)) or 'none'}")
    try:
        return evaluate_float(expr, variables)  # integer-valued parameters accept integral floats
    except ValueError as e:
        raise ValueError(f"{where}: expr {text!r} is not a finite real number here: {e}") from None


def from_spec(spec, path="") -> Sweep:
    """Validate a spec dict and expand its grid into cells (each validated by building its specs)."""
    from . import noise as N
    from . import objectives as O
    from . import optimizers as P
    from .engine import record_grid

    _check_keys("spec", spec, TOP_KEYS)
    for k in ("sweep", "objective", "noise", "optimizer"):
        if k not in spec:
            raise ValueError(f"spec: missing table [{k}]")
    sw = spec["sweep"]
    _check_keys("[sweep]", sw, SWEEP_KEYS)
    for k in ("objective", "noise", "optimizer"):
        V.table(f"[{k}]", spec[k])
    user_module = _load_user_module(sw, path) if "module" in sw else None
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", path.rsplit("/", 1)[-1].removesuffix(".toml")).lstrip(".") if path else ""
    name = sw.get("name") or stem or "sweep"
    grid = spec.get("grid", {})
    if not isinstance(grid, dict):
        raise ValueError(f"[grid] = {grid!r} is not allowed: must be a table of dotted paths")
    _check_sweep_table(sw, path)
    streams = V.choice("[sweep] streams", sw.get("streams", "independent"), STREAMS)
    axes = []
    for gpath, values in grid.items():
        head = gpath.split(".")[0]
        if head not in ("objective", "noise", "optimizer") and gpath not in ("n_steps", "seeds", "seed"):
            raise ValueError(f"[grid] key {gpath!r} is not allowed: must be n_steps, seeds, seed or a path "
                             f"under objective., noise. or optimizer.")
        if not isinstance(values, list) or not values:
            raise ValueError(f"[grid] {gpath} = {values!r} is not allowed: must be a non-empty list")
        if gpath in ("objective", "noise", "optimizer") and not all(isinstance(v, dict) for v in values):
            raise ValueError(f"[grid] {gpath} is not allowed to hold {values[0]!r}: must be a list of whole "
                             f"[{gpath}] tables")
        axes.append((gpath, values))
    variables0 = _check_vars(spec.get("vars", {}), [g for g, _ in axes])
    n_cells = math.prod(len(v) for _, v in axes)
    if n_cells > MAX_CELLS:
        raise ValueError(f"[grid] expands to {n_cells:,} cells "
                         f"({' x '.join(str(len(v)) for _, v in axes)}): at most {MAX_CELLS:,} are allowed; "
                         "split the sweep into several specs or grid fewer values")
    cells = []
    for combo in itertools.product(*[v for _, v in axes]) if axes else [()]:
        s = {k: copy.deepcopy(spec[k]) for k in ("objective", "noise", "optimizer")}
        top = {"n_steps": sw.get("n_steps"), "seeds": sw.get("seeds", 100), "seed": sw.get("seed", 0)}
        variables = dict(variables0)
        coords = []
        for (gpath, _), value in zip(axes, combo):
            if isinstance(value, dict):  # a whole table, e.g. one optimizer of several; "label" names it
                value = copy.deepcopy(value)  # a nested grid path below may write into it
                shown = value.pop("label", value.get("name", gpath))
                if gpath in top or "." in gpath:
                    raise ValueError(f"[grid] {gpath}: tables may replace only a whole [objective], [noise] or "
                                     f"[optimizer]")
                s[gpath] = value
                coords.append((gpath, shown))
                continue
            if gpath in top:
                top[gpath] = value
            else:
                _set_path(s, gpath, value)
            variables[gpath.split(".")[-1]] = value
            coords.append((gpath, value))
        if top["n_steps"] is None:
            raise ValueError("[sweep] n_steps is missing: give it in [sweep] or in [grid]")
        T = V.integer("n_steps", top["n_steps"], 1, 10**9)
        variables.setdefault("T", T)
        variables.setdefault("d", s["objective"].get("dim"))
        for k, v in s["noise"].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                variables.setdefault(k, v)
        s = {k: _resolve(v, variables, f"[{k}]") for k, v in s.items()}
        obj = O.from_dict(s["objective"])
        noise = N.Noise.from_dict(s["noise"])
        opt = P.from_dict(s["optimizer"])
        _limits.guard_schedule(T)
        opt.pack(T)  # validates schedules at this horizon
        config = {"objective": obj.to_dict(), "noise": noise.to_dict(), "optimizer": opt.to_dict(),
                  "n_steps": T, "n_seeds": V.integer("seeds", top["seeds"], 1, 10**9),
                  "seed": V.integer("seed", top["seed"], 0, 2**63 - 1), "record": sw.get("record")}
        if sw.get("x0") is not None:
            config["x0"] = V.reals("[sweep] x0", sw["x0"], scalar_ok=False)
        where = ", ".join(f"{p}={v}" for p, v in coords) or "the single cell"
        if "x0" in config:  # refused at load, before any cell runs
            V.vector(f"[sweep] x0 (at {where})", config["x0"], obj.dim)
        try:  # the record grid at this cell's horizon
            record_grid(T, config["record"])
        except ValueError as e:
            raise ValueError(f"[sweep] {e} (at {where})") from None
        if user_module:
            config["user_module"] = user_module
        config["streams"], config["root_seed"] = streams, config["seed"]
        if streams == "independent":
            config["seed"] = cell_stream_seed(config["root_seed"], config)
        variables.update({"n": obj.n} if obj.finite_sum else {})
        cells.append(Cell(name, tuple(coords), variables, config))
    paths = [g for g, _ in axes]
    checks = [_check_check(f"[[check]] #{i + 1}", c, cells, paths) for i, c in enumerate(_tables(spec, "check"))]
    figures = [_check_figure(f"[[figure]] #{i + 1}", f, cells, paths)
               for i, f in enumerate(_tables(spec, "figure"))]
    if "falsify" in spec:
        from .falsify import check_table

        check_table(spec["falsify"], spec)
    return Sweep(name, sw.get("description", ""), tuple(cells), tuple(checks), tuple(figures), spec, path)


def _check_sweep_table(sw, path):
    """Types and ranges of the [sweep] scalars (n_steps, seeds, seed are checked per cell)."""
    if "name" in sw:
        V.safe_name("[sweep] name", sw["name"])
    if "description" in sw:
        V.string("[sweep] description", sw["description"], nonempty=False)
    rec = sw.get("record")
    if rec is not None and not (isinstance(rec, int) and not isinstance(rec, bool)) and not (
            isinstance(rec, list) and rec and all(isinstance(r, int) and not isinstance(r, bool) for r in rec)):
        raise ValueError(f"[sweep] record = {rec!r} is not allowed: must be a number of grid points or a "
                         "non-empty list of integer steps")


def _check_vars(table, grid_paths):
    """[vars] as a dict name → finite number; a name may not shadow a built-in expression name."""
    from theory.parse import FUNCTIONS

    V.table("[vars]", table)
    reserved = set(BUILTIN_NAMES) | {g.split(".")[-1] for g in grid_paths} | set(FUNCTIONS)
    for k, v in table.items():
        if k in reserved:
            raise ValueError(f"[vars] {k} is not allowed: it is a built-in expression name (a run value, a noise "
                             f"parameter, a grid path's last component or a function); choose another, e.g. c_{k}")
        if not (k.isidentifier() and k.isascii()):
            raise ValueError(f"[vars] {k!r} is not allowed: must be a plain identifier (letters, digits, _)")
        V.real(f"[vars] {k}", v, lo_open=True, hi_open=True)
    return dict(table)


def _tables(spec, key):
    items = spec.get(key, [])
    if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
        raise ValueError(f"{key} = {items!r} is not allowed: must be [[{key}]] tables")
    return items


def _check_where(where, name, cells, paths):
    """A ``where``/``calibrate`` table must be {grid path or variable: value or [values]} matching a cell."""
    V.table(name, where)
    known = set(paths) | {k for c in cells for k in c.variables}
    for k in where:
        if k not in known and k.split(".")[-1] not in known:
            raise ValueError(f"{name}: key {k!r} is not a grid path or variable; known: "
                             f"{', '.join(sorted(known))}")
    if not any(matches(c, where) for c in cells):
        raise ValueError(f"{name} = {where!r} matches no cell of the sweep")


def _statistic(name, value):
    if value != "median":
        V.real(name, value, 0.0, 1.0, lo_open=True, hi_open=True)
    return value


def _metric_names(name, value):
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(m, str) and m for m in names):
        raise ValueError(f"{name} = {value!r} is not allowed: must be a metric name or a list of names")


def _check_shared(where, t, cells, paths):
    """The keys [[check]] and [[figure]] share: bound, metric, statistic, values, where, calibrate."""
    from .decisions import resolve_bound

    if "bound" in t:
        resolve_bound(t["bound"], f"{where} bound")
    if "metric" in t:
        _metric_names(f"{where} metric", t["metric"])
    if "statistic" in t:
        _statistic(f"{where} statistic", t["statistic"])
    if "values" in t:
        V.table(f"{where} values", t["values"])
    for k in ("where", "calibrate"):
        if k in t:
            _check_where(t[k], f"{where} {k}", cells, paths)


def _check_check(where, c, cells, paths):
    """Types and ranges of one [[check]] table (the bound must exist)."""
    _check_keys(where, c, CHECK_KEYS)
    if "bound" not in c:
        raise ValueError(f"{where}: missing key 'bound'")
    _check_shared(where, c, cells, paths)
    if "delta" in c:
        V.reals(f"{where} delta", c["delta"], 0.0, 1.0, lo_open=True, hi_open=True)
    if "confidence" in c:
        V.real(f"{where} confidence", c["confidence"], 0.0, 1.0, lo_open=True, hi_open=True)
    if "rate" in c and V.string(f"{where} rate", c["rate"]) not in paths:
        raise ValueError(f"{where} rate = {c['rate']!r} is not allowed: must be a gridded path "
                         f"({', '.join(paths) or 'the sweep has no [grid]'})")
    if "tolerance" in c:
        V.real(f"{where} tolerance", c["tolerance"], 0.0, math.inf, hi_open=True)
    if "n_boot" in c:
        V.integer(f"{where} n_boot", c["n_boot"], 1, 100_000)
    if "growth" in c:
        V.boolean(f"{where} growth", c["growth"])
    if "rare" in c:  # P(Q > B(δ)) by rare-event estimation (clipsim.rare), δ down to 1e-8
        V.choice(f"{where} rare", c["rare"], ("splitting", "is"))
    if "rare_budget" in c:
        V.integer(f"{where} rare_budget", c["rare_budget"], 1, 10**15)
    return c


def _check_figure(where, f, cells, paths):
    """Types and ranges of one [[figure]] table; ``name`` must be a safe file name."""
    _check_keys(where, f, FIGURE_KEYS)
    V.choice(f"{where} kind", f.get("kind"), FIGURE_KINDS)
    for k in ("x", "title"):
        if k in f:
            V.string(f"{where} {k}", f[k], nonempty=k != "title")
    if "name" in f:
        V.safe_name(f"{where} name", f["name"])
    _check_shared(where, f, cells, paths)
    known = set(paths) | {k for c in cells for k in c.variables} | {"n_steps"}
    if "x" in f and f.get("kind") in ("rate", "gen_gap", "tail_index") and not (
            f["x"] in known or str(f["x"]).split(".")[-1] in known):
        raise ValueError(f"{where} x = {V._fmt(f['x'])} is not allowed: must be a grid path or variable; known: "
                         f"{', '.join(sorted(known))}")
    if f.get("kind") == "trajectory" and "metric" in f:
        from .engine import RECORDS

        V.choice(f"{where} metric", f["metric"], RECORDS)
    if "deltas" in f:
        V.reals(f"{where} deltas", f["deltas"], 0.0, 1.0, lo_open=True, hi_open=True, scalar_ok=False)
    if "group" in f:
        groups = f["group"] if isinstance(f["group"], list) else [f["group"]]
        for g in groups:
            if not isinstance(g, str) or (g not in known and g.split(".")[-1] not in known):
                raise ValueError(f"{where} group = {f['group']!r} is not allowed: each must be a grid path or "
                                 f"variable; known: {', '.join(sorted(known))}")
    return f


def check_figure(spec, name, cells):
    """For :func:`clipsim.figures.plot_figure`: the file name must be safe (nothing is written outside
    the output directory) and ``group``/``where`` must name grid paths or variables of ``cells``."""
    V.safe_name("figure name", name)
    paths = sorted({p for c in cells for p, _ in c.coords})
    _check_figure(f"[[figure]] {name}", spec, cells, paths)
def _load_user_module(sw, path):
    """Import [sweep] module (user pieces, clipsim.user) if allow_code = true; its content hash keys the cells."""
    from . import user

    file = os.path.join(os.path.dirname(path), sw["module"]) if path else sw["module"]
    user.load_module(file, allow_code=sw.get("allow_code", False))
    with open(file, "rb") as f:
        return {"path": sw["module"], "sha256": hashlib.sha256(f.read()).hexdigest()}


def matches(cell: Cell, where) -> bool:
    """Whether ``cell`` has the grid values in ``where`` ({path or var: value or [values]})."""
    if not where:
        return True
    coords = dict(cell.coords)
    for k, want in where.items():
        have = coords.get(k, cell.variables.get(k.split(".")[-1]))
        wants = want if isinstance(want, list) else [want]
        if have not in wants:
            return False
    return True
