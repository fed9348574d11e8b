"""Customer-lifetime value maths: BG/NBD and Gamma-Gamma, fitted by maximum likelihood.

Plain functions on numpy arrays and pandas DataFrames, for the dbt Python models (which put ``scripts/`` on
``sys.path`` and ``import customer_value``) and for the tests. No project imports, no I/O, no randomness: the
same inputs give identical outputs whatever their row order (rows are sorted by customer id wherever order
could matter).

Models and references
---------------------
* BG/NBD: P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "'Counting your customers' the easy way: an
  alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284. While alive a customer buys as a
  Poisson process with rate lambda ~ Gamma(r, alpha) (shape r, rate alpha, so alpha is in time units); after
  each purchase she drops out for good with probability p ~ Beta(a, b). Equation numbers below are the paper's.
* Gamma-Gamma: P. S. Fader and B. G. S. Hardie (2013), "The Gamma-Gamma model of monetary value" (note).
  The value of each repeat transaction is Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers, independent
  of the purchase process.

Data definitions (from the issue)
---------------------------------
* A transaction is a customer's purchase DAY: several purchases on one day are one transaction whose value is
  the day's summed amount (:func:`purchase_days`).
* The calibration period is everything strictly before ``reference_date``; its last day is
  ``reference_date - 1 day``. Only customers whose first purchase falls in it are summarised.
* x = number of repeat purchase days (the first purchase day is not counted); t_x = last purchase day - first
  purchase day; T = last calibration day - first purchase day; all in units of ``time_unit_days`` days.
  With these definitions the CDNOW sample reproduces Fader, Hardie & Lee's published fit exactly (their data file
  gives T = 38.86 weeks = 272 days to a customer whose first purchase was on 1997-01-01, with the calibration
  ending on 1997-09-30); see tests/python/test_customer_value.py.
* Holdout purchases are the purchase days in [reference_date, holdout_end): in day indices they are days
  T+1 ... T+L after the first purchase, L = holdout_end - reference_date, i.e. the interval (T, T+L], which is
  exactly what E[Y(t=L) | x, t_x, T] (eq. 10) predicts.
* Gamma-Gamma uses the mean value of the REPEAT purchase days (the first day's value excluded) of the customers
  with x >= 1 (and a positive mean).

Time units
----------
The fitted alpha is in the time unit of the data it was fitted on (days by default). Changing the unit by a
factor c (e.g. days -> weeks, c = 7) divides alpha by c and leaves r, a, b unchanged; the maximised BG/NBD
log-likelihood changes by exactly sum(x) * log(c), because the likelihood is a density of the x repeat purchase
times (each carries a factor lambda, and lambda scales as 1/c). :func:`bgnbd_parameter_table` reports the
parameters in days and in weeks (alpha_weeks = alpha_days / 7).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from threadpoolctl import threadpool_limits

from hashed_folds import blake2b_64, deal_folds

__all__ = [
    "BgNbdFit",
    "GammaGammaFit",
    "auc",
    "bgnbd_gradient",
    "bgnbd_log_likelihood",
    "bgnbd_parameter_table",
    "calibration_by_decile",
    "calibration_summary",
    "churn_band",
    "cross_fitted_logistic_churn",
    "customer_lifetime_value",
    "expected_order_value",
    "expected_purchases",
    "expected_purchases_new_customer",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "holdout_table",
    "p_alive",
    "probability_no_purchase",
    "purchase_days",
]

BGNBD_PARAMETERS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS = ("p", "q", "gamma")
DAYS_PER_YEAR = 365.25
DAYS_PER_WEEK = 7.0

# Optimisation runs on log-parameters inside these bounds (1e-8 .. 1e8 in the natural parameters): wide enough
# for any sensible data set, narrow enough that a degenerate one (e.g. nobody ever drops out, so b -> infinity)
# stops at a bound and is reported as not converged instead of overflowing.
_LOG_BOUND = math.log(1e8)
# Relative step of the central differences of the analytic gradient that give the Hessian (see _hessian).
_HESSIAN_STEP = 1e-5


# --------------------------------------------------------------------------------------------------------------
# Input checks and data preparation
# --------------------------------------------------------------------------------------------------------------

def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; the frame has {list(frame.columns)}")


def _as_day(value: Any, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: cannot read {value!r} as a date ({error})") from None
    if pd.isna(stamp):
        raise ValueError(f"{name}: a date is required, got {value!r}")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize()


def _float_array(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a one-dimensional array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return array


def _bgnbd_data(x: Any, t_x: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, T = _float_array(x, "x"), _float_array(t_x, "t_x"), _float_array(T, "T")
    x, t_x, T = np.broadcast_arrays(x, t_x, T)
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("x: must be non-negative whole numbers (repeat purchase counts)")
    if np.any(t_x < 0):
        raise ValueError("t_x: must be non-negative")
    if np.any(T < t_x):
        raise ValueError("T: must be >= t_x for every customer (the last purchase is in the calibration period)")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("t_x: must be 0 for customers with x == 0")
    return np.array(x, dtype=np.float64), np.array(t_x, dtype=np.float64), np.array(T, dtype=np.float64)


def _distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The distinct rows of equal-length float columns, sorted, how many input rows each stands for, and for
    every input row the index of its distinct row.

    Customers with the same (x, t_x, T) have the same likelihood and the same predictions: computing once per
    distinct row is exact and, on real order histories, several times less work (10 million order items: 2.4
    million customers, 0.77 million distinct (x, t_x, T), 31 thousand distinct (x, T)). Sorted, so every sum
    over them is independent of the customers' order.
    """
    # The group index pandas' groupby builds, without the groupby: each column factorised in sorted order, the
    # codes combined into one integer whose order is the rows' lexicographic order, that integer factorised in
    # sorted order. Columns with NaN, or too many distinct values for one int64, take the groupby itself.
    values = [np.asarray(column, dtype=np.float64) for column in columns]
    factorised = [pd.factorize(column, sort=True) for column in values]
    sizes = [len(uniques) for _, uniques in factorised]
    if any(np.isnan(column).any() for column in values) or math.prod(sizes) >= 2**62:
        grouped = pd.DataFrame(dict(enumerate(columns))).groupby(list(range(len(columns))), sort=True, dropna=False)
        counts = grouped.size()
        distinct = [np.asarray(counts.index.get_level_values(i), dtype=np.float64) for i in range(len(columns))]
        return distinct, counts.to_numpy(dtype=np.float64), grouped.ngroup().to_numpy()
    combined = factorised[0][0].astype(np.int64)
    for (codes, _), size in zip(factorised[1:], sizes[1:]):
        combined = combined * size + codes
    group, keys = pd.factorize(combined, sort=True)
    counts = np.bincount(group, minlength=len(keys)).astype(np.float64)
    distinct = []
    for (_, uniques), size in zip(reversed(factorised), reversed(sizes)):
        distinct.append(np.asarray(uniques[keys % size] if size else uniques, dtype=np.float64))
        keys = keys // size if size else keys
    distinct.reverse()
    return distinct, counts, group.astype(np.int64)


def purchase_days(
    transactions: pd.DataFrame,
    customer_col: str = "customer_id",
    date_col: str = "purchase_date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """One row per customer and purchase day: ``customer_id``, ``purchase_date``, ``amount`` (the day's sum).

    ``purchase_date`` is a datetime64 column normalised to midnight (time of day and time zone dropped: a
    timestamp's calendar day is the day it was recorded on). Rows are sorted by customer id and date. A missing
    column, a missing customer id or date, an unreadable date, or a missing, infinite or negative amount raises
    ValueError.
    """
    _require_columns(transactions, [customer_col, date_col, amount_col], "purchase_days")
    frame = transactions[[customer_col, date_col, amount_col]].copy()
    frame.columns = ["customer_id", "purchase_date", "amount"]
    if frame["customer_id"].isna().any():
        raise ValueError(f"purchase_days: column {customer_col!r} has missing customer ids")
    try:
        dates = pd.to_datetime(frame["purchase_date"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"purchase_days: column {date_col!r} has values that are not dates ({error})") from None
    if dates.isna().any():
        raise ValueError(f"purchase_days: column {date_col!r} has missing dates")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    frame["purchase_date"] = dates.dt.normalize()
    try:
        amounts = pd.to_numeric(frame["amount"]).astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"purchase_days: column {amount_col!r} has non-numeric values ({error})") from None
    if amounts.isna().any() or not np.all(np.isfinite(amounts.to_numpy())):
        raise ValueError(f"purchase_days: column {amount_col!r} has missing or infinite amounts")
    if (amounts < 0).any():
        bad = int((amounts < 0).sum())
        raise ValueError(f"purchase_days: column {amount_col!r} has {bad} negative amount(s); returns and "
                         "refunds must be netted or removed before the customer-value models")
    frame["amount"] = amounts
    days = (frame.groupby(["customer_id", "purchase_date"], sort=True, as_index=False)["amount"].sum()
            .sort_values(["customer_id", "purchase_date"], kind="mergesort").reset_index(drop=True))
    return days


_SUMMARY_FLOAT_COLUMNS = ["t_x", "T", "monetary_value", "total_value", "recency_days"]


def calibration_summary(days: pd.DataFrame, reference_date: Any, holdout_end: Any = None,
                        time_unit_days: float = 1.0) -> pd.DataFrame:
    """Per-customer calibration summary (RFM in the BG/NBD's terms), sorted by customer id.

    ``days`` is the output of :func:`purchase_days` (columns customer_id, purchase_date, amount; several rows of
    one customer and day are summed again, so raw transactions work too). Columns:

    * ``customer_id``, ``first_purchase_date``;
    * ``x`` repeat purchase days in the calibration period (int), ``t_x`` and ``T`` (see the module docstring),
      in units of ``time_unit_days`` days;
    * ``monetary_value``: mean value of the repeat purchase days (0.0 when x == 0); ``total_value``: value of
      all calibration days; ``recency_days``: T - t_x (time since the last purchase, in the time unit);
    * when ``holdout_end`` (exclusive) is given: ``holdout_purchases`` (purchase days in
      [reference_date, holdout_end)), ``holdout_value`` and ``holdout_length`` ((holdout_end - reference_date)
      in the time unit).

    Customers whose first purchase is on or after ``reference_date`` are not in the summary. If nobody bought
    before ``reference_date`` the summary is EMPTY (the same columns, no rows), not an error: a dbt model then
    builds an empty table; the fitting functions raise ValueError on empty input.

    Note: read the column ``T`` as ``summary["T"]``; ``summary.T`` is pandas' transpose.
    """
    if not (isinstance(time_unit_days, (int, float, np.floating, np.integer)) and time_unit_days > 0
            and math.isfinite(time_unit_days)):
        raise ValueError(f"time_unit_days: must be a positive number, got {time_unit_days!r}")
    reference = _as_day(reference_date, "reference_date")
    end = None if holdout_end is None else _as_day(holdout_end, "holdout_end")
    if end is not None and end <= reference:
        raise ValueError(f"holdout_end ({end.date()}) must be after reference_date ({reference.date()})")
    daily = purchase_days(days)
    unit = float(time_unit_days)
    last_day = reference - pd.Timedelta(days=1)

    calibration = daily[daily["purchase_date"] < reference]
    if calibration.empty:
        summary = pd.DataFrame({
            "customer_id": pd.Series([], dtype=daily["customer_id"].dtype),
            "first_purchase_date": pd.Series([], dtype=daily["purchase_date"].dtype),
            "x": pd.Series([], dtype=np.int64),
            **{c: pd.Series([], dtype=np.float64) for c in _SUMMARY_FLOAT_COLUMNS},
        })
        if end is not None:
            summary["holdout_purchases"] = pd.Series([], dtype=np.int64)
            summary["holdout_value"] = pd.Series([], dtype=np.float64)
            summary["holdout_length"] = pd.Series([], dtype=np.float64)
        return summary

    grouped = calibration.groupby("customer_id", sort=True)
    first = grouped["purchase_date"].min()
    last = grouped["purchase_date"].max()
    n_days = grouped.size()
    total = grouped["amount"].sum()
    # `daily` is sorted by customer and date, so each customer's first row is the first purchase day; the
    # repeat days' value is summed directly (not total - first day, which would add rounding error).
    is_repeat = calibration.groupby("customer_id", sort=True).cumcount().to_numpy() > 0
    repeat_value = (calibration["amount"].where(is_repeat, 0.0).groupby(calibration["customer_id"], sort=True)
                    .sum().astype(np.float64))
    x = (n_days - 1).astype(np.int64)
    t_x = (last - first).dt.days.astype(np.float64) / unit
    T = (last_day - first).dt.days.astype(np.float64) / unit
    monetary = np.where(x > 0, repeat_value / np.maximum(x, 1), 0.0)
    summary = pd.DataFrame({
        "customer_id": first.index.to_numpy(),
        "first_purchase_date": first.to_numpy(),
        "x": x.to_numpy(),
        "t_x": t_x.to_numpy(),
        "T": T.to_numpy(),
        "monetary_value": np.asarray(monetary, dtype=np.float64),
        "total_value": total.to_numpy(dtype=np.float64),
        "recency_days": (T - t_x).to_numpy(),
    })
    if end is not None:
        holdout = daily[(daily["purchase_date"] >= reference) & (daily["purchase_date"] < end)]
        holdout = holdout[holdout["customer_id"].isin(summary["customer_id"])]
        by_customer = holdout.groupby("customer_id", sort=True)
        counts = by_customer.size().rename("holdout_purchases")
        values = by_customer["amount"].sum().rename("holdout_value")
        summary = summary.merge(pd.concat([counts, values], axis=1), how="left", left_on="customer_id",
                                right_index=True, sort=False)
        summary["holdout_purchases"] = summary["holdout_purchases"].fillna(0).astype(np.int64)
        summary["holdout_value"] = summary["holdout_value"].fillna(0.0).astype(np.float64)
        summary["holdout_length"] = float((end - reference).days) / unit
    return summary.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------------
# Shared optimisation machinery
# --------------------------------------------------------------------------------------------------------------

def _hessian(gradient, theta: np.ndarray) -> np.ndarray:
    """Numerical Hessian of a function whose analytic gradient is ``gradient``, at ``theta``.

    Central differences of the gradient, with step h_i = 1e-5 * max(|theta_i|, 1e-8) (relative, so every
    parameter moves by the same proportion), then symmetrised: H = (J + J') / 2. The error is O(h^2) relative,
    far below the sampling error the standard errors describe.
    """
    theta = np.asarray(theta, dtype=np.float64)
    k = theta.size
    jac = np.empty((k, k), dtype=np.float64)
    for i in range(k):
        h = _HESSIAN_STEP * max(abs(theta[i]), 1e-8)
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        jac[:, i] = (gradient(up) - gradient(down)) / (2.0 * h)
    return (jac + jac.T) / 2.0


def _standard_errors(neg_gradient, theta: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Square roots of the diagonal of the inverse Hessian of the negative log-likelihood (NaN if singular)."""
    try:
        hess = _hessian(neg_gradient, theta)
        cov = np.linalg.inv(hess)
        variances = np.diag(cov)
        eig = np.linalg.eigvalsh(hess)
        if not np.all(np.isfinite(variances)) or np.any(eig <= 0):
            raise np.linalg.LinAlgError("Hessian is not positive definite")
        return {n: float(math.sqrt(v)) for n, v in zip(names, variances, strict=True)}
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        return {n: float("nan") for n in names}


def _maximise(neg_ll_and_grad_natural, start: np.ndarray) -> tuple[np.ndarray, bool, Any]:
    """Maximise a log-likelihood over log-parameters with L-BFGS-B (analytic gradient, chain rule).

    The objective is scaled by 1/n (passed in already) for conditioning. Two passes: the second restarts
    L-BFGS-B from the first optimum, which removes the early stops L-BFGS-B makes on the likelihood's flat
    ridges (the BG/NBD is flat along a, b). Converged means: finite, no parameter at a bound, and the gradient
    (w.r.t. log-parameters, per customer) below 1e-5 at the end. scipy's own status is not used: with these
    tolerances L-BFGS-B often stops with "ABNORMAL_TERMINATION_IN_LNSRCH" once it cannot improve any more,
    which at a zero gradient is the optimum.
    """
    def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(log_theta)
        value, grad = neg_ll_and_grad_natural(theta)
        if not np.isfinite(value):
            return 1e300, np.zeros_like(log_theta)
        return value, grad * theta

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * start.size
    log_theta = np.clip(np.log(start), -_LOG_BOUND + 1e-6, _LOG_BOUND - 1e-6)
    result = None
    for _ in range(2):
        result = optimize.minimize(objective, log_theta, jac=True, method="L-BFGS-B", bounds=bounds,
                                   options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20})
        log_theta = result.x
    _, grad = objective(log_theta)
    at_bound = np.any(np.abs(log_theta) > _LOG_BOUND - 1e-3)
    converged = bool(np.all(np.isfinite(log_theta)) and not at_bound and np.max(np.abs(grad)) < 1e-5)
    return np.exp(log_theta), converged, result


# --------------------------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BgNbdFit:
    """A fitted BG/NBD. ``alpha`` (and its standard error) is in the time unit of the data it was fitted on."""

    r: float
    alpha: float
    a: float
    b: float
    std_errors: dict = field(default_factory=dict)
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = False

    def params(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


def _bgnbd_params(fit_or_params: Any) -> tuple[float, float, float, float]:
    """(r, alpha, a, b) from a BgNbdFit, a mapping with those keys, or a sequence in that order."""
    if isinstance(fit_or_params, BgNbdFit):
        values = fit_or_params.params()
    elif isinstance(fit_or_params, Mapping):
        try:
            values = tuple(fit_or_params[k] for k in BGNBD_PARAMETERS)
        except KeyError as error:
            raise ValueError(f"BG/NBD parameters: missing {error}; expected keys {BGNBD_PARAMETERS}") from None
    else:
        values = tuple(np.asarray(fit_or_params, dtype=np.float64).ravel())
        if len(values) != 4:
            raise ValueError("BG/NBD parameters: expected (r, alpha, a, b)")
    values = tuple(float(v) for v in values)
    if not all(math.isfinite(v) and v > 0 for v in values):
        named = dict(zip(BGNBD_PARAMETERS, values, strict=True))
        raise ValueError(f"BG/NBD parameters must be positive and finite, got {named}")
    return values  # type: ignore[return-value]


def _bgnbd_terms(params, x, t_x, T):
    """The pieces of the closed-form per-customer log-likelihood (paper eq. 6 and its A1..A4 form).

    ll = A1 + A2 + log(exp(A3) + [x > 0] exp(A4)) with
      A1 = lgamma(r+x) - lgamma(r) + r log(alpha)
      A2 = lgamma(a+b) + lgamma(b+x) - lgamma(b) - lgamma(a+b+x)
      A3 = -(r+x) log(alpha+T)
      A4 = log(a) - log(b+x-1) - (r+x) log(alpha+t_x)        (only when x > 0)
    The last term is a log-sum-exp, evaluated as max + log1p(exp(-|A3 - A4|)).
    """
    r, alpha, a, b = params
    has_repeat = x > 0
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    b_x1 = np.where(has_repeat, b + x - 1.0, 1.0)
    a4 = np.where(has_repeat, math.log(a) - np.log(b_x1) - (r + x) * np.log(alpha + t_x), -np.inf)
    hi = np.maximum(a3, a4)
    # Weight of the A4 branch (probability that the customer dropped out right after the last purchase,
    # given the data): exp(A4) / (exp(A3) + exp(A4)).
    w4 = np.where(has_repeat, special.expit(a4 - np.where(has_repeat, a3, 0.0)), 0.0)
    log_sum = hi + np.log1p(np.exp(-np.abs(np.where(has_repeat, a3 - a4, np.inf))))
    return a1, a2, a3, a4, log_sum, w4, b_x1


def bgnbd_log_likelihood(params: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood log L(r, alpha, a, b | x, t_x, T) (paper eq. 6), numerically stable.

    ``params`` is (r, alpha, a, b), a mapping or a :class:`BgNbdFit`. Returns an array of len(x).
    """
    params = _bgnbd_params(params)
    x, t_x, T = _bgnbd_data(x, t_x, T)
    a1, a2, _, _, log_sum, _, _ = _bgnbd_terms(params, x, t_x, T)
    return a1 + a2 + log_sum


def bgnbd_gradient(params: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """Gradient of the TOTAL BG/NBD log-likelihood w.r.t. (r, alpha, a, b) (analytic, digamma functions)."""
    params = _bgnbd_params(params)
    x, t_x, T = _bgnbd_data(x, t_x, T)
    return _bgnbd_gradient(params, x, t_x, T)


def _bgnbd_gradient(params, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = params
    _, _, _, _, _, w4, b_x1 = _bgnbd_terms(params, x, t_x, T)
    w3 = 1.0 - w4
    log_at, log_atx = np.log(alpha + T), np.log(alpha + t_x)
    psi = special.digamma
    d_r = psi(r + x) - psi(r) + math.log(alpha) - w3 * log_at - w4 * log_atx
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = psi(a + b) - psi(a + b + x) + w4 / a
    d_b = psi(a + b) + psi(b + x) - psi(b) - psi(a + b + x) - w4 / b_x1
    return np.array([d_r.sum(), d_alpha.sum(), d_a.sum(), d_b.sum()], dtype=np.float64)


def _single_threaded(function):
    """Runs a fit with BLAS and OpenMP on one thread. The optimiser's linear algebra sums in a different order
    on more threads, and on a flat likelihood that moves the optimum in the 4th digit; inside dbt, another
    model pinning the thread count at the same moment would make the result depend on timing."""

    @functools.wraps(function)
    def pinned(*args, **kwargs):
        with threadpool_limits(limits=1):
            return function(*args, **kwargs)

    return pinned


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum(a * b) by numpy's pairwise summation, not BLAS: a BLAS dot product may sum in an order that depends
    on its thread count and the arrays' alignment, and the fits must give the same bits every run."""
    return float(np.sum(a * b))


class _BgNbdLikelihood:
    """The TOTAL BG/NBD log-likelihood and its gradient, evaluated once per distinct (x, t_x, T) and weighted by
    how many customers share it. The same sums as :func:`bgnbd_log_likelihood` and :func:`_bgnbd_gradient`,
    regrouped: the terms that depend on x alone (A1, A2 and the digamma parts) are computed once per distinct x
    and multiplied by the number of customers with that x, log(alpha + T) once per distinct T, and customers
    without a repeat purchase (A4 absent, so ll = A1 + A2 + A3) apart from the others. What is left per row is a
    handful of array operations; the special functions run on a few dozen values.
    """

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray):
        (x, t_x, T), weight, _ = _distinct_rows(x, t_x, T)
        self.n = float(weight.sum())
        self.mean_T = _dot(weight, T) / self.n
        self.x_values, x_index = np.unique(x, return_inverse=True)
        self.customers_by_x = np.bincount(x_index, weights=weight, minlength=self.x_values.size)
        self.T_values, self.T_index = np.unique(T, return_inverse=True)
        repeat = x > 0
        # Customers without a repeat purchase: ll's row part is A3 = -r log(alpha + T), weighted by T alone.
        self.once_by_T = np.bincount(self.T_index[~repeat], weights=weight[~repeat], minlength=self.T_values.size)
        self.x, self.t_x, self.weight = x[repeat], t_x[repeat], weight[repeat]
        self.T_index_repeat, self.T = self.T_index[repeat], T[repeat]

    def value_and_gradient(self, params: tuple[float, float, float, float]) -> tuple[float, np.ndarray]:
        r, alpha, a, b = params
        gl, psi = special.gammaln, special.digamma
        xv, nx = self.x_values, self.customers_by_x
        per_x = gl(r + xv) - gl(r) + r * math.log(alpha) + gl(a + b) + gl(b + xv) - gl(b) - gl(a + b + xv)
        log_at_values = np.log(alpha + self.T_values)

        # Repeat buyers: the log-sum-exp of A3 and A4 (see _bgnbd_terms).
        x, w = self.x, self.weight
        r_x = r + x
        log_at, log_atx = log_at_values[self.T_index_repeat], np.log(alpha + self.t_x)
        b_x1 = b + x - 1.0
        a3 = -r_x * log_at
        a4 = math.log(a) - np.log(b_x1) - r_x * log_atx
        log_sum = np.maximum(a3, a4) + np.log1p(np.exp(-np.abs(a3 - a4)))
        w4 = special.expit(a4 - a3)
        w3 = 1.0 - w4

        value = (_dot(nx, per_x) + _dot(w, log_sum)
                 - r * _dot(self.once_by_T, log_at_values))
        d_r = (_dot(nx, psi(r + xv)) - self.n * (psi(r) - math.log(alpha))
               - _dot(w, w3 * log_at + w4 * log_atx) - _dot(self.once_by_T, log_at_values))
        d_alpha = (self.n * r / alpha - _dot(w * r_x, w3 / (alpha + self.T) + w4 / (alpha + self.t_x))
                   - r * _dot(self.once_by_T, 1.0 / (alpha + self.T_values)))
        d_a = _dot(nx, psi(a + b) - psi(a + b + xv)) + _dot(w, w4) / a
        d_b = _dot(nx, psi(a + b) + psi(b + xv) - psi(b) - psi(a + b + xv)) - _dot(w, w4 / b_x1)
        return float(value), np.array([d_r, d_alpha, d_a, d_b], dtype=np.float64)


@_single_threaded
def fit_bgnbd(x: Any, t_x: Any, T: Any, initial: Any = None) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit.

    L-BFGS-B on log(r, alpha, a, b) with the analytic gradient (see :func:`_maximise`); the starting point is
    ``initial`` ((r, alpha, a, b), a mapping or a fit) or, by default, r = 1, alpha = mean(T) / 2 (half the
    average observation length, in the data's time unit), a = 1, b = 2. Standard errors: square roots of the
    diagonal of the inverse Hessian of the negative log-likelihood in the NATURAL parameters, the Hessian by
    central differences of the analytic gradient (relative step 1e-5, see :func:`_hessian`). The likelihood is
    summed over the distinct (x, t_x, T), sorted (:class:`_BgNbdLikelihood`), so the result does not depend on
    the customers' order.
    """
    x, t_x, T = _bgnbd_data(x, t_x, T)
    n = x.size
    if n == 0:
        raise ValueError("fit_bgnbd: no customers to fit")
    if np.all(x == 0):
        raise ValueError("fit_bgnbd: nobody made a repeat purchase; the BG/NBD cannot be fitted")
    likelihood = _BgNbdLikelihood(x, t_x, T)
    if initial is None:
        start = np.array([1.0, max(likelihood.mean_T / 2.0, 1e-3), 1.0, 2.0])
    else:
        start = np.array(_bgnbd_params(initial), dtype=np.float64)

    def neg(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = likelihood.value_and_gradient(tuple(float(v) for v in theta))
        return -value / n, -gradient / n

    theta, converged, _ = _maximise(neg, start)
    params = tuple(float(v) for v in theta)
    ll = likelihood.value_and_gradient(params)[0]
    se = _standard_errors(lambda th: -likelihood.value_and_gradient(tuple(th))[1], theta, BGNBD_PARAMETERS)
    return BgNbdFit(r=params[0], alpha=params[1], a=params[2], b=params[3], std_errors=se, log_likelihood=ll,
                    n_customers=int(n), converged=converged)


def bgnbd_parameter_table(fit: BgNbdFit, time_unit_days: float = 1.0) -> pd.DataFrame:
    """The fit's parameters with standard errors, in days and in weeks.

    ``time_unit_days`` is the unit of the data the fit was made on. Columns: parameter, estimate_days,
    std_error_days, estimate_weeks, std_error_weeks. Only alpha (a rate parameter, in time units) changes:
    alpha_days = alpha * time_unit_days, alpha_weeks = alpha_days / 7; r, a, b are unit-free.
    """
    rows = []
    for name in BGNBD_PARAMETERS:
        value, se = float(getattr(fit, name)), float(fit.std_errors.get(name, float("nan")))
        to_days = float(time_unit_days) if name == "alpha" else 1.0
        to_weeks = to_days / DAYS_PER_WEEK if name == "alpha" else 1.0
        rows.append({"parameter": name, "estimate_days": value * to_days, "std_error_days": se * to_days,
                     "estimate_weeks": value * to_weeks, "std_error_weeks": se * to_weeks})
    return pd.DataFrame(rows)


def _log_alive_odds_inverse(params, x, t_x, T) -> np.ndarray:
    """log( a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) ) for x > 0 and -inf for x == 0."""
    r, alpha, a, b = params
    has_repeat = x > 0
    b_x1 = np.where(has_repeat, b + x - 1.0, 1.0)
    value = math.log(a) - np.log(b_x1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(has_repeat, value, -np.inf)


def p_alive(fit_or_params: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """P(alive at T | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)); 1 when x == 0."""
    params = _bgnbd_params(fit_or_params)
    x, t_x, T = _bgnbd_data(x, t_x, T)
    return special.expit(-_log_alive_odds_inverse(params, x, t_x, T))


def _hyp2f1_series(A: float, B: float, C: np.ndarray, z: np.ndarray, max_terms: int = 100_000) -> np.ndarray:
    """Gauss series sum_k (A)_k (B)_k / ((C)_k k!) z^k for 0 <= z < 1, summed term by term (a fallback for the
    rare arguments where scipy.special.hyp2f1 overflows). NaN where it has not converged after max_terms."""
    C = np.asarray(C, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    term = np.ones_like(z)
    total = np.ones_like(z)
    active = np.ones(z.shape, dtype=bool)
    for k in range(max_terms):
        term = np.where(active, term * (A + k) * (B + k) / ((C + k) * (k + 1.0)) * z, 0.0)
        total = total + term
        active &= np.abs(term) > 1e-17 * np.abs(total)
        if not active.any():
            break
    return np.where(active | ~np.isfinite(total), np.nan, total)


def _bracket_term(r: float, alpha: float, a: float, b: float, t: np.ndarray, x: np.ndarray,
                  T: np.ndarray) -> np.ndarray:
    """(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)], z = t/(alpha+T+t).

    The bracket of eq. (10) (and of eq. (7) with x = 0, T = 0). It is evaluated after Euler's transformation
    2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z), which turns it into the identical

        (a+b+x-1)/(a-1) * [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)],

    with the same argument z in [0, 1). The literal form multiplies a vanishing (1-z)^(r+x) by a 2F1 that
    overflows for large x and t (scipy returns inf/NaN, e.g. x = 300, t = 10 years); the transformed 2F1 has
    small upper parameters and stays finite (checked against mpmath at 40 digits on 3,000 random cases with
    r in [0.05, 10], alpha in [0.1, 1000], a in [0.05, 5], b in [0.05, 50], x < 500, T and t up to 10 years:
    largest relative error 6e-11). Where scipy still fails (it does for large a+b+x-1 with z close to 1, e.g.
    t of a century) the transformed series is summed directly (:func:`_hyp2f1_series`), then the literal form
    is tried; NaN if everything fails.
    """
    log_one_minus_z = -np.log1p(t / (alpha + T))          # log(1 - z) = log((alpha+T)/(alpha+T+t))
    z = t / (alpha + T + t)
    c = a + b + x - 1.0
    with np.errstate(all="ignore"):
        euler = 1.0 - np.exp((a - 1.0) * log_one_minus_z) * special.hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        literal = 1.0 - np.exp((r + x) * log_one_minus_z + np.log(special.hyp2f1(r + x, b + x, c, z)))
        failed = ~np.isfinite(euler)
        if np.any(failed):
            series = np.full_like(euler, np.nan)
            series[failed] = 1.0 - np.exp((a - 1.0) * log_one_minus_z[failed]) * _hyp2f1_series(
                a + b - 1.0 - r, a - 1.0, c[failed], z[failed])
            euler = np.where(failed, series, euler)
        inner = np.where(np.isfinite(euler), euler, np.where(np.isfinite(literal), literal, np.nan))
    return c / (a - 1.0) * inner


def _distinct_bracket(params: tuple[float, float, float, float], t: np.ndarray, x: np.ndarray,
                      T: np.ndarray) -> np.ndarray:
    """:func:`_bracket_term` for every customer, evaluated once per distinct (x, T, t): the hypergeometric
    function is the costly part of every prediction and depends on nothing else (the same values, bit for
    bit, as evaluating it customer by customer)."""
    r, alpha, a, b = params
    (t_d, x_d, T_d), _, inverse = _distinct_rows(t, x, T)
    return _bracket_term(r, alpha, a, b, t_d, x_d, T_d)[inverse]


def probability_no_purchase(fit_or_params: Any, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """P(Y(t) = 0 | x, t_x, T): probability of no purchase in (T, T+t].

        P = 1 - P(alive) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)]

    A customer buys nothing in the window if she is already inactive at T, or if she is active and her Poisson
    process has no event in it (in the BG/NBD dropout only happens right after a purchase); given active at T,
    lambda ~ Gamma(r+x, alpha+T), so E[exp(-lambda t)] = ((alpha+T)/(alpha+T+t))^(r+x). Unlike 1 - P(alive),
    this is a calibrated probability of "no purchase in the next t" and ranks customers with x == 0 (P(alive)
    = 1 by construction) by how long they have been silent.
    """
    params = _bgnbd_params(fit_or_params)
    r, alpha, _, _ = params
    x, t_x, T = _bgnbd_data(x, t_x, T)
    t = np.broadcast_to(_float_array(t, "t"), x.shape).astype(np.float64)
    if np.any(t < 0):
        raise ValueError("t: must be non-negative")
    alive = special.expit(-_log_alive_odds_inverse(params, x, t_x, T))
    buys_if_alive = -np.expm1(-(r + x) * np.log1p(t / (alpha + T)))
    return np.clip(1.0 - alive * buys_if_alive, 0.0, 1.0)


def _refuse_a_of_one(params: Sequence[float]) -> None:
    if params[2] == 1.0:
        raise ValueError("expected_purchases: a == 1 is a removable singularity of eq. (10); perturb a")


def expected_purchases(fit_or_params: Any, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """Conditional expectation E[Y(t) | x, t_x, T]: purchases in (T, T+t] (paper eq. 10).

        E = (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
            / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))

    The hypergeometric argument z = t/(alpha+T+t) is in [0, 1); see :func:`_bracket_term` for how the bracket
    is evaluated stably. ``t`` is in the same time unit as the data (a scalar or one value per customer).
    a == 1 is a removable singularity of the formula and raises ValueError (a fit never lands exactly on it).
    """
    params = _bgnbd_params(fit_or_params)
    r, alpha, a, b = params
    x, t_x, T = _bgnbd_data(x, t_x, T)
    t = np.broadcast_to(_float_array(t, "t"), x.shape).astype(np.float64)
    if np.any(t < 0):
        raise ValueError("t: must be non-negative")
    _refuse_a_of_one(params)
    value = _distinct_bracket(params, t, x, T) * special.expit(-_log_alive_odds_inverse(params, x, t_x, T))
    return np.where(t == 0, 0.0, np.maximum(value, 0.0))


def expected_purchases_new_customer(fit_or_params: Any, t: Any) -> np.ndarray:
    """Unconditional E[X(t)]: repeat purchases in (0, t] of a customer acquired at time 0 (paper eq. 7):

        E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]

    (eq. 10's bracket with x = 0, T = 0, evaluated the same way).
    """
    r, alpha, a, b = _bgnbd_params(fit_or_params)
    t = _float_array(t, "t")
    if np.any(t < 0):
        raise ValueError("t: must be non-negative")
    if a == 1.0:
        raise ValueError("expected_purchases_new_customer: a == 1 is a removable singularity of eq. (7)")
    zeros = np.zeros_like(t)
    value = _bracket_term(r, alpha, a, b, t, zeros, zeros)
    return np.where(t == 0, 0.0, np.maximum(value, 0.0))


# --------------------------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GammaGammaFit:
    """A fitted Gamma-Gamma model of the mean value of repeat transactions (``gamma`` is in money units)."""

    p: float
    q: float
    gamma: float
    std_errors: dict = field(default_factory=dict)
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = False

    def params(self) -> tuple[float, float, float]:
        return (self.p, self.q, self.gamma)

    @property
    def population_mean(self) -> float:
        """E[M] = p gamma / (q - 1) for a customer with no repeat purchase (infinite when q <= 1)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")


def _gg_params(gg: Any) -> tuple[float, float, float]:
    if isinstance(gg, GammaGammaFit):
        values = gg.params()
    elif isinstance(gg, Mapping):
        try:
            values = tuple(gg[k] for k in GAMMA_GAMMA_PARAMETERS)
        except KeyError as error:
            raise ValueError(f"Gamma-Gamma parameters: missing {error}; "
                             f"expected keys {GAMMA_GAMMA_PARAMETERS}") from None
    else:
        values = tuple(np.asarray(gg, dtype=np.float64).ravel())
        if len(values) != 3:
            raise ValueError("Gamma-Gamma parameters: expected (p, q, gamma)")
    values = tuple(float(v) for v in values)
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"Gamma-Gamma parameters must be positive and finite, got {values}")
    return values  # type: ignore[return-value]


def _gg_data(x: Any, mean_value: Any) -> tuple[np.ndarray, np.ndarray]:
    x, m = np.broadcast_arrays(_float_array(x, "x"), _float_array(mean_value, "mean_value"))
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("x: must be non-negative whole numbers (repeat purchase counts)")
    if np.any(m < 0):
        raise ValueError("mean_value: must be non-negative")
    return np.array(x, dtype=np.float64), np.array(m, dtype=np.float64)


def gamma_gamma_log_likelihood(params: Any, x: Any, mean_value: Any) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of the observed mean repeat value mbar (x >= 1, mbar > 0):

        log f(mbar | p, q, gamma, x) = lgamma(px+q) - lgamma(px) - lgamma(q) + q log(gamma)
                                       + (px-1) log(mbar) + px log(x) - (px+q) log(gamma + x mbar)

    (Fader & Hardie 2013; the density of the mean of x Gamma(p, nu) values, nu ~ Gamma(q, gamma)).
    """
    p, q, g = _gg_params(params)
    x, m = _gg_data(x, mean_value)
    if np.any(x < 1) or np.any(m <= 0):
        raise ValueError("gamma_gamma_log_likelihood: needs x >= 1 and mean_value > 0 for every customer")
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * math.log(g)
            + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + x * m))


def _gg_gradient(params, x, m) -> np.ndarray:
    p, q, g = params
    px = p * x
    psi = special.digamma
    log_gxm = np.log(g + x * m)
    d_p = x * (psi(px + q) - psi(px) + np.log(m) + np.log(x) - log_gxm)
    d_q = psi(px + q) - psi(q) + math.log(g) - log_gxm
    d_g = q / g - (px + q) / (g + x * m)
    return np.array([d_p.sum(), d_q.sum(), d_g.sum()], dtype=np.float64)


class _GammaGammaLikelihood:
    """The TOTAL Gamma-Gamma log-likelihood and its gradient: the sums of :func:`gamma_gamma_log_likelihood`
    and :func:`_gg_gradient` regrouped so that the special functions run once per distinct x and the terms in
    log(mbar), which do not depend on the parameters, are summed once. Per customer only log(gamma + x mbar)
    is left to evaluate."""

    def __init__(self, x: np.ndarray, m: np.ndarray):
        self.x, self.m = x, m
        self.x_values, x_index = np.unique(x, return_inverse=True)
        self.customers_by_x = np.bincount(x_index, minlength=self.x_values.size).astype(np.float64)
        self.n = float(x.size)
        log_m = np.log(m)
        self.sum_log_m, self.sum_x_log_m = math.fsum(log_m), math.fsum(x * log_m)

    def value_and_gradient(self, params: tuple[float, float, float]) -> tuple[float, np.ndarray]:
        p, q, g = params
        gl, psi = special.gammaln, special.digamma
        xv, nx = self.x_values, self.customers_by_x
        pxv = p * xv
        log_gxm = np.log(g + self.x * self.m)
        px_q = p * self.x + q
        value = (_dot(nx, gl(pxv + q) - gl(pxv) + pxv * np.log(xv))
                 + self.n * (q * math.log(g) - gl(q)) + p * self.sum_x_log_m - self.sum_log_m
                 - _dot(px_q, log_gxm))
        d_p = (_dot(nx, xv * (psi(pxv + q) - psi(pxv) + np.log(xv))) + self.sum_x_log_m
               - _dot(self.x, log_gxm))
        d_q = _dot(nx, psi(pxv + q)) + self.n * (math.log(g) - psi(q)) - float(log_gxm.sum())
        d_g = self.n * q / g - float(np.sum(px_q / (g + self.x * self.m)))
        return float(value), np.array([d_p, d_q, d_g], dtype=np.float64)


@_single_threaded
def fit_gamma_gamma(x: Any, mean_value: Any, initial: Any = None) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on the customers with x >= 1 and mean_value > 0 (others ignored).

    Same optimiser and standard errors as :func:`fit_bgnbd`. Default start: p = 1, q = 2,
    gamma = median(mean_value) (a money-scale value, so the start is unit-free).
    """
    x, m = _gg_data(x, mean_value)
    keep = (x >= 1) & (m > 0)
    x, m = x[keep], m[keep]
    n = x.size
    if n < 2:
        raise ValueError("fit_gamma_gamma: fewer than two customers with a repeat purchase and a positive value")
    order = np.lexsort((m, x))
    x, m = x[order], m[order]
    start = (np.array([1.0, 2.0, float(np.median(m))]) if initial is None
             else np.array(_gg_params(initial), dtype=np.float64))

    likelihood = _GammaGammaLikelihood(x, m)

    def neg(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = likelihood.value_and_gradient(tuple(float(v) for v in theta))
        return -value / n, -gradient / n

    theta, converged, _ = _maximise(neg, start)
    params = tuple(float(v) for v in theta)
    ll = likelihood.value_and_gradient(params)[0]
    se = _standard_errors(lambda th: -likelihood.value_and_gradient(tuple(th))[1], theta, GAMMA_GAMMA_PARAMETERS)
    return GammaGammaFit(p=params[0], q=params[1], gamma=params[2], std_errors=se, log_likelihood=ll,
                         n_customers=int(n), converged=converged)


def expected_order_value(gg: Any, x: Any, mean_value: Any) -> np.ndarray:
    """E[M | x, mbar] = (p (gamma + x mbar)) / (p x + q - 1)
                     = w * p gamma/(q-1) + (1-w) * mbar,  w = (q-1)/(p x + q - 1).

    A weighted average of the population mean p gamma/(q-1) and the customer's own mean, shrinking towards the
    population mean when x is small. For x == 0 it is the population mean (``mean_value`` is ignored); that
    mean is infinite when q <= 1, and the function then returns NaN for those customers.
    """
    p, q, g = _gg_params(gg)
    x, m = _gg_data(x, mean_value)
    m = np.where(x == 0, 0.0, m)
    denominator = p * x + q - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = p * (g + x * m) / denominator
    return np.where(denominator > 0, value, np.nan)


# --------------------------------------------------------------------------------------------------------------
# Customer lifetime value and churn
# --------------------------------------------------------------------------------------------------------------

def customer_lifetime_value(bg: Any, gg: Any, x: Any, t_x: Any, T: Any, mean_value: Any, horizon_days: float = 365,
                            margin_rate: float = 1.0, annual_discount_rate: float = 0.0,
                            period_days: float = 30.4375, time_unit_days: float = 1.0) -> np.ndarray:
    """Discounted expected margin over the next ``horizon_days`` days, per customer.

        CLV = sum_{i=1..n} (E[Y(t_i)] - E[Y(t_{i-1})]) * E[M | x, mbar] * margin_rate / (1 + d)^(t_i / 365.25)

    with n = ceil(horizon_days / period_days), t_0 = 0, t_i = min(i * period_days, horizon_days) days (the last
    period is cut at the horizon, so the horizon is exact), E[Y(t)] the BG/NBD conditional expectation
    (:func:`expected_purchases`, purchases in (T, T + t]), E[M] the Gamma-Gamma expected order value
    (:func:`expected_order_value`), d the annual discount rate. Each period's purchases are discounted from the
    END of the period (a conservative convention). ``x, t_x, T`` and the BG/NBD's alpha are in units of
    ``time_unit_days`` days; ``horizon_days`` and ``period_days`` are always in days.
    """
    for name, value in (("horizon_days", horizon_days), ("period_days", period_days),
                        ("time_unit_days", time_unit_days)):
        if not (math.isfinite(float(value)) and float(value) > 0):
            raise ValueError(f"{name}: must be positive, got {value!r}")
    if not (math.isfinite(float(annual_discount_rate)) and float(annual_discount_rate) > -1):
        raise ValueError(f"annual_discount_rate: must be > -1, got {annual_discount_rate!r}")
    if not math.isfinite(float(margin_rate)):
        raise ValueError(f"margin_rate: must be finite, got {margin_rate!r}")
    x, t_x, T = _bgnbd_data(x, t_x, T)
    value = expected_order_value(gg, x, np.broadcast_to(_float_array(mean_value, "mean_value"), x.shape))
    n_periods = max(1, math.ceil(float(horizon_days) / float(period_days) - 1e-12))
    ends = np.minimum(np.arange(1, n_periods + 1) * float(period_days), float(horizon_days))
    params = _bgnbd_params(bg)
    _refuse_a_of_one(params)
    # expected_purchases period by period, with P(alive) and the distinct (x, T) found once for all periods.
    alive = special.expit(-_log_alive_odds_inverse(params, x, t_x, T))
    (x_d, T_d), _, inverse = _distinct_rows(x, T)
    total = np.zeros_like(x)
    previous = np.zeros_like(x)
    for end in ends:
        t = np.full_like(x_d, end / float(time_unit_days))
        cumulative = np.maximum(_bracket_term(*params, t, x_d, T_d)[inverse] * alive, 0.0)
        discount = (1.0 + float(annual_discount_rate)) ** (end / DAYS_PER_YEAR)
        total = total + (cumulative - previous) / discount
        previous = cumulative
    return total * value * float(margin_rate)


def churn_band(p_alive: Any, high_below: float = 0.3, low_from: float = 0.7) -> np.ndarray:
    """Churn-risk band from P(alive): 'high' when p < high_below, 'low' when p >= low_from, else 'medium'.

    So p == high_below is 'medium' and p == low_from is 'low'. NaN or values outside [0, 1] raise ValueError.
    """
    if not (0.0 <= high_below <= low_from <= 1.0):
        raise ValueError(f"churn_band: need 0 <= high_below <= low_from <= 1, got {high_below}, {low_from}")
    p = np.asarray(p_alive, dtype=np.float64).reshape(-1)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("churn_band: p_alive must be probabilities in [0, 1] (no NaN)")
    # Band codes 0 = high, 1 = medium, 2 = low, read from one array of the three texts.
    code = np.where(p < high_below, 0, np.where(p >= low_from, 2, 1))
    return np.array(["high", "medium", "low"], dtype=object)[code]


# --------------------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------------------

def holdout_table(summary_with_predictions: pd.DataFrame, max_group: int = 7) -> pd.DataFrame:
    """Actual vs predicted holdout purchases by calibration frequency (the paper's Figure 4 layout).

    Input columns: x, holdout_purchases, predicted_holdout_purchases. One row per frequency group PRESENT in the
    data, labelled '0', '1', ..., str(max_group - 1), f'{max_group}+', in order of ``frequency_group_order``
    (= min(x, max_group)). Columns: frequency_group, frequency_group_order, customers, actual_mean,
    predicted_mean, actual_total, predicted_total, absolute_error (= |predicted_mean - actual_mean|), and
    mean_absolute_error (the customer-weighted mean of absolute_error over all groups, repeated on every row).
    """
    _require_columns(summary_with_predictions, ["x", "holdout_purchases", "predicted_holdout_purchases"],
                     "holdout_table")
    if int(max_group) < 1:
        raise ValueError("holdout_table: max_group must be >= 1")
    frame = summary_with_predictions[["x", "holdout_purchases", "predicted_holdout_purchases"]].astype(np.float64)
    if not np.all(np.isfinite(frame.to_numpy())):
        raise ValueError("holdout_table: NaN or infinite values in x, holdout_purchases or predictions")
    group = np.minimum(frame["x"].to_numpy(), int(max_group)).astype(np.int64)
    frame = frame.assign(frequency_group_order=group)
    table = (frame.groupby("frequency_group_order", sort=True)
             .agg(customers=("x", "size"), actual_total=("holdout_purchases", "sum"),
                  predicted_total=("predicted_holdout_purchases", "sum"))
             .reset_index())
    table["actual_mean"] = table["actual_total"] / table["customers"]
    table["predicted_mean"] = table["predicted_total"] / table["customers"]
    table["absolute_error"] = (table["predicted_mean"] - table["actual_mean"]).abs()
    table["frequency_group"] = [f"{g}+" if g == int(max_group) else str(g) for g in table["frequency_group_order"]]
    weights = table["customers"].to_numpy(dtype=np.float64)
    table["mean_absolute_error"] = (float(np.sum(weights * table["absolute_error"].to_numpy()) / weights.sum())
                                    if weights.sum() > 0 else float("nan"))
    table["customers"] = table["customers"].astype(np.int64)
    return table[["frequency_group", "frequency_group_order", "customers", "actual_mean", "predicted_mean",
                  "actual_total", "predicted_total", "absolute_error", "mean_absolute_error"]]


def _binary_labels(label: Any, n: int) -> np.ndarray:
    y = np.asarray(label).reshape(-1)
    if y.size != n:
        raise ValueError(f"label: length {y.size} does not match the scores' length {n}")
    try:
        y = y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError("label: must be 0/1 or boolean") from None
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("label: must be 0/1 or boolean (no NaN)")
    return y.astype(np.int64)


def auc(score: Any, label: Any) -> float:
    """Area under the ROC curve, rank-based (Mann-Whitney U / (n1 n0)), ties in the score get average ranks
    (so a tied positive-negative pair counts 1/2). NaN when either class is missing."""
    s = _float_array(score, "score")
    y = _binary_labels(label, s.size)
    n1 = int(y.sum())
    n0 = int(y.size - n1)
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(s, method="average")
    u = float(ranks[y == 1].sum()) - n1 * (n1 + 1) / 2.0
    return u / (n1 * n0)


def calibration_by_decile(prob: Any, label: Any, key: Any = None, n_bins: int = 10) -> pd.DataFrame:
    """Reliability table: customers in ``n_bins`` equal-count bins of predicted probability.

    Customers are sorted by ``prob`` and then by ``key`` (e.g. the customer ids: ties in the probability are
    then broken the same way whatever the input order; without a key ties keep the input order); the k-th of
    n sorted customers (0-based) goes to bin floor(k * n_bins / n) + 1, so bins differ in size by at most one
    and bin 1 holds the lowest probabilities. Columns: decile, customers, mean_predicted, observed_rate,
    min_predicted, max_predicted; only non-empty bins are listed (fewer than n_bins customers -> fewer rows).
    """
    prob = _float_array(prob, "prob")
    if np.any((prob < 0) | (prob > 1)):
        raise ValueError("prob: must be probabilities in [0, 1]")
    y = _binary_labels(label, prob.size)
    n = prob.size
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    if key is None:
        order = np.argsort(prob, kind="stable")
    else:
        keys = np.asarray(key).reshape(-1)
        if keys.size != n:
            raise ValueError(f"key: length {keys.size} does not match prob's length {n}")
        if keys.dtype.kind in "biu":
            # Integer keys: strictly increasing keys (the usual, id-sorted input) are unique; otherwise
            # duplicates are neighbours once sorted. numpy's stable lexsort (last key primary) gives pandas'
            # stable (prob, key) order.
            if not np.all(keys[1:] > keys[:-1]):
                sorted_keys = np.sort(keys)
                if np.any(sorted_keys[1:] == sorted_keys[:-1]):
                    raise ValueError("key: must be unique (it breaks ties in the probability)")
            order = np.lexsort((keys, prob))
        else:
            if pd.Series(keys).duplicated().any():
                raise ValueError("key: must be unique (it breaks ties in the probability)")
            frame = pd.DataFrame({"prob": prob, "key": keys, "pos": np.arange(n)})
            order = frame.sort_values(["prob", "key"], kind="mergesort")["pos"].to_numpy()
    bins = np.empty(n, dtype=np.int64)
    bins[order] = np.arange(n) * int(n_bins) // max(n, 1) + 1
    table = (pd.DataFrame({"decile": bins, "prob": prob, "label": y})
             .groupby("decile", sort=True)
             .agg(customers=("prob", "size"), mean_predicted=("prob", "mean"), observed_rate=("label", "mean"),
                  min_predicted=("prob", "min"), max_predicted=("prob", "max"))
             .reset_index())
    table["customers"] = table["customers"].astype(np.int64)
    table["observed_rate"] = table["observed_rate"].astype(np.float64)
    return table


def _fold_of(customer_ids: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Deterministic fold per customer: order customers by a keyed hash (BLAKE2b of f'{seed}:{id}', ties by id)
    and deal them round-robin into ``folds`` folds. Depends only on the set of ids and the seed, never on the
    input order or the labels, and gives folds whose sizes differ by at most one."""
    ids = np.asarray(customer_ids)
    # Integer ids (millions of them) are formatted from Python ints, which print them as numpy's own integers do.
    values = ids.tolist() if np.issubdtype(ids.dtype, np.integer) else customer_ids
    digests = blake2b_64((f"{cid}" for cid in values), prefix=f"{seed}:".encode())
    return deal_folds({"digest": digests, "cid": customer_ids}, folds)


@_single_threaded
def cross_fitted_logistic_churn(features: pd.DataFrame, label: Any, folds: int = 5, seed: int = 42,
                                id_col: str = "customer_id",
                                feature_cols: Sequence[str] = ("recency", "frequency", "monetary"),
                                C: float = 1.0) -> np.ndarray:
    """Out-of-fold P(label = 1) from a logistic regression on standardised log1p(recency, frequency, monetary).

    ``features`` has one row per customer with ``id_col`` and the (non-negative) ``feature_cols``; ``label`` is
    0/1 aligned with its rows (or the name of a column of ``features``). Customers are dealt into ``folds``
    folds by a keyed hash of their id (:func:`_fold_of`); each fold is scored by a model (StandardScaler +
    sklearn LogisticRegression, lbfgs, L2 with ``C``) fitted on the OTHER folds only, the scaler included, so
    no customer's label or features reach the model that scores it. Training rows are sorted by customer id, so
    the output (aligned with the input rows) does not depend on the row order. A training set with a single
    class predicts its constant rate.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _require_columns(features, [id_col, *feature_cols], "cross_fitted_logistic_churn")
    if isinstance(label, str):
        _require_columns(features, [label], "cross_fitted_logistic_churn")
        label = features[label].to_numpy()
    n = len(features)
    y = _binary_labels(label, n)
    if int(folds) < 2:
        raise ValueError("folds must be >= 2")
    if n < int(folds):
        raise ValueError(f"cross_fitted_logistic_churn: {n} customers is fewer than folds={folds}")
    ids = features[id_col].to_numpy()
    if pd.isna(features[id_col]).any() or features[id_col].duplicated().any():
        raise ValueError(f"cross_fitted_logistic_churn: {id_col!r} must be unique and not missing")
    raw = features[list(feature_cols)].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(raw)) or np.any(raw < 0):
        raise ValueError("cross_fitted_logistic_churn: features must be finite and non-negative (log1p is applied)")
    design = np.log1p(raw)
    fold = _fold_of(ids, int(folds), int(seed))
    if ids.dtype.kind in "iu":
        # Integer ids: numpy's stable argsort is pandas' mergesort order, without building a frame.
        by_id = np.argsort(ids, kind="stable")
    else:
        by_id = pd.DataFrame({"cid": ids, "pos": np.arange(n)}).sort_values("cid", kind="mergesort")["pos"].to_numpy()
    fold_by_id = fold[by_id]
    prediction = np.full(n, np.nan, dtype=np.float64)
    for k in range(int(folds)):
        test = by_id[fold_by_id == k]
        train = by_id[fold_by_id != k]
        if test.size == 0:
            continue
        y_train = y[train]
        if y_train.min() == y_train.max():
            prediction[test] = float(y_train[0])
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(C=float(C), solver="lbfgs", max_iter=1000))
        model.fit(design[train], y_train)
        prediction[test] = model.predict_proba(design[test])[:, 1]
    return prediction
