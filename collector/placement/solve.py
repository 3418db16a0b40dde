"""The placement linear program, solved with scipy's HiGHS.

Variables x[k,o,r] >= 0 (requests per second) exist only for feasible triples with demand, so
the matrices stay sparse: one equality row per (class, origin) with demand (demand met) and one
inequality row per region with a capacity (IT power, W = J/request × requests/s).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import linprog

from collector.placement.model import FloatArray, InfeasibleError, Problem, check_feasible

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Solution:
    """An optimal placement: `flow[k, o, r]` requests/s of class k from origin o served in r."""

    problem: Problem
    flow: FloatArray
    objective_per_second: float
    solve_seconds: float
    variables: int

    def total(self, per_request: FloatArray) -> float:
        """Σ flow × a per-request coefficient: a rate per second."""
        return float(np.sum(self.flow * per_request))

    def it_power_watts(self) -> FloatArray:
        """(R,) IT power drawn in each region by the placed demand."""
        e_it = np.array([c.energy_per_request_joules for c in self.problem.config.classes])
        return np.asarray(np.einsum("kor,k->r", self.flow, e_it))


def _variables(problem: Problem) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    usable = problem.allowed & (problem.demand > 0)[:, :, None]
    k, o, r = np.nonzero(usable)
    return k.astype(np.int64), o.astype(np.int64), r.astype(np.int64)


def _matrices(
    problem: Problem, k: NDArray[np.int64], o: NDArray[np.int64], r: NDArray[np.int64]
) -> tuple[sparse.csr_matrix, FloatArray, sparse.csr_matrix | None, FloatArray | None]:
    n = len(k)
    n_o = len(problem.origins)
    pair = k * n_o + o
    pairs, row = np.unique(pair, return_inverse=True)
    a_eq = sparse.csr_matrix((np.ones(n), (row, np.arange(n))), shape=(len(pairs), n))
    b_eq = problem.demand.reshape(-1)[pairs]
    caps = [
        (j, reg.capacity_kw)
        for j, reg in enumerate(problem.config.regions)
        if reg.capacity_kw is not None
    ]
    if not caps:
        return a_eq, b_eq, None, None
    e_it = np.array([c.energy_per_request_joules for c in problem.config.classes])
    cap_index = np.full(len(problem.regions), -1, dtype=np.int64)
    for i, (j, _) in enumerate(caps):
        cap_index[j] = i
    rows = cap_index[r]
    in_cap = rows >= 0
    a_ub = sparse.csr_matrix(
        (e_it[k[in_cap]], (rows[in_cap], np.flatnonzero(in_cap))), shape=(len(caps), n)
    )
    b_ub = np.array([kw * 1000.0 for _, kw in caps])
    return a_eq, b_eq, a_ub, b_ub


def solve(problem: Problem) -> Solution:
    """Minimise Σ objective × x subject to demand met and capacity respected.

    Raises InfeasibleError naming the class and origin when one has no feasible region, or
    saying which regions' capacity is short when the constraints cannot all hold.
    """
    check_feasible(problem)
    k, o, r = _variables(problem)
    flow = np.zeros(problem.allowed.shape)
    if len(k) == 0:
        return Solution(problem, flow, 0.0, 0.0, 0)
    a_eq, b_eq, a_ub, b_ub = _matrices(problem, k, o, r)
    c = problem.coef.objective[k, o, r]
    scale = float(np.max(np.abs(c))) or 1.0
    started = time.perf_counter()
    res = linprog(
        c / scale, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs"
    )
    elapsed = time.perf_counter() - started
    if res.status == 2:
        raise InfeasibleError(_capacity_message(problem))
    if res.status != 0:
        raise RuntimeError(f"HiGHS did not find an optimum: {res.message}")
    flow[k, o, r] = np.maximum(res.x, 0.0)
    return Solution(problem, flow, float(res.fun) * scale, elapsed, len(k))


def _capacity_message(problem: Problem) -> str:
    e_it = np.array([c.energy_per_request_joules for c in problem.config.classes])
    need_kw = float(np.sum(problem.demand * e_it[:, None])) / 1000.0
    caps = [(r.name, r.capacity_kw) for r in problem.config.regions if r.capacity_kw is not None]
    listed = ", ".join(f"{n} {kw:g} kW" for n, kw in caps)
    return (
        f"capacity is short: the demand needs {need_kw:.6g} kW of IT power where it may run, "
        f"and the capped regions offer {listed}"
    )


def per_hour(rate_per_second: float) -> float:
    return rate_per_second * SECONDS_PER_HOUR
