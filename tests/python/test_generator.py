"""Tests of scripts/generate_thelook.py: determinism, the thelook process, the shop profile, the files.

Small generated folders (20-30k users) are built once per module; tolerances are about 5 standard errors,
so a correct generator fails by chance essentially never while a wrong parameter still fails.
"""

import hashlib
import json
import math
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import generate_thelook as gen
from thelook_schema import TABLES

END = "2026-06-06"
# The public generator's parameters (thelook_shape.md sections 4-5), written out rather than read from the
# module under test.
TRAFFIC = {"Search": 0.70, "Organic": 0.15, "Facebook": 0.06, "Email": 0.05, "Display": 0.04}
ORDERS_PER_USER = {0: 0.20, 1: 0.50, 2: 0.20, 3: 0.05, 4: 0.05}
STATUS = {"Complete": 0.25, "Shipped": 0.30, "Processing": 0.20, "Cancelled": 0.15, "Returned": 0.10}
ITEMS_PER_ORDER = {1: 0.70, 2: 0.20, 3: 0.05, 4: 0.05}
THELOOK_USERS = 20_000
SHOP_USERS = 30_000


def sha256_of_folder(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def connect(folder) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in TABLES:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{folder / (table + '.parquet')}')")
    return con


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def one_row(con, sql: str) -> tuple:
    return rows(con, sql)[0]


def one(con, sql: str):
    return one_row(con, sql)[0]


def assert_share(observed: float, expected: float, n: int, label: str) -> None:
    tolerance = 5 * math.sqrt(expected * (1 - expected) / n) + 1e-9
    assert abs(observed - expected) <= tolerance, f"{label}: {observed:.4f} vs {expected} ± {tolerance:.4f}"


@pytest.fixture(scope="module")
def thelook_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "thelook"
    gen.generate(out, users=THELOOK_USERS, seed=42, profile="thelook", end_date=END, formats="both")
    return out


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "shop"
    gen.generate(out, users=SHOP_USERS, seed=42, end_date=END)  # shop is the default profile
    return out


@pytest.fixture(scope="module")
def thelook(thelook_dir):
    return connect(thelook_dir)


@pytest.fixture(scope="module")
def shop(shop_dir):
    return connect(shop_dir)


# ---------------------------------------------------------------------------------------------------------
# determinism and files
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["thelook", "shop"])
def test_same_arguments_give_identical_files(tmp_path, profile):
    first, second = tmp_path / "a", tmp_path / "b"
    gen.generate(first, users=3_000, seed=7, profile=profile, formats="both")
    gen.generate(second, users=3_000, seed=7, profile=profile, formats="both")
    hashes = sha256_of_folder(first)
    assert set(hashes) == {"_manifest.json"} | {f"{t}.{f}" for t in TABLES for f in ("parquet", "csv")}
    assert hashes == sha256_of_folder(second)


def test_seed_changes_users_and_orders_but_not_the_catalogue(tmp_path):
    gen.generate(tmp_path / "s1", users=3_000, seed=1, profile="thelook")
    gen.generate(tmp_path / "s2", users=3_000, seed=2, profile="thelook")
    gen.generate(tmp_path / "s3", users=1_000, seed=2, profile="shop")
    seed1, seed2, shop2 = (sha256_of_folder(tmp_path / s) for s in ("s1", "s2", "s3"))
    for table in ("users", "orders", "order_items"):
        assert seed1[f"{table}.parquet"] != seed2[f"{table}.parquet"]
    for table in ("products", "distribution_centers"):
        assert seed1[f"{table}.parquet"] == seed2[f"{table}.parquet"] == shop2[f"{table}.parquet"]


def test_parquet_layout_matches_thelook_schema(thelook_dir):
    arrow = {"BIGINT": pa.int64(), "VARCHAR": pa.string(), "DOUBLE": pa.float64(),
             "TIMESTAMP": pa.timestamp("us")}  # UTC values, no time zone
    for table, columns in TABLES.items():
        schema = pq.read_schema(thelook_dir / f"{table}.parquet")
        assert schema.names == list(columns), table
        assert [schema.field(c).type for c in columns] == [arrow[t] for t in columns.values()], table


def test_manifest_records_the_parameters(thelook_dir, thelook):
    manifest = json.loads((thelook_dir / "_manifest.json").read_text())
    assert manifest["profile"] == "thelook" and manifest["users"] == THELOOK_USERS and manifest["seed"] == 42
    assert manifest["end_date"] == END and manifest["formats"] == ["parquet", "csv"]
    assert manifest["rows"] == {t: one(thelook, f"select count(*) from {t}") for t in TABLES}


def test_rerun_replaces_the_folder_atomically_and_refuses_foreign_folders(tmp_path):
    out = tmp_path / "data"
    gen.generate(out, users=500, seed=1, profile="thelook", formats="both")
    assert (out / "users.csv").exists()
    gen.generate(out, users=400, seed=1, profile="thelook", formats="parquet")
    assert not (out / "users.csv").exists(), "the old folder is replaced, not merged"
    assert json.loads((out / "_manifest.json").read_text())["users"] == 400
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"], "no temporary folders left behind"

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        gen.generate(foreign, users=10)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_an_interrupted_run_leaves_the_previous_folder_untouched(tmp_path, monkeypatch):
    out = tmp_path / "data"
    gen.generate(out, users=500, seed=1, profile="thelook")
    before = sha256_of_folder(out)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gen, "build_items", crash)
    with pytest.raises(KeyboardInterrupt):
        gen.generate(out, users=900, seed=2, profile="thelook")
    assert sha256_of_folder(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        gen.generate(tmp_path / "x", users=0)
    with pytest.raises(ValueError):
        gen.generate(tmp_path / "x", users=10, profile="amazon")
    with pytest.raises(ValueError):
        gen.generate(tmp_path / "x", users=10, formats=("xlsx",))
    assert not (tmp_path / "x").exists()


def test_cli_writes_and_reports(tmp_path, capsys):
    out = tmp_path / "cli"
    assert gen.main(["--out", str(out), "--users", "300", "--seed", "3", "--profile", "thelook",
                     "--format", "csv"]) == 0
    printed = capsys.readouterr().out
    assert "users" in printed and "order_items" in printed and "seconds" in printed
    assert sorted(p.suffix for p in out.iterdir()) == [".csv"] * 5 + [".json"]


def test_stable_order_equals_stable_argsort():
    rng = np.random.default_rng(0)
    key = rng.integers(0, 50, size=10_000)  # many ties
    assert np.array_equal(gen._stable_order(key), np.argsort(key, kind="stable"))
    assert gen._stable_order(np.array([], dtype=np.int64)).size == 0


def test_csv_timestamps_are_bigquery_style():
    col = pa.chunked_array([pa.array([1704449472_000000, 1704449472_123456, None], type=pa.timestamp("us"))])
    assert gen._bigquery_timestamps(col).to_pylist() == [
        "2024-01-05 10:11:12 UTC", "2024-01-05 10:11:12.123456 UTC", None]


# ---------------------------------------------------------------------------------------------------------
# CSV round trip
# ---------------------------------------------------------------------------------------------------------
def test_csv_round_trips(thelook_dir, thelook):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table, columns in TABLES.items():
        csv = f"read_csv('{thelook_dir / (table + '.csv')}', header = true, all_varchar = true)"
        assert one(con, f"select count(*) from {csv}") == one(thelook, f"select count(*) from {table}"), table
        key = next(iter(columns))
        # Every 97th row, each column as the loader would cast it, against the Parquet value.
        casts = ", ".join(
            f"cast(try_cast({c} as timestamptz) as timestamp) as {c}" if t == "TIMESTAMP"
            else f"cast({c} as {t}) as {c}" for c, t in columns.items())
        sample = f"select {casts} from {csv} where cast({key} as bigint) % 97 = 1 order by 1"
        parquet = (f"select * from read_parquet('{thelook_dir / (table + '.parquet')}') "
                   f"where {key} % 97 = 1 order by 1")
        assert rows(con, sample) == rows(con, parquet), table
    # Names with commas and inch quotes, and null brands/names, survive exactly.
    tricky = ("select id, name, brand from {} "
              "where name like '%,%' or name like '%\"%' or name is null or brand is null")
    csv_products = f"read_csv('{thelook_dir / 'products.csv'}', header = true, all_varchar = true)"
    got = rows(con, tricky.format(csv_products) + " order by cast(id as bigint)")
    want = rows(thelook, tricky.format("products") + " order by id")
    assert len(want) > 100 and [(int(i), n, b) for i, n, b in got] == want
    first_line = (thelook_dir / "order_items.csv").read_text().splitlines()[1]
    assert " UTC" in first_line and ",," in first_line  # BigQuery-style timestamps; NULL as an empty field


# ---------------------------------------------------------------------------------------------------------
# the thelook process
# ---------------------------------------------------------------------------------------------------------
def test_users(thelook):
    n = THELOOK_USERS
    assert one(thelook, "select count(*) from users") == n
    assert one(thelook, "select min(id) = 1 and max(id) = count(distinct id) from users")
    assert_share(one(thelook, "select avg((gender = 'M')::int) from users"), 0.5, n, "gender M")
    lo, hi, mean = one_row(thelook, "select min(age), max(age), avg(age) from users")
    assert (lo, hi) == (12, 70) and abs(mean - 41) < 0.6
    for source, p in TRAFFIC.items():
        assert_share(one(thelook, f"select avg((traffic_source = '{source}')::int) from users"), p, n, source)
    for country, p in (("China", 0.339), ("United States", 0.225), ("Brasil", 0.146)):
        assert_share(one(thelook, f"select avg((country = '{country}')::int) from users"), p, n, country)
    emails = "select count(*) from users where email not similar to '[a-z]+@example\\.(com|net|org)'"
    assert one(thelook, emails) == 0
    assert one(thelook, "select count(*) from users where lower(first_name || last_name) || '@' || "
                        "split_part(email, '@', 2) <> email") == 0
    assert one(thelook, "select count(*) from users where street_address is null or latitude is null") == 0


def test_signups_follow_the_documented_rule(thelook):
    assert one(thelook, "select count(*) from users where hour(created_at) >= 19") == 0
    first, last = one_row(thelook, "select min(created_at), max(created_at) from users")
    assert first >= datetime(2019, 1, 2) and last < datetime(2026, 6, 5, 19)
    # 2.5 % signed up in the last 6 days, plus the uniform background's share of those days.
    recent = one(thelook, "select avg((created_at >= timestamp '2026-05-31')::int) from users")
    assert 0.020 < recent < 0.034


def test_orders_per_user_and_status(thelook):
    n = THELOOK_USERS
    counts = dict(rows(thelook, """
        select coalesce(k, 0), count(*) from users
        left join (select user_id, count(*) as k from orders group by user_id) o on o.user_id = users.id
        group by 1"""))
    for k, p in ORDERS_PER_USER.items():
        assert_share(counts.get(k, 0) / n, p, n, f"{k} orders")
    m = one(thelook, "select count(*) from orders")
    for status, p in STATUS.items():
        assert_share(one(thelook, f"select avg((status = '{status}')::int) from orders"), p, m, status)
    assert one(thelook, "select count(*) from orders o join users u on u.id = o.user_id "
                        "where o.gender <> u.gender") == 0


def test_items_per_order_and_prices(thelook):
    m = one(thelook, "select count(*) from orders")
    for k, p in ITEMS_PER_ORDER.items():
        assert_share(one(thelook, f"select avg((num_of_item = {k})::int) from orders"), p, m, f"{k} items")
    assert one(thelook, """select count(*) from orders o
        left join (select order_id, count(*) k from order_items group by 1) i using (order_id)
        where coalesce(i.k, 0) <> o.num_of_item""") == 0
    assert one(thelook, "select count(*) from order_items i join products p on p.id = i.product_id "
                        "where i.sale_price <> p.retail_price") == 0
    # 1.25 orders x 1.45 items per user, the public dataset's ~181k items per 100k users.
    per_user = one(thelook, "select count(*) from order_items") / THELOOK_USERS
    assert abs(per_user - 1.8125) < 0.05
    assert one(thelook, "select count(distinct inventory_item_id) = count(*) from order_items")


def test_items_come_from_the_users_department(thelook):
    assert one(thelook, """select count(*) from order_items i join users u on u.id = i.user_id
        join products p on p.id = i.product_id
        where p.department <> case u.gender when 'M' then 'Men' else 'Women' end""") == 0
    assert one(thelook, "select count(*) from order_items i join orders o using (order_id) "
                        "where i.user_id <> o.user_id or i.status <> o.status") == 0


def test_order_timestamps_and_nulls_by_status(thelook):
    assert one(thelook, "select count(*) from orders o join users u on u.id = o.user_id "
                        "where o.created_at < u.created_at or o.created_at >= timestamp '2026-06-06'") == 0
    nulls = rows(thelook, """select status, bool_and(shipped_at is null), bool_and(shipped_at is not null),
        bool_and(delivered_at is null), bool_and(delivered_at is not null),
        bool_and(returned_at is null), bool_and(returned_at is not null) from orders group by 1""")
    expect = {  # status: shipped, delivered, returned present?
        "Processing": (False, False, False), "Cancelled": (False, False, False),
        "Shipped": (True, False, False), "Complete": (True, True, False), "Returned": (True, True, True),
    }
    for status, s_null, s_set, d_null, d_set, r_null, r_set in nulls:
        shipped, delivered, returned = expect[status]
        assert (s_set, d_set, r_set) == (shipped, delivered, returned) and (s_null, d_null, r_null) == (
            not shipped, not delivered, not returned), status
    # Lags in whole minutes: ship < 3 d after the order, deliver < 5 d after it, return < 3 d after that.
    assert one(thelook, """select count(*) from orders where
           epoch(shipped_at - created_at) not between 0 and 3 * 86400 - 60
        or epoch(delivered_at - shipped_at) not between 0 and 5 * 86400 - 60
        or epoch(returned_at - delivered_at) not between 0 and 3 * 86400 - 60
        or epoch(shipped_at - created_at) % 60 <> 0 or epoch(delivered_at - shipped_at) % 60 <> 0""") == 0
    assert one(thelook, "select count(*) from order_items i join orders o using (order_id) "
                        "where i.shipped_at is distinct from o.shipped_at "
                        "or i.delivered_at is distinct from o.delivered_at "
                        "or i.returned_at is distinct from o.returned_at") == 0


def test_item_created_at_follows_the_click_stream_rule(thelook):
    # order - U[0, 4 h) + 5 x U[0, 180 s) for 1-item orders; + 3n x U[0, 180 s) + 0-4 days otherwise.
    assert one(thelook, """select count(*) from order_items i join orders o using (order_id)
        where epoch(i.created_at - o.created_at) <= -4 * 3600
           or epoch(i.created_at - o.created_at) > case when o.num_of_item = 1 then 5 * 179
              else 3 * o.num_of_item * 179 + 4 * 86400 end""") == 0
    spread = one(thelook, """select max(epoch(i.created_at - o.created_at)) / 86400 from order_items i
        join orders o using (order_id) where o.num_of_item > 1""")
    assert spread > 3.9  # multi-item orders carry the whole-day shifts


def test_ids_follow_creation_order(thelook):
    for table, key in (("orders", "order_id"), ("order_items", "id")):
        assert one(thelook, f"select min({key}) = 1 and max({key}) = count(*) from {table}")
        assert one(thelook, f"""select count(*) from (
            select created_at < lag(created_at) over (order by {key}) as back from {table}
        ) where back""") == 0, table


def test_catalogue(thelook):
    assert one(thelook, "select count(*) from products") == 29_120
    assert one(thelook, "select min(id) = 1 and max(id) = 29120 from products")
    assert one(thelook, "select count(distinct category) from products") == 26
    per_cell = rows(thelook, "select department, category, count(*) from products group by all")
    cells = {(d, c): n for d, c, n in per_cell}
    assert cells == {(d, c): n for d, c, n, *_ in gen.CATALOGUE_CELLS}
    assert sum(n for (d, _), n in cells.items() if d == "Men") == 13_131
    assert cells[("Women", "Intimates")] == 2363 and cells[("Women", "Clothing Sets")] == 37
    assert cells[("Men", "Jeans")] == 1117 and cells[("Men", "Outerwear & Coats")] == 828
    assert sum(1 for d, _ in cells if d == "Men") == 14 and sum(1 for d, _ in cells if d == "Women") == 22
    assert one(thelook, "select count(distinct brand) from products") >= 2700
    top = rows(thelook, "select brand from products where brand is not null "
                        "group by 1 order by count(*) desc limit 3")
    assert [b for (b,) in top] == ["Allegra K", "Calvin Klein", "Carhartt"]
    assert one(thelook, "select count(*) from products where cost > retail_price or cost <= 0") == 0
    assert one(thelook, "select count(*) from products where retail_price / cost < 1.5") == 0  # markup >= 50%
    mean_retail, mean_cost = one_row(thelook, "select avg(retail_price), avg(cost) from products")
    assert abs(mean_retail - 59.22) < 2 and abs(mean_cost - 28.48) < 1.5
    # Each cell's prices stay in its public min-max range with its mean cost/retail ratio.
    for d, c, _n, _mean, _std, lo, hi, ratio in gen.CATALOGUE_CELLS:
        low, high, cost_ratio = thelook.execute("""select min(retail_price), max(retail_price),
            sum(cost) / sum(retail_price) from products where department = ? and category = ?""", [d, c]
        ).fetchall()[0]
        assert lo <= low and high <= hi and abs(cost_ratio - ratio) < 0.03, (d, c)
    assert one(thelook, "select count(*) from products where sku not similar to '[0-9a-f]{32}'") == 0
    assert one(thelook, "select count(distinct sku) from products") == 29_120
    by_dc = dict(rows(thelook, "select distribution_center_id, count(*) from products group by 1"))
    assert set(by_dc) == set(range(1, 11)) and max(by_dc, key=by_dc.get) == 2 and by_dc[2] == 3929
    dcs = rows(thelook, "select id, name, latitude, longitude from distribution_centers order by id")
    assert dcs == [tuple(d) for d in gen.DISTRIBUTION_CENTERS] and dcs[1][1] == "Chicago IL"


# ---------------------------------------------------------------------------------------------------------
# the shop profile
# ---------------------------------------------------------------------------------------------------------
def test_shop_keeps_the_thelook_rules(shop):
    n = SHOP_USERS
    assert one(shop, "select count(*) from users") == n
    buyers = one(shop, "select count(distinct user_id) from orders")
    assert_share(buyers / n, 0.80, n, "buyers")
    assert one(shop, "select count(*) from order_items i join products p on p.id = i.product_id "
                     "where i.sale_price <> p.retail_price") == 0
    assert one(shop, """select count(*) from order_items i join users u on u.id = i.user_id
        join products p on p.id = i.product_id
        where p.department <> case u.gender when 'M' then 'Men' else 'Women' end""") == 0
    m = one(shop, "select count(*) from orders")
    for status, p in STATUS.items():
        assert_share(one(shop, f"select avg((status = '{status}')::int) from orders"), p, m, status)


def test_shop_has_loyal_repeat_buyers(shop):
    mean, most, tail = one_row(shop, """select avg(k), max(k), avg((k >= 8)::int) from
        (select user_id, count(*) k from orders group by 1)""")
    assert mean > 1.8 and 10 <= most <= gen.SHOP_ORDERS_MAX and tail > 0.01


def test_shop_frequency_basket_and_monetary_move_together(shop):
    c_value, c_items, c_price = one_row(shop, """
        with c as (select o.user_id, count(distinct o.order_id) f, sum(i.sale_price) m, count(*) items
                   from orders o join order_items i using (order_id) group by 1)
        select corr(f, m / f), corr(f, items / f), corr(f, m / items) from c""")
    assert c_value > 0.3 and c_items > 0.2 and c_price > 0.1


def test_shop_silver_under_buys_outerwear(shop):
    """The downstream RFM (rank-based tercile scores on sale lines, Silver = total 6-7) must find the gap."""
    shop.execute("""create or replace temp table sales as
        select i.order_id, i.user_id, o.created_at, p.category, i.sale_price
        from order_items i join orders o using (order_id) join products p on p.id = i.product_id
        where i.status in ('Complete', 'Shipped', 'Processing')""")
    shop.execute("""create or replace temp table segments as
        with c as (select user_id, date_diff('day', cast(max(created_at) as date), date '2026-06-06') rd,
                          count(distinct order_id) f, sum(sale_price) m from sales group by 1),
        r as (select *, rank() over (order by rd desc) rr, rank() over (order by f) fr,
                        rank() over (order by m) mr, count(*) over () n from c)
        select user_id, case when s >= 8 then 'Gold' when s >= 6 then 'Silver' else 'Bronze' end segment
        from (select user_id,
                     3 + floor(3 * (rr - 1) / n) + floor(3 * (fr - 1) / n) + floor(3 * (mr - 1) / n) s
              from r)""")
    per_segment = rows(shop, """
        with per_segment as (
            select g.segment, count(distinct g.user_id) customers,
                   count(distinct s.order_id) filter (where s.category = 'Outerwear & Coats') ow_orders,
                   count(*) filter (where s.category = 'Outerwear & Coats') ow_items, count(*) items
            from segments g join sales s using (user_id) group by 1)
        select segment, customers, ow_orders, ow_items, items from per_segment""")
    seg = {s: dict(customers=c, ow_orders=o, ow_items=oi, items=i) for s, c, o, oi, i in per_segment}
    total = {k: sum(v[k] for v in seg.values()) for k in ("customers", "ow_orders", "ow_items", "items")}
    silver = seg["Silver"]
    # ratio_frequence as in the category_ratios mart: Outerwear orders per Silver customer vs per customer.
    ratio_frequence = (silver["ow_orders"] / silver["customers"]) / (total["ow_orders"] / total["customers"])
    others_share = (total["ow_items"] - silver["ow_items"]) / (total["items"] - silver["items"])
    print(f"Silver Outerwear ratio_frequence {ratio_frequence:.2f}, item share "
          f"{silver['ow_items'] / silver['items']:.4f} vs others {others_share:.4f}")
    assert ratio_frequence < 0.7, ratio_frequence
    assert silver["ow_items"] / silver["items"] < 0.6 * others_share
    assert seg["Gold"]["ow_items"] / seg["Gold"]["items"] > others_share


def test_thelook_has_no_category_preference(thelook):
    # Category share of a department's items = the category's share of the department's products.
    sold = rows(thelook, """select p.department, p.category, count(*) from order_items i
        join products p on p.id = i.product_id group by all""")
    items = {d: sum(n for dd, _, n in sold if dd == d) for d in ("Men", "Women")}
    products = {d: sum(n for dd, _, n, *_ in gen.CATALOGUE_CELLS if dd == d) for d in ("Men", "Women")}
    cell_n = {(d, c): n for d, c, n, *_ in gen.CATALOGUE_CELLS}
    for d, c, n in sold:
        assert_share(n / items[d], cell_n[(d, c)] / products[d], items[d], f"{d} {c}")
