"""What a spec may name, read from the modules themselves: ``clipsim list WHAT``.

Every listing is derived from the module's own registry (objective names, noise families, optimizer
constructors or presets, stages, engine outputs, bounds), so a new entry shows up without editing this
file; descriptions are each constructor's first docstring line, or :mod:`clipsim.glossary`.
"""
from __future__ import annotations

import inspect
import re


def plain(text: str) -> str:
    """reST inline markup removed: ``x`` and :func:`x` become x."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


def _first_line(obj) -> str:
    """The first sentence of ``obj``'s docstring, as plain text on one line."""
    para = " ".join((inspect.getdoc(obj) or "").strip().split("\n\n")[0].split())
    return plain(re.split(r"(?<=[^.]{3})\. (?=[A-Z(])", para)[0].rstrip("."))


def _rows(pairs):
    pairs = list(pairs)
    width = max((len(n) for n, _ in pairs), default=0)
    return [f"{n.ljust(width)}  {d}".rstrip() for n, d in pairs]


def _objectives():
    from . import glossary, objectives as O

    for name in O.NAMES:
        params = getattr(O, "_PARAMS", {}).get(name, {})
        extra = f"  [params: {', '.join(params)}]" if params else ""
        yield name, glossary.OBJECTIVES.get(name, "") + extra


def _noises():
    from . import noise as N

    for fam in N.FAMILY_CODES:
        ctor = getattr(N.Noise, fam, None)
        params = ", ".join(getattr(N, "_PARAM_NAMES", {}).get(fam, ()))
        vectors = "|".join(N.FAMILY_VECTORS.get(fam, tuple(N.VECTOR_CODES)))
        yield fam, _first_line(ctor) + (f"  [params: {params}, vector = {vectors}]" if params else "")


def optimizer_catalogue() -> dict:
    """Name → constructor: ``optimizers.PRESETS`` when the module has it, else its named constructors."""
    from . import optimizers as P

    presets = getattr(P, "PRESETS", None)
    if presets:
        return dict(presets)
    return {n: getattr(P, n) for n in P.NAMES}


def stage_catalogue() -> dict:
    """Name → stage constructor (``optimizers.STAGES``), empty when this version has no stages."""
    from . import optimizers as P

    return dict(getattr(P, "STAGES", None) or {})


def listing(what: str) -> list[str]:
    """Lines of ``clipsim list WHAT``: one name and one line of description each."""
    from . import _validate as V
    from . import glossary

    V.choice("list", what, ("objectives", "noises", "optimizers", "stages", "metrics", "records", "bounds"))
    if what == "objectives":
        return _rows(_objectives())
    if what == "noises":
        return _rows(_noises())
    if what == "optimizers":
        return _rows((n, _first_line(f)) for n, f in optimizer_catalogue().items())
    if what == "stages":
        stages = stage_catalogue()
        if not stages:
            return ["(this version has no composable stages: every rule is a named optimizer, see "
                    "`clipsim list optimizers`)"]
        return _rows((n, _first_line(f)) for n, f in stages.items())
    if what == "metrics":
        return _rows(glossary.METRICS.items())
    if what == "records":
        return _rows(glossary.RECORDS.items())
    import theory
    from theory.describe import one_line

    return _rows((f"{b.name} [{b.status}]", f"{b.kind}: {one_line(b)}") for _, b in sorted(theory.BOUNDS.items()))
