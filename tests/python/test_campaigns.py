"""Campaign exposure (reproducible arms), outcomes, and the closed loop recovering the simulated truth."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import crm
import load_thelook
import simulate_campaigns
from reference import order_lines, query, raw_frames
from test_statistics import compile_inline

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"


def python_uniform(campaign_id: str, customer_id: int) -> float:
    return int(hashlib.md5(f"{campaign_id}:{customer_id}".encode()).hexdigest()[:8], 16) / 2**32


def python_arm(campaign_id: str, value: float) -> str:
    arms = pd.read_csv(SEEDS / "campaign_arms.csv")
    arms = arms[arms["campaign_id"] == campaign_id].copy()
    arms["order"] = (arms["arm"] != "control").astype(int)
    arms = arms.sort_values(["order", "arm"])
    upper = arms["share"].cumsum().to_numpy()
    return arms["arm"].iloc[min(int(np.searchsorted(upper, value, side="right")), len(arms) - 1)]


def test_sql_hash_equals_python_md5_on_100000_ids_with_planned_shares(tmp_path: Path) -> None:
    sql = compile_inline(
        "select range as customer_id, {{ hash_uniform(dbt.concat([\"'c1'\", \"':'\", "
        "dbt.cast('range', dbt.type_string())])) }} as value from range(100000)",
        tmp_path / "empty.duckdb",
    )
    values = duckdb.connect().execute(sql).df()
    expected = [python_uniform("c1", i) for i in values["customer_id"]]
    assert values["value"].tolist() == expected
    # Cut at 10 / 45 / 45 %, the shares sit within 4 binomial standard errors of the plan.
    counts = np.histogram(values["value"], bins=[0, 0.10, 0.55, 1.0])[0]
    for count, share in zip(counts, (0.10, 0.45, 0.45)):
        assert abs(count - 100_000 * share) < 4 * np.sqrt(100_000 * share * (1 - share))


def test_exposure_arms_follow_the_hash_and_the_planned_shares(built: dict) -> None:
    exposure = query(built["db"], "select campaign_id, customer_id, assignment_value, arm from campaign_exposure")
    assert len(exposure) > 0
    values = [python_uniform(c, i) for c, i in zip(exposure["campaign_id"], exposure["customer_id"])]
    assert exposure["assignment_value"].tolist() == values
    arms = [python_arm(c, v) for c, v in zip(exposure["campaign_id"], values)]
    assert exposure["arm"].tolist() == arms
    targets = query(built["db"], "select campaign_id, customer_id from campaign_targets")
    assert len(targets) == len(exposure)


def test_adding_customers_never_moves_an_existing_customer(built: dict, tmp_path: Path) -> None:
    """New customers with purchases shift everyone's RFM ranks, so segments may move; arms never do."""
    db = tmp_path / "more.duckdb"
    load_thelook.load(built["data_dir"], db, log=lambda _: None)
    con = duckdb.connect(str(db))
    con.execute("""
        insert into raw.users
        select id + 1000000, first_name, last_name, email, age, gender, state, street_address, postal_code, city,
            country, latitude, longitude, traffic_source, created_at
        from raw.users where id % 7 = 0
    """)
    con.execute("""
        insert into raw.orders
        select order_id + 10000000, user_id + 1000000, status, gender, created_at, returned_at, shipped_at,
            delivered_at, num_of_item
        from raw.orders where user_id % 7 = 0
    """)
    con.execute("""
        insert into raw.order_items
        select id + 10000000, order_id + 10000000, user_id + 1000000, product_id, inventory_item_id + 10000000,
            status, created_at, shipped_at, delivered_at, returned_at, sale_price
        from raw.order_items where user_id % 7 = 0
    """)
    con.close()
    assert crm.dbt(["build", "--quiet"], db) == 0
    before = query(built["db"], "select campaign_id, customer_id, arm, assignment_value from campaign_exposure")
    after = query(db, "select campaign_id, customer_id, arm, assignment_value from campaign_exposure")
    both = before.merge(after, on=["campaign_id", "customer_id"], suffixes=("_before", "_after"))
    assert len(both) > 0.5 * len(before)
    assert (both["arm_before"] == both["arm_after"]).all()
    assert (both["assignment_value_before"] == both["assignment_value_after"]).all()
    assert (after["customer_id"] > 1_000_000).any()


def test_campaign_outcomes_match_the_raw_files(built: dict) -> None:
    """Conversion, orders and revenue in [launch, launch + window), recomputed from every raw file."""
    data_dir = built["data_dir"]
    lines = order_lines(raw_frames(data_dir))
    assert (data_dir / "order_items-campaign_window.parquet").exists()
    campaigns = pd.read_csv(SEEDS / "campaigns.csv", parse_dates=["launch_date"]).query("data_source == 'thelook'")
    outcomes = query(
        built["db"],
        "select campaign_id, customer_id, is_converted, is_converted_in_category, orders, "
        "cast(revenue * 100 as bigint) as revenue_cents, reached_offer_min_basket from campaign_outcomes",
    ).set_index(["campaign_id", "customer_id"]).sort_index()
    for campaign in campaigns.itertuples():
        start = campaign.launch_date
        end = start + pd.Timedelta(days=int(campaign.window_days))
        window = lines[lines["is_sale"] & (lines["ordered_at"] >= start) & (lines["ordered_at"] < end)]
        per_order = window.groupby(["user_id", "order_id"]).agg(
            value=("price_cents", "sum"),
            in_category=("category", lambda c: bool((c == campaign.target_category).any())),
        )
        per_customer = per_order.groupby("user_id").agg(
            orders=("value", "size"), revenue_cents=("value", "sum"), largest=("value", "max"),
            category_orders=("in_category", "sum"),
        )
        mine = outcomes.loc[campaign.campaign_id]
        expected = per_customer.reindex(mine.index).fillna(0)
        assert mine["orders"].tolist() == expected["orders"].astype(int).tolist()
        assert mine["revenue_cents"].tolist() == expected["revenue_cents"].astype(int).tolist()
        assert mine["is_converted"].tolist() == (expected["orders"] > 0).tolist()
        in_category = expected["category_orders"] > 0 if isinstance(campaign.target_category, str) else expected["orders"] > 0
        assert mine["is_converted_in_category"].tolist() == in_category.tolist()
        assert mine["reached_offer_min_basket"].tolist() == (expected["largest"] >= campaign.offer_min_basket * 100).tolist()
        assert mine["is_converted"].sum() > 0


def truth_frame(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    truth = json.loads((data_dir / "_campaign_truth.json").read_text())
    return pd.DataFrame(truth["overall"]), pd.DataFrame(truth["segments"])


def test_closed_loop_recovers_the_injected_truth(built: dict) -> None:
    """The overall 95 % interval of every arm covers the true uplift, and estimates sit within 3 standard
    errors of it, per arm and per lifecycle segment."""
    overall_truth, segment_truth = truth_frame(built["data_dir"])
    overall = query(built["db"], "select * from uplift_by_arm").merge(overall_truth, on=["campaign_id", "arm"],
                                                                      suffixes=("", "_true"))
    assert len(overall) == 4
    for row in overall.itertuples():
        assert row.conversion_uplift_low <= row.conversion_uplift_true <= row.conversion_uplift_high, row
        standard_error = (row.conversion_uplift_high - row.conversion_uplift_low) / (2 * 1.959964)
        assert abs(row.conversion_uplift - row.conversion_uplift_true) < 3 * standard_error
    segments = query(
        built["db"], "select * from uplift_by_segment_arm where segment_scheme = 'lifecycle'"
    ).merge(
        segment_truth.rename(columns={"lifecycle_segment": "segment"}), on=["campaign_id", "segment", "arm"],
        suffixes=("", "_true"),
    )
    assert len(segments) >= 4
    for row in segments.itertuples():
        standard_error = (row.conversion_uplift_high - row.conversion_uplift_low) / (2 * 1.959964)
        assert abs(row.conversion_uplift - row.conversion_uplift_true) < 3 * standard_error, row
    # The story the defaults tell: a positive effect, a zero arm and fatigue are all recovered as such.
    verdicts = {(r.campaign_id, r.arm): (r.is_significant, np.sign(r.conversion_uplift)) for r in overall.itertuples()}
    assert verdicts[("silver_outerwear_2026", "email")] == (True, 1)
    assert verdicts[("gold_loyalty_2026", "email")] == (True, -1)
    assert not verdicts[("gold_loyalty_2026", "sms")][0]


def test_an_aa_run_shows_no_significant_uplift(built: dict, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name in ("users", "orders", "order_items", "products", "distribution_centers"):
        shutil.copy(built["data_dir"] / f"{name}.parquet", data_dir)
    db = tmp_path / "aa.duckdb"
    load_thelook.load(data_dir, db, log=lambda _: None)
    assert crm.dbt(["build", "--quiet"], db) == 0
    truth = simulate_campaigns.simulate(db, data_dir, seed=42, aa=True, log=lambda _: None)
    assert all(row["conversion_uplift"] == 0 for row in truth["overall"])
    load_thelook.load(data_dir, db, log=lambda _: None)
    assert crm.dbt(["build", "--quiet"], db) == 0
    overall = query(db, "select campaign_id, arm, conversion_p_value, is_significant from uplift_by_arm")
    assert len(overall) == 4
    assert not overall["is_significant"].any(), overall


def test_export_exposure_writes_the_contact_list(built: dict, tmp_path: Path) -> None:
    out = tmp_path / "exposure.csv"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crm.py"), "export-exposure", "silver_outerwear_2026", str(out),
         "--db", str(built["db"])],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    exported = pd.read_csv(out)
    expected = query(
        built["db"],
        "select customer_id, arm from campaign_exposure where campaign_id = 'silver_outerwear_2026' order by customer_id",
    )
    assert exported["customer_id"].tolist() == expected["customer_id"].tolist()
    assert exported["arm"].tolist() == expected["arm"].tolist()
    assert exported["email"].notna().all()
    missing = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crm.py"), "export-exposure", "no_such_campaign", str(out),
         "--db", str(built["db"])],
        capture_output=True, text=True,
    )
    assert missing.returncode == 1 and "no exposure for campaign 'no_such_campaign'" in missing.stderr
