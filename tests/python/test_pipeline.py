"""End to end: the runner generates the default shop, loads it and builds the marts with dbt (models and data
tests); the marts are then checked against an independent pandas computation from the raw files."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

import crm
import load_thelook

from reference import SALE_STATUSES, cents, order_lines, query, raw_frames


def expected_customers(raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
    items = order_lines(raw)
    sales = items[items["is_sale"]]
    per_customer = sales.groupby("user_id").agg(
        order_count=("order_id", "nunique"),
        item_count=("id", "size"),
        revenue_cents=("price_cents", "sum"),
        margin_cents=("margin_cents", "sum"),
        last_order_at=("ordered_at", "max"),
    )
    placed = items.groupby("user_id")["order_id"].nunique().rename("placed_order_count")
    users = raw["users"].set_index("id")[[]]
    result = users.join(per_customer).join(placed)
    result[["order_count", "item_count", "placed_order_count", "revenue_cents", "margin_cents"]] = result[
        ["order_count", "item_count", "placed_order_count", "revenue_cents", "margin_cents"]
    ].fillna(0)
    reference = (raw["orders"]["created_at"].max().normalize() + pd.Timedelta(days=1))
    result["days_since_last_order"] = (reference - result["last_order_at"].dt.normalize()).dt.days
    return result.sort_index()


def test_runner_prints_what_it_built(built: dict) -> None:
    output = built["output"]
    assert "transactions" in output and "customers" in output
    assert str(built["db"]) in output
    assert "dbt build failed" not in output


def test_warehouse_answers_with_plain_duckdb(built: dict) -> None:
    con = duckdb.connect(str(built["db"]), read_only=True)
    (count,) = con.execute("select count(*) from transactions").fetchone()
    con.close()
    assert count == len(raw_frames(built["data_dir"])["order_items"])


def test_transactions_match_raw_files(built: dict) -> None:
    raw = raw_frames(built["data_dir"])
    transactions = query(
        built["db"],
        "select order_item_id, customer_id, category, status, is_sale, "
        "cast(sale_price * 100 as bigint) as price_cents, cast(gross_margin * 100 as bigint) as margin_cents "
        "from transactions order by order_item_id",
    )
    items = raw["order_items"].sort_values("id").reset_index(drop=True)
    assert transactions["order_item_id"].tolist() == items["id"].tolist()
    assert transactions["customer_id"].tolist() == items["user_id"].tolist()
    expected_category = items["product_id"].map(raw["products"].set_index("id")["category"])
    assert transactions["category"].tolist() == expected_category.tolist()
    assert transactions["is_sale"].tolist() == items["status"].isin(SALE_STATUSES).tolist()
    assert transactions["price_cents"].tolist() == cents(items["sale_price"]).astype("int64").tolist()
    expected_margin = cents(items["sale_price"]) - cents(items["product_id"].map(raw["products"].set_index("id")["cost"]))
    assert transactions["margin_cents"].tolist() == expected_margin.astype("int64").tolist()


def test_customers_match_raw_files(built: dict) -> None:
    expected = expected_customers(raw_frames(built["data_dir"]))
    actual = query(
        built["db"],
        "select customer_id, order_count, item_count, placed_order_count, "
        "cast(revenue * 100 as bigint) as revenue_cents, cast(gross_margin * 100 as bigint) as margin_cents, "
        "days_since_last_order, is_buyer, cast(average_order_value * 100 as bigint) as aov_cents "
        "from customers order by customer_id",
    ).set_index("customer_id")
    assert len(actual) == len(pd.read_parquet(built["data_dir"] / "users.parquet")) == 100_000
    assert actual.index.tolist() == expected.index.tolist()
    for column in ("order_count", "item_count", "placed_order_count", "revenue_cents", "margin_cents"):
        assert actual[column].tolist() == expected[column].astype("int64").tolist(), column
    assert actual["is_buyer"].tolist() == (expected["order_count"] > 0).tolist()
    # Average order value: revenue / orders rounded half-up to the cent, in exact integer arithmetic.
    buyer = expected["order_count"] > 0
    revenue, orders = expected["revenue_cents"].astype("int64"), expected["order_count"].astype("int64")
    half_up = (2 * revenue[buyer] + orders[buyer]) // (2 * orders[buyer])
    assert actual.loc[buyer, "aov_cents"].tolist() == half_up.tolist()
    assert actual.loc[~buyer, "aov_cents"].isna().all()
    pd.testing.assert_series_equal(
        actual["days_since_last_order"].astype("Float64"),
        expected["days_since_last_order"].astype("Float64"),
        check_names=False,
    )
    # A sanity figure on the whole: orders per buyer in a plausible range for the generated shop.
    buyers = actual[actual["is_buyer"]]
    assert 1.0 < buyers["order_count"].mean() < 4.0


def test_same_inputs_give_the_same_warehouse_whatever_the_thread_count(built: dict, tmp_path: Path) -> None:
    """Every mart, rebuilt from the same raw files with one thread instead of two, is identical."""
    db = tmp_path / "one_thread.duckdb"
    load_thelook.load(built["data_dir"], db, log=lambda _: None)
    assert crm.dbt(["build", "--threads", "1", "--quiet"], db) == 0
    for mart in crm.MARTS:
        first = query(built["db"], f"select * from {mart} order by all")
        again = query(db, f"select * from {mart} order by all")
        pd.testing.assert_frame_equal(first, again, check_exact=True, obj=mart)


def test_dbt_build_fails_on_broken_raw_data(built: dict, tmp_path: Path) -> None:
    """The data tests can fail: an order line pointing at a missing product stops the build."""
    db = tmp_path / "broken.duckdb"
    load_thelook.load(built["data_dir"], db, log=lambda _: None)
    con = duckdb.connect(str(db))
    con.execute("update raw.order_items set product_id = -1 where id = (select min(id) from raw.order_items)")
    con.close()
    env_before = dict(os.environ)
    assert crm.dbt(["build", "--quiet"], db) != 0
    assert dict(os.environ) == env_before


def test_warehouse_opens_read_only_through_sqlalchemy(built: dict) -> None:
    """The README's SQLAlchemy snippet (duckdb_engine, as Superset and notebooks use it)."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"duckdb:///{built['db']}", connect_args={"read_only": True})
    with engine.connect() as con:
        assert con.execute(sa.text("select count(*) from customers")).scalar() == 100_000
        uplift = con.execute(sa.text("select count(*) from uplift_by_arm where conversion_p_value is not null")).scalar()
    engine.dispose()
    assert uplift == 4
