"""Independent pandas computations of the marts from the raw files, for the tests to compare with."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

SALE_STATUSES = {"Complete", "Shipped", "Processing"}


def raw_frames(data_dir: Path) -> dict[str, pd.DataFrame]:
    """The raw tables as the loader sees them: `<table>.parquet` and its `<table>-*.parquet` shards."""
    return {
        table: pd.concat(
            [pd.read_parquet(path) for path in [data_dir / f"{table}.parquet", *sorted(data_dir.glob(f"{table}-*.parquet"))]],
            ignore_index=True,
        )
        for table in ("users", "orders", "order_items", "products")
    }


def query(db: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def cents(values: pd.Series) -> pd.Series:
    """Money in whole cents, rounded half away from zero as the staging models round it."""
    return np.sign(values) * np.floor(np.abs(values) * 100 + 0.5)


def order_lines(raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Order lines with the order's time, the product's category and money in cents."""
    products = raw["products"][["id", "cost", "category"]].rename(columns={"id": "product_id"})
    orders = raw["orders"][["order_id", "created_at"]].rename(columns={"created_at": "ordered_at"})
    lines = raw["order_items"].merge(products, on="product_id", how="left").merge(orders, on="order_id", how="left")
    lines["price_cents"] = cents(lines["sale_price"])
    lines["margin_cents"] = lines["price_cents"] - cents(lines["cost"])
    lines["is_sale"] = lines["status"].isin(SALE_STATUSES)
    return lines
