"""CUPED on the built-in campaigns: uplift_revenue_cuped against numpy on the warehouse's own customers, and
the closed loop's injected revenue effect inside both intervals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reference import query


def customers_of(db) -> pd.DataFrame:
    return query(db, """
        select o.campaign_id, o.customer_id, o.arm, o.lifecycle_segment, cast(o.revenue as double) as y,
               cast(coalesce(r.monetary, 0) as double) as x
        from campaign_outcomes as o
        left join rfm_features as r on o.campaign_id = r.campaign_id and o.customer_id = r.customer_id
    """)


def cuped_by_hand(t: pd.DataFrame, c: pd.DataFrame) -> dict:
    pooled = pd.concat([t, c])
    x, y = pooled["x"].to_numpy(), pooled["y"].to_numpy()
    theta = float(np.cov(x, y, ddof=0)[0, 1] / np.var(x)) if np.var(x) > 0 else 0.0
    adjust = lambda frame: frame["y"].to_numpy() - theta * (frame["x"].to_numpy() - x.mean())  # noqa: E731
    plain_se = np.sqrt(t["y"].var(ddof=1) / len(t) + c["y"].var(ddof=1) / len(c))
    at, ac = adjust(t), adjust(c)
    cuped_se = np.sqrt(at.var(ddof=1) / len(at) + ac.var(ddof=1) / len(ac))
    return {"theta": theta, "diff": t["y"].mean() - c["y"].mean(), "se": plain_se,
            "cuped_diff": at.mean() - ac.mean(), "cuped_se": cuped_se,
            "reduction": 1 - cuped_se**2 / plain_se**2}


def test_cuped_matches_numpy_on_every_comparison(built: dict) -> None:
    customers = customers_of(built["db"])
    mart = query(built["db"], "select * from uplift_revenue_cuped where segment_scheme in ('overall', 'lifecycle')")
    assert len(mart) > 4
    for row in mart.itertuples():
        rows = customers[customers["campaign_id"] == row.campaign_id]
        if row.segment_scheme == "lifecycle":
            rows = rows[rows["lifecycle_segment"] == row.segment]
        expected = cuped_by_hand(rows[rows["arm"] == row.arm], rows[rows["arm"] == "control"])
        assert row.cuped_theta == pytest.approx(expected["theta"], rel=1e-9, abs=1e-12)
        assert row.revenue_per_customer_diff == pytest.approx(expected["diff"], rel=1e-9, abs=1e-9)
        assert row.revenue_standard_error == pytest.approx(expected["se"], rel=1e-7)
        assert row.cuped_revenue_per_customer_diff == pytest.approx(expected["cuped_diff"], rel=1e-9, abs=1e-9)
        assert row.cuped_revenue_standard_error == pytest.approx(expected["cuped_se"], rel=1e-7)
        assert row.variance_reduction == pytest.approx(expected["reduction"], abs=1e-7)
        # With theta fitted on the pooled data the adjusted variance can only shrink (up to sampling noise
        # between arms): never by more than a hair.
        assert row.variance_reduction > -0.01
        p_value = 2 * stats.norm.sf(abs(expected["cuped_diff"] / expected["cuped_se"]))
        assert row.cuped_revenue_p_value == pytest.approx(p_value, rel=1e-6, abs=1e-12)


def test_theta_zero_gives_back_the_plain_difference() -> None:
    t = pd.DataFrame({"y": [0.0, 10.0, 25.0, 0.0], "x": [5.0, 5.0, 5.0, 5.0]})
    c = pd.DataFrame({"y": [0.0, 12.0, 0.0], "x": [5.0, 5.0, 5.0]})
    expected = cuped_by_hand(t, c)
    assert expected["theta"] == 0 and expected["cuped_diff"] == expected["diff"] and expected["reduction"] == 0


def test_the_adjusted_interval_covers_the_injected_revenue_effect(built: dict) -> None:
    truth = json.loads((built["data_dir"] / "_campaign_truth.json").read_text())
    mart = query(built["db"], "select * from uplift_revenue_cuped where segment_scheme = 'overall'")
    checked = 0
    for effect in truth["overall"]:
        row = mart[(mart["campaign_id"] == effect["campaign_id"]) & (mart["arm"] == effect["arm"])].iloc[0]
        true_effect = effect["revenue_uplift_per_customer"]
        assert row["revenue_per_customer_diff_low"] <= true_effect <= row["revenue_per_customer_diff_high"]
        assert row["cuped_revenue_per_customer_diff_low"] <= true_effect <= row["cuped_revenue_per_customer_diff_high"]
        checked += 1
    assert checked == 4
