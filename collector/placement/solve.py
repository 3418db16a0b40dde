"""The placement linear program, solved with HiGHS (highspy, its own Python bindings: the solver
scipy's linprog(method="highs") wraps, without scipy's 110 MB in the attributor image).

Variables x[k,o,r] >= 0 (requests per second) exist only for feasible triples with demand, so
the matrices stay sparse: one equality row per (class, origin) with demand (demand met) and one
inequality row per region with a capacity (IT power, W = J/request × requests/s).

Large problems are solved by column generation over the same LP: start from each pair's few
cheapest regions plus a costly slack per pair, price every other feasible triple with the duals
and add those with negative reduced cost until none is left. The optimum is the full LP's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from highspy import HighsLp, HighsModelStatus, MatrixFormat
from highspy._core import _Highs  # the public `Highs` adds callback threads and prints a banner
from numpy.typing import NDArray

from collector.placement.model import FloatArray, InfeasibleError, Problem, check_feasible

SECONDS_PER_HOUR = 3600.0
FULL_LP_MAX_VARIABLES = 200_000
"""Above this many feasible triples, column generation is used instead of one full LP."""
INITIAL_COLUMNS_PER_PAIR = 2
SAMPLE_ORIGINS = 1000
"""Origins sampled to guess capacity prices before column generation."""
SLACK_COST = 1e4
"""Cost of one unit of unmet demand, relative to the dearest real coefficient (scaled to 1)."""

IntArray = NDArray[np.int64]
Columns = tuple[IntArray, IntArray, IntArray]


def _columns(mask: NDArray[np.bool_]) -> Columns:
    """(k, o, r) index arrays of the True entries of a (K, O, R) mask."""
    k, o, r = np.nonzero(mask)
    return k.astype(np.int64), o.astype(np.int64), r.astype(np.int64)


@dataclass(frozen=True, slots=True)
class Solution:
    """An optimal placement: `flow[k, o, r]` requests/s of class k from origin o served in r."""

    problem: Problem
    flow: FloatArray
    objective_per_second: float
    solve_seconds: float
    variables: int
    iterations: int = 1

    def total(self, per_request: FloatArray) -> float:
        """Σ flow × a per-request coefficient: a rate per second."""
        return float(np.sum(self.flow * per_request))

    def it_power_watts(self) -> FloatArray:
        """(R,) IT power drawn in each region by the placed demand."""
        e_it = np.array([c.energy_per_request_joules for c in self.problem.config.classes])
        return np.asarray(np.einsum("kor,k->r", self.flow, e_it))


@dataclass(frozen=True, slots=True)
class _Rows:
    """Constraint rows that do not depend on which columns are present."""

    pair_row: IntArray  # (K*O,) row of each (k, o) pair, -1 without demand
    b_eq: FloatArray
    cap_row: IntArray  # (R,) capacity row of each region, -1 when uncapped
    b_ub: FloatArray | None
    e_it: FloatArray  # (K,)


def _rows(problem: Problem, demand: FloatArray | None = None) -> _Rows:
    flat = (problem.demand if demand is None else demand).reshape(-1)
    pair_row = np.full(flat.shape, -1, dtype=np.int64)
    with_demand = np.flatnonzero(flat > 0)
    pair_row[with_demand] = np.arange(len(with_demand))
    caps = [(j, r.capacity_kw) for j, r in enumerate(problem.config.regions) if r.capacity_kw]
    cap_row = np.full(len(problem.regions), -1, dtype=np.int64)
    for i, (j, _) in enumerate(caps):
        cap_row[j] = i
    b_ub = np.array([kw * 1000.0 for _, kw in caps]) if caps else None
    e_it = np.array([c.energy_per_request_joules for c in problem.config.classes])
    return _Rows(pair_row, flat[with_demand], cap_row, b_ub, e_it)


@dataclass(frozen=True, slots=True)
class _Result:
    """One solve: HiGHS's status, the primal values and the row duals (d objective / d rhs)."""

    status: int  # 0 optimal, 2 infeasible, 4 anything else (the codes scipy's linprog uses)
    message: str
    x: FloatArray
    eq_duals: FloatArray  # per demand row
    ub_duals: FloatArray  # per capacity row, <= 0


_STATUS = {HighsModelStatus.kOptimal: 0, HighsModelStatus.kInfeasible: 2}


def _highs(
    cost: FloatArray,
    rows: IntArray,
    cols: IntArray,
    vals: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> tuple[int, str, FloatArray, FloatArray]:
    """min cost·x, lower <= A x <= upper, x >= 0, with A given by its (row, col, value) entries."""
    width, height = len(cost), len(lower)
    order = np.argsort(cols, kind="stable")
    start = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=width))])
    lp = HighsLp()
    lp.num_col_, lp.num_row_ = width, height
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.zeros(width)
    lp.col_upper_ = np.full(width, np.inf)
    lp.row_lower_, lp.row_upper_ = lower, upper
    lp.a_matrix_.format_ = MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = width, height
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = rows[order].astype(np.int32)
    lp.a_matrix_.value_ = vals[order].astype(np.float64)
    solver = _Highs()
    solver.setOptionValue("output_flag", False)
    solver.passModel(lp)
    solver.run()
    model_status = solver.getModelStatus()
    solution = solver.getSolution()
    return (
        _STATUS.get(model_status, 4),
        solver.modelStatusToString(model_status),
        np.asarray(solution.col_value, dtype=np.float64),
        np.asarray(solution.row_dual, dtype=np.float64),
    )


def _lp(
    n_origins: int, rows: _Rows, cols: Columns, c: FloatArray, *, slack: bool
) -> tuple[_Result, int]:
    """One HiGHS solve over the columns `cols` (plus a slack per demand row when asked).

    Rows: one equality per (class, origin) with demand (each column sits in exactly one), then
    one `<=` per capped region (each column in at most one, with its IT energy per request).
    """
    k, o, r = cols
    n, m = len(k), len(rows.b_eq)
    eq_rows = rows.pair_row[k * n_origins + o]
    cost = c
    if slack:
        eq_rows = np.concatenate([eq_rows, np.arange(m)])
        cost = np.concatenate([c, np.full(m, SLACK_COST)])
    width = len(cost)
    a_rows, a_cols, a_vals = eq_rows, np.arange(width), np.ones(width)
    lower, upper = rows.b_eq, rows.b_eq
    n_ub = 0
    if rows.b_ub is not None:
        n_ub = len(rows.b_ub)
        cr = rows.cap_row[r]
        inside = np.flatnonzero(cr >= 0)
        a_rows = np.concatenate([a_rows, m + cr[inside]])
        a_cols = np.concatenate([a_cols, inside])
        a_vals = np.concatenate([a_vals, rows.e_it[k[inside]]])
        lower = np.concatenate([lower, np.full(n_ub, -np.inf)])
        upper = np.concatenate([upper, rows.b_ub])
    status, message, x, duals = _highs(cost, a_rows, a_cols, a_vals, lower, upper)
    return _Result(status, message, x, duals[:m], duals[m : m + n_ub]), n


def _usable(problem: Problem) -> NDArray[np.bool_]:
    return np.asarray(problem.allowed & (problem.demand > 0)[:, :, None])


def _cheapest(usable: NDArray[np.bool_], c: FloatArray, keep: int) -> NDArray[np.bool_]:
    keep = min(keep, usable.shape[2])
    masked = np.where(usable, c, np.inf)
    idx = np.argpartition(masked, keep - 1, axis=2)[:, :, :keep]
    chosen = np.zeros(usable.shape, dtype=bool)
    np.put_along_axis(chosen, idx, True, axis=2)
    return chosen & usable


def _capacity_prices(
    problem: Problem, rows: _Rows, usable: NDArray[np.bool_], c_full: FloatArray
) -> FloatArray:
    """Capacity prices (>= 0, per W) from the LP of a random sample of origins whose demand is
    scaled up to the total: a guess that makes the first columns anticipate full regions."""
    prices = np.zeros(len(problem.regions))
    n_o = len(problem.origins)
    if rows.b_ub is None or n_o <= SAMPLE_ORIGINS:
        return prices
    pick = np.sort(np.random.default_rng(0).choice(n_o, SAMPLE_ORIGINS, replace=False))
    demand = problem.demand[:, pick]
    demand = demand * (problem.demand.sum() / max(demand.sum(), 1e-300))
    sub_rows = _rows(problem, demand)
    cols = _columns(usable[:, pick, :])
    res, _ = _lp(SAMPLE_ORIGINS, sub_rows, cols, c_full[:, pick, :][cols], slack=True)
    if res.status == 0:
        prices[rows.cap_row >= 0] = -res.ub_duals
    return np.maximum(prices, 0.0)


def _initial_columns(
    problem: Problem, rows: _Rows, usable: NDArray[np.bool_], c_full: FloatArray
) -> NDArray[np.bool_]:
    """Each pair's cheapest regions, at face value and at the guessed capacity prices."""
    prices = _capacity_prices(problem, rows, usable, c_full)
    priced = c_full + rows.e_it[:, None, None] * prices[None, None, :]
    return _cheapest(usable, c_full, INITIAL_COLUMNS_PER_PAIR) | _cheapest(
        usable, priced, INITIAL_COLUMNS_PER_PAIR
    )


def _column_generation(
    problem: Problem, rows: _Rows, usable: NDArray[np.bool_], c_full: FloatArray
) -> tuple[_Result, Columns, int]:
    present = _initial_columns(problem, rows, usable, c_full)
    for iteration in range(1, 1000):
        cols = _columns(present)
        res, _ = _lp(len(problem.origins), rows, cols, c_full[cols], slack=True)
        if res.status != 0:
            raise RuntimeError(f"HiGHS did not find an optimum: {res.message}")
        pi = np.zeros(problem.demand.size)
        pi[rows.pair_row >= 0] = res.eq_duals
        y = np.zeros(len(problem.regions))
        if rows.b_ub is not None:
            y[rows.cap_row >= 0] = res.ub_duals[rows.cap_row[rows.cap_row >= 0]]
        reduced = (
            c_full
            - pi.reshape(problem.demand.shape)[:, :, None]
            - rows.e_it[:, None, None] * y[None, None, :]
        )
        candidates = np.where(usable & ~present, reduced, np.inf)
        best = np.argmin(candidates, axis=2)
        gain = np.take_along_axis(candidates, best[:, :, None], axis=2)[:, :, 0]
        pairs = np.nonzero(gain < -1e-9)
        if len(pairs[0]) == 0:
            return res, cols, iteration
        present[pairs[0], pairs[1], best[pairs]] = True  # the best column of each pair enters
    raise RuntimeError("column generation did not converge")


def solve(problem: Problem, *, full_lp_max_variables: int = FULL_LP_MAX_VARIABLES) -> Solution:
    """Minimise Σ objective × x subject to demand met and capacity respected.

    Raises InfeasibleError naming the class and origin when one has no feasible region, or
    saying which regions' capacity is short when the constraints cannot all hold.
    """
    check_feasible(problem)
    usable = _usable(problem)
    flow = np.zeros(problem.allowed.shape)
    n_usable = int(usable.sum())
    if n_usable == 0:
        return Solution(problem, flow, 0.0, 0.0, 0)
    rows = _rows(problem)
    scale = float(np.max(np.abs(problem.coef.objective[usable]))) or 1.0
    c_full = problem.coef.objective / scale
    started = time.perf_counter()
    iterations = 1
    if n_usable <= full_lp_max_variables:
        cols = _columns(usable)
        res, n = _lp(len(problem.origins), rows, cols, c_full[cols], slack=False)
        if res.status == 2:
            raise InfeasibleError(_capacity_message(problem))
        if res.status != 0:
            raise RuntimeError(f"HiGHS did not find an optimum: {res.message}")
    else:
        res, cols, iterations = _column_generation(problem, rows, usable, c_full)
        n = len(cols[0])
        if np.any(res.x[n:] > 1e-9 * max(1.0, float(rows.b_eq.max()))):
            raise InfeasibleError(_capacity_message(problem))
    elapsed = time.perf_counter() - started
    flow[cols] = np.maximum(res.x[:n], 0.0)
    objective = float(np.sum(flow * problem.coef.objective))
    return Solution(problem, flow, objective, elapsed, n, iterations)


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
