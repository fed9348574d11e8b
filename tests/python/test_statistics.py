"""The SQL statistics (macros/normal_*.sql, macros/statistics.sql) against scipy and statsmodels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

ROOT = Path(__file__).resolve().parents[2]


def compile_inline(sql: str, db: Path) -> str:
    """The SQL dbt renders for an inline query using the project's macros."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "compile", "--quiet", "--output", "json", "--inline", sql,
         "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)],
        cwd=ROOT,
        env={**os.environ, "CRM_UPLIFT_DB": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)["compiled"]


@pytest.fixture(scope="module")
def macro_results(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Every statistics macro evaluated by DuckDB on many random inputs."""
    rng = np.random.default_rng(2026)
    n = 4000
    inputs = pd.DataFrame({
        "x": np.concatenate([rng.uniform(-12, 12, n - 8), [0.0, -37.5, 37.5, 8.2, -8.2, 1e-12, 3.0, -3.0]]),
        "q": np.concatenate([rng.uniform(1e-9, 1 - 1e-9, n - 8), [0.5, 0.975, 0.8, 0.995, 1e-6, 1 - 1e-6, 0.02425, 0.001]]),
        "chi": rng.uniform(0, 60, n),
        "k": rng.integers(1, 13, n),
        "trials": rng.integers(1, 100_000, n),
        "df": rng.uniform(30, 1e6, n),
    })
    inputs["successes"] = np.floor(rng.uniform(0, 1, n) * (inputs["trials"] + 1)).clip(upper=inputs["trials"]).astype(int)
    sql = compile_inline(
        "select x, q, chi, k, trials, successes, df, "
        "{{ normal_cdf('x') }} as cdf, {{ normal_quantile('q') }} as quantile, "
        "{{ chi_square_sf('chi', 'k') }} as chi_sf, "
        "{{ wilson_bound('successes', 'trials', normal_quantile(0.975), 'lower') }} as wilson_low, "
        "{{ wilson_bound('successes', 'trials', normal_quantile(0.975), 'upper') }} as wilson_high, "
        "{{ t_quantile_from_z(normal_quantile('q'), 'df') }} as t_quantile "
        "from inputs",
        tmp_path_factory.mktemp("compile") / "empty.duckdb",
    )
    con = duckdb.connect()
    con.register("inputs", inputs)
    return con.execute(sql).df()


def test_normal_cdf_matches_scipy(macro_results: pd.DataFrame) -> None:
    np.testing.assert_allclose(macro_results["cdf"], stats.norm.cdf(macro_results["x"]), rtol=0, atol=1e-14)
    tail = macro_results["x"].between(-37, -3)
    np.testing.assert_allclose(
        macro_results.loc[tail, "cdf"], stats.norm.cdf(macro_results.loc[tail, "x"]), rtol=1e-7
    )


def test_normal_quantile_matches_scipy(macro_results: pd.DataFrame) -> None:
    np.testing.assert_allclose(macro_results["quantile"], stats.norm.ppf(macro_results["q"]), rtol=1e-9, atol=1e-12)


def test_chi_square_tail_matches_scipy(macro_results: pd.DataFrame) -> None:
    np.testing.assert_allclose(
        macro_results["chi_sf"], stats.chi2.sf(macro_results["chi"], macro_results["k"]), rtol=0, atol=1e-12
    )


def test_wilson_interval_matches_statsmodels(macro_results: pd.DataFrame) -> None:
    low, high = proportion_confint(macro_results["successes"], macro_results["trials"], alpha=0.05, method="wilson")
    np.testing.assert_allclose(macro_results["wilson_low"], low, atol=1e-12)
    np.testing.assert_allclose(macro_results["wilson_high"], high, atol=1e-12)


def test_student_quantile_matches_scipy(macro_results: pd.DataFrame) -> None:
    central = macro_results["q"].between(0.001, 0.999)
    np.testing.assert_allclose(
        macro_results.loc[central, "t_quantile"],
        stats.t.ppf(macro_results.loc[central, "q"], macro_results.loc[central, "df"]),
        rtol=0,
        atol=1e-6,
    )


def outcomes_frame(db: Path) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select campaign_id, arm, rfm_segment, lifecycle_segment, is_converted, is_converted_in_category, "
            "cast(revenue as double) as revenue, cast(gross_margin as double) as gross_margin, is_redeemed "
            "from campaign_outcomes"
        ).df()
    finally:
        con.close()


def test_uplift_marts_match_statsmodels_and_scipy(built: dict) -> None:
    """Every row of both uplift marts, recomputed from the customers of campaign_outcomes."""
    outcomes = outcomes_frame(built["db"])
    con = duckdb.connect(str(built["db"]), read_only=True)
    rows = pd.concat([con.execute("from uplift_by_arm").df(), con.execute("from uplift_by_segment_arm").df()])
    con.close()
    assert len(rows) > 0
    segment_column = {"overall": None, "rfm_tier": "rfm_segment", "lifecycle": "lifecycle_segment"}
    checked = 0
    for row in rows.itertuples():
        group = outcomes[outcomes["campaign_id"] == row.campaign_id]
        if segment_column[row.segment_scheme]:
            group = group[group[segment_column[row.segment_scheme]] == row.segment]
        treated, control = group[group["arm"] == row.arm], group[group["arm"] == "control"]
        assert (row.treated_customers, row.control_customers) == (len(treated), len(control))
        if len(treated) < 30 or len(control) < 30:
            continue
        x_t, x_c = int(treated["is_converted"].sum()), int(control["is_converted"].sum())
        assert (row.treated_conversions, row.control_conversions) == (x_t, x_c)
        low, high = proportion_confint(x_t, len(treated), alpha=0.05, method="wilson")
        assert row.treated_conversion_rate_low == pytest.approx(low, abs=1e-9)
        assert row.treated_conversion_rate_high == pytest.approx(high, abs=1e-9)
        if 0 < x_t + x_c < len(treated) + len(control):
            z, p = proportions_ztest([x_t, x_c], [len(treated), len(control)])
            assert row.conversion_z_statistic == pytest.approx(z, rel=1e-9)
            assert row.conversion_p_value == pytest.approx(p, abs=1e-9)
            assert row.is_significant == (p < 0.05)
            low, high = confint_proportions_2indep(x_t, len(treated), x_c, len(control), method="wald", compare="diff")
            assert row.conversion_uplift_low == pytest.approx(low, abs=1e-9)
            assert row.conversion_uplift_high == pytest.approx(high, abs=1e-9)
        for amount, prefix in (("revenue", "revenue"), ("gross_margin", "margin")):
            if treated[amount].var() == 0 and control[amount].var() == 0:
                continue
            welch = stats.ttest_ind(treated[amount], control[amount], equal_var=False)
            low, high = welch.confidence_interval(0.95)
            assert getattr(row, f"{prefix}_per_customer_diff") == pytest.approx(
                treated[amount].mean() - control[amount].mean(), abs=1e-9
            )
            assert getattr(row, f"{prefix}_welch_df") == pytest.approx(welch.df, rel=1e-9)
            assert getattr(row, f"{prefix}_per_customer_diff_low") == pytest.approx(low, abs=1e-6)
            assert getattr(row, f"{prefix}_per_customer_diff_high") == pytest.approx(high, abs=1e-6)
        p_c = x_c / len(control)
        mde = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * np.sqrt(p_c * (1 - p_c) * (1 / len(treated) + 1 / len(control)))
        assert row.minimum_detectable_uplift == pytest.approx(mde, rel=1e-9)
        checked += 1
    assert checked >= 4


def test_sample_ratio_check_matches_scipy(built: dict) -> None:
    con = duckdb.connect(str(built["db"]), read_only=True)
    srm = con.execute("select * from campaign_sample_ratio order by campaign_id, arm").df()
    con.close()
    for _, arms in srm.groupby("campaign_id"):
        expected = arms["planned_share"] * arms["customers"].sum()
        chi, p = stats.chisquare(arms["customers"], expected)
        assert arms["chi_square"].iloc[0] == pytest.approx(chi, rel=1e-9)
        assert arms["p_value"].iloc[0] == pytest.approx(p, abs=1e-12)
        assert not arms["is_sample_ratio_mismatch"].iloc[0]
