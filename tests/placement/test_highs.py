"""The placement LP goes to HiGHS through highspy; scipy's linprog(method="highs") wraps the same
solver, and serves here as the independent reference: same optimum, same row duals (what column
generation prices with), same infeasibility verdict, on random sparse LPs of the placement's
shape (one equality per demand row, capacity rows)."""

from __future__ import annotations

import numpy as np
import pytest

from collector.placement.solve import _highs
from tests.conftest import need_module


@pytest.mark.parametrize("seed", range(8))
def test_optimum_and_duals_match_scipys_linprog(seed: int) -> None:
    sparse = need_module("scipy.sparse")
    linprog = need_module("scipy.optimize").linprog
    rng = np.random.default_rng(seed)
    n, m_eq, m_ub = 40, 6, 3
    eq = rng.integers(0, m_eq, n)  # every column in one demand row
    ub = rng.integers(-1, m_ub, n)  # and in at most one capacity row
    vals = rng.random(n) + 0.1
    b_eq = rng.random(m_eq) * 4 + 1
    b_ub = rng.random(m_ub) * (8 if seed % 4 else 0.5) + 0.5  # some capacities too short
    c = rng.random(n)
    a_eq = sparse.csr_matrix((np.ones(n), (eq, np.arange(n))), shape=(m_eq, n))
    inside = np.flatnonzero(ub >= 0)
    a_ub = sparse.csr_matrix((vals[inside], (ub[inside], inside)), shape=(m_ub, n))
    ref = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")

    rows = np.concatenate([eq, m_eq + ub[inside]])
    cols = np.concatenate([np.arange(n), inside])
    entries = np.concatenate([np.ones(n), vals[inside]])
    lower = np.concatenate([b_eq, np.full(m_ub, -np.inf)])
    upper = np.concatenate([b_eq, b_ub])
    status, _, x, duals = _highs(c, rows, cols, entries, lower, upper)
    assert status == ref.status
    if status == 0:
        assert c @ x == pytest.approx(ref.fun, rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(duals[:m_eq], ref.eqlin.marginals, atol=1e-9)
        np.testing.assert_allclose(duals[m_eq:], ref.ineqlin.marginals, atol=1e-9)
