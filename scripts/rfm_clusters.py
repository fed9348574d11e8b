"""K-means clusters of customers on RFM (recency, frequency, monetary), the way analysts usually build them.

Plain functions on pandas frames: no I/O, no project imports, deterministic. dbt Python models add `scripts/`
to `sys.path` and call this once per campaign:

    import rfm_clusters as rc
    options = rc.ClusterOptions(transform="log1p", outliers="iqr", k="auto", seed=42)
    result = rc.cluster_rfm(customers, options)      # selection + assignments + centroids, fitted once
    result.selection, result.assignments, result.centroids

    # or step by step (each call refits what it needs; same results):
    X, customers_sorted = rc.prepare_features(customers, options)
    ids = customers_sorted.loc[customers_sorted["outlier_group"].isna(), "customer_id"]   # the rows of X
    selection = rc.select_k(X, options, ids)         # k, inertia, silhouette, is_chosen, k_search_customers
    assignments = rc.fit_clusters(customers, options)           # k=None: the k select_k chooses
    table = rc.centroids(customers, options, k=int(selection.loc[selection.is_chosen, "k"].iloc[0]))
    rc.cluster_segment_crosstab(assignments, segments, "rfm_segment")

Input
-----
One row per customer with columns `customer_id`, `recency_days` (days since the last order), `frequency` (number
of orders) and `monetary` (revenue); other columns are ignored. Refused with a ValueError: a missing column, a
null, a non-numeric or non-finite value, a negative value, a duplicated `customer_id`, no rows. Decimal values (as
DuckDB may return them) are accepted and read as float64.

Method (defaults in brackets; each is a field of `ClusterOptions`)
-----------------------------------------------------------------
1. Rows are sorted by `customer_id` first, so the input row order never matters.
2. Outliers [`outliers="none"`]. With `"iqr"`, Tukey fences on the *untransformed* values over *all* customers:
   Q1, Q3 = numpy.percentile(values, [25, 75]) (linear interpolation), a customer is an outlier on a variable
   when its value is above Q3 + 1.5 IQR or below Q1 - 1.5 IQR. Checked on `monetary` and on `frequency` only
   (not recency). Outliers are set aside in the named groups "monetary outliers", "frequency outliers" (only
   that variable) and "monetary and frequency outliers" (both); they are neither standardised nor clustered,
   their `cluster_id` is <NA> and their action is "review individually". Beware: when most customers have the
   same frequency (typically one order), IQR is 0 and every customer with another frequency is an outlier;
   that is how the rule works, not a bug of this module.
3. Transform [`transform="log1p"`]: log1p of the three variables, or `"none"`.
4. Standardisation: z = (x - mean) / std over the clustered customers, population std (ddof=0). A variable that
   is constant over them gets std 1 (all its z-scores are 0) instead of a division by zero.
5. K-means (scikit-learn KMeans: k-means++ init, Lloyd, max_iter=300, tol=1e-4) with `random_state=seed` [42]
   and `n_init` [10] initialisations, with BLAS/OpenMP pinned to one thread (threadpoolctl), so the result does
   not depend on the machine's thread count.
6. Choice of k [`k="auto"`]: every k in k_min..k_max [2..8] is fitted; the chosen k has the highest silhouette
   (ties: the smallest k). The silhouette is computed on all clustered customers, or, when there are more than
   `silhouette_sample_size` [10000] of them, on sklearn's deterministic sample
   (`silhouette_score(sample_size=..., random_state=seed)`; `None` means always on all). With fewer customers
   than k_max + 1 the search range is *lowered*, not refused: k_max becomes min(k_max, n - 1, number of distinct
   feature rows); only when that falls below k_min is a ValueError raised. A fixed `k` (int) is not lowered: it
   raises a ValueError when there are not at least k + 1 customers and k distinct feature rows.
7. Search sample [`k_search_sample_size=100000`]. With more clustered customers than that, the k search (every
   fit of step 5 and every silhouette of step 6, and the candidate range) runs on that many of them: those
   with the lowest `id_hashes` (first 8 bytes of md5(str(customer_id)), as DuckDB's md5(customer_id::varchar);
   see `k_search_sample`), standardised as in step 4 over *all* clustered customers. The set depends on the
   ids only, so the same customers are chosen whatever the row order, machine or thread count; inertia and
   silhouette are the sample's and `k_search_customers` says how many customers that was. `None` (or 0):
   always all customers. Up to the threshold nothing of this applies: results are those of the full search.
8. Fit of the chosen (or a given) k on all customers: up to `k_search_sample_size` clustered customers, the
   search's own fit (n_init starts). Beyond, K-means with n_init starts on the search sample, then one Lloyd
   run (same max_iter and tol, one thread) on all clustered customers started from the sample's centroids:
   deterministic, and n_init full passes over millions of rows are not needed since the start is already
   close. The final labels and centroids are those of the full data (Lloyd run to sklearn's tolerance, each
   customer labelled with its nearest final centroid), not the sample's.
9. Rounding: floats produced by the iterative fit (centroids, inertia, silhouette, distances, back-transformed
   centroids) are rounded to 10 significant digits (`SIGNIFICANT_DIGITS`), so a rebuild is byte-identical and
   rules applied to them (ordering, naming) do not hinge on last-bit noise.

Cluster numbering
-----------------
Not the library's labels. Each centroid (standardised space, after rounding) gets a value score
`value = -z_recency + z_frequency + z_monetary` (recent, frequent, high-spending is valuable); `cluster_id` 1 is
the highest score, then descending. Ties (after rounding the score to 10 significant digits) are broken by lower
z_recency, then higher z_monetary, then higher z_frequency, then the library's label (itself fixed by the seed).

Naming rule
-----------
From the centroid back-transformed to original units (z * std + mean, then expm1 when transform="log1p"),
compared with the medians of all *clustered* customers (outliers excluded) in original units:

* recent     = centroid recency_days < median recency_days
* high value = centroid frequency > median frequency  or  centroid monetary > median monetary

    recent & high value          -> "Champions"   / action "reward"
    recent & not high value      -> "Promising"   / action "develop"
    not recent & high value      -> "At risk"     / action "retain"
    not recent & not high value  -> "Hibernating" / action "re-engage"

Comparisons are strict (a centroid exactly at a median is not recent / not high). Since the transforms are
monotone, this equals comparing the z-centroid with the z-score of the median. When several clusters get the
same name, each of them gets its cluster_id appended: "Champions (1)", "Champions (2)". Outlier groups keep
their group name and get the action "review individually".
"""

from __future__ import annotations

import decimal
import hashlib
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_chunked
from threadpoolctl import threadpool_limits

from significant_digits import SIGNIFICANT_DIGITS, round_significant

FEATURES = ("recency_days", "frequency", "monetary")
REQUIRED_COLUMNS = ("customer_id", *FEATURES)
TRANSFORMS = ("log1p", "none")
OUTLIER_METHODS = ("none", "iqr")
IQR_MULTIPLIER = 1.5
MIN_SILHOUETTE_SAMPLE = 100
MIN_K_SEARCH_SAMPLE = 100
SILHOUETTE_WORKING_MEMORY_MB = 16

MONETARY_OUTLIERS = "monetary outliers"
FREQUENCY_OUTLIERS = "frequency outliers"
BOTH_OUTLIERS = "monetary and frequency outliers"
OUTLIER_GROUPS = (MONETARY_OUTLIERS, FREQUENCY_OUTLIERS, BOTH_OUTLIERS)
OUTLIER_ACTION = "review individually"

# (recent, high value) -> (cluster_name, cluster_action); see "Naming rule" in the module docstring.
NAMING_RULE = {
    (True, True): ("Champions", "reward"),
    (True, False): ("Promising", "develop"),
    (False, True): ("At risk", "retain"),
    (False, False): ("Hibernating", "re-engage"),
}

KMEANS_PARAMS = {"init": "k-means++", "max_iter": 300, "tol": 1e-4, "algorithm": "lloyd"}


# --------------------------------------------------------------------------------------------------- options


def _integer(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


@dataclass(frozen=True)
class ClusterOptions:
    """Options of a clustering run; validated on construction (ValueError naming the option).

    transform: "log1p" or "none". outliers: "none" or "iqr". k: "auto" (best silhouette over k_min..k_max) or a
    fixed int >= 2. k_min >= 2, k_max >= k_min. seed: 0..2**32-1. n_init >= 1. silhouette_sample_size: an int
    >= 100, or None for the silhouette on all customers whatever their number. k_search_sample_size: an int
    >= 100 (the k search runs on that many customers, chosen by hash of their id, when there are more), or
    None / 0 for the search on all customers whatever their number (0 is stored as None).
    """

    transform: str = "log1p"
    outliers: str = "none"
    k: int | str = "auto"
    k_min: int = 2
    k_max: int = 8
    seed: int = 42
    n_init: int = 10
    silhouette_sample_size: int | None = 10000
    k_search_sample_size: int | None = 100000

    def __post_init__(self) -> None:
        if not isinstance(self.transform, str) or self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}")
        if not isinstance(self.outliers, str) or self.outliers not in OUTLIER_METHODS:
            raise ValueError(f"outliers must be one of {OUTLIER_METHODS}, got {self.outliers!r}")
        if isinstance(self.k, str):
            if self.k != "auto":
                raise ValueError(f"k must be 'auto' or an integer >= 2, got {self.k!r}")
        else:
            object.__setattr__(self, "k", _integer("k", self.k, 2))
        k_min = _integer("k_min", self.k_min, 2)
        object.__setattr__(self, "k_min", k_min)
        object.__setattr__(self, "k_max", _integer("k_max", self.k_max, k_min))
        object.__setattr__(self, "seed", _integer("seed", self.seed, 0, 2**32 - 1))
        object.__setattr__(self, "n_init", _integer("n_init", self.n_init, 1))
        if self.silhouette_sample_size is not None:
            size = _integer("silhouette_sample_size", self.silhouette_sample_size, MIN_SILHOUETTE_SAMPLE)
            object.__setattr__(self, "silhouette_sample_size", size)
        if self.k_search_sample_size is not None:
            size = _integer("k_search_sample_size", self.k_search_sample_size, 0)
            if 0 < size < MIN_K_SEARCH_SAMPLE:
                raise ValueError(
                    f"k_search_sample_size must be 0 (all customers) or >= {MIN_K_SEARCH_SAMPLE}, got {size}"
                )
            object.__setattr__(self, "k_search_sample_size", size or None)


def _options(options: ClusterOptions | None) -> ClusterOptions:
    if options is None:
        return ClusterOptions()
    if not isinstance(options, ClusterOptions):
        raise ValueError(f"options must be a ClusterOptions, got {type(options).__name__}")
    return options


# ------------------------------------------------------------------------------------------------- helpers


def iqr_fences(values: object, multiplier: float = IQR_MULTIPLIER) -> tuple[float, float]:
    """(Q1 - multiplier * IQR, Q3 + multiplier * IQR) with numpy.percentile's default (linear) quantiles."""
    q1, q3 = np.percentile(np.asarray(values, dtype="float64"), [25, 75])
    iqr = q3 - q1
    return float(q1 - multiplier * iqr), float(q3 + multiplier * iqr)


def id_hashes(customer_ids: object) -> np.ndarray:
    """uint64 per customer id: the first 8 bytes (big-endian) of the MD5 of the id's text, str(id) in UTF-8
    ("123" for the integer 123, as DuckDB's customer_id::varchar). Depends on the id alone, not on its row.

    Integer ids (millions of them in a real shop) are hashed by DuckDB, which gives the same bits several times
    faster than a Python loop; other ids by hashlib."""
    values = np.asarray(customer_ids) if hasattr(customer_ids, "__array__") else None
    if values is not None and values.ndim == 1 and np.issubdtype(values.dtype, np.integer):
        ids = pd.DataFrame({"row": np.arange(values.size, dtype=np.int64), "id": values.astype(np.int64)})
        # An in-memory database of its own (a dbt model's connection is busy with the model). Each hash is put
        # back at its row, so they line up with the ids whatever order the threads return them in (no sort).
        with duckdb.connect() as con:
            result = con.execute(
                "select \"row\", cast('0x' || left(md5(cast(id as varchar)), 16) as ubigint) as hash from ids"
            ).fetchnumpy()
        hashes = np.empty(values.size, dtype=np.uint64)
        hashes[np.asarray(result["row"], dtype=np.int64)] = np.asarray(result["hash"], dtype=np.uint64)
        return hashes
    ids = customer_ids.tolist() if hasattr(customer_ids, "tolist") else list(customer_ids)
    md5 = hashlib.md5
    digests = b"".join([md5(str(value).encode("utf-8")).digest()[:8] for value in ids])
    return np.frombuffer(digests, dtype=">u8").astype("uint64")


def k_search_sample(customer_ids: object, size: int | None) -> np.ndarray:
    """Boolean mask over `customer_ids` (distinct): True on the customers the k search uses.

    All of them when size is None or not below their number; otherwise the `size` customers with the lowest
    id_hashes, ties (64-bit hashes: practically never) broken by the id's text. The set depends only on the
    ids and the size, never on the row order or the thread count, and a larger size keeps the smaller one's
    customers (the lowest hashes stay the lowest)."""
    ids = customer_ids if hasattr(customer_ids, "__array__") else list(customer_ids)
    mask = np.ones(len(ids), dtype=bool)
    if size is None or len(ids) <= size:
        return mask
    hashes = id_hashes(ids)
    # The size-th lowest hash by selection (linear), not by sorting millions of them: the same cutoff.
    cutoff = np.partition(hashes, size - 1)[size - 1]
    chosen = np.flatnonzero(hashes < cutoff)
    tied = np.flatnonzero(hashes == cutoff)  # in row order
    if len(chosen) + len(tied) > size:  # break ties at the cutoff by the id's text
        values = ids.tolist() if hasattr(ids, "tolist") else ids
        tied = tied[np.argsort(np.array([str(values[i]) for i in tied], dtype=object), kind="stable")]
    mask[:] = False
    mask[chosen] = True
    mask[tied[: size - len(chosen)]] = True
    return mask


def _as_float(series: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype):
        raise ValueError(f"column {name} must be numeric, got booleans")
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64")
    elif series.dtype == object and all(
        isinstance(value, (numbers.Real, decimal.Decimal)) and not isinstance(value, bool) for value in series
    ):
        values = np.array([float(value) for value in series], dtype="float64")
    else:
        raise ValueError(f"column {name} must be numeric, got dtype {series.dtype}")
    if not np.isfinite(values).all():
        raise ValueError(f"column {name} has {int((~np.isfinite(values)).sum())} non-finite value(s)")
    negative = int((values < 0).sum())
    if negative:
        raise ValueError(f"column {name} has {negative} negative value(s), e.g. {values[values < 0][0]}")
    return values


def _validated_customers(frame: pd.DataFrame) -> pd.DataFrame:
    """customer_id (as given) and the three features as float64, sorted by customer_id, index 0..n-1."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"missing required column(s): {', '.join(missing)}")
    repeated = [column for column in REQUIRED_COLUMNS if (frame.columns == column).sum() > 1]
    if repeated:
        raise ValueError(f"column(s) present more than once: {', '.join(repeated)}")
    if len(frame) == 0:
        raise ValueError("frame has no customers")
    for column in REQUIRED_COLUMNS:
        nulls = int(frame[column].isna().sum())
        if nulls:
            raise ValueError(f"column {column} has {nulls} null value(s)")
    ids = frame["customer_id"]
    # Integer ids already strictly increasing (as a model's query orders them) are unique and sorted: the
    # hashing duplicate check and the sort of millions of rows are skipped, the result is the same.
    increasing = _strictly_increasing_integers(ids)
    if not increasing:
        duplicated = ids.duplicated()
        if duplicated.any():
            raise ValueError(
                f"customer_id is not unique: {int(duplicated.sum())} duplicated row(s),"
                f" e.g. {ids[duplicated].iloc[0]!r}"
            )
    customers = pd.DataFrame({"customer_id": ids.reset_index(drop=True)})
    for column in FEATURES:
        customers[column] = _as_float(frame[column], column)
    if increasing:
        return customers
    try:
        customers = customers.sort_values("customer_id", kind="mergesort")
    except TypeError as error:
        raise ValueError(f"customer_id values cannot be sorted (mixed types?): {error}") from error
    return customers.reset_index(drop=True)


def _strictly_increasing_integers(ids: pd.Series) -> bool:
    """True when `ids` is a numpy integer column whose values strictly increase down the rows."""
    if not (isinstance(ids.dtype, np.dtype) and ids.dtype.kind in "iu"):
        return False
    values = ids.to_numpy()
    return bool(np.all(values[1:] > values[:-1]))


@dataclass(frozen=True)
class _Prepared:
    X: np.ndarray  # standardised features of the clustered customers, in customer_id order
    customers: pd.DataFrame  # all customers, sorted, features as float64, outlier_group
    clustered: np.ndarray  # bool mask over customers: rows of X
    mean: np.ndarray  # of the (transformed) clustered features
    scale: np.ndarray  # population std, 1 where constant
    medians: np.ndarray  # of the clustered customers, original units

    @property
    def ids(self) -> np.ndarray:
        """customer_id of the rows of X."""
        return self.customers["customer_id"].to_numpy()[self.clustered]


def _outlier_groups(customers: pd.DataFrame, options: ClusterOptions) -> np.ndarray:
    groups = np.full(len(customers), None, dtype=object)
    if options.outliers == "none":
        return groups
    flags = {}
    for column in ("monetary", "frequency"):
        values = customers[column].to_numpy()
        low, high = iqr_fences(values)
        flags[column] = (values < low) | (values > high)
    groups[flags["monetary"] & ~flags["frequency"]] = MONETARY_OUTLIERS
    groups[flags["frequency"] & ~flags["monetary"]] = FREQUENCY_OUTLIERS
    groups[flags["monetary"] & flags["frequency"]] = BOTH_OUTLIERS
    return groups


def _transform(values: np.ndarray, options: ClusterOptions) -> np.ndarray:
    return np.log1p(values) if options.transform == "log1p" else values.copy()


def _untransform(values: np.ndarray, options: ClusterOptions) -> np.ndarray:
    return np.expm1(values) if options.transform == "log1p" else values


def _prepare(frame: pd.DataFrame, options: ClusterOptions) -> _Prepared:
    customers = _validated_customers(frame)
    groups = _outlier_groups(customers, options)
    customers["outlier_group"] = pd.Series(groups, dtype=object)
    clustered = pd.isna(groups)  # groups holds None or a group name
    if not clustered.any():
        raise ValueError("no customers left to cluster: all of them are outliers")
    original = customers.loc[clustered, list(FEATURES)].to_numpy(dtype="float64")
    features = _transform(original, options)
    mean = features.mean(axis=0)
    scale = features.std(axis=0)  # ddof=0: population std
    # A constant variable: z = 0 exactly (its computed mean / std may be off by rounding, which would blow up noise).
    constant = np.ptp(features, axis=0) == 0
    mean = np.where(constant, features[0], mean)
    scale = np.where(constant | (scale == 0), 1.0, scale)
    X = np.ascontiguousarray((features - mean) / scale)
    # Column by column: a contiguous partition each, about twice as fast as along axis 0; the same medians.
    medians = np.array([np.median(np.ascontiguousarray(original[:, j])) for j in range(original.shape[1])])
    return _Prepared(X, customers, clustered, mean, scale, medians)


def prepare_features(frame: pd.DataFrame, options: ClusterOptions | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """(X, customers): X = standardised features (n_clustered x 3: recency_days, frequency, monetary) of the
    clustered customers in customer_id order; customers = every customer sorted by customer_id with customer_id,
    the three features as float64 and outlier_group (None for the clustered ones, whose rows are X's rows)."""
    prepared = _prepare(frame, _options(options))
    return prepared.X, prepared.customers


# ---------------------------------------------------------------------------------------------------- fits


@dataclass(frozen=True)
class _Fit:
    labels: np.ndarray  # the library's labels
    centers: np.ndarray  # the library's centres (standardised space), unrounded
    inertia: float


def _distinct_rows(X: np.ndarray, cap: int) -> int:
    """min(cap, number of distinct rows of X). Counted on the first rows first: when they already hold `cap`
    distinct rows, the (slow, sorting) count over millions of rows is not needed; the result is the same."""
    start = min(len(X), max(1024, 64 * cap))
    distinct = len(np.unique(X[:start], axis=0))
    if distinct < cap and start < len(X):
        distinct = len(np.unique(X, axis=0))
    return min(distinct, cap)


def _max_k(X: np.ndarray, cap: int) -> int:
    """min(cap, the largest k for which K-means gives k non-empty clusters and the silhouette is defined)."""
    return _distinct_rows(X, min(cap, X.shape[0] - 1))


def _check_k(X: np.ndarray, k: object, name: str) -> int:
    k = _integer(name, k, 2)
    if k > _max_k(X, k):
        raise ValueError(
            f"{name}={k} needs at least {k + 1} customers and {k} distinct feature rows; got {X.shape[0]} customers"
            f" and {len(np.unique(X, axis=0))} distinct rows"
        )
    return k


def _candidate_ks(X: np.ndarray, options: ClusterOptions) -> list[int]:
    if options.k != "auto":
        return [_check_k(X, options.k, "k")]
    cap = _max_k(X, options.k_max)
    k_max = min(options.k_max, cap)
    if k_max < options.k_min:
        raise ValueError(
            f"too few customers to cluster with k_min={options.k_min}: {X.shape[0]} customers allow at most k={cap}"
        )
    return list(range(options.k_min, k_max + 1))


def _kmeans(X: np.ndarray, k: int, options: ClusterOptions) -> _Fit:
    with threadpool_limits(limits=1):
        model = KMeans(n_clusters=k, n_init=options.n_init, random_state=options.seed, **KMEANS_PARAMS).fit(X)
    labels = np.asarray(model.labels_, dtype="int64")
    if len(np.unique(labels)) != k:  # cannot happen with k <= distinct rows; guard against silent empties
        raise RuntimeError(f"K-means returned {len(np.unique(labels))} non-empty clusters instead of {k}")
    return _Fit(labels, np.asarray(model.cluster_centers_, dtype="float64"), float(model.inertia_))


def _silhouettes(X: np.ndarray, labelings: list[np.ndarray], options: ClusterOptions) -> list[float]:
    """sklearn's silhouette_score(X, labels, sample_size=..., random_state=seed) of every labeling of X, with the
    distances computed once for all of them.

    Every labeling is scored on the same sample (sklearn draws it from the seed and the row count alone), so
    one chunked pass over the sample's pairwise distances serves every k: a chunk times the indicator matrix of
    all labelings gives each point's distance sums to every cluster of every k. The rest is
    sklearn.metrics.silhouette_samples' arithmetic: a = the mean distance to the own cluster (others than the
    point itself), b = the lowest mean distance to another cluster, s = (b - a) / max(a, b), 0 in a cluster of
    one.
    """
    size = options.silhouette_sample_size
    if size is not None and X.shape[0] > size:
        indices = np.random.RandomState(options.seed).permutation(X.shape[0])[:size]
        X, labelings = X[indices], [labels[indices] for labels in labelings]
    encoded = [np.unique(labels, return_inverse=True)[1].ravel() for labels in labelings]
    counts = [np.bincount(codes).astype("float64") for codes in encoded]
    for sizes in counts:
        if not 2 <= sizes.size <= X.shape[0] - 1:
            raise ValueError(f"silhouette: {sizes.size} clusters among {X.shape[0]} customers; needs 2 to n - 1")
    offsets = np.cumsum([0] + [sizes.size for sizes in counts])
    indicator = np.zeros((X.shape[0], int(offsets[-1])), dtype="float64")
    rows = np.arange(X.shape[0])
    for codes, offset in zip(encoded, offsets[:-1]):
        indicator[rows, offset + codes] = 1.0
    # Small distance chunks: sklearn's default (1 GB, one 10000 x 10000 block) is several times slower here.
    with threadpool_limits(limits=1), config_context(working_memory=SILHOUETTE_WORKING_MEMORY_MB):
        sums = np.vstack(list(pairwise_distances_chunked(X, reduce_func=lambda chunk, start: chunk @ indicator)))
    scores = []
    for codes, sizes, offset in zip(encoded, counts, offsets[:-1]):
        cluster_sums = sums[:, offset:offset + sizes.size].copy()
        own = cluster_sums[rows, codes]
        cluster_sums[rows, codes] = np.inf
        nearest_other = (cluster_sums / sizes).min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_own = own / (sizes - 1)[codes]
            values = (nearest_other - mean_own) / np.maximum(mean_own, nearest_other)
        scores.append(float(np.mean(np.nan_to_num(values))))
    return scores


def _check_X(X: object) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype="float64")
    if X.ndim != 2 or X.shape[0] < 3 or not np.isfinite(X).all():
        raise ValueError("X must be a finite 2-D array with at least 3 rows (from prepare_features)")
    return X


def _kmeans_from(X: np.ndarray, centers: np.ndarray, options: ClusterOptions) -> _Fit:
    """Lloyd's K-means on X started from `centers` (one start, no randomness), one thread."""
    k = centers.shape[0]
    with threadpool_limits(limits=1):
        model = KMeans(n_clusters=k, n_init=1, random_state=options.seed, **{**KMEANS_PARAMS, "init": centers}).fit(X)
    labels = np.asarray(model.labels_, dtype="int64")
    if len(np.unique(labels)) != k:
        raise RuntimeError(f"K-means returned {len(np.unique(labels))} non-empty clusters instead of {k}")
    return _Fit(labels, np.asarray(model.cluster_centers_, dtype="float64"), float(model.inertia_))


@dataclass(frozen=True)
class _Search:
    table: pd.DataFrame  # select_k's table
    sample: np.ndarray | None  # bool mask over the rows of X the search used; None: all of them
    fits: dict[int, _Fit]  # the fits of the search, on those rows


def _search_sample(
    X: np.ndarray, ids: object | None, options: ClusterOptions, checked: bool = False
) -> np.ndarray | None:
    """k_search_sample's mask over X's rows, or None when the search uses them all. checked: ids are known to
    be X's distinct customer ids (from _prepare)."""
    size = options.k_search_sample_size
    if size is None or X.shape[0] <= size:
        return None
    if ids is None:
        raise ValueError(
            f"{X.shape[0]} customers > k_search_sample_size={size}: pass customer_ids (the ids of X's rows) so"
            " that the search sample can be drawn by id"
        )
    if not checked:
        # From the array itself: a list of millions of Python ints is slow to build and to read back.
        ids = pd.Series(np.asarray(ids) if hasattr(ids, "__array__") else list(ids))
        if len(ids) != X.shape[0]:
            raise ValueError(f"customer_ids has {len(ids)} values for {X.shape[0]} rows of X")
        if not _strictly_increasing_integers(ids) and (ids.isna().any() or ids.duplicated().any()):
            raise ValueError("customer_ids are not unique, or have nulls")
    return k_search_sample(ids, size)


def _selection(X: np.ndarray, options: ClusterOptions, ids: object | None = None, checked: bool = False) -> _Search:
    sample = _search_sample(X, ids, options, checked)
    searched = X if sample is None else np.ascontiguousarray(X[sample])
    fits = {k: _kmeans(searched, k, options) for k in _candidate_ks(searched, options)}
    silhouettes = _silhouettes(searched, [fit.labels for fit in fits.values()], options)
    rows = [(k, round_significant(fit.inertia), round_significant(silhouette))
            for (k, fit), silhouette in zip(fits.items(), silhouettes)]
    table = pd.DataFrame(rows, columns=["k", "inertia", "silhouette"]).astype(
        {"k": "int64", "inertia": "float64", "silhouette": "float64"}
    )
    chosen = int(table.loc[table["silhouette"].idxmax(), "k"])  # idxmax: first maximum, i.e. the smallest k
    table["is_chosen"] = table["k"] == chosen
    table["k_search_customers"] = np.int64(searched.shape[0])
    return _Search(table, sample, fits)


def _final_fit(X: np.ndarray, ids: object, k: int, options: ClusterOptions, search: _Search | None = None) -> _Fit:
    """The fit of k on all rows of X. Up to k_search_sample_size rows: K-means with n_init starts (the search's
    own fit when it tried k). Beyond: K-means with n_init starts on the search sample, then one Lloyd run on
    all rows from the sample's centroids."""
    sample = search.sample if search is not None else _search_sample(X, ids, options, checked=True)
    fits = search.fits if search is not None else {}
    if sample is None:
        return fits[k] if k in fits else _kmeans(X, k, options)
    start = fits[k] if k in fits else _kmeans(np.ascontiguousarray(X[sample]), k, options)
    return _kmeans_from(X, start.centers, options)


def select_k(X: np.ndarray, options: ClusterOptions | None = None, customer_ids: object | None = None) -> pd.DataFrame:
    """The selection table for the standardised features X of prepare_features: one row per candidate k
    (k_min..k_max, lowered for few customers; only options.k when it is fixed) with k, inertia (sklearn's
    inertia_), silhouette, is_chosen (True on the one chosen row: best silhouette, ties to the smaller k) and
    k_search_customers (the number of customers the fits and silhouettes were computed on).

    With more rows than options.k_search_sample_size the search runs on the k_search_sample of them, which needs
    customer_ids: the ids of X's rows (prepare_features' customers.customer_id where outlier_group is None);
    inertia and silhouette are then the sample's."""
    options = _options(options)
    return _selection(_check_X(X), options, customer_ids).table


# ----------------------------------------------------------------------------------------------- describe


def name_clusters(centres: pd.DataFrame, medians: Mapping[str, float]) -> pd.DataFrame:
    """Names and actions by the module's naming rule.

    centres: cluster_id, recency_days, frequency, monetary (the centroids in original units); medians: the
    medians of the clustered customers for the same three keys. Returns cluster_id, cluster_name, cluster_action
    in the order of `centres`; a name given to several clusters gets " (cluster_id)" appended on each of them.
    """
    names, actions = [], []
    for row in centres.itertuples(index=False):
        recent = row.recency_days < medians["recency_days"]
        high_value = row.frequency > medians["frequency"] or row.monetary > medians["monetary"]
        name, action = NAMING_RULE[(bool(recent), bool(high_value))]
        names.append(name)
        actions.append(action)
    ids = centres["cluster_id"].tolist()
    names = [f"{name} ({cid})" if names.count(name) > 1 else name for name, cid in zip(names, ids)]
    return pd.DataFrame(
        {
            "cluster_id": centres["cluster_id"].to_numpy(),
            "cluster_name": pd.Series(names, dtype=object),
            "cluster_action": pd.Series(actions, dtype=object),
        }
    )


@dataclass(frozen=True)
class _Described:
    cluster_ids: np.ndarray  # 1..k per clustered customer
    table: pd.DataFrame  # centroids table
    distances: np.ndarray  # per clustered customer


def _describe(prepared: _Prepared, fit: _Fit, options: ClusterOptions) -> _Described:
    k = fit.centers.shape[0]
    z = round_significant(fit.centers)
    score = round_significant(-z[:, 0] + z[:, 1] + z[:, 2])
    order = sorted(range(k), key=lambda j: (-score[j], z[j, 0], -z[j, 2], -z[j, 1], j))
    cluster_of_label = np.empty(k, dtype="int64")
    cluster_of_label[order] = np.arange(1, k + 1)
    cluster_ids = cluster_of_label[fit.labels]
    z_sorted = z[order]
    original = round_significant(_untransform(z_sorted * prepared.scale + prepared.mean, options))
    table = pd.DataFrame(
        {
            "cluster_id": np.arange(1, k + 1, dtype="int64"),
            "customers": np.bincount(cluster_ids, minlength=k + 1)[1:].astype("int64"),
            "value_score": score[order],
            "z_recency_days": z_sorted[:, 0],
            "z_frequency": z_sorted[:, 1],
            "z_monetary": z_sorted[:, 2],
            "recency_days": original[:, 0],
            "frequency": original[:, 1],
            "monetary": original[:, 2],
        }
    )
    names = name_clusters(table, dict(zip(FEATURES, prepared.medians)))
    table.insert(1, "cluster_name", names["cluster_name"])
    table.insert(2, "cluster_action", names["cluster_action"])
    distances = round_significant(np.linalg.norm(prepared.X - z_sorted[cluster_ids - 1], axis=1))
    return _Described(cluster_ids, table, distances)


def _assignments(prepared: _Prepared, described: _Described) -> pd.DataFrame:
    customers, clustered = prepared.customers, prepared.clustered
    n = len(customers)
    ids = np.zeros(n, dtype="int64")
    ids[clustered] = described.cluster_ids
    names = customers["outlier_group"].to_numpy(dtype=object).copy()
    actions = np.where(clustered, None, OUTLIER_ACTION).astype(object)
    table = described.table
    names[clustered] = table["cluster_name"].to_numpy(dtype=object)[described.cluster_ids - 1]
    actions[clustered] = table["cluster_action"].to_numpy(dtype=object)[described.cluster_ids - 1]
    distances = np.full(n, np.nan)
    distances[clustered] = described.distances
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "cluster_id": pd.arrays.IntegerArray(ids, ~clustered),
            "cluster_name": pd.Series(names, dtype=object),
            "cluster_action": pd.Series(actions, dtype=object),
            "outlier_group": customers["outlier_group"],
            "distance_to_centroid": distances,
        }
    )


@dataclass(frozen=True)
class ClusterResult:
    """Everything of one run, fitted once: selection (select_k's table), assignments (fit_clusters),
    centroids (centroids), k (the k used)."""

    k: int
    selection: pd.DataFrame
    assignments: pd.DataFrame
    centroids: pd.DataFrame


def cluster_rfm(frame: pd.DataFrame, options: ClusterOptions | None = None, k: int | None = None) -> ClusterResult:
    """select_k, fit_clusters and centroids in one pass (one preparation, one fit per k). k=None: the chosen k.
    With an explicit k the selection table is still the one of `options` (it may not contain k)."""
    options = _options(options)
    prepared = _prepare(frame, options)
    search = _selection(prepared.X, options, prepared.ids, checked=True)
    if k is None:
        k = int(search.table.loc[search.table["is_chosen"], "k"].iloc[0])
    else:
        k = _check_k(prepared.X, k, "k")
    fit = _final_fit(prepared.X, prepared.ids, k, options, search)
    described = _describe(prepared, fit, options)
    return ClusterResult(k, search.table, _assignments(prepared, described), described.table)


def _fitted(frame: pd.DataFrame, options: ClusterOptions | None, k: int | None) -> tuple[_Prepared, _Described]:
    options = _options(options)
    prepared = _prepare(frame, options)
    if k is None and options.k == "auto":
        search = _selection(prepared.X, options, prepared.ids, checked=True)
        k = int(search.table.loc[search.table["is_chosen"], "k"].iloc[0])
        fit = _final_fit(prepared.X, prepared.ids, k, options, search)
    else:
        k = _check_k(prepared.X, options.k if k is None else k, "k")
        fit = _final_fit(prepared.X, prepared.ids, k, options)
    return prepared, _describe(prepared, fit, options)


def fit_clusters(frame: pd.DataFrame, options: ClusterOptions | None = None, k: int | None = None) -> pd.DataFrame:
    """One row per customer, sorted by customer_id: customer_id, cluster_id (Int64 1..k, <NA> for outliers),
    cluster_name, cluster_action, outlier_group (None or the group name), distance_to_centroid (Euclidean, in
    the standardised space, to the customer's centroid; NaN for outliers).

    k=None: options.k when fixed, else the k select_k chooses. An explicit k overrides options.k; the result for
    a given k is the same whichever way it was reached."""
    prepared, described = _fitted(frame, options, k)
    return _assignments(prepared, described)


def centroids(frame: pd.DataFrame, options: ClusterOptions | None = None, k: int | None = None) -> pd.DataFrame:
    """One row per cluster_id (1..k): cluster_id, cluster_name, cluster_action, customers, value_score,
    z_recency_days, z_frequency, z_monetary (the centroid in the standardised space), recency_days, frequency,
    monetary (the centroid back-transformed to original units). k as in fit_clusters."""
    _, described = _fitted(frame, options, k)
    return described.table


# ---------------------------------------------------------------------------------------------- crosstab


def cluster_segment_crosstab(assignments: pd.DataFrame, segments: pd.DataFrame, segment_col: str) -> pd.DataFrame:
    """Customers per (cluster_name, segment), long format: cluster_name, segment, customers, share_of_cluster.

    assignments: fit_clusters' output (customer_id, cluster_name, and cluster_id for the order); segments: one
    row per customer_id with `segment_col`. Every customer of `assignments` is counted: one without a row in
    `segments`, or with a null segment, counts under segment None. The full grid is returned (zero counts
    included): clusters in cluster_id order (outlier groups after, by name), segments sorted, None last.
    share_of_cluster = customers / customers of the cluster.
    """
    for name, frame, columns in (
        ("assignments", assignments, ("customer_id", "cluster_name")),
        ("segments", segments, ("customer_id", segment_col)),
    ):
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s): {', '.join(missing)}")
        if frame["customer_id"].duplicated().any():
            raise ValueError(f"{name} has duplicated customer_id values")
    if assignments["cluster_name"].isna().any():
        raise ValueError("assignments has null cluster_name values")
    left = assignments[["customer_id", "cluster_name"]].copy()
    left["_order"] = (
        assignments["cluster_id"].astype("Float64").fillna(np.inf).to_numpy(dtype="float64")
        if "cluster_id" in assignments.columns
        else np.inf
    )
    right = segments[["customer_id", segment_col]].rename(columns={segment_col: "_segment"})
    merged = left.merge(right, on="customer_id", how="left", validate="one_to_one")

    clusters = (
        merged.groupby("cluster_name", sort=False)["_order"].min().reset_index().sort_values(["_order", "cluster_name"])
    )
    cluster_levels = clusters["cluster_name"].tolist()
    missing_segment = merged["_segment"].isna().to_numpy()
    segment_levels = sorted(merged.loc[~missing_segment, "_segment"].unique().tolist())
    has_missing = bool(missing_segment.any())

    cluster_codes = pd.Categorical(merged["cluster_name"], categories=cluster_levels).codes.astype("int64")
    segment_codes = pd.Categorical(merged["_segment"].where(~missing_segment), categories=segment_levels).codes
    segment_codes = np.where(missing_segment, len(segment_levels), segment_codes).astype("int64")
    n_segments = len(segment_levels) + has_missing
    counts = np.zeros((len(cluster_levels), n_segments), dtype="int64")
    np.add.at(counts, (cluster_codes, segment_codes), 1)
    shares = counts / counts.sum(axis=1, keepdims=True)

    segment_names = segment_levels + ([None] if has_missing else [])
    return pd.DataFrame(
        {
            "cluster_name": pd.Series(np.repeat(np.array(cluster_levels, dtype=object), n_segments), dtype=object),
            "segment": pd.Series(np.array(segment_names * len(cluster_levels), dtype=object), dtype=object),
            "customers": counts.ravel(),
            "share_of_cluster": shares.ravel(),
        }
    )
