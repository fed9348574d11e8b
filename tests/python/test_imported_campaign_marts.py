"""The imported-campaign marts (uplift_imported_binary, uplift_imported_amount, imported_sample_ratio) of a real
dbt build, against pandas / scipy / statsmodels: a generated file in the Hillstrom layout (one arm with a real
effect on visit and spend, a `history` covariate that predicts spend) loaded by scripts/load_campaign_results.py,
plus two tiny campaigns for the CUPED hand computation and the theta = 0 case. And the models stay out of the
default build."""

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
import yaml
from scipy import stats
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

import campaign_results_files as crf
import load_campaign_results

ROOT = Path(__file__).resolve().parents[2]
ALPHA, POWER, SRM_ALPHA = 0.05, 0.8, 0.001
HILLSTROM = "hillstrom_test"
BREAKDOWNS = ("history_segment", "zip_code", "channel", "newbie", "mens", "womens")
MENS_COST = 0.15
KEYS = ["campaign_id", "outcome", "breakdown", "level", "arm"]


def generated_rows(count: int = 4000, seed: int = 11) -> list[dict]:
    """Hillstrom-layout customers: the men's e-mail lifts visits (+8 points) and spend; spend grows with history."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        history = round(float(rng.uniform(29.99, 1500.0)), 2)
        segment = crf.ARMS[int(rng.integers(0, 3))]
        mens = bool(rng.random() < 0.55)
        womens = (not mens) or bool(rng.random() < 0.2)
        visit_lift = 0.08 if segment == "Mens E-Mail" else 0.0
        visit = int(rng.random() < 0.12 + visit_lift + history / 10000)
        conversion = int(visit and rng.random() < 0.25 + history / 6000)
        spend = round(float(0.2 * history + rng.normal(40, 25) + (25 if segment == "Mens E-Mail" else 0)), 2)
        rows.append({
            "recency": int(rng.integers(1, 13)),
            "history_segment": crf.history_segment(history),
            "history": history,
            "mens": int(mens),
            "womens": int(womens),
            "zip_code": ("Urban", "Surburban", "Rural")[int(rng.integers(0, 3))],
            "newbie": int(rng.random() < 0.5),
            "channel": ("Phone", "Web", "Multichannel")[int(rng.integers(0, 3))],
            "segment": segment,
            "visit": visit,
            "conversion": conversion,
            "spend": max(spend, 1.0) if conversion else 0,
        })
    return rows


# Tiny campaigns for the CUPED hand computation: (customer id, arm, y, x, seg).
SMALL = [
    ("a1", "T", 10.0, 3.0, "p"), ("a2", "T", 0.0, 1.0, "q"), ("a3", "T", 7.5, 4.0, "p"), ("a4", "T", 12.0, 6.0, "q"),
    ("a5", "T", 3.0, 2.0, "p"), ("b1", "C", 2.0, 2.5, "q"), ("b2", "C", 8.0, 5.0, "p"), ("b3", "C", 0.0, 0.5, "q"),
    ("b4", "C", 4.0, 3.5, "p"), ("b5", "C", 1.0, 1.0, ""),
]
# Customer a5's spend row is deleted from the raw table after the load: still assigned, so it counts as 0.
DROPPED = "a5"


def small_mapping(campaign_id: str) -> dict:
    return {
        "campaign_id": campaign_id,
        "campaign_name": f"tiny {campaign_id}",
        "customer_id": "id",
        "arm": {"column": "grp", "control": "C", "values": [
            {"value": "T", "name": "treat", "share": 0.5, "channel": "sms", "contact_cost": 0.5},
            {"value": "C", "name": "holdout", "share": 0.5, "channel": "none", "contact_cost": 0.0},
        ]},
        "outcomes": [{"column": "y", "kind": "amount"}],
        "covariates": ["x"],
        "cuped_covariate": "x",
        "breakdowns": ["seg"],
    }


def run_dbt(args: list[str], db: Path, work: Path) -> subprocess.CompletedProcess:
    """dbt on the project against `db`, with its own target and log folders (others may use target/)."""
    env = {**os.environ, "CRM_UPLIFT_DB": str(db), "CRM_UPLIFT_ROOT": str(ROOT), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(ROOT), "--profiles-dir",
               str(ROOT), "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("imported")
    db = work / "warehouse.duckdb"
    rows = generated_rows()
    source = crf.write_results_csv(work / "hillstrom_test.csv", rows)
    mapping = yaml.safe_load((ROOT / "mappings" / "hillstrom.yml").read_text())
    mapping["campaign_id"] = HILLSTROM
    for arm in mapping["arm"]["values"]:
        if arm["name"] == "mens_email":
            arm["contact_cost"] = MENS_COST
    load_campaign_results.load(source, mapping, db, log=lambda *_: None)

    header = ("id", "grp", "y", "x", "seg")
    small = [dict(zip(header, row)) for row in SMALL]
    load_campaign_results.load(crf.write_results_csv(work / "small.csv", small, header), small_mapping("small"),
                               db, log=lambda *_: None)
    # theta = 0: a covariate constant over the whole campaign.
    constant = [dict(row, x=7.25) for row in small]
    load_campaign_results.load(crf.write_results_csv(work / "constant.csv", constant, header),
                               small_mapping("constant"), db, log=lambda *_: None)
    with duckdb.connect(str(db)) as con:
        con.execute("delete from raw_campaign_results.result_outcomes where campaign_id in ('small', 'constant') "
                    "and customer_id = ?", [DROPPED])

    result = run_dbt(["build", "--select", "+uplift_imported_binary+", "+uplift_imported_amount+",
                      "+imported_sample_ratio+", "--vars", "{campaign_results: true}"], db, work)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        marts = {name: con.execute(f"select * from {name}").df()
                 for name in ("uplift_imported_binary", "uplift_imported_amount", "imported_sample_ratio")}
    frame = pd.DataFrame(rows)
    frame["arm"] = frame["segment"].map({"Mens E-Mail": "mens_email", "Womens E-Mail": "womens_email",
                                         "No E-Mail": "no_email"})
    return {"work": work, "db": db, "frame": frame, **marts}


def comparisons(frame: pd.DataFrame):
    """(breakdown, level, treated arm, treated rows, control rows) for every comparison of the generated file."""
    groups = [("All", "All", frame)]
    for breakdown in BREAKDOWNS:
        for level, part in frame.groupby(frame[breakdown].astype(str)):
            groups.append((breakdown, level, part))
    for breakdown, level, part in groups:
        for arm in ("mens_email", "womens_email"):
            yield breakdown, level, arm, part[part["arm"] == arm], part[part["arm"] == "no_email"]


def row_of(mart: pd.DataFrame, **key) -> pd.Series:
    match = mart
    for column, value in key.items():
        match = match[match[column] == value]
    assert len(match) == 1, key
    return match.iloc[0]


def test_binary_outcomes_match_statsmodels(built: dict) -> None:
    mart = built["uplift_imported_binary"]
    assert set(mart["outcome"]) == {"visit", "conversion"}
    z = stats.norm.ppf(1 - ALPHA / 2)
    z_power = stats.norm.ppf(POWER)
    checked = 0
    for outcome in ("visit", "conversion"):
        for breakdown, level, arm, treated, control in comparisons(built["frame"]):
            row = row_of(mart, campaign_id=HILLSTROM, outcome=outcome, breakdown=breakdown, level=level, arm=arm)
            nt, nc = len(treated), len(control)
            xt, xc = int(treated[outcome].sum()), int(control[outcome].sum())
            assert (row["treated_customers"], row["control_customers"]) == (nt, nc)
            assert (row["treated_successes"], row["control_successes"]) == (xt, xc)
            pt, pc = xt / nt, xc / nc
            assert row["treated_rate"] == pytest.approx(pt, abs=1e-12)
            assert row["control_rate"] == pytest.approx(pc, abs=1e-12)
            for prefix, x, n in (("treated", xt, nt), ("control", xc, nc)):
                low, high = proportion_confint(x, n, alpha=ALPHA, method="wilson")
                assert row[f"{prefix}_rate_low"] == pytest.approx(low, abs=1e-9)
                assert row[f"{prefix}_rate_high"] == pytest.approx(high, abs=1e-9)
            half = z * np.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)
            assert row["uplift"] == pytest.approx(pt - pc, abs=1e-12)
            assert row["uplift_low"] == pytest.approx(pt - pc - half, abs=1e-9)
            assert row["uplift_high"] == pytest.approx(pt - pc + half, abs=1e-9)
            if 0 < xt + xc < nt + nc:
                z_stat, p_value = proportions_ztest([xt, xc], [nt, nc])
                assert row["z_statistic"] == pytest.approx(z_stat, rel=1e-9, abs=1e-12)
                assert row["p_value"] == pytest.approx(p_value, abs=1e-9)
                assert row["is_significant"] == (p_value < ALPHA)
            if pc > 0:
                assert row["relative_lift"] == pytest.approx(pt / pc - 1, rel=1e-9)
            mde = (z + z_power) * np.sqrt(pc * (1 - pc) * (1 / nt + 1 / nc))
            assert row["minimum_detectable_uplift"] == pytest.approx(mde, rel=1e-9, abs=1e-12)
            assert row["incremental_successes"] == pytest.approx((pt - pc) * nt, rel=1e-9, abs=1e-9)
            incremental = (pt - pc) * nt
            if arm != "mens_email":
                # The Hillstrom mapping's cost per e-mail is null (unknown): no cost figure is made up.
                assert pd.isna(row["contact_cost"]) and pd.isna(row["contact_cost_per_customer"])
                assert pd.isna(row["cost_per_incremental_success"])
                checked += 1
                continue
            cost = round(nt * MENS_COST, 2)
            assert float(row["contact_cost"]) == pytest.approx(cost, abs=1e-9)
            expected = cost / incremental if incremental > 0 else None
            if expected is None:
                assert pd.isna(row["cost_per_incremental_success"])
            else:
                assert row["cost_per_incremental_success"] == pytest.approx(expected, rel=1e-9)
            checked += 1
    assert len(mart[mart["campaign_id"] == HILLSTROM]) == checked
    overall = row_of(mart, campaign_id=HILLSTROM, outcome="visit", breakdown="All", level="All", arm="mens_email")
    assert overall["is_significant"] and overall["uplift"] > 0.04


def welch(t: np.ndarray, c: np.ndarray) -> tuple[float, float, float]:
    """Difference, standard error and Welch-Satterthwaite df."""
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    return t.mean() - c.mean(), np.sqrt(vt + vc), (vt + vc) ** 2 / (vt ** 2 / (len(t) - 1) + vc ** 2 / (len(c) - 1))


def check_welch(row: pd.Series, prefix: str, diff_column: str, t: np.ndarray, c: np.ndarray) -> None:
    diff, se, df = welch(t, c)
    assert row[diff_column] == pytest.approx(diff, rel=1e-9, abs=1e-9)
    assert row[f"{prefix}_standard_error"] == pytest.approx(se, rel=1e-9)
    assert row[f"{prefix}_welch_df"] == pytest.approx(df, rel=1e-9)
    ttest = stats.ttest_ind(t, c, equal_var=False)
    assert diff / se == pytest.approx(ttest.statistic, rel=1e-9)
    p_column = "amount_p_value" if prefix == "amount" else "cuped_p_value"
    assert row[p_column] == pytest.approx(2 * stats.norm.sf(abs(diff / se)), abs=1e-9)
    if df >= 30:  # the project's Cornish-Fisher t quantile is within 1e-6 from df 30 on
        q = stats.t.ppf(1 - ALPHA / 2, df)
        assert row[f"{diff_column}_low"] == pytest.approx(diff - q * se, abs=1e-6 * se + 1e-9)
        assert row[f"{diff_column}_high"] == pytest.approx(diff + q * se, abs=1e-6 * se + 1e-9)


def cuped_by_hand(t_y, t_x, c_y, c_x) -> tuple[float, float, np.ndarray, np.ndarray]:
    """theta from the pooled customers of the two arms, and the adjusted outcomes."""
    y, x = np.concatenate([t_y, c_y]), np.concatenate([t_x, c_x])
    theta = np.cov(y, x, ddof=1)[0, 1] / x.var(ddof=1) if x.var() > 0 else 0.0
    return theta, x.mean(), t_y - theta * (t_x - x.mean()), c_y - theta * (c_x - x.mean())


def test_amount_outcomes_and_cuped_match_scipy(built: dict) -> None:
    mart = built["uplift_imported_amount"]
    assert set(mart[mart["campaign_id"] == HILLSTROM]["outcome"]) == {"spend"}
    checked = 0
    for breakdown, level, arm, treated, control in comparisons(built["frame"]):
        row = row_of(mart, campaign_id=HILLSTROM, outcome="spend", breakdown=breakdown, level=level, arm=arm)
        t, c = treated["spend"].to_numpy(float), control["spend"].to_numpy(float)
        assert (row["treated_customers"], row["control_customers"]) == (len(t), len(c))
        assert row["treated_amount_per_customer"] == pytest.approx(t.mean(), rel=1e-12)
        assert row["control_amount_per_customer"] == pytest.approx(c.mean(), rel=1e-12)
        incremental = (t.mean() - c.mean()) * len(t)
        assert row["incremental_amount"] == pytest.approx(incremental, rel=1e-9, abs=1e-9)
        if arm == "mens_email":
            cost = round(len(t) * MENS_COST, 2)
            assert float(row["contact_cost"]) == pytest.approx(cost, abs=1e-9)
            assert row["net_incremental_amount"] == pytest.approx(incremental - cost, rel=1e-9, abs=1e-9)
            if cost > 0:
                assert row["roi"] == pytest.approx((incremental - cost) / cost, rel=1e-9)
            else:
                assert pd.isna(row["roi"])
        else:  # cost unknown (null in the mapping): so are the net amount and the ROI
            assert pd.isna(row["contact_cost"]) and pd.isna(row["net_incremental_amount"]) and pd.isna(row["roi"])
        if len(t) < 2 or len(c) < 2:
            continue
        check_welch(row, "amount", "amount_per_customer_diff", t, c)

        assert row["cuped_covariate"] == "history"
        theta, x_mean, t_adj, c_adj = cuped_by_hand(t, treated["history"].to_numpy(float), c,
                                                    control["history"].to_numpy(float))
        assert row["cuped_theta"] == pytest.approx(theta, rel=1e-8, abs=1e-12)
        assert row["cuped_covariate_mean"] == pytest.approx(x_mean, rel=1e-12)
        assert row["treated_cuped_amount_per_customer"] == pytest.approx(t_adj.mean(), rel=1e-9, abs=1e-9)
        assert row["control_cuped_amount_per_customer"] == pytest.approx(c_adj.mean(), rel=1e-9, abs=1e-9)
        check_welch(row, "cuped", "cuped_amount_per_customer_diff", t_adj, c_adj)
        reduction = 1 - welch(t_adj, c_adj)[1] ** 2 / welch(t, c)[1] ** 2
        assert row["cuped_variance_reduction"] == pytest.approx(reduction, abs=1e-8)
        assert row["cuped_incremental_amount"] == pytest.approx((t_adj.mean() - c_adj.mean()) * len(t),
                                                                rel=1e-9, abs=1e-6)
        checked += 1
    assert checked == 40  # (1 + 7 + 3 + 3 + 2 + 2 + 2 levels) x 2 arms
    for arm in ("mens_email", "womens_email"):
        overall = row_of(mart, campaign_id=HILLSTROM, outcome="spend", breakdown="All", level="All", arm=arm)
        assert overall["cuped_variance_reduction"] > 0.02
        assert overall["cuped_standard_error"] < overall["amount_standard_error"]
    mens = row_of(mart, campaign_id=HILLSTROM, outcome="spend", breakdown="All", level="All", arm="mens_email")
    assert mens["is_significant"] and mens["amount_per_customer_diff"] > 0


def test_cuped_on_a_hand_computed_example(built: dict) -> None:
    """Ten customers; a5's spend row is missing from the raw table, so a5 counts as 0 (assigned, no spend)."""
    mart = built["uplift_imported_amount"]
    small = pd.DataFrame(SMALL, columns=["id", "arm", "y", "x", "seg"])
    small.loc[small["id"] == DROPPED, "y"] = 0.0  # it was 3.0 in the file
    t, c = small[small["arm"] == "T"], small[small["arm"] == "C"]
    row = row_of(mart, campaign_id="small", outcome="y", breakdown="All", level="All", arm="treat")
    assert row["treated_customers"] == 5 and row["control_customers"] == 5
    assert row["treated_amount_per_customer"] == pytest.approx((10 + 0 + 7.5 + 12 + 0) / 5, rel=1e-12)

    # theta = cov(Y, X) / var(X) on the ten pooled customers, written out.
    y, x = small["y"].to_numpy(), small["x"].to_numpy()
    theta = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert row["cuped_theta"] == pytest.approx(theta, rel=1e-12)
    adjusted = y - theta * (x - x.mean())
    t_adj, c_adj = adjusted[small["arm"] == "T"], adjusted[small["arm"] == "C"]
    assert row["treated_cuped_amount_per_customer"] == pytest.approx(t_adj.mean(), rel=1e-12)
    assert row["control_cuped_amount_per_customer"] == pytest.approx(c_adj.mean(), rel=1e-12)
    assert row["cuped_amount_per_customer_diff"] == pytest.approx(
        row["amount_per_customer_diff"] - theta * (t["x"].mean() - c["x"].mean()), rel=1e-12)
    se_adj = np.sqrt(t_adj.var(ddof=1) / 5 + c_adj.var(ddof=1) / 5)
    se = np.sqrt(t["y"].var(ddof=1) / 5 + c["y"].var(ddof=1) / 5)
    assert row["cuped_standard_error"] == pytest.approx(se_adj, rel=1e-10)
    assert row["amount_standard_error"] == pytest.approx(se, rel=1e-10)
    assert row["cuped_variance_reduction"] == pytest.approx(1 - se_adj ** 2 / se ** 2, rel=1e-9)
    assert row["cuped_p_value"] == pytest.approx(2 * stats.norm.sf(abs(t_adj.mean() - c_adj.mean()) / se_adj),
                                                 abs=1e-12)
    assert float(row["contact_cost"]) == 2.5

    # Per level of `seg`, with its own pooled theta; the empty value is the level '(missing)'.
    levels = set(mart[(mart["campaign_id"] == "small") & (mart["breakdown"] == "seg")]["level"])
    assert levels == {"p", "q", "(missing)"}
    p = small[small["seg"] == "p"]
    yp, xp = p["y"].to_numpy(), p["x"].to_numpy()
    theta_p = ((xp - xp.mean()) * (yp - yp.mean())).sum() / ((xp - xp.mean()) ** 2).sum()
    row_p = row_of(mart, campaign_id="small", outcome="y", breakdown="seg", level="p", arm="treat")
    assert row_p["cuped_theta"] == pytest.approx(theta_p, rel=1e-12)
    missing = row_of(mart, campaign_id="small", outcome="y", breakdown="seg", level="(missing)", arm="treat")
    assert (missing["treated_customers"], missing["control_customers"]) == (0, 1)
    assert pd.isna(missing["amount_per_customer_diff"])


def test_theta_zero_gives_the_plain_difference(built: dict) -> None:
    mart = built["uplift_imported_amount"]
    rows = mart[mart["campaign_id"] == "constant"]
    assert len(rows) == 4  # All + the three levels of seg, one treatment arm
    for _, row in rows.iterrows():
        assert row["cuped_theta"] == 0
        if row["treated_customers"] and row["control_customers"]:
            assert row["cuped_amount_per_customer_diff"] == pytest.approx(row["amount_per_customer_diff"],
                                                                           rel=1e-12, abs=1e-12)
    overall = row_of(rows, breakdown="All", arm="treat")
    assert overall["cuped_standard_error"] == pytest.approx(overall["amount_standard_error"], rel=1e-9)
    assert overall["cuped_p_value"] == pytest.approx(overall["amount_p_value"], abs=1e-12)
    assert overall["cuped_variance_reduction"] == pytest.approx(0, abs=1e-9)

    # Uncorrelated by construction: X = +-1 balanced against each level of Y within the pooled customers.
    y = np.array([1.0, 1.0, 5.0, 5.0, 2.0, 2.0, 9.0, 9.0])
    x = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    assert np.cov(y, x)[0, 1] == 0


def test_no_covariate_leaves_the_cuped_columns_null(built: dict, tmp_path: Path) -> None:
    """A campaign without cuped_covariate: the cuped columns are null (own small build, no covariate at all)."""
    db = tmp_path / "warehouse.duckdb"
    header = ("id", "grp", "y", "x", "seg")
    small = [dict(zip(header, row)) for row in SMALL]
    mapping = small_mapping("plain")
    mapping["cuped_covariate"] = None
    load_campaign_results.load(crf.write_results_csv(tmp_path / "plain.csv", small, header), mapping, db,
                               log=lambda *_: None)
    result = run_dbt(["run", "--select", "+uplift_imported_amount", "--vars", "{campaign_results: true}"], db,
                     tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    with duckdb.connect(str(db), read_only=True) as con:
        mart = con.execute("select * from uplift_imported_amount").df()
    cuped = [c for c in mart.columns if c.startswith("cuped_") or "_cuped_" in c or c.endswith("covariate_mean")]
    assert len(cuped) == 16
    assert mart[cuped].isna().all().all()
    assert mart["amount_per_customer_diff"].notna().any()


def test_every_breakdown_of_the_mapping_produces_its_levels(built: dict) -> None:
    frame = built["frame"]
    for name in ("uplift_imported_binary", "uplift_imported_amount"):
        mart = built[name]
        mart = mart[mart["campaign_id"] == HILLSTROM]
        assert set(mart["breakdown"]) == {"All", *BREAKDOWNS}
        assert set(mart[mart["breakdown"] == "All"]["level"]) == {"All"}
        for breakdown in BREAKDOWNS:
            part = mart[mart["breakdown"] == breakdown]
            assert set(part["level"]) == set(frame[breakdown].astype(str)), breakdown
            totals = part.groupby(["outcome", "arm"])[["treated_customers", "control_customers"]].sum()
            overall = (mart[mart["breakdown"] == "All"].set_index(["outcome", "arm"])
                       [["treated_customers", "control_customers"]])
            pd.testing.assert_frame_equal(totals.sort_index(), overall.sort_index(), check_dtype=False)
    assert {"1", "0"} == set(built["uplift_imported_binary"].query("breakdown == 'newbie'")["level"])


def test_sample_ratio_matches_scipy(built: dict) -> None:
    mart = built["imported_sample_ratio"]
    frame = built["frame"]
    rows = mart[mart["campaign_id"] == HILLSTROM].set_index("arm").loc[["mens_email", "womens_email", "no_email"]]
    observed = frame["arm"].value_counts().loc[rows.index].to_numpy()
    expected = np.full(3, len(frame) / 3)
    chi, p = stats.chisquare(observed, expected)
    assert list(rows["customers"]) == list(observed)
    assert (rows["campaign_customers"] == len(frame)).all()
    assert rows["observed_share"].to_numpy() == pytest.approx(observed / len(frame), abs=1e-12)
    assert rows["chi_square"].to_numpy() == pytest.approx(np.full(3, chi), rel=1e-9)
    assert rows["p_value"].to_numpy() == pytest.approx(np.full(3, p), abs=1e-9)
    assert (rows["is_sample_ratio_mismatch"] == (p < SRM_ALPHA)).all()
    assert rows["degrees_of_freedom"].iloc[0] == 2
    assert list(rows["is_control"]) == [False, False, True]
    # The tiny campaigns: 5 / 5 at 50 / 50 is no mismatch at all.
    small = row_of(mart, campaign_id="small", arm="treat")
    assert small["chi_square"] == pytest.approx(0, abs=1e-12) and small["p_value"] == pytest.approx(1, abs=1e-12)


def test_models_are_disabled_by_default(tmp_path: Path) -> None:
    result = run_dbt(["parse"], tmp_path / "unused.duckdb", tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    ours = [key for key in manifest["disabled"] if "campaign_results" in key or "imported" in key]
    for name in ("uplift_imported_binary", "uplift_imported_amount", "imported_sample_ratio",
                 "int_imported_arms_compared_to_control", "stg_campaign_results__customers",
                 "imported_uplift_scores", "imported_uplift_model_evaluation", "imported_uplift_targeting",
                 "int_imported_customer_outcomes", "int_imported_model_features"):
        assert f"model.crm_uplift.{name}" in manifest["disabled"]
        assert f"model.crm_uplift.{name}" not in manifest["nodes"]
    assert any(key.startswith("source.crm_uplift.campaign_results") for key in ours)
    # dbt keeps the generic tests of a disabled model among the nodes, disabled and depending on nothing.
    enabled = [key for key, node in manifest["nodes"].items()
               if ("campaign_results" in key or "imported" in key) and node["config"]["enabled"]]
    assert enabled == []
    assert not any(key.startswith("source.crm_uplift.campaign_results") for key in manifest["sources"])


def test_the_import_command_publishes_the_marts_and_keeps_the_warehouse_on_bad_input(tmp_path: Path) -> None:
    """`crm.py import-results` on a fresh warehouse: loads, builds only the imported campaign's models,
    publishes, prints the overall uplift; a file with an unknown arm changes nothing."""
    db = tmp_path / "warehouse.duckdb"
    rows = generated_rows(count=1500, seed=5)
    good = crf.write_results_csv(tmp_path / "hillstrom.csv", rows)
    command = [sys.executable, str(ROOT / "scripts" / "crm.py"), "import-results"]
    mapping = ["--mapping", str(ROOT / "mappings" / "hillstrom.yml"), "--db", str(db)]
    result = subprocess.run([*command, str(good), *mapping], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "uplift of hillstrom_2008 (every arm against control, all customers):" in result.stdout
    assert "CUPED" in result.stdout and f"published {db}" in result.stdout
    assert "uplift model of hillstrom_2008 (cross-fitted t_learner, 5 folds;" in result.stdout
    con = duckdb.connect(str(db), read_only=True)
    try:
        overall = con.execute("select count(*) from uplift_imported_binary where breakdown = 'All'").fetchone()[0]
        before = con.execute("select count(*) from raw_campaign_results.result_customers").fetchone()[0]
    finally:
        con.close()
    assert overall == 4 and before == 1500  # visit and conversion x two e-mail arms; every customer loaded

    bad = crf.write_results_csv(tmp_path / "bad.csv", crf.with_value(rows, 3, "segment", "SMS"))
    result = subprocess.run([*command, str(bad), *mapping], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "load failed, warehouse unchanged" in result.stderr and "'SMS'" in result.stderr
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from raw_campaign_results.result_customers").fetchone()[0] == before
    finally:
        con.close()
