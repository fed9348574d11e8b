"""Uplift modelling on a randomised campaign: cross-fitted per-customer uplift, Qini / uplift curves, targeting.

Plain functions on numpy / pandas: no I/O, no project imports, deterministic. dbt Python models add `scripts/` to
`sys.path` and call:

    import uplift_model as um
    scored = um.cross_fitted_uplift(frame, features=["recency_days", "frequency", "monetary", "segment"],
                                    treatment_col="treated", outcome_col="converted",
                                    categorical=["segment"], method="t_learner")      # or "class_transformation"
    data = frame.sort_values("customer_id")                       # same order as `scored`
    curve = um.qini_curve(scored.predicted_uplift, data.treated, data.converted)
    um.qini_coefficient(curve)            # qini_area, random_area, perfect_area, qini_coefficient, auuc, ...
    um.targeting_table(scored.predicted_uplift, data.treated, data.converted, data.revenue,
                       margin_rate=0.4, contact_cost=0.5)
    um.uplift_rank_correlation(scored.predicted_uplift, true_effect)   # closed-loop simulation only
    um.skip_reason(ids, treated, folds=5, seed=42)   # None, or why a comparison is not modelled (every mart)
    rank, decile = um.uplift_ranks(scored.predicted_uplift)           # 1 = highest, ties in input (id) order

`cross_fitted_uplift` returns its rows sorted by the id column; the curve and table functions take arrays
aligned with each other BY POSITION (pandas indexes are ignored): align them with the scored frame, by sorting on
the id or merging on it, before calling.

Everything here relies on the campaign having been RANDOMISED: treatment assigned independently of the features
and the potential outcomes, with the same treatment share for everyone. Under that assumption the difference
between treated and control outcomes within any group chosen from the features (or from a score computed from the
features only, by models that never saw the group's own outcomes) estimates the causal effect in that group
without bias. On observational data none of this is causal.

Cross-fitting (`cross_fitted_uplift`)
-------------------------------------
1. Rows are sorted by the id first; the input row order never matters.
2. Folds: customers are stratified by treatment arm and, within each arm, ordered by a keyed hash of their id
   (BLAKE2b-64 keyed with the seed, of the id as text; an integral float id is written as an integer) with the id
   breaking (practically impossible) hash ties; the controls then the treated, in that order, are dealt
   round-robin into `folds` folds. So a fold depends only on the id, the arm and the seed (never on outcomes or
   the row order), fold sizes differ by at most one, and so do the per-arm sizes. Every fold must hold at least
   one treated and one control customer (else ValueError): then every training set has both arms.
3. Each customer is scored only by models fitted on the OTHER folds (the categorical encoding included), so its
   own outcome never reaches the model that scores it.
4. Features: numeric columns as float64 (NaN allowed: the gradient boosting handles missing values natively;
   +-inf refused; Decimal values as DuckDB returns them are accepted). Categorical columns are one-hot encoded
   with the categories seen in the training folds, compared as text (`str(value)`) and in sorted order; a
   category unseen in training, and a missing value, get all-zero indicators.
5. Models (scikit-learn HistGradientBoosting, parameters in `HGB_PARAMS`: 100 iterations, learning rate 0.05,
   at most 7 leaves per tree, at least 100 customers per leaf, L2 1.0, 255 bins, no early stopping, so no random
   validation split; `random_state=seed`). These are more regularised than sklearn's defaults (0.1, 31 leaves,
   20 per leaf): uplift is a small difference between two noisy predictions, and on the simulated campaign of
   the tests the rank correlation with the true effect went from ~0.58 (defaults) to ~0.74 at 20 000
   customers. Fits run with BLAS / OpenMP pinned to one thread (threadpoolctl) so that no result can depend on
   the machine's thread count (with scikit-learn 1.9 the results were identical with 1 and 2 threads; the pin
   guards against parallel reductions, at the cost of using one core). Gradient boosting rather than logistic /
   linear models because uplift is usually an interaction (an effect only in some segment, growing with a
   feature) that a per-arm linear model does not represent; the histogram version rather than
   `GradientBoostingClassifier` for speed: 100 000 customers x 10 features (2 categorical) x 5 folds take about
   8 s with "t_learner" (10 fits) and 5 s with "class_transformation" (5 fits) on one thread.

   * method "t_learner" (two models): one model on the treated, one on the controls of the training folds;
     binary 0/1 outcomes use `HistGradientBoostingClassifier` (log loss, predicted probability), other outcomes
     (amounts) `HistGradientBoostingRegressor` (squared error). `outcome_type` forces "binary" or "amount"
     instead of the automatic choice. An arm whose training outcomes are all equal predicts that constant.
     predicted_uplift = predicted_outcome_treated - predicted_outcome_control.
   * method "class_transformation" (one model, Jaskowski & Jaroszewicz 2012). Their form, for a binary outcome
     and a 50/50 split, models z = y t + (1 - y)(1 - t) and uses uplift(x) = 2 P(z = 1 | x) - 1. Here the
     transformed-outcome REGRESSION form is used instead: y* = y (t - p) / (p (1 - p)), with p the treatment
     share of the training folds, and a `HistGradientBoostingRegressor` (squared error) fitted on y*; its
     prediction is the uplift. Under randomisation E[y* | x] = E[y | x, t=1] - E[y | x, t=0] for ANY p and any
     outcome (amounts too), whereas z is only right for p = 1/2 (with p = 1/2 and binary y, 2 z - 1 and y*
     differ by 1 - 2t, which has mean zero, so both estimate the same thing). The method does not model the
     outcome levels: predicted_outcome_treated and predicted_outcome_control are NaN for it. y* is noisy
     (values 0, 1/p, -1/(1-p) for a conversion), so this method needs more data than the T-learner for the same
     ranking quality.
6. Rounding: predictions are rounded to 10 significant digits (`SIGNIFICANT_DIGITS`), and the uplift is the
   rounded difference of the rounded arm predictions, so a rebuild is byte-identical and rankings do not hinge on
   last-bit noise.

Qini and uplift curves (`qini_curve`, `qini_coefficient`)
---------------------------------------------------------
Customers are sorted by predicted uplift, highest first. Customers with EQUAL scores form one block: the curve
has a point only after each complete block (ties are never broken by row order; the straight segment across a
block approximates the expected curve under a random order within the block). At a cut with n customers, of which N_t(n)
treated with outcome sum Y_t(n) and N_c(n) controls with outcome sum Y_c(n):

    qini(n)         = Y_t(n) - Y_c(n) * N_t(n) / N_c(n)                       (Radcliffe 2007)
    uplift_curve(n) = (Y_t(n) / N_t(n) - Y_c(n) / N_c(n)) * n                 (per-arm rate difference times n)
    random_qini(n)  = qini(N) * n / N                                          (random targeting: the diagonal)

A ratio whose denominator is 0 (no control, or no treated, yet in the cut) counts as 0, as in scikit-uplift; it
only affects the first cuts. `perfect_qini` is the curve of the perfect (oracle) ranking, evaluated at the same
cuts: customers sorted by y for the treated and -y for the controls (treated responders first, control
responders last; the scikit-uplift / Radcliffe optimum), its own tie blocks joined by straight lines.

Areas are trapezoids over share_targeted (0..1), so they are in outcome units (e.g. conversions):
qini_area, random_area = qini(N) / 2, perfect_area, and auuc = area under uplift_curve.

    qini_coefficient = (qini_area - random_area) / (perfect_area - random_area)

i.e. the share of the gain over random targeting that the perfect ranking would achieve (Radcliffe's Q):
0 = no better than random, < 0 worse, 1 = perfect. Normalising by the perfect model rather than by the random
area keeps the coefficient finite and comparable when the overall effect is close to zero (an A/A test, a
segment without effect), where the random area is ~0 and a ratio to it explodes or flips sign. Both areas are
on the curve's own cuts; with a coarse curve (`n_points`, or few tie blocks) the perfect area is that of the
perfect curve sampled at those cuts. A curve with no cut between 0 and 100 % (all scores equal) has coefficient
0; if the perfect curve is not above the random line (e.g. no outcome at all), it is NaN.

Targeting table (`targeting_table`)
-----------------------------------
For each share s the group G = the top round(s N) customers (rounded half up) by predicted uplift, extended to
the end of the tie block at the cut (so `customers` can exceed s N when scores tie). Within G, the randomised
treated and control customers give the incremental effect of contacting G:

    incremental_conversions = (mean conversion of treated in G - mean conversion of controls in G) * |G|
    incremental_revenue     = (mean revenue of treated in G - mean revenue of controls in G) * |G|
    incremental_margin      = same with revenue * margin_rate (margin_rate a scalar or one value per customer)
    contact_cost            = |G| * contact_cost;   net_margin = incremental_margin - contact_cost

and random targeting of |G| customers: the overall (all customers) treated-minus-control mean times |G|. These are
unbiased (given the arm sizes in G) only because treatment was randomised: the treated and the controls of G are
then comparable samples of G, and contacting all of G would move its outcome by the treated-minus-control
difference. The scores must not have seen these outcomes (use cross-fitted scores: a customer's own score never
uses its own outcome; the cut itself depends on everyone's scores, a second-order dependence that cross-fitting
does not remove). A group without a treated or without a control customer has NaN estimates.
"""

from __future__ import annotations

import decimal
import functools
import hashlib
import numbers
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from hashed_folds import blake2b_64, deal_folds
from significant_digits import SIGNIFICANT_DIGITS, round_significant

# Fewer treated or control customers than this and an arm comparison is not modelled (see `skip_reason`).
MIN_ARM_CUSTOMERS = 50
METHODS = ("t_learner", "class_transformation")
OUTCOME_TYPES = ("auto", "binary", "amount")
HGB_PARAMS = {
    "max_iter": 100,
    "learning_rate": 0.05,
    "max_leaf_nodes": 7,
    "min_samples_leaf": 100,
    "l2_regularization": 1.0,
    "max_bins": 255,
    "early_stopping": False,
}
DEFAULT_SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

CURVE_COLUMNS = ("share_targeted", "customers_targeted", "treated_targeted", "control_targeted",
                 "treated_outcome", "control_outcome", "qini", "random_qini", "uplift_curve", "perfect_qini")


# ------------------------------------------------------------------------------------------------- helpers


def _integer(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _float_values(values: object, name: str, allow_nan: bool = False) -> np.ndarray:
    """1-d float64 array from numbers (Decimal accepted, booleans read as 0/1); refuses text, inf, and NaN unless
    allowed."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values).ravel())
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        array = series.to_numpy(dtype="float64", na_value=np.nan)
    else:
        def convert(value: object) -> float:
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                return np.nan
            if isinstance(value, (numbers.Real, decimal.Decimal)) and not isinstance(value, str):
                return float(value)
            raise ValueError(f"{name} must be numeric, got {value!r}")
        array = np.array([convert(v) for v in series.tolist()], dtype="float64")
    if np.isinf(array).any():
        raise ValueError(f"{name} has infinite values")
    if not allow_nan and np.isnan(array).any():
        raise ValueError(f"{name} has {int(np.isnan(array).sum())} missing (NaN / null) values")
    return array


def _treatment_values(values: object, name: str = "treatment") -> np.ndarray:
    """0/1 int64 array; booleans accepted; anything else (2, 0.5, NaN, text) refused."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values).ravel())
    try:
        array = _float_values(series, name)
    except ValueError as error:
        raise ValueError(f"{name} must be 0/1: {error}") from None
    bad = ~np.isin(array, (0.0, 1.0))
    if bad.any():
        examples = sorted(set(array[bad].tolist()))[:5]
        raise ValueError(f"{name} must be 0/1 only; found other values {examples}")
    return array.astype("int64")


def _is_binary(y: np.ndarray) -> bool:
    return bool(np.isin(y, (0.0, 1.0)).all())


def _id_text(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (numbers.Integral, np.integer)):
        return str(int(value))
    return str(value)


_LAST_FOLDS: dict = {}


def assign_folds(ids: Sequence, treatment: Sequence, folds: int = 5, seed: int = 42) -> np.ndarray:
    """Fold (0..folds-1) per customer, aligned with `ids`: stratified by arm, keyed-hash order within each arm
    (BLAKE2b-64 keyed with the seed, ties by id), controls then treated dealt round-robin. Depends only on the ids,
    the arms and the seed; never on the row order or the outcomes."""
    folds = _integer("folds", folds, 2)
    t = _treatment_values(treatment)
    # Integer ids (the usual case, millions of them) skip the per-value type checks of _id_text and sort as
    # integers. An integer array is read as it is, without first boxing every id into a Python object.
    values = np.asarray(ids)
    if values.dtype.kind in "iu" and np.can_cast(values.dtype, np.int64):
        integers, cid = True, values.astype(np.int64, copy=False)
    else:
        ids = np.asarray(ids, dtype=object)
        integers = pd.api.types.infer_dtype(ids, skipna=False) == "integer"
        cid = ids.astype(np.int64) if integers else ids
    # skip_reason and cross_fitted_uplift deal the same customers in turn, in any row order: the last integer
    # dealing is kept, keyed by its inputs in (arm, id) order, so millions of ids are hashed once.
    memo_key = None
    if integers:
        canonical = np.lexsort((cid, t))
        memo_key = (hashlib.sha256(cid[canonical].tobytes()).digest(),
                    hashlib.sha256(t[canonical].tobytes()).digest(), folds, int(seed))
        if _LAST_FOLDS.get("key") == memo_key:
            fold = np.empty(len(cid), dtype=np.int64)
            fold[canonical] = _LAST_FOLDS["fold"]
            return fold
    key = str(int(seed)).encode()
    digests = blake2b_64(map(str, cid.tolist()) if integers else map(_id_text, ids), key=key)
    fold = deal_folds({"t": t, "digest": digests, "cid": cid}, folds)
    if memo_key is not None:
        _LAST_FOLDS.update(key=memo_key, fold=fold[canonical])
    return fold


def skip_reason(ids: Sequence, treatment: Sequence, folds: int = 5, seed: int = 42,
                min_arm_customers: int = MIN_ARM_CUSTOMERS) -> str | None:
    """Why an arm comparison is not cross-fitted, or None when it is: fewer than `min_arm_customers` treated or
    control customers, or a fold (of `assign_folds`) without both arms. The one rule every uplift model mart
    applies (the scores leave the comparison out, the evaluation writes this text in its note)."""
    t = _treatment_values(treatment)
    treated, control = int(t.sum()), int(len(t) - t.sum())
    if treated < min_arm_customers or control < min_arm_customers:
        return (f"skipped: {treated} treated and {control} control customers; each arm needs at least "
                f"{min_arm_customers}")
    fold = assign_folds(ids, t, folds, seed)
    for k in range(int(folds)):
        if set(t[fold == k].tolist()) != {0, 1}:
            return f"skipped: fold {k} of {folds} lacks a treated or a control customer"
    return None


def uplift_ranks(predicted_uplift: object) -> tuple[np.ndarray, np.ndarray]:
    """Rank (1 = highest predicted uplift) and decile (1..10) per customer, aligned with the input; tied scores
    keep the input order, so pass the customers sorted by id (as `cross_fitted_uplift` returns them) to break ties
    by id. Decile d holds the ranks ceil((d - 1) N / 10) + 1 .. ceil(d N / 10): sizes differ by at most one."""
    score = _float_values(predicted_uplift, "uplift_ranks: predicted_uplift")
    n = len(score)
    order = np.lexsort((np.arange(n), -score))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    decile = (rank - 1) * 10 // max(n, 1) + 1
    return rank, decile.astype(np.int64)


# ------------------------------------------------------------------------------------------ cross-fitting


def _category_codes(column: pd.Series) -> tuple[list[str], np.ndarray]:
    """The values as text (`str(value)`): their distinct texts sorted, and each row's index in that list (-1 where
    missing). Only the distinct values are turned into text, not every row."""
    raw_codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = [str(value) for value in uniques]
    categories = sorted(set(texts))
    position = {text: i for i, text in enumerate(categories)}
    lookup = np.array([position[text] for text in texts] + [-1], dtype=np.int64)   # raw code -1 -> -1
    return categories, lookup[raw_codes]


def _present(codes: np.ndarray) -> np.ndarray:
    """The category codes that occur (sorted), missing left out."""
    # Counted rather than sorted: the codes are small non-negative integers.
    return np.flatnonzero(np.bincount(codes[codes >= 0]))


def _one_hot(codes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Indicator columns of the category codes in `present`, in that order; a missing code or one not in
    `present` (unseen in training) gives an all-zero row."""
    column_of = np.full(int(max(codes.max(initial=-1), present.max(initial=-1))) + 2, -1, dtype=np.int64)
    column_of[present] = np.arange(len(present))
    columns = column_of[codes]                                     # code -1 reads the last slot: -1
    out = np.zeros((len(codes), len(present)), dtype="float64")
    known = columns >= 0
    out[np.nonzero(known)[0], columns[known]] = 1.0
    return out


def _design(numeric: np.ndarray, codes: list[np.ndarray], rows: np.ndarray, presents: list[np.ndarray]
            ) -> np.ndarray:
    blocks = [numeric[rows]] + [_one_hot(code[rows], present) for code, present in zip(codes, presents)]
    return np.hstack(blocks)


def _fit_predict(design: Callable[[np.ndarray], np.ndarray], train: np.ndarray, y_train: np.ndarray,
                 test: np.ndarray, binary: bool, params: Mapping, seed: int) -> np.ndarray:
    """Predictions for the rows `test` of a HistGradientBoosting model fitted on the rows `train` (outcomes
    `y_train`), `design` giving the feature matrix of given rows. A constant training outcome predicts that
    constant (a classifier cannot be fitted on one class), and no feature matrix is built for it."""
    if np.all(y_train == y_train[0]):
        return np.full(len(test), float(y_train[0]))
    X_train, X_test = design(train), design(test)
    with threadpool_limits(limits=1):
        if binary:
            model = HistGradientBoostingClassifier(**params, random_state=seed, categorical_features=None)
            model.fit(X_train, y_train.astype(np.int64))
            return model.predict_proba(X_test)[:, list(model.classes_).index(1)]
        model = HistGradientBoostingRegressor(**params, random_state=seed, categorical_features=None)
        model.fit(X_train, y_train)
        return model.predict(X_test)


def cross_fitted_uplift(frame: pd.DataFrame, features: list[str], treatment_col: str, outcome_col: str,
                        id_col: str = "customer_id", method: str = "t_learner", folds: int = 5, seed: int = 42,
                        categorical: Sequence[str] = (), outcome_type: str = "auto",
                        params: Mapping | None = None) -> pd.DataFrame:
    """Out-of-fold predicted uplift per customer (see the module docstring, "Cross-fitting").

    Returns one row per customer, sorted by `id_col`: id_col, fold, predicted_outcome_treated,
    predicted_outcome_control, predicted_uplift (the arm predictions are NaN for "class_transformation").
    `params` overrides entries of `HGB_PARAMS` (any HistGradientBoosting argument except random_state and
    categorical_features). ValueError on: a missing column, a duplicated or missing id, a
    treatment other than 0/1, a missing or non-numeric outcome, a non-numeric or infinite numeric feature, a
    fold without treated or without control customers, an unknown method / outcome_type.
    """
    what = "cross_fitted_uplift"
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    if method not in METHODS:
        raise ValueError(f"{what}: method must be one of {METHODS}, got {method!r}")
    if outcome_type not in OUTCOME_TYPES:
        raise ValueError(f"{what}: outcome_type must be one of {OUTCOME_TYPES}, got {outcome_type!r}")
    if isinstance(features, str) or isinstance(categorical, str):
        raise ValueError(f"{what}: features and categorical must be lists of column names, not a string")
    features, categorical = list(features), list(categorical)
    if not features:
        raise ValueError(f"{what}: at least one feature is needed")
    if len(set(features)) != len(features):
        raise ValueError(f"{what}: duplicated feature names {features}")
    clash = {id_col, treatment_col, outcome_col} & set(features)
    if clash:
        raise ValueError(f"{what}: {sorted(clash)} cannot be used as features (id, treatment or outcome column)")
    not_features = [c for c in categorical if c not in features]
    if not_features:
        raise ValueError(f"{what}: categorical column(s) {not_features} are not in features")
    missing = [c for c in [id_col, treatment_col, outcome_col, *features] if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; the frame has {list(frame.columns)}")
    folds = _integer("folds", folds, 2)
    seed = _integer("seed", seed, 0)
    hgb_params = dict(HGB_PARAMS)
    hgb_params.update(params or {})
    fixed = {"random_state", "categorical_features"} & set(hgb_params)
    if fixed:
        raise ValueError(f"{what}: params cannot set {sorted(fixed)} (the seed and the one-hot encoding fix them)")
    if frame[id_col].isna().any():
        raise ValueError(f"{what}: {id_col!r} has missing values")
    if frame[id_col].duplicated().any():
        raise ValueError(f"{what}: {id_col!r} has duplicated values, e.g. "
                         f"{frame[id_col][frame[id_col].duplicated()].iloc[0]!r}")
    n = len(frame)
    if n < 2 * folds:
        raise ValueError(f"{what}: {n} customers is too few for {folds} folds")

    data = frame.sort_values(id_col, kind="mergesort").reset_index(drop=True)
    ids = data[id_col]
    t = _treatment_values(data[treatment_col], f"{what}: treatment column {treatment_col!r}")
    y = _float_values(data[outcome_col], f"{what}: outcome column {outcome_col!r}")
    binary = _is_binary(y) if outcome_type == "auto" else outcome_type == "binary"
    if binary and not _is_binary(y):
        raise ValueError(f"{what}: outcome_type='binary' but {outcome_col!r} has values other than 0/1")
    numeric_cols = [c for c in features if c not in categorical]
    numeric = np.column_stack([_float_values(data[c], f"{what}: feature {c!r}", allow_nan=True)
                               for c in numeric_cols]) if numeric_cols else np.zeros((n, 0))
    codes = [_category_codes(data[c])[1] for c in categorical]

    fold = assign_folds(ids.to_numpy(), t, folds, seed)
    for k in range(folds):
        in_fold = fold == k
        for arm, label in ((1, "treated"), (0, "control")):
            if not np.any(t[in_fold] == arm):
                raise ValueError(f"{what}: fold {k} has no {label} customers ({int((t == arm).sum())} {label} in "
                                 f"all for {folds} folds); every fold needs both arms")

    treated_pred = np.full(n, np.nan)
    control_pred = np.full(n, np.nan)
    uplift = np.full(n, np.nan)
    for k in range(folds):
        test = np.nonzero(fold == k)[0]
        train = np.nonzero(fold != k)[0]
        # The categories seen in training, sorted by their text: one indicator column each.
        presents = [_present(code[train]) for code in codes]
        design = functools.partial(_design, numeric, codes, presents=presents)
        if method == "t_learner":
            for arm, target in ((1, treated_pred), (0, control_pred)):
                rows = train[t[train] == arm]
                target[test] = _fit_predict(design, rows, y[rows], test, binary, hgb_params, seed)
        else:
            p = float(t[train].mean())
            y_star = y[train] * (t[train] - p) / (p * (1.0 - p))
            uplift[test] = _fit_predict(design, train, y_star, test, False, hgb_params, seed)

    if method == "t_learner":
        treated_pred = round_significant(treated_pred)
        control_pred = round_significant(control_pred)
        uplift = round_significant(treated_pred - control_pred)
    else:
        uplift = round_significant(uplift)
    out = pd.DataFrame({id_col: ids.to_numpy(), "fold": fold.astype(np.int64),
                        "predicted_outcome_treated": treated_pred, "predicted_outcome_control": control_pred,
                        "predicted_uplift": uplift})
    out[id_col] = out[id_col].astype(ids.dtype)
    return out


# ------------------------------------------------------------------------------------------------- curves


def _ranked(predicted_uplift: object, treatment: object, outcome: object, what: str
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    score = _float_values(predicted_uplift, f"{what}: predicted_uplift")
    t = _treatment_values(treatment, f"{what}: treatment")
    y = _float_values(outcome, f"{what}: outcome")
    if not (len(score) == len(t) == len(y)):
        raise ValueError(f"{what}: predicted_uplift, treatment and outcome have different lengths "
                         f"({len(score)}, {len(t)}, {len(y)})")
    if len(score) == 0:
        raise ValueError(f"{what}: no customers")
    if t.min() == t.max():
        raise ValueError(f"{what}: both treated and control customers are needed")
    return score, t, y


def _cumulative(score: np.ndarray, t: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Cumulative arm counts and outcome sums after each complete block of tied scores (highest score first),
    preceded by the empty cut. Rows are put in a canonical order (score desc, then arm, then outcome) so that
    float sums do not depend on the input row order."""
    order = np.lexsort((y, t, -score))
    s, ts, ys = score[order], t[order], y[order]
    ends = np.nonzero(np.r_[s[1:] != s[:-1], True])[0]
    n_t = np.cumsum(ts)[ends]
    n = ends + 1
    return {
        "n": np.r_[0, n].astype(np.int64),
        "n_t": np.r_[0, n_t].astype(np.int64),
        "n_c": np.r_[0, n - n_t].astype(np.int64),
        "y_t": np.r_[0.0, np.cumsum(ys * ts)[ends]],
        "y_c": np.r_[0.0, np.cumsum(ys * (1 - ts))[ends]],
    }


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    num = np.asarray(numerator, dtype="float64")
    den = np.asarray(denominator, dtype="float64")
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def _qini_values(c: Mapping[str, np.ndarray]) -> np.ndarray:
    return c["y_t"] - c["y_c"] * _ratio(c["n_t"], c["n_c"])


def qini_curve(predicted_uplift: object, treatment: object, outcome: object, n_points: int | None = None
               ) -> pd.DataFrame:
    """Qini and uplift curves (see the module docstring, "Qini and uplift curves").

    One row per cut, starting with the empty cut (share 0) and ending with everyone (share 1): share_targeted,
    customers_targeted, treated_targeted, control_targeted, treated_outcome, control_outcome, qini, random_qini,
    uplift_curve, perfect_qini. Cuts are at the ends of blocks of tied scores. With `n_points`, only the cuts at
    the first block end reaching ceil(j N / n_points) customers, j = 1..n_points, are kept (duplicates dropped).
    """
    what = "qini_curve"
    score, t, y = _ranked(predicted_uplift, treatment, outcome, what)
    c = _cumulative(score, t, y)
    if n_points is not None:
        n_points = _integer("n_points", n_points, 1)
        total = len(score)
        targets = -(-np.arange(1, n_points + 1) * total // n_points)      # ceil(j N / n_points)
        keep = np.unique(np.r_[0, np.searchsorted(c["n"], targets, side="left")])
        c = {key: value[keep] for key, value in c.items()}
    total = len(score)
    qini = _qini_values(c)
    uplift = (_ratio(c["y_t"], c["n_t"]) - _ratio(c["y_c"], c["n_c"])) * c["n"]

    # Perfect ranking: oracle score y for the treated and -y for the controls, evaluated at the same cuts, with
    # straight lines across its own blocks of ties.
    perfect = _cumulative(y * (2 * t - 1), t, y)
    perfect_qini = np.interp(c["n"], perfect["n"], _qini_values(perfect))

    share = c["n"] / total
    return pd.DataFrame({
        "share_targeted": share,
        "customers_targeted": c["n"],
        "treated_targeted": c["n_t"],
        "control_targeted": c["n_c"],
        "treated_outcome": c["y_t"],
        "control_outcome": c["y_c"],
        "qini": qini,
        "random_qini": share * qini[-1],
        "uplift_curve": uplift,
        "perfect_qini": perfect_qini,
    })


def qini_coefficient(curve: pd.DataFrame) -> dict:
    """Areas under the curves of `qini_curve` (trapezoids over share_targeted) and the normalised coefficient.

    Returns qini_area, random_area, perfect_area, qini_coefficient = (qini_area - random_area) / (perfect_area -
    random_area) (Radcliffe's Q: 0 random, 1 perfect; 0 when the curve has no interior cut, NaN when the perfect
    curve is not above the random line), auuc (area under uplift_curve) and random_auuc (area under the straight
    line to the uplift curve's last point). See the module docstring for why the perfect model normalises.
    """
    if not isinstance(curve, pd.DataFrame):
        raise ValueError(f"qini_coefficient: expected the DataFrame of qini_curve, got {type(curve).__name__}")
    missing = [c for c in ("share_targeted", "qini", "random_qini", "uplift_curve", "perfect_qini")
               if c not in curve.columns]
    if missing:
        raise ValueError(f"qini_coefficient: missing column(s) {missing}; pass the frame qini_curve returns")
    x = curve["share_targeted"].to_numpy(dtype="float64")
    if len(x) < 2 or np.any(np.diff(x) < 0):
        raise ValueError("qini_coefficient: the curve needs at least two rows sorted by share_targeted")

    def area(column: str) -> float:
        return float(np.trapezoid(curve[column].to_numpy(dtype="float64"), x))

    qini_area, random_area, perfect_area = area("qini"), area("random_qini"), area("perfect_qini")
    excess = perfect_area - random_area
    if len(x) == 2:
        coefficient = 0.0
    elif excess > 1e-12 * max(1.0, abs(perfect_area), abs(random_area)):
        coefficient = (qini_area - random_area) / excess
    else:
        coefficient = float("nan")
    uplift_last = float(curve["uplift_curve"].iloc[-1])
    return {
        "qini_area": qini_area,
        "random_area": random_area,
        "perfect_area": perfect_area,
        "qini_coefficient": float(coefficient),
        "auuc": area("uplift_curve"),
        "random_auuc": float(np.trapezoid(x * uplift_last, x)),
    }


# ------------------------------------------------------------------------------------------------ targeting


def evaluation_rows(predicted_uplift: object, treatment: object, outcome: object, keys: Mapping,
                    n_points: int | None, successes: str) -> pd.DataFrame:
    """One comparison's rows of an evaluation mart: the Qini curve (`point` 0..n, with `treated_<successes>` and
    `control_<successes>`), the `keys` columns, the arm sizes, `qini_coefficient`'s metrics on every row,
    `is_skipped` false and a `note` when the coefficient is undefined. Shared by the built-in and imported marts."""
    curve = qini_curve(predicted_uplift, treatment, outcome, n_points=n_points)
    metrics = qini_coefficient(curve)
    table = curve.rename(columns={"treated_outcome": f"treated_{successes}", "control_outcome": f"control_{successes}"})
    table.insert(0, "point", np.arange(len(table), dtype=np.int64))
    for key, value in keys.items():
        table[key] = value
    t = _treatment_values(treatment)
    table["treated_customers"] = int(t.sum())
    table["control_customers"] = int(len(t) - t.sum())
    for key, value in metrics.items():
        table[key] = value
    table["is_skipped"] = False
    table["note"] = (
        None if np.isfinite(metrics["qini_coefficient"])
        else f"qini coefficient undefined: the perfect curve is not above random (e.g. no {successes})"
    )
    return table


def skipped_evaluation_row(treatment: object, keys: Mapping, note: str) -> pd.DataFrame:
    """The one row an evaluation mart keeps for a comparison the model skipped: keys, arm sizes and why."""
    t = _treatment_values(treatment)
    return pd.DataFrame([{**keys, "treated_customers": int(t.sum()), "control_customers": int(len(t) - t.sum()),
                          "is_skipped": True, "note": note}])


def targeting_table(predicted_uplift: object, treatment: object, outcome_conversion: object,
                    outcome_revenue: object, margin_rate: float | object, contact_cost: float,
                    shares: Sequence[float] = DEFAULT_SHARES) -> pd.DataFrame:
    """Expected incremental results of contacting the top share of customers by predicted uplift, against random
    targeting of the same number (see the module docstring, "Targeting table"). One row per share, in the given
    order: share, customers, share_targeted, treated, control, treated_conversion_rate, control_conversion_rate,
    incremental_conversions, incremental_revenue, incremental_margin, contact_cost, net_margin, and
    random_incremental_conversions, random_incremental_revenue, random_incremental_margin, random_contact_cost,
    random_net_margin.
    """
    what = "targeting_table"
    score, t, conversion = _ranked(predicted_uplift, treatment, outcome_conversion, what)
    revenue = _float_values(outcome_revenue, f"{what}: outcome_revenue")
    if len(revenue) != len(score):
        raise ValueError(f"{what}: outcome_revenue has {len(revenue)} values for {len(score)} customers")
    if np.ndim(margin_rate) == 0:
        rate = np.full(len(score), _float_values([margin_rate], f"{what}: margin_rate")[0])
    else:
        rate = _float_values(margin_rate, f"{what}: margin_rate")
        if len(rate) != len(score):
            raise ValueError(f"{what}: margin_rate has {len(rate)} values for {len(score)} customers")
    cost = _float_values([contact_cost], f"{what}: contact_cost")[0]
    if cost < 0:
        raise ValueError(f"{what}: contact_cost must be >= 0, got {contact_cost}")
    if isinstance(shares, (str, bytes)) or np.ndim(shares) != 1 or len(shares) == 0:
        raise ValueError(f"{what}: shares must be a non-empty list of numbers in (0, 1]")
    share_values = _float_values(list(shares), f"{what}: shares")
    if np.any(share_values <= 0) or np.any(share_values > 1):
        raise ValueError(f"{what}: shares must be in (0, 1], got {list(shares)}")

    margin = revenue * rate
    total = len(score)
    # Canonical order: score desc, then arm, conversion, revenue, margin (float sums independent of row order).
    order = np.lexsort((margin, revenue, conversion, t, -score))
    s, ts = score[order], t[order]
    ends = np.nonzero(np.r_[s[1:] != s[:-1], True])[0] + 1            # cut sizes at the end of each tie block
    cum = {"n_t": np.cumsum(ts), "n_c": np.cumsum(1 - ts)}
    for name, values in (("conversion", conversion), ("revenue", revenue), ("margin", margin)):
        v = values[order]
        cum[f"{name}_t"] = np.cumsum(v * ts)
        cum[f"{name}_c"] = np.cumsum(v * (1 - ts))

    def difference(name: str, last: int) -> float:
        n_t, n_c = cum["n_t"][last], cum["n_c"][last]
        if n_t == 0 or n_c == 0:
            return float("nan")
        return float(cum[f"{name}_t"][last] / n_t - cum[f"{name}_c"][last] / n_c)

    overall = {name: difference(name, total - 1) for name in ("conversion", "revenue", "margin")}
    rows = []
    for share in share_values:
        wanted = int(np.floor(share * total + 0.5))
        size = 0 if wanted == 0 else int(ends[np.searchsorted(ends, wanted, side="left")])
        if size == 0:
            n_t = n_c = 0
            effect = {"conversion": 0.0, "revenue": 0.0, "margin": 0.0}
            rates = (float("nan"), float("nan"))
        else:
            last = size - 1
            n_t, n_c = int(cum["n_t"][last]), int(cum["n_c"][last])
            effect = {name: difference(name, last) for name in ("conversion", "revenue", "margin")}
            rates = (cum["conversion_t"][last] / n_t if n_t else float("nan"),
                     cum["conversion_c"][last] / n_c if n_c else float("nan"))
        contact = size * cost
        rows.append({
            "share": float(share),
            "customers": size,
            "share_targeted": size / total,
            "treated": n_t,
            "control": n_c,
            "treated_conversion_rate": float(rates[0]),
            "control_conversion_rate": float(rates[1]),
            "incremental_conversions": effect["conversion"] * size,
            "incremental_revenue": effect["revenue"] * size,
            "incremental_margin": effect["margin"] * size,
            "contact_cost": contact,
            "net_margin": effect["margin"] * size - contact,
            "random_incremental_conversions": overall["conversion"] * size,
            "random_incremental_revenue": overall["revenue"] * size,
            "random_incremental_margin": overall["margin"] * size,
            "random_contact_cost": contact,
            "random_net_margin": overall["margin"] * size - contact,
        })
    table = pd.DataFrame(rows)
    table["customers"] = table["customers"].astype(np.int64)
    table["treated"] = table["treated"].astype(np.int64)
    table["control"] = table["control"].astype(np.int64)
    return table


# ------------------------------------------------------------------------------------------- closed loop


def uplift_rank_correlation(predicted_uplift: object, true_uplift: object) -> dict:
    """Rank agreement between predicted and true per-customer uplift (known only in a simulation): Spearman's
    rho and Kendall's tau-b (scipy, ties averaged), with their p-values and n. NaN when either input is constant.
    """
    what = "uplift_rank_correlation"
    predicted = _float_values(predicted_uplift, f"{what}: predicted_uplift")
    truth = _float_values(true_uplift, f"{what}: true_uplift")
    if len(predicted) != len(truth):
        raise ValueError(f"{what}: predicted_uplift and true_uplift have different lengths "
                         f"({len(predicted)}, {len(truth)})")
    if len(predicted) < 2:
        raise ValueError(f"{what}: at least two customers are needed")
    if predicted.min() == predicted.max() or truth.min() == truth.max():
        nan = float("nan")
        return {"spearman": nan, "spearman_pvalue": nan, "kendall": nan, "kendall_pvalue": nan,
                "n": int(len(predicted))}
    spearman = stats.spearmanr(predicted, truth)
    kendall = stats.kendalltau(predicted, truth)
    return {"spearman": float(spearman.statistic), "spearman_pvalue": float(spearman.pvalue),
            "kendall": float(kendall.statistic), "kendall_pvalue": float(kendall.pvalue),
            "n": int(len(predicted))}
