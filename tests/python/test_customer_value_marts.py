"""The K-means and customer-value marts of a real build, against computations made here from the raw files
and the warehouse: the data path into the tested maths (rfm_clusters, customer_value), the aggregates
around it, the variables that steer it, and the documented column types of the Python models."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

import crm
import customer_value as cv
import rfm_clusters
from reference import cents, order_lines, query, raw_frames

ROOT = Path(__file__).resolve().parents[2]
PYTHON_MODEL_YAMLS = [
    ROOT / "models" / "marts" / "clusters" / "_clusters__models.yml",
    ROOT / "models" / "marts" / "customer_value" / "_customer_value__models.yml",
]
DUCKDB_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "integer": "INTEGER", "double": "DOUBLE",
                "boolean": "BOOLEAN", "date": "DATE", "decimal(18,2)": "DECIMAL(18,2)"}


@pytest.fixture(scope="module")
def purchase_days(built: dict) -> pd.DataFrame:
    """Purchase days recomputed from the raw files: sale lines summed per customer and calendar day (UTC)."""
    lines = order_lines(raw_frames(built["data_dir"]))
    sales = lines[lines["is_sale"]].copy()
    ordered_at = pd.to_datetime(sales["ordered_at"], utc=True)
    sales["purchase_date"] = ordered_at.dt.tz_localize(None).dt.normalize()
    days = (sales.groupby(["user_id", "purchase_date"], as_index=False)["price_cents"].sum()
            .rename(columns={"user_id": "customer_id"}))
    days["amount"] = days["price_cents"] / 100
    return days


@pytest.fixture(scope="module")
def reference_date(purchase_days: pd.DataFrame) -> dt.date:
    return (purchase_days["purchase_date"].max() + pd.Timedelta(days=1)).date()


def summary_by_hand(days: pd.DataFrame, reference: dt.date) -> pd.DataFrame:
    """x, t_x, T and the repeat-day mean value as the BG/NBD paper defines them, written out with pandas."""
    before = days[days["purchase_date"] < pd.Timestamp(reference)].sort_values(["customer_id", "purchase_date"])
    grouped = before.groupby("customer_id")
    first, last = grouped["purchase_date"].min(), grouped["purchase_date"].max()
    x = grouped.size() - 1
    first_day_value = before.drop_duplicates("customer_id").set_index("customer_id")["price_cents"]
    repeat_value = (grouped["price_cents"].sum() - first_day_value) / 100
    calibration_end = pd.Timestamp(reference) - pd.Timedelta(days=1)
    return pd.DataFrame({
        "x": x,
        "t_x": (last - first).dt.days.astype(float),
        "T": (calibration_end - first).dt.days.astype(float),
        "mean_value": np.where(x > 0, repeat_value / x.clip(lower=1), 0.0),
        "total": grouped["price_cents"].sum() / 100,
    }).sort_index()


def test_python_models_have_their_documented_column_types(built: dict) -> None:
    """Python models cannot enforce a contract: the built tables must still have the YAML's names, order and types."""
    for path in PYTHON_MODEL_YAMLS:
        for node in yaml.safe_load(path.read_text())["models"]:
            actual = query(built["db"], f"describe {node['name']}")
            expected = [(column["name"], DUCKDB_TYPES[column["data_type"]]) for column in node["columns"]]
            assert list(zip(actual["column_name"], actual["column_type"])) == expected, node["name"]


def test_customer_value_summary_matches_the_raw_files(built: dict, purchase_days: pd.DataFrame,
                                                      reference_date: dt.date) -> None:
    mart = query(built["db"], "select * from customer_value order by customer_id").set_index("customer_id")
    expected = summary_by_hand(purchase_days, reference_date)
    assert mart.index.tolist() == expected.index.tolist()
    assert (mart["reference_date"].dt.date == reference_date).all()
    assert mart["repeat_purchase_days"].tolist() == expected["x"].tolist()
    assert mart["purchase_days"].tolist() == (expected["x"] + 1).tolist()
    np.testing.assert_array_equal(mart["days_first_to_last_purchase"], expected["t_x"])
    np.testing.assert_array_equal(mart["days_since_first_purchase"], expected["T"])
    np.testing.assert_array_equal(mart["days_since_last_purchase"], expected["T"] - expected["t_x"])
    np.testing.assert_allclose(mart["calibration_revenue"], expected["total"], rtol=1e-12)
    repeaters = expected["x"] > 0
    np.testing.assert_allclose(mart.loc[repeaters, "mean_repeat_purchase_value"], expected.loc[repeaters, "mean_value"],
                               rtol=1e-12)
    assert mart.loc[~repeaters, "mean_repeat_purchase_value"].isna().all()


def test_fitted_parameters_are_the_maximum_likelihood_of_the_raw_data(built: dict, purchase_days: pd.DataFrame,
                                                                      reference_date: dt.date) -> None:
    fit = query(built["db"], "select * from customer_value_fit where fit_scope = 'reference'")
    estimates = dict(zip(fit["model"] + "." + fit["parameter"], fit["estimate"]))
    expected = summary_by_hand(purchase_days, reference_date)
    bg = cv.fit_bgnbd(expected["x"], expected["t_x"], expected["T"])
    for name in ("r", "alpha", "a", "b"):
        assert estimates[f"bg_nbd.{name}"] == pytest.approx(getattr(bg, name), rel=1e-6)
    bg_rows = fit[fit["model"] == "bg_nbd"]
    params = tuple(estimates[f"bg_nbd.{name}"] for name in ("r", "alpha", "a", "b"))
    # The reported log-likelihood is the closed form at the reported estimates, and no nearby point beats it.
    total = cv.bgnbd_log_likelihood(params, expected["x"], expected["t_x"], expected["T"]).sum()
    assert bg_rows["log_likelihood"].iloc[0] == pytest.approx(total, rel=1e-9)
    for index in range(4):
        nudged = list(params)
        nudged[index] *= 1.01
        assert cv.bgnbd_log_likelihood(nudged, expected["x"], expected["t_x"], expected["T"]).sum() < total
    alpha = bg_rows.set_index("parameter")
    assert alpha.loc["alpha", "estimate_weeks"] == pytest.approx(alpha.loc["alpha", "estimate"] / 7, rel=1e-12)
    assert alpha.loc["r", "estimate_weeks"] == alpha.loc["r", "estimate"]
    assert (bg_rows["customers"] == len(expected)).all()
    gg = cv.fit_gamma_gamma(expected["x"], expected["mean_value"])
    for name in ("p", "q", "gamma"):
        assert estimates[f"gamma_gamma.{name}"] == pytest.approx(getattr(gg, name), rel=1e-5)
    assert (fit.loc[fit["model"] == "gamma_gamma", "customers"] == int((expected["x"] > 0).sum())).all()
    assert fit["std_error"].gt(0).all() and fit["converged"].all()


def test_customer_predictions_follow_from_the_fit(built: dict) -> None:
    mart = query(built["db"], "select * from customer_value order by customer_id")
    fit = query(built["db"], "select * from customer_value_fit where fit_scope = 'reference'")
    estimates = dict(zip(fit["model"] + "." + fit["parameter"], fit["estimate"]))
    bg = tuple(estimates[f"bg_nbd.{name}"] for name in ("r", "alpha", "a", "b"))
    gg = tuple(estimates[f"gamma_gamma.{name}"] for name in ("p", "q", "gamma"))
    x = mart["repeat_purchase_days"].to_numpy()
    t_x, T = mart["days_first_to_last_purchase"].to_numpy(), mart["days_since_first_purchase"].to_numpy()
    mean_value = mart["mean_repeat_purchase_value"].fillna(0).to_numpy()
    np.testing.assert_allclose(mart["p_alive"], cv.p_alive(bg, x, t_x, T), rtol=1e-12)
    assert (mart.loc[mart["repeat_purchase_days"] == 0, "p_alive"] == 1).all()
    np.testing.assert_allclose(mart["expected_purchases_365d"], cv.expected_purchases(bg, 365.0, x, t_x, T), rtol=1e-12)
    assert (mart["expected_purchases_365d"] >= mart["expected_purchases_90d"]).all()
    # Gamma-Gamma by hand: (p + x) gamma-weighted mix of the population mean and the customer's mean.
    p, q, gamma = gg
    by_hand = np.where(x > 0, (gamma + x * mean_value) * p / (p * x + q - 1), p * gamma / (q - 1))
    np.testing.assert_allclose(mart["expected_order_value"], by_hand, rtol=1e-9)
    band = np.where(mart["p_alive"] < 0.3, "high", np.where(mart["p_alive"] >= 0.7, "low", "medium"))
    assert mart["churn_risk"].tolist() == band.tolist()
    # Without a margin-rate variable the margin is the one earned before the reference date.
    margins = query(built["db"], "select sum(gross_margin) / sum(sale_price) as rate from transactions "
                                 "where is_sale and ordered_at < (select max(reference_date) from customer_value)")
    assert mart["margin_rate"].iloc[0] == pytest.approx(float(margins["rate"].iloc[0]), rel=1e-9)
    expected_clv = cv.customer_lifetime_value(bg, gg, x, t_x, T, mean_value, horizon_days=365,
                                              margin_rate=mart["margin_rate"].iloc[0], annual_discount_rate=0.1)
    np.testing.assert_allclose(mart["clv"], expected_clv, rtol=1e-12)


def test_holdout_check_counts_the_purchase_days_after_the_cutoff(built: dict, purchase_days: pd.DataFrame,
                                                                  reference_date: dt.date) -> None:
    cutoff = reference_date - dt.timedelta(days=180)
    table = query(built["db"], "select * from customer_value_holdout order by frequency_group_order")
    assert (table["holdout_start"].dt.date == cutoff).all() and (table["holdout_end"].dt.date == reference_date).all()
    calibration = summary_by_hand(purchase_days, cutoff)
    after = purchase_days[(purchase_days["purchase_date"] >= pd.Timestamp(cutoff))
                          & (purchase_days["purchase_date"] < pd.Timestamp(reference_date))]
    holdout = after.groupby("customer_id").size().reindex(calibration.index, fill_value=0)
    group = calibration["x"].clip(upper=7)
    actual = holdout.groupby(group).agg(["size", "sum", "mean"])
    assert table["frequency_group"].tolist() == [f"{g}+" if g == 7 else str(g) for g in actual.index]
    assert table["customers"].tolist() == actual["size"].tolist()
    assert table["actual_total"].tolist() == actual["sum"].astype(float).tolist()
    np.testing.assert_allclose(table["actual_mean"], actual["mean"], rtol=1e-12)
    weights = table["customers"] / table["customers"].sum()
    assert table["mean_absolute_error"].iloc[0] == pytest.approx(
        float((weights * (table["predicted_mean"] - table["actual_mean"]).abs()).sum()), rel=1e-12)


def test_churn_predictors_auc_matches_sklearn(built: dict) -> None:
    scored = query(built["db"], "select * from int_customer_value_holdout_scored")
    evaluation = query(built["db"], "select * from churn_model_evaluation")
    label = scored["no_purchase_in_holdout"].astype(int)
    scores = {
        "bg_nbd_one_minus_p_alive": 1 - scored["p_alive"],
        "bg_nbd_p_no_purchase": scored["p_no_purchase_in_holdout"],
        "logistic_rfm": scored["logistic_no_purchase_probability"],
    }
    assert sorted(evaluation["predictor"].unique()) == sorted(scores)
    for name, score in scores.items():
        rows = evaluation[evaluation["predictor"] == name].sort_values("decile")
        assert rows["auc"].iloc[0] == pytest.approx(roc_auc_score(label, score), abs=1e-12)
        assert rows["customers"].sum() == len(scored) and len(rows) == 10
        assert rows["observed_base_rate"].iloc[0] == pytest.approx(label.mean(), abs=1e-15)
        assert (rows["mean_predicted"].diff().dropna() >= 0).all()
    # The model's own probability of no purchase ranks better than 1 - P(alive), which calls every
    # one-purchase customer safe (a property of BG/NBD the docs explain).
    auc = evaluation.groupby("predictor")["auc"].first()
    assert auc["bg_nbd_p_no_purchase"] > auc["bg_nbd_one_minus_p_alive"]
    assert auc["logistic_rfm"] > 0.6


def test_clusters_are_the_tested_fit_of_the_pre_launch_rfm(built: dict) -> None:
    rfm = query(built["db"], "select campaign_id, customer_id, recency_days, frequency, cast(monetary as double) "
                             "as monetary from rfm_features order by campaign_id, customer_id")
    clusters = query(built["db"], "select * from customer_clusters order by campaign_id, customer_id")
    selection = query(built["db"], "select * from cluster_selection order by campaign_id, k")
    options = rfm_clusters.ClusterOptions()
    first = rfm["campaign_id"].min()
    features = rfm[rfm["campaign_id"] == first].drop(columns="campaign_id")
    expected_selection = rfm_clusters.select_k(rfm_clusters.prepare_features(features, options)[0], options)
    ours = selection[selection["campaign_id"] == first].reset_index(drop=True)
    assert ours["k"].tolist() == expected_selection["k"].tolist() == list(range(2, 9))
    np.testing.assert_allclose(ours["inertia"], expected_selection["inertia"], rtol=1e-9)
    np.testing.assert_allclose(ours["silhouette"], expected_selection["silhouette"], rtol=1e-9)
    chosen = ours.loc[ours["is_chosen"], "k"].item()
    assert chosen == ours.sort_values(["silhouette", "k"], ascending=[False, True])["k"].iloc[0]
    assert selection.groupby("campaign_id")["is_chosen"].sum().eq(1).all()

    expected = rfm_clusters.fit_clusters(features, options, k=chosen)
    ours = clusters[clusters["campaign_id"] == first].reset_index(drop=True)
    assert ours["customer_id"].tolist() == expected["customer_id"].tolist()
    assert ours["cluster_id"].tolist() == expected["cluster_id"].astype(int).tolist()
    assert ours["cluster_name"].tolist() == expected["cluster_name"].tolist()
    assert ours["outlier_group"].isna().all()
    # Campaigns launched on the same day share the clustering.
    for campaign_id, rows in clusters.groupby("campaign_id"):
        if rows["launch_date"].iloc[0] == ours["launch_date"].iloc[0]:
            assert rows["cluster_id"].tolist() == ours["cluster_id"].tolist()


def test_cluster_profiles_and_segment_table_aggregate_the_clusters(built: dict) -> None:
    clusters = query(built["db"], "select * from customer_clusters")
    clusters["monetary_cents"] = cents(clusters["monetary"].astype(float))
    profiles = query(built["db"], "select * from cluster_profiles order by campaign_id, cluster_name")
    expected = (clusters.groupby(["campaign_id", "cluster_name"])
                .agg(customers=("customer_id", "size"), median_recency_days=("recency_days", "median"),
                     median_frequency=("frequency", "median"), mean_frequency=("frequency", "mean"),
                     median_monetary=("monetary", lambda s: float(np.median(s.astype(float)))),
                     revenue_cents=("monetary_cents", "sum"))
                .reset_index().sort_values(["campaign_id", "cluster_name"]).reset_index(drop=True))
    assert profiles["customers"].tolist() == expected["customers"].tolist()
    for column in ("median_recency_days", "median_frequency", "mean_frequency", "median_monetary"):
        np.testing.assert_allclose(profiles[column], expected[column], rtol=1e-12, err_msg=column)
    assert (cents(profiles["revenue"].astype(float)) == expected["revenue_cents"]).all()
    totals = expected.groupby("campaign_id")["revenue_cents"].transform("sum")
    np.testing.assert_allclose(profiles["revenue_share"], expected["revenue_cents"] / totals, rtol=1e-12)
    np.testing.assert_allclose(profiles.groupby("campaign_id")["customer_share"].sum(), 1.0, rtol=1e-12)

    crosstab = query(built["db"], "select * from clusters_by_segment where segment_scheme = 'lifecycle'")
    counts = clusters.groupby(["campaign_id", "cluster_name", "lifecycle_segment"]).size()
    ours = crosstab.set_index(["campaign_id", "cluster_name", "segment"])["customers"]
    assert ours.sort_index().to_dict() == counts.sort_index().to_dict()


def test_variables_steer_the_python_models(built: dict, tmp_path: Path) -> None:
    """Fixed k, IQR outliers, no log transform, another margin rate and holdout length, through dbt --vars."""
    db = tmp_path / "vars.duckdb"
    shutil.copy(built["db"], db)
    variables = {"cluster_k": 4, "cluster_outliers": "iqr", "cluster_transform": "none", "clv_margin_rate": 0.4,
                 "clv_holdout_days": 90}
    assert crm.dbt(["build", "--quiet", "--select", "cluster_selection+", "int_customer_value_summaries+",
                    "--vars", json.dumps(variables)], db) == 0
    selection = query(db, "select * from cluster_selection")
    assert selection["k"].eq(4).all() and selection["is_chosen"].all()
    assert set(selection["transform"]) == {"none"} and set(selection["outliers"]) == {"iqr"}

    rfm = query(db, "select campaign_id, customer_id, frequency, cast(monetary as double) as monetary "
                    "from rfm_features order by all")
    clusters = query(db, "select campaign_id, customer_id, cluster_id, outlier_group from customer_clusters order by all")
    first = rfm[rfm["campaign_id"] == rfm["campaign_id"].min()]
    ours = clusters[clusters["campaign_id"] == first["campaign_id"].iloc[0]]

    def beyond(values: pd.Series) -> pd.Series:
        q1, q3 = np.percentile(values, [25, 75])
        return (values < q1 - 1.5 * (q3 - q1)) | (values > q3 + 1.5 * (q3 - q1))

    monetary, frequency = beyond(first["monetary"]).to_numpy(), beyond(first["frequency"]).to_numpy()
    expected = np.select([monetary & frequency, monetary, frequency],
                         ["monetary and frequency outliers", "monetary outliers", "frequency outliers"], default="")
    assert ours["outlier_group"].fillna("").tolist() == expected.tolist()
    assert sorted(ours["cluster_id"].dropna().unique().tolist()) == [1, 2, 3, 4]
    assert ours.loc[ours["outlier_group"].notna(), "cluster_id"].isna().all()

    value = query(db, "select distinct margin_rate, reference_date from customer_value")
    assert value["margin_rate"].tolist() == [0.4]
    holdout = query(db, "select distinct holdout_start, holdout_end from customer_value_holdout")
    assert (holdout["holdout_end"] - holdout["holdout_start"]).dt.days.tolist() == [90]


def test_a_bad_variable_stops_the_build_with_its_name(built: dict, tmp_path: Path) -> None:
    db = tmp_path / "bad.duckdb"
    shutil.copy(built["db"], db)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--select", "cluster_selection", "--vars",
         '{"cluster_transform": "sqrt"}', "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "CRM_UPLIFT_DB": str(db)},
    )
    assert result.returncode != 0
    assert "variable cluster_transform must be one of log1p, none; got 'sqrt'" in result.stdout


def _dbt_output(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "CRM_UPLIFT_DB": str(db)},
    )


def test_a_holdout_length_is_checked_where_the_summary_is_made_and_where_it_is_fitted(built: dict,
                                                                                      tmp_path: Path) -> None:
    """A holdout length that is not a whole number stops the SQL summary; a fit whose holdout length differs from
    the one its (upstream) summary was built with stops with both cutoffs named, and leaves the table as it was."""
    db = tmp_path / "holdout.duckdb"
    shutil.copy(built["db"], db)
    bad = _dbt_output(db, "build", "--select", "int_customer_value_summaries", "--vars", '{"clv_holdout_days": 2.5}')
    assert bad.returncode != 0
    assert "variable clv_holdout_days must be a whole number of at least 1, got '2.5'" in bad.stdout
    before = query(db, "select * from customer_value_fit order by all")
    stale = _dbt_output(db, "run", "--select", "customer_value_fit", "--vars", '{"clv_holdout_days": 30}')
    assert stale.returncode != 0
    assert "int_customer_value_summaries was built for a holdout cutoff of" in stale.stdout
    assert "clv_holdout_days=30 gives" in stale.stdout
    pd.testing.assert_frame_equal(query(db, "select * from customer_value_fit order by all"), before)
