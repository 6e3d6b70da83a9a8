"""docs/ and the README against the code: every key and name documented, every example runs.

The key lists are derived from the loader and the constructors (not written out here), so a key added
to the code without documentation fails this test.
"""
import contextlib
import inspect
import io
import os
import re
import sys

import pytest

import theory
from clipsim import engine, noise as N, objectives as O, optimizers as P
from clipsim import sweep as S
from clipsim.catalogue import optimizer_catalogue, stage_catalogue

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
NOT_RUN = "# not run:"


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def _blocks(text, lang):
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def _doc_pages():
    return sorted(f for f in os.listdir(DOCS) if f.endswith(".md"))


def _params(fn):
    return [k for k, p in inspect.signature(fn).parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def toml_names():
    """Every key and every fixed value the sweep loader accepts, from the code."""
    names = set()
    for attr, val in vars(S).items():  # TOP_KEYS, SWEEP_KEYS, CHECK_KEYS, FIGURE_KEYS, FIGURE_KINDS, ...
        if attr.isupper() and (attr.endswith("_KEYS") or attr.endswith("_KINDS")):
            names.update(val)
    names.update(("n_steps", "seeds", "seed", "label", "expr"))                    # [grid] and expressions
    names.update(("name", "dim"), O.NAMES, *(O._PARAMS[n] for n in O.NAMES))          # [objective]
    names.update(("family", "vector"), N.FAMILY_CODES, N.VECTOR_CODES, *N._PARAM_NAMES.values())
    for name, ctor in {**optimizer_catalogue(), **stage_catalogue()}.items():       # [optimizer]
        names.add(name)
        names.update(_params(ctor))
    names.update(P.ORDERS, P.ACCUMULATIONS)
    for sched in (P.constant(1.0), P.polynomial(1.0, 0.5), P.horizon(1.0, -0.5)):  # schedules
        names.update(sched.to_dict())
        names.add(sched.kind)
    return sorted(names)


@pytest.mark.parametrize("name", toml_names())
def test_every_toml_key_and_choice_is_in_the_reference(name):
    assert f"`{name}`" in _read("docs", "toml.md"), f"docs/toml.md does not document `{name}`"


@pytest.mark.parametrize("name", sorted(set(engine.METRICS) | set(engine.RECORDS)))
def test_every_metric_and_record_is_in_the_glossary(name):
    assert f"`{name}`" in _read("docs", "metrics.md")


def test_every_bound_and_status_tag_is_in_the_theory_card():
    text = _read("docs", "theory.md")
    for tag in theory.STATUSES:
        assert f"| `{tag}` |" in text
    for b in theory.BOUNDS.values():
        if b.reference.arxiv:
            assert b.reference.arxiv in text, b.name


def test_no_file_cites_a_document_the_repository_lacks():
    banned = ("THEORY" + ".md", "THEORY" + " §", "../" + "shared", "DESIGN" + ".md")
    here = os.path.abspath(__file__)
    bad = []
    for top in ("clipsim", "theory", "experiments", "tests", "docs", "README.md"):
        path = os.path.join(ROOT, top)
        files = [path] if os.path.isfile(path) else [
            os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs
            if f.endswith((".py", ".md", ".toml")) and "__pycache__" not in d]
        for f in files:
            if os.path.abspath(f) == here:
                continue
            with open(f, encoding="utf-8") as fh:
                text = fh.read()
            bad += [f"{os.path.relpath(f, ROOT)}: {b}" for b in banned if b in text]
    assert not bad, bad


def test_links_between_pages_resolve():
    for page in _doc_pages() + ["../README.md"]:
        text = _read("docs", page)
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert os.path.exists(os.path.join(DOCS, os.path.dirname(page), target)), (page, target)


def _run(code, namespace):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<doc block>", "exec"), namespace)  # noqa: S102 (our own docs)
    return out.getvalue()


@pytest.fixture
def clean_registry():
    before = dict(theory.BOUNDS)
    yield
    theory.BOUNDS.clear()
    theory.BOUNDS.update(before)


@pytest.mark.parametrize("page", _doc_pages())
def test_python_blocks_in_docs_run(page, clean_registry, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = _blocks(_read("docs", page), "python")
    namespace = {"__name__": "__doc_example__"}
    for code in blocks:  # one namespace per page: later blocks use earlier ones
        if code.startswith(NOT_RUN):
            continue
        _run(code, namespace)


def test_not_run_marker_is_rare():
    marked = sum(code.startswith(NOT_RUN) for p in _doc_pages() for code in _blocks(_read("docs", p), "python"))
    total = sum(len(_blocks(_read("docs", p), "python")) for p in _doc_pages())
    assert total >= 4 and marked <= 1


def test_readme_thirty_seconds_of_api_runs_and_says_what_it_prints():
    readme = _read("README.md")
    section = readme.split("## 30 seconds of API", 1)[1].split("\n## ", 1)[0]
    (code,) = _blocks(section, "python")
    out = _run(code, {"__name__": "__readme__"})
    assert out.splitlines()[0] == "-2/5"
    claimed = re.search(r"P\(Q > B\) = (\d+/\d+)", code).group(1)  # the comment's numbers, checked
    assert f"= {claimed} " in out and "VIOLATED" in out


def _toml_blocks():
    """(page, index) of every ```toml block in README.md and docs/*.md."""
    pages = ["README.md"] + [os.path.join("docs", p) for p in _doc_pages()]
    return [(page, i) for page in pages for i in range(len(_blocks(_read(page), "toml")))]


def test_the_minimal_spec_of_the_reference_loads_on_its_own():
    S.from_spec(tomllib.loads(_blocks(_read("docs", "toml.md"), "toml")[0]))


@pytest.mark.parametrize("page,index", _toml_blocks())
def test_every_toml_block_is_valid_toml_and_loads(page, index):
    """Every block must parse (tomllib, TOML 1.0). Blocks are whole specs or fragments (a [[check]], a
    [falsify], an [optimizer], ...): each is loaded over the minimal spec of docs/toml.md (its first block,
    plus [vars] for the expressions), its own tables replacing the minimal spec's, except that its [sweep]
    keys are added to the minimal [sweep] (which has n_steps and seeds). A block naming a user
    module (allow_code) is resolved as if it sat in experiments/, next to own_pieces_module.py."""
    data = tomllib.loads(_blocks(_read(page), "toml")[index])
    base = tomllib.loads(_blocks(_read("docs", "toml.md"), "toml")[0])
    spec = {**base, "vars": {"c_eta": 0.5, "c_lam": 1.0}, **data,
            "sweep": {**base["sweep"], **data.get("sweep", {})}}
    S.from_spec(spec, path=os.path.join(ROOT, "experiments", "doc_block.toml"))


def test_docs_index_lists_every_page():
    index = _read("docs", "README.md")
    missing = [p for p in _doc_pages() if p != "README.md" and f"]({p})" not in index]
    assert not missing, f"docs/README.md does not list {missing}"
