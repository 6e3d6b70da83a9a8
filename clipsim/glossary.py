"""One-line descriptions of the names a user meets: metrics, records, objectives.

Used by ``clipsim list`` and by ``docs/metrics.md``; the tests check that ``METRICS`` and ``RECORDS``
cover :data:`clipsim.engine.METRICS` and :data:`clipsim.engine.RECORDS` exactly, so a new engine output
cannot go undocumented. Notation: w_t the iterate at step t = 1..T, F the objective, f* its minimum,
F_S the empirical risk of a finite sum, ∇F the (full or population) gradient.
"""
from __future__ import annotations

#: per-seed scalar metrics of a run (``SimResult.metrics``), name -> one line
METRICS = {
    "avg_grad_sq": "(1/T) Σ_t ‖∇F(w_t)‖², the average squared gradient norm over the run",
    "min_grad_sq": "min_t ‖∇F(w_t)‖², the smallest squared gradient norm seen",
    "final_grad_sq": "‖∇F(w_{T+1})‖² after the last step",
    "final_gap": "F(w_{T+1}) - f*, the optimality gap after the last step (nan when f* is unknown)",
    "final_value": "F(w_{T+1}), the objective after the last step",
    "avg_grad_norm": "(1/T) Σ_t ‖∇F(w_t)‖, the average gradient norm (not squared)",
    "clip_fraction": "fraction of the steps where clipping changed the gradient (or the δ-GClip factor was < 1)",
    "max_dist": "max_t ‖w_t - w_1‖, how far the iterates went from the start",
    "diverged": "True when F(w_t) or ‖∇F(w_t)‖² became non-finite; the seed's other metrics are then +inf",
    "diverged_step": "the step t at which the seed diverged (0 if it did not)",
    "avg_pop_grad_sq": "finite sums only: (1/T) Σ_t ‖∇F(w_t)‖² with F the population risk",
    "final_pop_grad_sq": "finite sums only: ‖∇F(w_{T+1})‖² of the population risk after the last step",
    "final_pop_gap": "finite sums only: F(w_{T+1}) - F(w*), the population optimality gap after the last step",
    "final_gen_gap": "finite sums only: F(w_{T+1}) - F_S(w_{T+1}), the generalization gap after the last step",
    "final_grad_dev": "finite sums only: ‖∇F(w_{T+1}) - ∇F_S(w_{T+1})‖, population minus empirical gradient",
}

#: values stored on the record grid (``SimResult.records``, shape (seeds, grid)), name -> one line
RECORDS = {
    "grad_sq": "‖∇F(w_t)‖² at each record step t",
    "gap": "F(w_t) - f* at each record step",
    "avg_grad_sq": "running average (1/t) Σ_{s≤t} ‖∇F(w_s)‖² at each record step",
    "dist": "‖w_t - w_1‖ at each record step",
    "pop_grad_sq": "finite sums only: population ‖∇F(w_t)‖² at each record step",
    "gen_gap": "finite sums only: F(w_t) - F_S(w_t) at each record step",
}

#: objectives (``clipsim.objectives.get(name, dim, **params)``), name -> one line
OBJECTIVES = {
    "quadratic": "½‖x‖², L = 1, f* = 0 (sanity baseline)",
    "geman_mcclure": "Σ x_i²/(1+x_i²), non-convex and bounded, L = 2, f* = 0",
    "sin_quadratic": "Σ x_i²/2 + a·sin²(x_i), non-convex for a > ½, L = 1 + 2a, f* = 0",
    "robust_regression": "finite sum (1/n) Σ ½ log(1 + (y_i - x_iᵀw)²) with exact population risk "
                         "(generalization)",
    "overparam_least_squares": "(1/2n)‖Aw - b‖² with d > n: PL with known μ, f* = 0",
}
