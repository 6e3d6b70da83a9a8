"""clipsim: simulate clipped stochastic optimizers under heavy-tailed noise and check bounds.

    >>> import clipsim, theory
    >>> from clipsim import noise, objectives, optimizers as opt
    >>> res = clipsim.simulate(objectives.get("quadratic", 8), noise.stable(1.5),
    ...                        opt.clipped_sgd(opt.horizon(0.5, -0.6), opt.horizon(1.0, 0.4)),
    ...                        n_steps=1000, n_seeds=2000, seed=0)
    >>> clipsim.check(theory.get("li_liu_2023_clipped_sgd"), res, delta=0.05, alpha=1.4, C_opt=1.0)

Modules: ``noise`` (α-stable, Pareto, Student-t, Gaussian), ``objectives``, ``optimizers`` (the
update rules), ``engine`` (``simulate``), ``stats`` (intervals, tails, rates), ``check`` (a bound
against a run), ``sweep``/``store``/``runner`` (TOML sweeps into a results store), ``report`` and
``figures`` (reading the store), ``cli`` (the ``clipsim`` command).
"""
__version__ = "0.1.0"

import os as _os  # noqa: E402

# Intel SVML stays off for reported numbers unless the user chose (must precede Numba's import; see provenance).
_SVML_USER = _os.environ.get("NUMBA_DISABLE_INTEL_SVML")
_os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")

from ._cache import invalidate_stale_kernels as _invalidate  # noqa: E402

_invalidate(_os.path.dirname(__file__))

from . import _compiling  # noqa: E402

_compiling.install()

from . import provenance as _provenance  # noqa: E402

_provenance._USER_SVML_SETTING = _SVML_USER

from . import noise, objectives, optimizers, stats  # noqa: E402
from .check import BoundCheck, check  # noqa: E402
from .decisions import SweepCheck, check_sweep  # noqa: E402
from .engine import SimResult, simulate  # noqa: E402
from .falsify import FalsifyResult, falsify  # noqa: E402
from .rare import TailEstimate, tail_probability  # noqa: E402
from .store import Store  # noqa: E402

__all__ = ["BoundCheck", "FalsifyResult", "SimResult", "Store", "SweepCheck", "TailEstimate", "check", "check_sweep",
           "falsify", "noise", "objectives", "optimizers", "simulate", "stats", "tail_probability", "__version__"]
