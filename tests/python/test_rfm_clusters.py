"""scripts/rfm_clusters.py: K-means on RFM, against planted groups and independent numpy / scikit-learn computations."""

from __future__ import annotations

import decimal
import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

import rfm_clusters as rc

FEATURES = ["recency_days", "frequency", "monetary"]

# Planted groups: centres in original units (recency_days, frequency, monetary); Gaussian noise in log1p space.
PLANTED = {
    "champions": (5.0, 12.0, 3000.0),
    "at_risk": (200.0, 10.0, 2500.0),
    "promising": (7.0, 1.0, 40.0),
    "hibernating": (300.0, 1.0, 30.0),
}
PLANTED_NAMES = {"champions": "Champions", "at_risk": "At risk", "promising": "Promising", "hibernating": "Hibernating"}


def blobs(centres: dict[str, tuple[float, float, float]], per_group: int = 150, sd: float = 0.08, seed: int = 0):
    """(frame, group per row): customers drawn around each centre in log1p space, ids shuffled over the groups."""
    rng = np.random.default_rng(seed)
    logs, groups = [], []
    for group, centre in centres.items():
        logs.append(np.log1p(np.array(centre)) + rng.normal(0.0, sd, (per_group, 3)))
        groups += [group] * per_group
    values = np.expm1(np.vstack(logs))
    ids = rng.permutation(len(values)) + 1000
    frame = pd.DataFrame({"customer_id": ids, **{name: values[:, j] for j, name in enumerate(FEATURES)}})
    frame["group"] = groups
    return frame


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return blobs(PLANTED)


@pytest.fixture(scope="module")
def lognormal() -> pd.DataFrame:
    """Unstructured, skewed RFM with a spread-out frequency (so the IQR of frequency is not 0)."""
    rng = np.random.default_rng(11)
    n = 800
    frame = pd.DataFrame(
        {
            "customer_id": rng.permutation(n) + 1,
            "recency_days": np.floor(rng.lognormal(4.0, 1.0, n)),
            "frequency": 10.0 + rng.poisson(6.0, n),
            "monetary": np.round(rng.lognormal(5.0, 0.6, n), 2),
        }
    )
    frame.loc[frame["customer_id"].isin([1, 2, 3]), "monetary"] = 250_000.0  # monetary only
    frame.loc[frame["customer_id"].isin([4, 5]), "frequency"] = 400.0  # frequency only (high side)
    frame.loc[frame["customer_id"] == 6, "frequency"] = 1.0  # frequency only (low side)
    frame.loc[frame["customer_id"] == 7, ["frequency", "monetary"]] = [500.0, 900_000.0]  # both
    return frame


def standardise(values: np.ndarray) -> np.ndarray:
    return (values - values.mean(axis=0)) / values.std(axis=0)


def partition(labels: pd.Series, by: pd.Series) -> set[frozenset]:
    """The partition of the customers that `labels` induces, as a set of sets of `by` values."""
    return {frozenset(by[labels == value]) for value in labels.unique()}


# ------------------------------------------------------------------------------------------- determinism


def test_identical_on_rerun_and_under_row_reordering(lognormal):
    options = rc.ClusterOptions(outliers="iqr")
    first = rc.cluster_rfm(lognormal, options)
    second = rc.cluster_rfm(lognormal, options)
    shuffled = lognormal.sample(frac=1.0, random_state=5)
    shuffled.index = np.arange(len(shuffled))[::-1]
    third = rc.cluster_rfm(shuffled, options)
    for other in (second, third):
        assert other.k == first.k
        for part in ("selection", "assignments", "centroids"):
            pd.testing.assert_frame_equal(getattr(other, part), getattr(first, part), check_exact=True)
            assert getattr(other, part).to_csv() == getattr(first, part).to_csv()  # byte-identical when written
    assert first.assignments["customer_id"].is_monotonic_increasing
    X1, customers1 = rc.prepare_features(lognormal, options)
    X3, customers3 = rc.prepare_features(shuffled, options)
    assert np.array_equal(X1, X3)
    pd.testing.assert_frame_equal(customers1, customers3, check_exact=True)


def test_step_by_step_equals_one_pass_and_explicit_k_equals_selected_k(planted):
    options = rc.ClusterOptions()
    X, _ = rc.prepare_features(planted, options)
    selection = rc.select_k(X, options)
    chosen = int(selection.loc[selection["is_chosen"], "k"].iloc[0])
    result = rc.cluster_rfm(planted, options)
    automatic = rc.fit_clusters(planted, options)
    explicit = rc.fit_clusters(planted, options, k=chosen)
    pd.testing.assert_frame_equal(explicit, automatic, check_exact=True)
    pd.testing.assert_frame_equal(result.assignments, automatic, check_exact=True)
    pd.testing.assert_frame_equal(result.selection, selection, check_exact=True)
    pd.testing.assert_frame_equal(result.centroids, rc.centroids(planted, options, chosen), check_exact=True)
    pd.testing.assert_frame_equal(rc.centroids(planted, options), result.centroids, check_exact=True)


def test_output_layout(lognormal):
    assignments = rc.fit_clusters(lognormal, rc.ClusterOptions(outliers="iqr", k=3))
    assert list(assignments.columns) == [
        "customer_id", "cluster_id", "cluster_name", "cluster_action", "outlier_group", "distance_to_centroid"
    ]
    assert str(assignments["cluster_id"].dtype) == "Int64"
    assert assignments["distance_to_centroid"].dtype == "float64"
    assert assignments["outlier_group"].dtype == object
    assert assignments.loc[assignments["cluster_id"].notna(), "outlier_group"].map(lambda v: v is None).all()
    assert (assignments.loc[assignments["cluster_id"].notna(), "distance_to_centroid"] >= 0).all()
    assert list(assignments.index) == list(range(len(lognormal)))
    table = rc.centroids(lognormal, rc.ClusterOptions(outliers="iqr", k=3), 3)
    assert list(table["cluster_id"]) == [1, 2, 3]
    assert {"cluster_name", "cluster_action", "z_recency_days", "z_frequency", "z_monetary", "recency_days",
            "frequency", "monetary"} <= set(table.columns)
    assert list(table["value_score"]) == sorted(table["value_score"], reverse=True)


# ------------------------------------------------------------------------------------------ planted groups


def test_planted_groups_are_recovered_numbered_by_value_and_named(planted):
    options = rc.ClusterOptions()
    X, _ = rc.prepare_features(planted, options)
    selection = rc.select_k(X, options)
    assert list(selection["k"]) == list(range(2, 9))
    assert selection["is_chosen"].sum() == 1
    assert int(selection.loc[selection["is_chosen"], "k"].iloc[0]) == 4
    assert selection.loc[selection["is_chosen"], "silhouette"].iloc[0] == selection["silhouette"].max()

    assignments = rc.fit_clusters(planted, options)
    merged = assignments.merge(planted[["customer_id", "group"]], on="customer_id")
    # Memberships: each planted group is exactly one cluster.
    assert partition(merged["cluster_id"], merged["customer_id"]) == partition(merged["group"], merged["customer_id"])
    cluster_of_group = merged.groupby("group")["cluster_id"].agg(lambda ids: set(ids)).map(lambda ids: ids.pop())

    # Relabelling: order of the value score -z_r + z_f + z_m of the planted groups' means, computed here.
    z = standardise(np.log1p(planted[FEATURES].to_numpy()))
    means = pd.DataFrame(z, columns=FEATURES).groupby(planted["group"].to_numpy()).mean()
    score = -means["recency_days"] + means["frequency"] + means["monetary"]
    expected_order = list(score.sort_values(ascending=False).index)
    assert expected_order[0] == "champions"
    assert [cluster_of_group[group] for group in expected_order] == [1, 2, 3, 4]

    names = merged.groupby("group")["cluster_name"].first()
    assert names.to_dict() == PLANTED_NAMES
    actions = dict(zip(merged["cluster_name"], merged["cluster_action"]))
    assert actions == {"Champions": "reward", "At risk": "retain", "Promising": "develop", "Hibernating": "re-engage"}


def test_centroids_are_cluster_means_and_back_transformed(planted):
    options = rc.ClusterOptions()
    X, _ = rc.prepare_features(planted, options)
    assignments = rc.fit_clusters(planted, options, k=4)
    table = rc.centroids(planted, options, 4)
    cluster_ids = assignments["cluster_id"].to_numpy(dtype="int64")
    logs = np.log1p(planted.sort_values("customer_id")[FEATURES].to_numpy())
    for row in table.itertuples():
        members = cluster_ids == row.cluster_id
        assert row.customers == members.sum()
        z = np.array([row.z_recency_days, row.z_frequency, row.z_monetary])
        np.testing.assert_allclose(z, X[members].mean(axis=0), rtol=1e-8, atol=1e-9)
        original = np.expm1(z * logs.std(axis=0) + logs.mean(axis=0))
        np.testing.assert_allclose([row.recency_days, row.frequency, row.monetary], original, rtol=1e-9)
        distances = np.linalg.norm(X[members] - z, axis=1)
        np.testing.assert_allclose(assignments["distance_to_centroid"].to_numpy()[members], distances, rtol=1e-9)
        assert row.value_score == pytest.approx(-z[0] + z[1] + z[2], rel=1e-9)


def test_another_seed_with_many_inits_gives_the_same_clusters(planted):
    base = rc.cluster_rfm(planted, rc.ClusterOptions(k=4))
    other = rc.cluster_rfm(planted, rc.ClusterOptions(k=4, seed=2024, n_init=50))
    pd.testing.assert_series_equal(other.assignments["cluster_id"], base.assignments["cluster_id"])
    pd.testing.assert_series_equal(other.assignments["cluster_name"], base.assignments["cluster_name"])
    columns = ["z_recency_days", "z_frequency", "z_monetary", "recency_days", "frequency", "monetary"]
    np.testing.assert_allclose(other.centroids[columns], base.centroids[columns], rtol=1e-8, atol=1e-9)


# --------------------------------------------------------------------------------------------- options


def test_transform_changes_the_features_and_the_clusters():
    # Three blobs evenly spaced in log space: in raw units the two small ones are close to each other.
    frame = blobs({"small": (3.0, 1.0, 20.0), "medium": (30.0, 10.0, 200.0), "large": (300.0, 100.0, 20000.0)})
    X_log, _ = rc.prepare_features(frame, rc.ClusterOptions(transform="log1p"))
    X_raw, customers = rc.prepare_features(frame, rc.ClusterOptions(transform="none"))
    raw = customers[FEATURES].to_numpy()
    np.testing.assert_allclose(X_raw, standardise(raw), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X_log, standardise(np.log1p(raw)), rtol=1e-12, atol=1e-12)
    assert not np.allclose(X_log, X_raw)

    log_fit = rc.cluster_rfm(frame, rc.ClusterOptions(transform="log1p"))
    raw_fit = rc.cluster_rfm(frame, rc.ClusterOptions(transform="none"))
    assert log_fit.k == 3 and raw_fit.k == 2
    ids = frame.sort_values("customer_id")
    assert partition(log_fit.assignments["cluster_id"], log_fit.assignments["customer_id"]) == partition(
        ids["group"].reset_index(drop=True), ids["customer_id"].reset_index(drop=True)
    )
    small_or_medium = set(frame.loc[frame["group"] != "large", "customer_id"])
    assert partition(raw_fit.assignments["cluster_id"], raw_fit.assignments["customer_id"]) == {
        frozenset(small_or_medium), frozenset(set(frame["customer_id"]) - small_or_medium)
    }


def expected_outlier_groups(frame: pd.DataFrame) -> pd.Series:
    """IQR outliers recomputed independently: numpy.percentile quartiles, fences at 1.5 IQR."""
    flags = {}
    for column in ("monetary", "frequency"):
        values = frame[column].to_numpy(dtype=float)
        q1, q3 = np.percentile(values, 25), np.percentile(values, 75)
        flags[column] = (values > q3 + 1.5 * (q3 - q1)) | (values < q1 - 1.5 * (q3 - q1))
    groups = np.full(len(frame), None, dtype=object)
    groups[flags["monetary"] & ~flags["frequency"]] = "monetary outliers"
    groups[~flags["monetary"] & flags["frequency"]] = "frequency outliers"
    groups[flags["monetary"] & flags["frequency"]] = "monetary and frequency outliers"
    return pd.Series(groups, index=frame["customer_id"].to_numpy(), dtype=object)


def test_iqr_outliers_are_set_aside_in_named_groups(lognormal):
    options = rc.ClusterOptions(outliers="iqr", k=3)
    expected = expected_outlier_groups(lognormal).sort_index()
    assert {1, 2, 3} <= set(expected[expected == "monetary outliers"].index)
    assert {4, 5, 6} <= set(expected[expected == "frequency outliers"].index)
    assert 7 in set(expected[expected == "monetary and frequency outliers"].index)

    X, customers = rc.prepare_features(lognormal, options)
    assert customers["outlier_group"].tolist() == expected.tolist()
    inliers = lognormal[lognormal["customer_id"].map(expected).isna()].sort_values("customer_id")
    assert len(X) == len(inliers) < len(lognormal)
    np.testing.assert_allclose(X, standardise(np.log1p(inliers[FEATURES].to_numpy())), rtol=1e-12, atol=1e-12)

    assignments = rc.fit_clusters(lognormal, options)
    out = assignments[assignments["outlier_group"].map(lambda v: v is not None)]
    assert out["customer_id"].tolist() == expected.dropna().index.tolist()
    assert out["cluster_id"].isna().all()
    assert out["distance_to_centroid"].isna().all()
    assert (out["cluster_name"] == out["outlier_group"]).all()
    assert (out["cluster_action"] == "review individually").all()
    # Left out of the fit: clustering the inliers alone, without outlier handling, gives the same clusters.
    alone = rc.fit_clusters(inliers, rc.ClusterOptions(k=3))
    kept = assignments[assignments["cluster_id"].notna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, alone, check_exact=True)
    assert rc.centroids(lognormal, options, 3)["customers"].sum() == len(inliers)


def test_no_outliers_by_default(lognormal):
    X, customers = rc.prepare_features(lognormal, rc.ClusterOptions())
    assert len(X) == len(lognormal)
    assert customers["outlier_group"].map(lambda v: v is None).all()


def test_fixed_k(planted):
    options = rc.ClusterOptions(k=6)
    X, _ = rc.prepare_features(planted, options)
    selection = rc.select_k(X, options)
    assert selection["k"].tolist() == [6] and selection["is_chosen"].tolist() == [True]
    model = KMeans(n_clusters=6, n_init=10, random_state=42).fit(X)
    assert selection["inertia"].iloc[0] == pytest.approx(model.inertia_, rel=1e-9)
    assert selection["silhouette"].iloc[0] == pytest.approx(silhouette_score(X, model.labels_), rel=1e-9)
    assignments = rc.fit_clusters(planted, options)
    assert sorted(assignments["cluster_id"].unique()) == [1, 2, 3, 4, 5, 6]
    table = rc.centroids(planted, options)
    assert table["cluster_id"].tolist() == [1, 2, 3, 4, 5, 6]
    # Six clusters on four groups: some names repeat, and then carry their cluster_id.
    assert table["cluster_name"].is_unique
    assert any(name.endswith(f"({cid})") for name, cid in zip(table["cluster_name"], table["cluster_id"]))
    assert set(assignments["cluster_name"]) == set(table["cluster_name"])


def test_select_k_matches_sklearn(planted):
    options = rc.ClusterOptions()
    X, _ = rc.prepare_features(planted, options)
    selection = rc.select_k(X, options)
    for row in selection.itertuples():
        model = KMeans(n_clusters=row.k, n_init=10, random_state=42).fit(X)
        assert row.inertia == pytest.approx(model.inertia_, rel=1e-9)
        # 600 customers < the 10000 sample size: silhouette on all of them.
        assert row.silhouette == pytest.approx(silhouette_score(X, model.labels_), rel=1e-9)


def test_silhouette_on_a_sample_when_there_are_more_customers(planted):
    options = rc.ClusterOptions(k=4, silhouette_sample_size=200)
    X, _ = rc.prepare_features(planted, options)
    labels = KMeans(n_clusters=4, n_init=10, random_state=42).fit(X).labels_
    sampled = rc.select_k(X, options)["silhouette"].iloc[0]
    assert sampled == pytest.approx(silhouette_score(X, labels, sample_size=200, random_state=42), rel=1e-9)
    assert sampled != rc.select_k(X, rc.ClusterOptions(k=4))["silhouette"].iloc[0]
    other_seed = rc.ClusterOptions(k=4, silhouette_sample_size=200, seed=3)
    assert rc.select_k(X, other_seed)["silhouette"].iloc[0] == pytest.approx(
        silhouette_score(X, labels, sample_size=200, random_state=3), rel=1e-9
    )


def test_few_customers_lower_k_max():
    frame = pd.DataFrame(
        {"customer_id": [5, 4, 3, 2, 1], "recency_days": [1, 5, 40, 90, 300], "frequency": [9, 4, 3, 1, 1],
         "monetary": [900.0, 300.0, 120.0, 15.0, 10.0]}
    )
    X, _ = rc.prepare_features(frame)
    assert rc.select_k(X)["k"].tolist() == [2, 3, 4]
    assert rc.fit_clusters(frame)["cluster_id"].notna().all()
    with pytest.raises(ValueError, match="k=5"):
        rc.fit_clusters(frame, rc.ClusterOptions(k=5))
    with pytest.raises(ValueError, match="k_min"):
        rc.fit_clusters(frame, rc.ClusterOptions(k_min=5, k_max=6))
    with pytest.raises(ValueError, match="too few customers"):
        rc.fit_clusters(frame.head(2))
    # Repeated feature rows count once: 3 distinct rows allow k up to 3.
    repeated = pd.concat([frame.head(3)] * 3, ignore_index=True).assign(customer_id=range(9))
    assert rc.select_k(rc.prepare_features(repeated)[0])["k"].tolist() == [2, 3]


def test_sorted_integer_ids_take_the_fast_path_with_the_same_result(lognormal):
    # Ids already strictly increasing skip the duplicate check and the sort; the result is the one of any order.
    ordered = lognormal.sort_values("customer_id").reset_index(drop=True)
    assert rc._strictly_increasing_integers(ordered["customer_id"])
    for other in (lognormal, ordered.iloc[::-1], ordered.astype({"customer_id": "float64"})):
        assert not rc._strictly_increasing_integers(other["customer_id"])
    assert not rc._strictly_increasing_integers(pd.Series([1, 2, 2, 3]))
    assert not rc._strictly_increasing_integers(pd.Series([1, 2, 3], dtype="Int64"))
    assert not rc._strictly_increasing_integers(pd.Series(["1", "2", "3"]))
    assert rc._strictly_increasing_integers(pd.Series([7], dtype="uint32"))
    options = rc.ClusterOptions(outliers="iqr")
    X, customers = rc.prepare_features(ordered, options)
    X_shuffled, customers_shuffled = rc.prepare_features(lognormal, options)
    np.testing.assert_array_equal(X, X_shuffled)
    pd.testing.assert_frame_equal(customers, customers_shuffled, check_exact=True)
    expected = ordered[["customer_id", *FEATURES]].astype({name: "float64" for name in FEATURES})
    pd.testing.assert_frame_equal(customers.drop(columns="outlier_group"), expected, check_exact=True)
    with pytest.raises(ValueError, match="customer_id is not unique: 1 duplicated"):
        rc.prepare_features(valid_frame().assign(customer_id=[1, 2, 2, 4, 5, 6, 7, 8, 9, 10]))
    # The medians of the naming rule: those of the clustered customers, computed by pandas.
    prepared = rc._prepare(ordered, options)
    clustered = customers["outlier_group"].isna()
    np.testing.assert_array_equal(prepared.medians, customers.loc[clustered, FEATURES].median().to_numpy())


def test_constant_variable_and_decimal_input():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"customer_id": [f"c{i:03d}" for i in range(60)], "recency_days": 10,
         "frequency": rng.integers(1, 9, 60), "monetary": [decimal.Decimal(str(v)) for v in rng.integers(5, 500, 60)]}
    )
    X, customers = rc.prepare_features(frame)
    assert (X[:, 0] == 0).all() and customers["monetary"].dtype == "float64"
    assignments = rc.fit_clusters(frame, rc.ClusterOptions(k=3))
    assert assignments["cluster_id"].notna().all()


# ---------------------------------------------------------------------------------------------- naming


def test_naming_rule_by_hand():
    centres = pd.DataFrame(
        {"cluster_id": [1, 2, 3, 4, 5, 6],
         "recency_days": [10.0, 12.0, 200.0, 15.0, 300.0, 30.0],
         "frequency": [5.0, 1.0, 4.0, 1.0, 1.0, 1.0],
         "monetary": [80.0, 500.0, 90.0, 20.0, 20.0, 50.0]}
    )
    medians = {"recency_days": 30.0, "frequency": 2.0, "monetary": 50.0}
    named = rc.name_clusters(centres, medians)
    assert named["cluster_name"].tolist() == [
        "Champions (1)", "Champions (2)", "At risk", "Promising", "Hibernating (5)", "Hibernating (6)"
    ]
    # cluster 6 sits exactly on every median: not recent, not high value.
    assert named["cluster_action"].tolist() == ["reward", "reward", "retain", "develop", "re-engage", "re-engage"]


# -------------------------------------------------------------------------------------------- crosstab


def test_cluster_segment_crosstab_by_hand():
    assignments = pd.DataFrame(
        {"customer_id": [1, 2, 3, 4, 5, 6],
         "cluster_id": pd.array([2, 2, 1, 1, 1, None], dtype="Int64"),
         "cluster_name": ["Hibernating", "Hibernating", "Champions", "Champions", "Champions", "monetary outliers"]}
    )
    segments = pd.DataFrame({"customer_id": [6, 4, 3, 2, 1, 9], "rfm_segment": ["B", "A", "A", None, "B", "A"]})
    table = rc.cluster_segment_crosstab(assignments, segments, "rfm_segment")
    assert list(table.columns) == ["cluster_name", "segment", "customers", "share_of_cluster"]
    assert table["cluster_name"].tolist() == ["Champions"] * 3 + ["Hibernating"] * 3 + ["monetary outliers"] * 3
    assert table["segment"].tolist() == ["A", "B", None] * 3  # customer 5 has no segment row, customer 2 a null
    assert table["customers"].tolist() == [2, 0, 1, 0, 1, 1, 0, 1, 0]
    np.testing.assert_allclose(table["share_of_cluster"], [2 / 3, 0, 1 / 3, 0, 0.5, 0.5, 0, 1, 0], rtol=1e-15)
    with pytest.raises(ValueError, match="segments lacks"):
        rc.cluster_segment_crosstab(assignments, segments, "lifecycle_segment")
    with pytest.raises(ValueError, match="duplicated"):
        rc.cluster_segment_crosstab(assignments, pd.concat([segments, segments]), "rfm_segment")


def test_crosstab_counts_add_up_to_fit(planted):
    assignments = rc.fit_clusters(planted, rc.ClusterOptions())
    segments = planted[["customer_id", "group"]]
    table = rc.cluster_segment_crosstab(assignments, segments, "group")
    nonzero = table[table["customers"] > 0]
    assert len(nonzero) == 4 and (nonzero["share_of_cluster"] == 1.0).all()
    assert table["customers"].sum() == len(planted)


# ------------------------------------------------------------------------------------------ validation


def valid_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": range(1, 11), "recency_days": range(10), "frequency": [1, 2] * 5,
         "monetary": np.linspace(10, 100, 10)}
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="monetary"), "missing required column.*monetary"),
        (lambda f: f.assign(frequency=f["frequency"].astype("float64").where(f.index != 3)), "frequency has 1 null"),
        (lambda f: f.assign(customer_id=f["customer_id"].astype("Int64").where(f.index != 0)), "customer_id has 1 null"),
        (lambda f: f.assign(recency_days=f["recency_days"] - 1), "recency_days has 1 negative"),
        (lambda f: f.assign(monetary=-f["monetary"]), "monetary has 10 negative"),
        (lambda f: f.assign(customer_id=[1, 1] + list(range(3, 11))), "customer_id is not unique"),
        (lambda f: f.assign(monetary=f["monetary"].astype(str)), "monetary must be numeric"),
        (lambda f: f.assign(monetary=np.inf), "monetary has 10 non-finite"),
        (lambda f: f.head(0), "no customers"),
    ],
)
def test_invalid_input_raises(change, message):
    with pytest.raises(ValueError, match=message):
        rc.prepare_features(change(valid_frame()))
    with pytest.raises(ValueError, match=message):
        rc.fit_clusters(change(valid_frame()))


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"transform": "sqrt"}, "transform"),
        ({"transform": None}, "transform"),
        ({"outliers": "zscore"}, "outliers"),
        ({"k": "best"}, "k"),
        ({"k": 1}, "k"),
        ({"k": 3.0}, "k"),
        ({"k": True}, "k"),
        ({"k_min": 1}, "k_min"),
        ({"k_min": 5, "k_max": 4}, "k_max"),
        ({"seed": -1}, "seed"),
        ({"seed": "42"}, "seed"),
        ({"n_init": 0}, "n_init"),
        ({"silhouette_sample_size": 10}, "silhouette_sample_size"),
    ],
)
def test_invalid_options_raise_naming_the_option(options, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        rc.ClusterOptions(**options)


def test_explicit_k_and_options_type_are_checked():
    with pytest.raises(ValueError, match="^k must"):
        rc.fit_clusters(valid_frame(), rc.ClusterOptions(), k=1)
    with pytest.raises(ValueError, match="options must be a ClusterOptions"):
        rc.fit_clusters(valid_frame(), {"k": 3})
    with pytest.raises(ValueError, match="too few customers"):
        rc.fit_clusters(valid_frame().head(1), rc.ClusterOptions(outliers="iqr"))


def test_options_normalise_numpy_integers():
    options = rc.ClusterOptions(k=np.int64(3), seed=np.int32(7), silhouette_sample_size=None)
    assert options.k == 3 and type(options.k) is int and options.seed == 7


# ------------------------------------------------------------------------------- k search on a sample


def md5_rank(ids) -> list:
    """The ids sorted by the first 16 hex digits of md5(str(id)), computed independently of the module."""
    return sorted(ids, key=lambda value: (int(hashlib.md5(str(value).encode()).hexdigest()[:16], 16), str(value)))


def test_k_search_sample_is_the_lowest_md5_of_the_ids_whatever_the_row_order():
    ids = np.arange(5000, 8000)
    mask = rc.k_search_sample(ids, 250)
    assert mask.dtype == bool and mask.sum() == 250
    assert set(ids[mask]) == set(md5_rank(ids.tolist())[:250])
    shuffled = np.random.default_rng(9).permutation(ids)
    assert set(shuffled[rc.k_search_sample(shuffled, 250)]) == set(ids[mask])
    assert set(ids[mask]) < set(ids[rc.k_search_sample(ids, 400)])  # a larger sample keeps the smaller one's
    assert rc.k_search_sample(ids, None).all() and rc.k_search_sample(ids, 3000).all()
    # Text ids hash their text; integer ids hash their decimal text, as DuckDB's customer_id::varchar.
    text = [f"C-{value}" for value in range(400)]
    assert set(np.array(text)[rc.k_search_sample(text, 100)]) == set(md5_rank(text)[:100])
    assert rc.id_hashes([123]).tolist() == rc.id_hashes(["123"]).tolist()
    assert rc.id_hashes([123])[0] == int("202cb962ac59075b", 16)  # md5("123") = 202cb962ac59075b964b07152d234b70
    # An integer array is hashed by DuckDB: the same bits as hashlib, in the ids' own order.
    ids = np.array([123, -7, 0, 2**62, 10**15 + 3, 5, 123], dtype=np.int64)
    expected = [int(hashlib.md5(str(int(value)).encode()).hexdigest()[:16], 16) for value in ids]
    assert rc.id_hashes(ids).tolist() == expected
    assert rc.id_hashes(ids.astype(np.int32)[:3]).tolist() == expected[:3]


def test_k_search_on_a_sample_recovers_planted_groups_and_says_how_many_it_used():
    planted = blobs(PLANTED, per_group=400, seed=4)  # 1600 customers
    n = len(planted)
    options = rc.ClusterOptions(k_search_sample_size=300)
    result = rc.cluster_rfm(planted, options)
    assert result.k == 4
    assert (result.selection["k_search_customers"] == 300).all()
    assert result.centroids["customers"].sum() == n and len(result.assignments) == n
    merged = result.assignments.merge(planted[["customer_id", "group"]], on="customer_id")
    assert partition(merged["cluster_id"], merged["customer_id"]) == partition(merged["group"], merged["customer_id"])
    assert merged.groupby("group")["cluster_name"].first().to_dict() == PLANTED_NAMES

    # Inertia and silhouette are those of K-means on the sample's rows (standardised over all customers).
    X, customers = rc.prepare_features(planted, options)
    sample = rc.k_search_sample(customers["customer_id"], 300)
    assert set(customers["customer_id"][sample]) == set(md5_rank(planted["customer_id"].tolist())[:300])
    selection = rc.select_k(X, options, customer_ids=customers["customer_id"])
    pd.testing.assert_frame_equal(selection, result.selection, check_exact=True)
    for row in selection.itertuples():
        model = KMeans(n_clusters=row.k, n_init=10, random_state=42).fit(X[sample])
        assert row.inertia == pytest.approx(model.inertia_, rel=1e-9)
        assert row.silhouette == pytest.approx(silhouette_score(X[sample], model.labels_), rel=1e-9)
    full = KMeans(n_clusters=4, n_init=10, random_state=42).fit(X)
    assert selection["inertia"].iloc[2] < full.inertia_ / 4  # a sum over 300 customers, not 1600

    # The fit on all customers is a converged Lloyd run: each customer at its nearest centroid, centroids the
    # means of their members.
    z = result.centroids[["z_recency_days", "z_frequency", "z_monetary"]].to_numpy()
    ids = result.assignments["cluster_id"].to_numpy(dtype="int64")
    nearest = np.argmin(((X[:, None, :] - z[None, :, :]) ** 2).sum(axis=2), axis=1) + 1
    assert (nearest == ids).all()
    for cid in range(1, 5):
        np.testing.assert_allclose(z[cid - 1], X[ids == cid].mean(axis=0), rtol=1e-8, atol=1e-9)

    # Same result whatever the row order, and whichever way k was reached.
    shuffled = planted.sample(frac=1.0, random_state=1).reset_index(drop=True)
    again = rc.cluster_rfm(shuffled, options)
    for part in ("selection", "assignments", "centroids"):
        assert getattr(again, part).to_csv() == getattr(result, part).to_csv()
    pd.testing.assert_frame_equal(rc.fit_clusters(planted, options, k=4), result.assignments, check_exact=True)
    pd.testing.assert_frame_equal(rc.fit_clusters(shuffled, options), result.assignments, check_exact=True)
    pd.testing.assert_frame_equal(rc.centroids(planted, options, 4), result.centroids, check_exact=True)
    fixed = rc.cluster_rfm(planted, rc.ClusterOptions(k=4, k_search_sample_size=300))
    assert fixed.selection["k"].tolist() == [4] and fixed.selection["k_search_customers"].tolist() == [300]
    pd.testing.assert_frame_equal(fixed.assignments, result.assignments, check_exact=True)


def test_k_search_threshold_at_or_above_the_customers_changes_nothing(planted):
    n = len(planted)
    everyone = rc.cluster_rfm(planted, rc.ClusterOptions(k_search_sample_size=None))
    assert (everyone.selection["k_search_customers"] == n).all()
    for size in (n, n + 1, 100000, 0):
        other = rc.cluster_rfm(planted, rc.ClusterOptions(k_search_sample_size=size))
        for part in ("selection", "assignments", "centroids"):
            assert getattr(other, part).to_csv() == getattr(everyone, part).to_csv(), (size, part)
    # ... and the search is K-means on every customer, as before the option existed.
    X, _ = rc.prepare_features(planted)
    for row in everyone.selection.itertuples():
        assert row.inertia == pytest.approx(KMeans(n_clusters=row.k, n_init=10, random_state=42).fit(X).inertia_,
                                            rel=1e-9)
    # Below the threshold select_k needs no ids; above it, it does.
    pd.testing.assert_frame_equal(rc.select_k(X), everyone.selection, check_exact=True)
    with pytest.raises(ValueError, match="pass customer_ids"):
        rc.select_k(X, rc.ClusterOptions(k_search_sample_size=100))
    with pytest.raises(ValueError, match="not unique"):
        rc.select_k(X, rc.ClusterOptions(k_search_sample_size=100), customer_ids=[1] * n)


def test_k_search_sample_breaks_ties_at_the_cutoff_by_the_ids_text(monkeypatch):
    # 64-bit hashes practically never tie: planted hashes with ties at the cutoff, against a sort by (hash, text).
    ids = np.array([15, 3, 22, 101, 7, 40, 9, 1000, 11, 5])
    hashes = np.array([4, 2, 4, 9, 4, 1, 4, 2, 8, 4], dtype=np.uint64)
    monkeypatch.setattr(rc, "id_hashes", lambda values: hashes)
    ranked = sorted(range(len(ids)), key=lambda i: (int(hashes[i]), str(ids[i])))
    for size in range(1, len(ids)):
        mask = rc.k_search_sample(ids, size)
        assert mask.sum() == size and set(ids[mask]) == set(ids[ranked[:size]]), size
        assert set(ids[rc.k_search_sample(pd.Series(ids, index=ids[::-1]), size)]) == set(ids[mask])


def test_integer_id_hashes_line_up_with_their_rows_over_several_row_groups():
    # Hundreds of thousands of ids: DuckDB hashes them on several threads, each hash must come back to its row.
    ids = np.random.default_rng(2).permutation(300_000) * 7 - 1000
    expected = np.frombuffer(b"".join(hashlib.md5(str(v).encode()).digest()[:8] for v in ids.tolist()), dtype=">u8")
    assert (rc.id_hashes(ids) == expected.astype(np.uint64)).all()


def test_search_sample_ids_are_checked_whatever_their_order():
    X, customers = rc.prepare_features(blobs(PLANTED, per_group=100, seed=6))
    options = rc.ClusterOptions(k_search_sample_size=150)
    ids = customers["customer_id"].to_numpy()
    expected = rc.k_search_sample(ids, 150)
    assert (rc._search_sample(X, ids, options) == expected).all()  # sorted, as prepare_features gives them
    assert (rc._search_sample(X, pd.Series(ids[::-1]), options) == expected[::-1]).all()
    assert (rc._search_sample(X, ids.tolist(), options) == expected).all()
    for bad in (np.r_[ids[:-1], ids[0]], np.r_[ids[:-2], ids[-3], ids[-1]], pd.Series(ids, dtype="Int64").where(
            ids != ids[5])):
        with pytest.raises(ValueError, match="not unique, or have nulls"):
            rc._search_sample(X, bad, options)


@pytest.mark.parametrize(("size", "stored"), [(None, None), (0, None), (100, 100), (np.int64(5000), 5000)])
def test_k_search_sample_size_option(size, stored):
    assert rc.ClusterOptions(k_search_sample_size=size).k_search_sample_size == stored
    assert rc.ClusterOptions().k_search_sample_size == 100000


@pytest.mark.parametrize("size", [-1, 1, 99, 2.5, "100", True])
def test_k_search_sample_size_invalid(size):
    with pytest.raises(ValueError, match="^k_search_sample_size must"):
        rc.ClusterOptions(k_search_sample_size=size)


def test_k_search_sample_size_from_the_dbt_variable():
    import model_settings

    def options(value):
        return model_settings.cluster_options("log1p", "none", "auto", "2", "8", "42", "10", "10000", value)

    assert options("100000").k_search_sample_size == 100000
    assert options("0").k_search_sample_size is None
    assert options("None").k_search_sample_size is None
    with pytest.raises(ValueError, match="cluster_k_search_sample_size"):
        options("many")


# ------------------------------------------------------------------------------------ bulk helpers


def test_round_significant_equals_python_formatting():
    rng = np.random.default_rng(21)
    values = np.concatenate([
        rng.random(20000) * 3, rng.lognormal(0.0, 8.0, 20000) * rng.choice([-1.0, 1.0], 20000),
        np.round(rng.random(20000) * 1000, 2), rng.integers(0, 10**13, 5000).astype("float64"),
        np.arange(1, 5001) / 1024.0, 0.5 + np.arange(1, 5001) * 1e-10,
        [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1e-300, 1.7e308, 1e22, 1e23, 1e-13, 1e-14, 9.9999999995,
         1.00000000005, 123456789.05, 999999999.95, 1e9, 1e10, 2.5e-7],
    ])
    expected = np.array([float(format(value, ".9e")) for value in values])
    rounded = rc.round_significant(values)
    assert np.array_equal(rounded, expected, equal_nan=True)
    assert np.array_equal(np.signbit(rounded), np.signbit(expected))
    assert rc.round_significant(np.pi) == 3.141592654 and isinstance(rc.round_significant(np.pi), float)
    assert rc.round_significant(values.reshape(-1, 1)).shape == (len(values), 1)


def test_k_range_counts_distinct_rows_beyond_the_first_ones():
    # Three distinct rows for the first 3000 customers, a fourth one after them: k = 4 is still allowed.
    rows = [(1, 1, 10.0), (30, 2, 50.0), (300, 5, 900.0)]
    frame = pd.DataFrame([rows[i % 3] for i in range(3000)] + [(90, 9, 5000.0)] * 5, columns=FEATURES)
    frame.insert(0, "customer_id", np.arange(len(frame)))
    assert rc.select_k(rc.prepare_features(frame)[0])["k"].tolist() == [2, 3, 4]
    assert rc.select_k(rc.prepare_features(frame.head(3000))[0])["k"].tolist() == [2, 3]


def test_silhouettes_of_every_k_share_one_pass_and_equal_sklearn():
    # One pass of distances serves every labeling: each score must still be sklearn's silhouette_score, on the
    # same seeded sample, including a cluster of one (its point scores 0) and a labeling with unused codes.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(900, 3))
    labelings = [rng.integers(0, k, len(X)) for k in (2, 3, 5, 8)]
    labelings.append(np.where(np.arange(len(X)) == 11, 9, rng.integers(0, 2, len(X))))  # codes 0, 1 and 9
    for sample_size, seed in ((None, 42), (300, 42), (300, 7)):
        options = rc.ClusterOptions(silhouette_sample_size=sample_size, seed=seed)
        expected = [silhouette_score(X, labels, sample_size=sample_size, random_state=seed) for labels in labelings]
        np.testing.assert_allclose(rc._silhouettes(X, labelings, options), expected, rtol=1e-11)
    with pytest.raises(ValueError, match="clusters"):
        rc._silhouettes(X, [np.zeros(len(X), dtype=int)], rc.ClusterOptions())
