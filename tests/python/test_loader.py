"""The thelook loader: real-export quirks load, bad input stops with a precise message, the warehouse survives."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import load_thelook
from load_thelook import LoadError, load
from thelook_schema import TABLES

# A small export written the way BigQuery writes CSV: timestamps with " UTC", empty fields for NULL,
# quoted fields holding commas and quotes, a geography column the loader does not need, CRLF line ends
# in one file and a byte-order mark in another.
USERS = """\ufeffid,first_name,last_name,email,age,gender,state,street_address,postal_code,city,country,latitude,longitude,traffic_source,created_at,user_geom
1,Ann,Lee,Ann.Lee@example.com,30,F,California,"1 Main St, Apt 2",02134,Los Angeles,United States,34.05,-118.25,Search,2020-01-01 10:00:00 UTC,POINT(-118.25 34.05)
2,Bob,Ray,bob.ray@example.org,41,M,Texas,2 Elm St,75001,Dallas,United States,32.7,-96.8,Email,2020-02-01 11:00:00.5 UTC,
3,Cy,Woo,cy.woo@example.net,22,M,Seoul,3 Oak,04524,Seoul,South Korea,37.5,127.0,Organic,2021-03-01T09:30:00+02:00,
"""
ORDERS = (
    "order_id,user_id,status,gender,created_at,returned_at,shipped_at,delivered_at,num_of_item\r\n"
    "1,1,Complete,F,2021-01-01 10:00:00 UTC,,2021-01-02 10:00:00 UTC,2021-01-04 10:00:00 UTC,2\r\n"
    "2,1,Cancelled,F,2021-06-01 10:00:00 UTC,,,,1\r\n"
    "3,2,Returned,M,2022-01-01 10:00:00 UTC,2022-01-08 10:00:00 UTC,2022-01-02 10:00:00 UTC,2022-01-05 10:00:00 UTC,1\r\n"
    "4,2,Shipped,M,2022-05-05 23:59:00 UTC,,2022-05-06 10:00:00 UTC,,1\r\n"
)
ORDER_ITEMS = """id,order_id,user_id,product_id,inventory_item_id,status,created_at,shipped_at,delivered_at,returned_at,sale_price
10,1,1,100,1000,Complete,2021-01-01 09:00:00 UTC,2021-01-02 10:00:00 UTC,2021-01-04 10:00:00 UTC,,49.9900016784668
11,1,1,101,1001,Complete,2021-01-01 09:05:00 UTC,2021-01-02 10:00:00 UTC,2021-01-04 10:00:00 UTC,,150
12,2,1,100,1002,Cancelled,2021-06-01 09:00:00 UTC,,,,49.9900016784668
13,3,2,102,1003,Returned,2022-01-01 09:00:00 UTC,2022-01-02 10:00:00 UTC,2022-01-05 10:00:00 UTC,2022-01-08 10:00:00 UTC,20
14,4,2,102,1004,Shipped,2022-05-05 22:00:00 UTC,2022-05-06 10:00:00 UTC,,,20
"""
PRODUCTS = """id,cost,category,name,brand,retail_price,department,sku,distribution_center_id
100,24.37550006,Outerwear & Coats,"Coat, ""Wool"" edition",Carhartt,49.9900016784668,Women,ABC,1
101,70.5,Jeans,Jeans X,,150,Women,DEF,2
102,8.1,Socks,Socks,Gold Toe,20,Men,GHI,1
"""
DISTRIBUTION_CENTERS = """id,name,latitude,longitude,distribution_center_geom
1,Memphis TN,35.1174,-89.9711,POINT(-89.9711 35.1174)
2,Chicago IL,41.8369,-87.6847,
"""
FILES = {
    "users": USERS,
    "orders": ORDERS,
    "order_items": ORDER_ITEMS,
    "products": PRODUCTS,
    "distribution_centers": DISTRIBUTION_CENTERS,
}


def write_export(folder: Path, **overrides: str | None) -> Path:
    """Writes the small export into `folder`; an override replaces a table's text, None leaves it out."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, text in {**FILES, **overrides}.items():
        if text is not None:
            (folder / f"{table}.csv").write_bytes(text.encode("utf-8"))
    return folder


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every table of the warehouse with its rows, to show that a failed load changed nothing."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables order by 1"
        ).fetchall()
        return {name: con.execute(f"select * from {name} order by all").fetchall() for (name,) in tables}
    finally:
        con.close()


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    """A warehouse holding a good load plus a table of someone's, as a previous run would leave it."""
    db = tmp_path / "warehouse" / "w.duckdb"
    load(write_export(tmp_path / "good"), db, log=lambda _: None)
    con = duckdb.connect(str(db))
    con.execute("create table main.customers as select id as customer_id from raw.users")
    con.close()
    return db


def assert_load_fails(tmp_path: Path, db: Path, match: str, **overrides: str | None) -> None:
    before = snapshot(db)
    with pytest.raises(LoadError, match=match):
        load(write_export(tmp_path / "bad", **overrides), db, log=lambda _: None)
    assert snapshot(db) == before


def test_loads_a_bigquery_style_csv_export(loaded: Path) -> None:
    con = duckdb.connect(str(loaded), read_only=True)
    types = {
        (table, column): data_type
        for table, column, data_type in con.execute(
            "select table_name, column_name, data_type from information_schema.columns where table_schema = 'raw'"
        ).fetchall()
    }
    for table, columns in TABLES.items():
        for column, duck_type in columns.items():
            assert types[(table, column)] == duck_type
    # Only the documented columns are kept; the geography columns are dropped.
    assert ("users", "user_geom") not in types
    user = con.execute(
        "select postal_code, street_address, created_at from raw.users order by id"
    ).fetchall()
    assert user[0] == ("02134", "1 Main St, Apt 2", dt.datetime(2020, 1, 1, 10, 0))
    assert user[1][2] == dt.datetime(2020, 2, 1, 11, 0, 0, 500000)
    # An ISO timestamp with an offset lands as UTC.
    assert user[2][2] == dt.datetime(2021, 3, 1, 7, 30)
    name, brand = con.execute("select name, brand from raw.products where id = 100").fetchone()
    assert name == 'Coat, "Wool" edition' and brand == "Carhartt"
    assert con.execute("select brand from raw.products where id = 101").fetchone() == (None,)
    assert con.execute("select returned_at, shipped_at from raw.orders where order_id = 2").fetchone() == (None, None)
    assert con.execute("select sale_price from raw.order_items where id = 10").fetchone() == (49.9900016784668,)
    assert con.execute("select count(*) from raw.order_items").fetchone() == (5,)
    con.close()


def test_loads_parquet_and_sharded_exports(tmp_path: Path) -> None:
    from_csv = tmp_path / "a.duckdb"
    load(write_export(tmp_path / "csv"), from_csv, log=lambda _: None)
    parquet_dir = tmp_path / "parquet"
    (parquet_dir / "order_items").mkdir(parents=True)
    con = duckdb.connect(str(from_csv), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    for table, columns in TABLES.items():
        # As BigQuery exports Parquet: timestamps carry a time zone.
        select = ", ".join(
            f"cast({column} as timestamptz) as {column}" if duck_type == "TIMESTAMP" else column
            for column, duck_type in columns.items()
        )
        if table == "order_items":
            # Two shards in a folder, the way BigQuery splits a large export.
            for shard, condition in enumerate(("id <= 11", "id > 11")):
                target = parquet_dir / "order_items" / f"order_items-00000000000{shard}.parquet"
                con.execute(f"copy (select {select} from raw.{table} where {condition}) to '{target}'")
        else:
            con.execute(f"copy (select {select} from raw.{table}) to '{parquet_dir / (table + '.parquet')}'")
    con.close()

    from_parquet = tmp_path / "b.duckdb"
    counts = load(parquet_dir, from_parquet, log=lambda _: None)
    assert counts["order_items"] == 5
    assert snapshot(from_csv) == snapshot(from_parquet)


def _parquet_copy_of_the_export(tmp_path: Path) -> tuple[Path, pa.Table]:
    """The small export loaded from CSV and written back as one Parquet file per raw table, and raw.orders as
    Arrow in order_id order, for a test to rewrite orders.parquet with the timestamp types it needs."""
    from_csv = tmp_path / "a.duckdb"
    load(write_export(tmp_path / "csv"), from_csv, log=lambda _: None)
    parquet_dir = tmp_path / "parquet"
    parquet_dir.mkdir()
    con = duckdb.connect(str(from_csv), read_only=True)
    try:
        for table in TABLES:
            con.execute(f"copy (select * from raw.{table}) to '{parquet_dir / (table + '.parquet')}'")
        orders = con.sql("select * from raw.orders order by order_id").to_arrow_table()
    finally:
        con.close()
    return parquet_dir, orders


def _column_types(parquet: Path) -> dict[str, str]:
    """The DuckDB type of each column of a Parquet file, as the loader sees them."""
    return {row[0]: row[1] for row in duckdb.sql(f"describe from '{parquet}'").fetchall()}


def _truncated(unit: str):
    digits = {"s": 0, "ms": 3, "us": 6, "ns": 6}[unit]
    return lambda t: t.replace(microsecond=t.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits))


@pytest.mark.parametrize(
    "arrow_type, duck_type, expected",
    [
        (pa.timestamp("us"), "TIMESTAMP", _truncated("us")),
        (pa.timestamp("s"), "TIMESTAMP", _truncated("s")),
        (pa.timestamp("ns"), "TIMESTAMP_NS", _truncated("ns")),
        (pa.timestamp("us", tz="UTC"), "TIMESTAMP WITH TIME ZONE", _truncated("us")),
        (pa.timestamp("ms", tz="America/New_York"), "TIMESTAMP WITH TIME ZONE", _truncated("ms")),
        (pa.timestamp("ns", tz="Asia/Kolkata"), "TIMESTAMPTZ_NS", _truncated("ns")),
        (pa.date32(), "DATE", lambda t: dt.datetime(t.year, t.month, t.day)),
    ],
    ids=["timestamp", "timestamp_s", "timestamp_ns", "timestamptz_utc", "timestamptz_ms_new_york",
         "timestamptz_ns_kolkata", "date"],
)
def test_every_parquet_timestamp_type_lands_as_the_utc_wall_clock(tmp_path: Path, arrow_type, duck_type,
                                                                  expected) -> None:
    """Each Parquet timestamp type takes its own cast (the column as it is, a plain cast, or the instant's
    microseconds): the loaded values are the CSV export's, to the type's precision, whatever the zone the
    writer labelled the instants with."""
    parquet_dir, orders = _parquet_copy_of_the_export(tmp_path)
    csv_rows = list(zip(*(orders[name].to_pylist() for name in ("order_id", "created_at", "shipped_at"))))
    for name in ("created_at", "shipped_at"):
        # The CSV's wall clock is UTC: as an instant, a labelled zone only changes how it is shown.
        column = orders[name].cast(pa.timestamp("us", tz="UTC")) if getattr(arrow_type, "tz", None) else orders[name]
        column = column.cast(arrow_type, safe=False)
        orders = orders.set_column(orders.schema.get_field_index(name), name, column)
    pq.write_table(orders, parquet_dir / "orders.parquet")
    described = duckdb.sql(f"describe select created_at from '{parquet_dir / 'orders.parquet'}'").fetchall()
    assert described[0][1] == duck_type

    from_parquet = tmp_path / "b.duckdb"
    load(parquet_dir, from_parquet, log=lambda _: None)
    con = duckdb.connect(str(from_parquet), read_only=True)
    rows = con.execute("select order_id, created_at, shipped_at from raw.orders order by order_id").fetchall()
    loaded_type = con.execute("select typeof(created_at) from raw.orders limit 1").fetchone()
    con.close()
    assert loaded_type == ("TIMESTAMP",)
    assert rows == [
        (order_id, expected(created), None if shipped is None else expected(shipped))
        for order_id, created, shipped in csv_rows
    ]
    assert rows != [(order_id, None, None) for order_id, _, _ in csv_rows]


def test_infinite_and_empty_zoned_parquet_timestamps_keep_their_value(tmp_path: Path) -> None:
    """The fast path of a TIMESTAMP WITH TIME ZONE column has no microseconds for +-infinity: they still load as
    +-infinity (as the text 'infinity' does), and an empty value stays empty."""
    source = tmp_path / "a.duckdb"
    load(write_export(tmp_path / "csv"), source, log=lambda _: None)
    parquet_dir = tmp_path / "parquet"
    parquet_dir.mkdir()
    con = duckdb.connect(str(source), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    for table in TABLES:
        select = "*"
        if table == "orders":
            select = ("* replace (cast(case order_id when 1 then 'infinity' when 2 then '-infinity' "
                      "else cast(created_at as varchar) end as timestamptz) as created_at, "
                      "cast(shipped_at as timestamptz) as shipped_at)")
        con.execute(f"copy (select {select} from raw.{table}) to '{parquet_dir / (table + '.parquet')}'")
    con.close()
    loaded = tmp_path / "b.duckdb"
    load(parquet_dir, loaded, log=lambda _: None)
    con = duckdb.connect(str(loaded), read_only=True)
    rows = con.execute("select order_id, cast(created_at as varchar), shipped_at from raw.orders order by order_id"
                       ).fetchall()
    con.close()
    assert rows[:3] == [(1, "infinity", dt.datetime(2021, 1, 2, 10, 0)), (2, "-infinity", None),
                        (3, "2022-01-01 10:00:00", dt.datetime(2022, 1, 2, 10, 0))]


def test_nanosecond_zoned_parquet_timestamps_round_to_the_microsecond_as_naive_ones_do(tmp_path: Path) -> None:
    """pandas and pyarrow write zoned times in nanoseconds (TIMESTAMPTZ_NS). Their fast path rounds to the
    microsecond exactly as the cast of a naive TIMESTAMP_NS column does, before 1970 too; +-infinity keeps its
    value and an empty value stays empty. Worked by hand: 1,600,000,000.123456789 s after the epoch is
    2020-09-13 12:26:40.123457; 1,500 ns before it rounds to 2 us before it."""
    parquet_dir, orders = _parquet_copy_of_the_export(tmp_path)
    assert orders.num_rows == 4
    instants = [2**63 - 1, -(2**63 - 1), 1_600_000_000_123_456_789, -1_500]
    more = [-999, 1_600_000_000_123_456_499, None, 0]
    columns = (
        ("created_at", instants, pa.timestamp("ns", tz="America/New_York")),
        ("shipped_at", [None, None] + instants[2:], pa.timestamp("ns")),
        ("delivered_at", more, pa.timestamp("ns", tz="Asia/Kolkata")),
        ("returned_at", more, pa.timestamp("ns")),
    )
    for name, values, arrow_type in columns:
        orders = orders.set_column(orders.schema.get_field_index(name), name, pa.array(values, arrow_type))
    pq.write_table(orders, parquet_dir / "orders.parquet")
    described = _column_types(parquet_dir / "orders.parquet")
    assert [described[name] for name, _, _ in columns] == ["TIMESTAMPTZ_NS", "TIMESTAMP_NS"] * 2

    loaded = tmp_path / "b.duckdb"
    load(parquet_dir, loaded, log=lambda _: None)
    con = duckdb.connect(str(loaded), read_only=True)
    rows = con.execute("select cast(created_at as varchar), cast(shipped_at as varchar), "
                       "cast(delivered_at as varchar), cast(returned_at as varchar) from raw.orders "
                       "order by order_id").fetchall()
    types = con.execute("select distinct typeof(created_at), typeof(delivered_at) from raw.orders").fetchall()
    con.close()
    assert types == [("TIMESTAMP", "TIMESTAMP")]
    assert rows == [
        ("infinity", None, "1969-12-31 23:59:59.999999", "1969-12-31 23:59:59.999999"),
        ("-infinity", None, "2020-09-13 12:26:40.123456", "2020-09-13 12:26:40.123456"),
        ("2020-09-13 12:26:40.123457", "2020-09-13 12:26:40.123457", None, None),
        ("1969-12-31 23:59:59.999998", "1969-12-31 23:59:59.999998", "1970-01-01 00:00:00", "1970-01-01 00:00:00"),
    ]


def test_an_export_saved_by_pandas_loads_as_its_csv_does(tmp_path: Path) -> None:
    """A thelook export fetched into pandas (as BigQuery's client gives it: nullable Int64, float64, text, and
    nanosecond UTC timestamps) and saved with `to_parquet` loads to the same raw tables as the CSV export."""
    csv_dir = write_export(tmp_path / "csv")
    from_csv = tmp_path / "a.duckdb"
    load(csv_dir, from_csv, log=lambda _: None)
    pandas_dir = tmp_path / "pandas"
    pandas_dir.mkdir()
    to_pandas = {"BIGINT": "Int64", "DOUBLE": "float64", "VARCHAR": object}
    for table, columns in TABLES.items():
        frame = pd.read_csv(csv_dir / f"{table}.csv", dtype=str, keep_default_na=False, na_values=[""],
                            encoding="utf-8-sig")
        for column, duck_type in columns.items():
            if duck_type == "TIMESTAMP":
                frame[column] = pd.to_datetime(frame[column], utc=True, format="mixed").astype("datetime64[ns, UTC]")
            else:
                frame[column] = frame[column].astype(to_pandas[duck_type])
        frame.to_parquet(pandas_dir / f"{table}.parquet")
    assert _column_types(pandas_dir / "orders.parquet")["created_at"] == "TIMESTAMPTZ_NS"

    from_pandas = tmp_path / "b.duckdb"
    load(pandas_dir, from_pandas, log=lambda _: None)
    assert snapshot(from_pandas) == snapshot(from_csv)


def test_a_missing_optional_table_loads_empty(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    counts = load(write_export(tmp_path / "src", distribution_centers=None), db, log=lambda _: None)
    assert counts["distribution_centers"] == 0
    assert snapshot(db)["raw.distribution_centers"] == []


def test_missing_column_names_file_and_column(tmp_path: Path, loaded: Path) -> None:
    no_email = "\n".join(
        ",".join(part for i, part in enumerate(line.split(",")) if i != 3) for line in USERS.splitlines()
    )
    assert_load_fails(tmp_path, loaded, r"users\.csv: missing column email", users=no_email)


def test_unparsable_date_names_file_column_row_and_value(tmp_path: Path, loaded: Path) -> None:
    bad = ORDERS.replace("2021-06-01 10:00:00 UTC", "2021-13-01 10:00:00")
    assert_load_fails(
        tmp_path, loaded, r"orders\.csv: column created_at, row 2: '2021-13-01 10:00:00' is not a timestamp", orders=bad
    )


def test_wrong_type_names_the_value(tmp_path: Path, loaded: Path) -> None:
    bad = PRODUCTS.replace(",20,Men,", ",twenty,Men,")
    assert_load_fails(tmp_path, loaded, r"products\.csv: column retail_price, row 3: 'twenty' is not a number", products=bad)


def test_header_only_table_is_refused(tmp_path: Path, loaded: Path) -> None:
    assert_load_fails(tmp_path, loaded, r"order_items\.csv: the file has no rows", order_items=ORDER_ITEMS.splitlines()[0] + "\n")


def test_zero_byte_file_is_refused(tmp_path: Path, loaded: Path) -> None:
    assert_load_fails(tmp_path, loaded, r"products\.csv: the file is empty", products="")


def test_duplicate_key_names_both_rows(tmp_path: Path, loaded: Path) -> None:
    bad = ORDER_ITEMS.replace("\n14,4,2,", "\n13,4,2,")
    assert_load_fails(
        tmp_path, loaded, r"order_items\.csv: column id, row 5: duplicate key 13 \(also at order_items\.csv row 4\)", order_items=bad
    )


def test_empty_key_is_refused(tmp_path: Path, loaded: Path) -> None:
    bad = USERS.replace("\n3,Cy,", "\n,Cy,")
    assert_load_fails(tmp_path, loaded, r"users\.csv: column id, row 3: the key is empty", users=bad)


def test_missing_required_table_is_refused(tmp_path: Path, loaded: Path) -> None:
    assert_load_fails(tmp_path, loaded, r"no file for table orders", orders=None)


def test_row_numbers_follow_the_file_in_a_large_file(tmp_path: Path) -> None:
    """The reported row is the file's row, also when DuckDB reads the file in parallel chunks."""
    folder = write_export(tmp_path / "src")
    header, *_ = USERS.splitlines()
    lines = [header.lstrip("\ufeff")]
    for i in range(1, 300_001):
        created = "not-a-date" if i == 250_000 else "2020-01-01 10:00:00 UTC"
        lines.append(f"{i},A,B,a{i}@example.com,30,F,S,St,1,C,X,1.0,2.0,Search,{created},")
    (folder / "users.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadError, match=r"column created_at, row 250000: 'not-a-date'"):
        load(folder, tmp_path / "w.duckdb", log=lambda _: None)


def test_a_warehouse_held_by_another_writer_is_reported(tmp_path: Path, loaded: Path) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(loaded)!r}); print('ok', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(LoadError, match="cannot open the warehouse for writing"):
            load(write_export(tmp_path / "again"), loaded, log=lambda _: None)
    finally:
        holder.kill()
        holder.wait()


def test_cli_reports_failure_without_traceback(tmp_path: Path, loaded: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write_export(tmp_path / "bad", orders=None)
    assert load_thelook.main([str(folder), "--db", str(loaded)]) == 1
    assert "load failed, warehouse unchanged" in capsys.readouterr().err
    shutil.rmtree(folder)
