"""What the Spark parity tests share: the Java rule, both engines' tables as pandas frames, and the row-for-row
comparison (keys and text exactly, numbers to 1e-9 relative). docs/spark.md lists the engine differences."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
RELATIVE = 1e-9


def java_available() -> bool:
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


def require_java() -> None:
    """Skips without Java, except on CI (CI=true), where a Spark test that cannot run is a failure."""
    if not java_available():
        if os.environ.get("CI") == "true":
            pytest.fail("java is not installed: the Spark parity test cannot run")
        pytest.skip("java is not installed: Spark cannot run here")


def crm(args: list[str], work: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """scripts/crm.py with dbt's target and log folders under `work` (others may be using target/), in this
    process's environment or `env`."""
    env = {**(os.environ if env is None else env), "DBT_TARGET_PATH": str(work / "target"),
           "DBT_LOG_PATH": str(work / "logs")}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "crm.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, env=env)


def enabled_marts(spark: Path) -> list[str]:
    """The marts the Spark build had enabled, from its manifest."""
    manifest = json.loads((spark / "target" / "manifest.json").read_text())
    return sorted(
        node["name"] for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["original_file_path"].startswith("models/marts/")
        and node["config"]["enabled"]
    )


def spark_table(spark: Path, name: str, columns: list[str]) -> pd.DataFrame:
    files = sorted((spark / "tables" / "crm.db" / name).glob("*.parquet"))
    if not files:
        return pd.DataFrame({column: pd.Series(dtype="object") for column in columns})
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(f"select * from read_parquet({[str(f) for f in files]})").df()
    finally:
        con.close()


def duckdb_table(db: Path, name: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(f"select * from {name}").df()
    finally:
        con.close()


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Comparable values whatever the engine's Parquet types: timestamps as naive UTC, decimals and integers
    as floats next to floats, text as text; rows in one order (by every column, floats rounded for sorting)."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.astype("datetime64[us]")
        elif pd.api.types.is_bool_dtype(values) or values.map(lambda v: isinstance(v, (bool, np.bool_))).any():
            out[column] = values.astype("object").map(lambda v: None if pd.isna(v) else bool(v))
        elif pd.api.types.is_numeric_dtype(values) or values.map(lambda v: hasattr(v, "as_tuple")).any():
            out[column] = pd.to_numeric(values.astype("object"), errors="raise").astype("float64")
        else:
            out[column] = values.astype("object").map(lambda v: None if v is None or v is pd.NaT
                                                      or (isinstance(v, float) and np.isnan(v)) else str(v))
    sort_key = pd.DataFrame({
        c: (out[c].round(6) if out[c].dtype == "float64" else out[c].astype("string")) for c in out.columns
    })
    order = sort_key.sort_values(list(sort_key.columns), na_position="first", kind="mergesort").index
    return out.loc[order].reset_index(drop=True)


def mart_differences(db: Path, spark: Path, marts: list[str]) -> list[str]:
    """Every difference between the two engines' marts, one line each; empty when they are equal."""
    differences = []
    for name in marts:
        duck = duckdb_table(db, name)
        other = spark_table(spark, name, list(duck.columns))
        if list(other.columns) != list(duck.columns):
            differences.append(f"{name}: columns {list(other.columns)} != {list(duck.columns)}")
            continue
        if len(other) != len(duck):
            differences.append(f"{name}: {len(other)} rows on Spark, {len(duck)} on DuckDB")
            continue
        if duck.empty:
            continue
        a, b = normalised(other), normalised(duck)
        for column in a.columns:
            x, y = a[column], b[column]
            if x.dtype == "float64" and y.dtype == "float64":
                both_missing = x.isna() & y.isna()
                close = np.isclose(x.fillna(0), y.fillna(0), rtol=RELATIVE, atol=1e-12)
                bad = ~(both_missing | (close & x.notna() & y.notna()))
            else:
                bad = ~((x == y) | (x.isna() & y.isna()))
            if bad.any():
                first = int(np.flatnonzero(bad.to_numpy())[0])
                differences.append(f"{name}.{column}: {int(bad.sum())} rows differ, e.g. Spark {x.iloc[first]!r} "
                                   f"vs DuckDB {y.iloc[first]!r}")
    return differences
