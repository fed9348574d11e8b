"""RFM features, segments, category ratios and the target list, against an independent pandas computation."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import crm
import load_thelook
from reference import order_lines, query, raw_frames

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"


def campaign() -> pd.Series:
    return pd.read_csv(SEEDS / "campaigns.csv").iloc[0]


def quantile_scores(values: pd.Series, k: int, better_is_larger: bool) -> pd.Series:
    """1 + floor(k (rank - 1) / n) with SQL rank() semantics (ties take the lowest rank)."""
    ranks = values.rank(method="min", ascending=better_is_larger)
    return (1 + np.floor(k * (ranks - 1) / len(values))).astype("int64")


def assign_segments(rfm: pd.DataFrame, k: int) -> pd.DataFrame:
    maps = pd.read_csv(SEEDS / "segment_maps.csv")
    maps = maps[maps["score_buckets"] == k].sort_values("priority")
    for scheme, column in (("rfm_tier", "rfm_segment"), ("lifecycle", "lifecycle_segment")):
        rfm[column] = None
        for _, rule in maps[maps["segment_scheme"] == scheme].iloc[::-1].iterrows():
            # Rules applied lowest priority last, so the lowest priority number wins.
            match = rfm["rfm_score"].between(rule.min_rfm_score, rule.max_rfm_score) & rfm["recency_score"].between(
                rule.min_recency_score, rule.max_recency_score
            )
            rfm.loc[match, column] = rule.segment
    return rfm


def expected_rfm(lines: pd.DataFrame, launch: pd.Timestamp, k: int = 3) -> pd.DataFrame:
    sales = lines[lines["is_sale"] & (lines["ordered_at"] < launch)]
    rfm = sales.groupby("user_id").agg(
        last_order_at=("ordered_at", "max"), frequency=("order_id", "nunique"), monetary_cents=("price_cents", "sum")
    )
    rfm["recency_days"] = (launch.normalize() - rfm["last_order_at"].dt.normalize()).dt.days
    rfm["recency_score"] = quantile_scores(rfm["recency_days"], k, better_is_larger=False)
    rfm["frequency_score"] = quantile_scores(rfm["frequency"], k, better_is_larger=True)
    rfm["monetary_score"] = quantile_scores(rfm["monetary_cents"], k, better_is_larger=True)
    rfm["rfm_score"] = rfm["recency_score"] + rfm["frequency_score"] + rfm["monetary_score"]
    return assign_segments(rfm, k)


def expected_category_ratios(lines: pd.DataFrame, rfm: pd.DataFrame, launch: pd.Timestamp) -> pd.DataFrame:
    sales = lines[lines["is_sale"] & (lines["ordered_at"] < launch)].copy()
    sales["segment"] = sales["user_id"].map(rfm["rfm_segment"])
    everyone = sales.groupby("category").agg(
        all_orders=("order_id", "nunique"), all_revenue=("price_cents", "sum"), margin=("margin_cents", "sum"),
        all_buyers=("user_id", "nunique"),
    )
    everyone["all_avg_basket"] = everyone["all_revenue"] / 100 / everyone["all_orders"]
    everyone["all_purchase_frequency"] = everyone["all_orders"] / len(rfm)
    everyone["gross_margin_rate"] = everyone["margin"] / everyone["all_revenue"]
    average_basket = everyone["all_revenue"].sum() / 100 / everyone["all_orders"].sum()
    rows = []
    for segment, customers in rfm.groupby("rfm_segment").size().items():
        mine = sales[sales["segment"] == segment].groupby("category").agg(
            orders=("order_id", "nunique"), revenue=("price_cents", "sum"), buyers=("user_id", "nunique")
        )
        for category, overall in everyone.iterrows():
            orders = mine["orders"].get(category, 0)
            basket = mine["revenue"].get(category, 0) / 100 / orders if orders else math.nan
            frequency = orders / customers
            rows.append({
                "segment": segment,
                "category": category,
                "segment_customers": customers,
                "segment_orders": orders,
                "segment_buyers": mine["buyers"].get(category, 0),
                "ratio_panier": basket / overall["all_avg_basket"],
                "ratio_frequence": frequency / overall["all_purchase_frequency"],
                "segment_penetration": mine["buyers"].get(category, 0) / customers,
                "gross_margin_rate": overall["gross_margin_rate"],
                "basket_index": overall["all_avg_basket"] / average_basket,
                "margin_gap_per_customer": (overall["all_purchase_frequency"] - frequency)
                * overall["all_avg_basket"] * overall["gross_margin_rate"],
            })
    return pd.DataFrame(rows).set_index(["segment", "category"]).sort_index()


@pytest.fixture(scope="module")
def reference(built: dict) -> dict:
    lines = order_lines(raw_frames(built["data_dir"]))
    launch = pd.Timestamp(campaign()["launch_date"])
    rfm = expected_rfm(lines, launch)
    return {"lines": lines, "launch": launch, "rfm": rfm}


def test_rfm_features_match_pandas_exactly(built: dict, reference: dict) -> None:
    expected = reference["rfm"]
    actual = query(
        built["db"],
        "select customer_id, recency_days, frequency, cast(monetary * 100 as bigint) as monetary_cents, "
        "recency_score, frequency_score, monetary_score, rfm_score, rfm_segment, lifecycle_segment "
        f"from rfm_features where campaign_id = '{campaign()['campaign_id']}' order by customer_id",
    ).set_index("customer_id")
    assert actual.index.tolist() == expected.index.tolist()
    for column in actual.columns:
        assert actual[column].tolist() == expected[column].tolist(), column
    # The segmentation separates customers: Gold spends more than Silver, Silver more than Bronze.
    by_segment = expected.groupby("rfm_segment")["monetary_cents"].mean()
    assert by_segment["Gold"] > by_segment["Silver"] > by_segment["Bronze"]


def test_tied_customers_share_a_score(built: dict) -> None:
    spread = query(
        built["db"],
        "select max(n) as most_scores_per_value from ("
        " select frequency, count(distinct frequency_score) as n from rfm_features group by frequency"
        " union all select monetary, count(distinct monetary_score) from rfm_features group by monetary"
        " union all select recency_days, count(distinct recency_score) from rfm_features group by recency_days)",
    )
    assert spread["most_scores_per_value"].iloc[0] == 1


def test_category_ratios_match_pandas(built: dict, reference: dict) -> None:
    expected = expected_category_ratios(reference["lines"], reference["rfm"], reference["launch"])
    actual = query(
        built["db"],
        "select segment, category, segment_customers, segment_orders, segment_buyers, ratio_panier, "
        "ratio_frequence, segment_penetration, gross_margin_rate, basket_index, margin_gap_per_customer "
        f"from category_ratios where segment_scheme = 'rfm_tier' and campaign_id = '{campaign()['campaign_id']}'",
    ).set_index(["segment", "category"]).sort_index()
    assert actual.index.tolist() == expected.index.tolist()
    for column in ("segment_customers", "segment_orders", "segment_buyers"):
        assert actual[column].tolist() == expected[column].astype("int64").tolist(), column
    for column in ("ratio_panier", "ratio_frequence", "segment_penetration", "gross_margin_rate", "basket_index",
                   "margin_gap_per_customer"):
        np.testing.assert_allclose(
            actual[column].astype(float), expected[column].astype(float), rtol=1e-9, atol=1e-12, err_msg=column
        )


def test_target_funnel_matches_pandas(built: dict, reference: dict) -> None:
    row = campaign()
    rfm, lines, launch = reference["rfm"], reference["lines"], reference["launch"]
    segment = rfm[rfm["rfm_segment"] == row["target_segment"]]
    category_buyers = set(
        lines.loc[lines["is_sale"] & (lines["ordered_at"] < launch) & (lines["category"] == row["target_category"]),
                  "user_id"]
    )
    expected_targets = sorted(set(segment.index) - category_buyers)
    targets = query(
        built["db"], f"select customer_id from campaign_targets where campaign_id = '{row['campaign_id']}' order by 1"
    )
    assert targets["customer_id"].tolist() == expected_targets
    funnel = query(built["db"], f"select * from campaign_funnel where campaign_id = '{row['campaign_id']}'").iloc[0]
    assert funnel["scored_customers"] == len(rfm)
    assert funnel["segment_customers"] == len(segment)
    assert funnel["already_bought_category"] == len(segment) - len(expected_targets)
    assert funnel["target_customers"] == len(expected_targets) > 0


def test_the_shop_shows_a_cross_sell_candidate_for_silver(built: dict) -> None:
    candidates = query(
        built["db"],
        "select category from category_ratios where segment_scheme = 'rfm_tier' and segment = 'Silver' "
        "and is_candidate order by candidate_rank",
    )
    assert "Outerwear & Coats" in candidates["category"].tolist()


def test_transactions_on_or_after_the_launch_change_nothing(built: dict, tmp_path: Path) -> None:
    """Sales from the launch date on, even at 00:00:00 exactly, cannot reach any pre-launch mart."""
    db = tmp_path / "later.duckdb"
    load_thelook.load(built["data_dir"], db, log=lambda _: None)
    launch = campaign()["launch_date"]
    con = duckdb.connect(str(db))
    # Every buyer orders again after the launch: the first at 00:00:00 on the launch day, in every category.
    con.execute(f"""
        create temp table later_orders as
        select
            row_number() over (order by order_id) + (select max(order_id) from raw.orders) as new_order_id,
            *
        from raw.orders where status = 'Complete'
    """)
    con.execute(f"""
        insert into raw.orders
        select new_order_id, user_id, 'Complete', gender,
            timestamp '{launch} 00:00:00' + to_minutes(cast(new_order_id % 40000 as integer)),
            null, null, null, num_of_item
        from later_orders
    """)
    con.execute("""
        insert into raw.order_items
        select row_number() over (order by items.id) + (select max(id) from raw.order_items), later.new_order_id,
            items.user_id, (items.product_id % 29120) + 1, items.inventory_item_id, 'Complete',
            items.created_at, null, null, null, items.sale_price * 3
        from raw.order_items as items
        inner join later_orders as later on items.order_id = later.order_id
    """)
    con.close()
    assert crm.dbt(["build", "--quiet"], db) == 0
    for mart, key in (
        ("rfm_features", "campaign_id, customer_id"),
        ("category_ratios", "campaign_id, segment_scheme, segment, category"),
        ("campaign_targets", "campaign_id, customer_id"),
        ("campaign_funnel", "campaign_id"),
    ):
        before = query(built["db"], f"select * from {mart} order by {key}")
        after = query(db, f"select * from {mart} order by {key}")
        pd.testing.assert_frame_equal(before, after, check_exact=True, obj=mart)
    assert query(db, "select count(*) as n from transactions")["n"].iloc[0] > query(
        built["db"], "select count(*) as n from transactions"
    )["n"].iloc[0]


def test_a_sale_just_before_the_launch_counts(built: dict, tmp_path: Path) -> None:
    """The other side of the boundary: a sale one second before the launch day moves recency to 1 day."""
    db = tmp_path / "boundary.duckdb"
    load_thelook.load(built["data_dir"], db, log=lambda _: None)
    launch = campaign()["launch_date"]
    con = duckdb.connect(str(db))
    customer, order_id = con.execute(
        "select user_id, min(order_id) from raw.order_items where status = 'Complete' group by user_id "
        "order by user_id limit 1"
    ).fetchone()
    con.execute(
        f"update raw.orders set created_at = timestamp '{launch} 00:00:00' - interval 1 second where order_id = {order_id}"
    )
    con.close()
    assert crm.dbt(["build", "--quiet"], db) == 0
    row = query(db, f"select recency_days, recency_score from rfm_features where customer_id = {customer}").iloc[0]
    assert row["recency_days"] == 1
    assert row["recency_score"] == 3
