"""The campaign simulator: deterministic shards in the raw layout that load with the generated data, effects
only where configured, and a truth that a large synthetic population recovers within its standard errors.

No dbt here: the warehouses are hand-made with duckdb, holding just what the simulator reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import generate_thelook
import load_thelook
import simulate_campaigns as sim
from thelook_schema import TABLES

LAUNCH = pd.Timestamp("2026-06-06")
LATER_LAUNCH, LATER_WINDOW = pd.Timestamp("2026-06-20"), 21  # a user-added campaign: no configured effect
PERIOD_END = LATER_LAUNCH + pd.Timedelta(days=LATER_WINDOW)
SALES = "('Complete', 'Shipped', 'Processing')"

CAMPAIGNS_DDL = """
create table int_campaigns_for_source (campaign_id varchar, launch_date date, window_days integer, target_category varchar,
                        offer_amount decimal(18, 2), offer_min_basket decimal(18, 2))"""
EXPOSURE_DDL = """
create table campaign_exposure (campaign_id varchar, customer_id bigint, launch_date date, window_days integer,
    rfm_segment varchar, lifecycle_segment varchar, assignment_value double, arm varchar, is_treated boolean,
    channel varchar, contact_cost decimal(18, 2))"""


def quiet(*_args) -> None:
    pass


def marts_from_raw(con: duckdb.DuckDBPyConnection) -> None:
    """The columns of customers, transactions and stg_thelook__products the simulator reads, from raw."""
    con.execute("create table customers as select id as customer_id, gender, created_at as signed_up_at from raw.users")
    con.execute(f"""
        create table transactions as
        select oi.id as order_item_id, oi.order_id, oi.user_id as customer_id, oi.product_id,
               o.created_at as ordered_at, oi.status, oi.status in {SALES} as is_sale,
               p.category, p.department, oi.sale_price
        from raw.order_items oi join raw.orders o using (order_id) join raw.products p on p.id = oi.product_id""")
    con.execute("""
        create table stg_thelook__products as
        select id as product_id, name as product_name, brand, category, department,
               cast(round(retail_price, 2) as decimal(18, 2)) as retail_price,
               cast(round(cost, 2) as decimal(18, 2)) as cost
        from raw.products""")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """2,000 generated users loaded into raw, thin marts, and three campaigns splitting the users."""
    work = tmp_path_factory.mktemp("small")
    base, db = work / "base", work / "w.duckdb"
    generate_thelook.generate(base, users=2000, seed=7)
    load_thelook.load(base, db, log=quiet)
    con = duckdb.connect(str(db))
    marts_from_raw(con)
    con.execute(CAMPAIGNS_DDL)
    con.execute(f"""insert into int_campaigns_for_source values
        ('silver_outerwear_2026', '2026-06-06', 30, 'Outerwear & Coats', 10, 100),
        ('gold_loyalty_2026', '2026-06-06', 30, null, 10, 100),
        ('later_campaign_2026', '{LATER_LAUNCH.date()}', {LATER_WINDOW}, 'Jeans', 10, 100)""")
    con.execute(EXPOSURE_DDL)
    # Campaign by id mod 3; arm by (id div 3) mod 10: 0 control, 1-4 email, 5-9 sms.
    con.execute("""
        insert into campaign_exposure
        select c.campaign_id, u.customer_id, c.launch_date, c.window_days, 'x',
               case when c.campaign_id like 'gold%' then 'VIP'
                    when c.campaign_id like 'silver%' and u.customer_id % 2 = 0 then 'At-risk' else 'Regular' end,
               0.5, a.arm, a.arm <> 'control', a.arm, 0.0
        from customers u
        join int_campaigns_for_source c on c.campaign_id = ['silver_outerwear_2026', 'gold_loyalty_2026',
                                             'later_campaign_2026'][u.customer_id % 3 + 1]
        cross join lateral (select case when (u.customer_id // 3) % 10 = 0 then 'control'
                                        when (u.customer_id // 3) % 10 < 5 then 'email' else 'sms' end as arm) a""")
    con.close()
    runs = {}
    for name, kwargs in {"effects": {}, "effects_again": {}, "aa": {"aa": True}, "seed": {"seed": 43}}.items():
        out = work / name
        runs[name] = {"dir": out, "truth": sim.simulate(db, out, log=quiet, **kwargs)}
    return {"base": base, "db": db, "work": work, "runs": runs}


def shards(folder: Path) -> dict[str, pd.DataFrame]:
    return {"orders": pd.read_parquet(folder / sim.ORDERS_FILE), "order_items": pd.read_parquet(folder / sim.ITEMS_FILE)}


def exposure(db: Path) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select * from campaign_exposure order by campaign_id, customer_id").df()
    finally:
        con.close()


def test_same_inputs_give_identical_bytes(small: dict) -> None:
    a, b = small["runs"]["effects"]["dir"], small["runs"]["effects_again"]["dir"]
    for name in sim.OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    other = small["runs"]["seed"]["dir"]
    assert (a / sim.ORDERS_FILE).read_bytes() != (other / sim.ORDERS_FILE).read_bytes()


def test_shards_have_the_raw_layout_and_load_with_the_generated_data(small: dict, tmp_path: Path) -> None:
    run = small["runs"]["effects"]["dir"]
    for table, name in (("orders", sim.ORDERS_FILE), ("order_items", sim.ITEMS_FILE)):
        schema = pq.read_schema(run / name)
        assert schema.names == list(TABLES[table])
        assert [schema.field(c).type for c in schema.names] == [
            generate_thelook.ARROW_TYPES[t] for t in TABLES[table].values()]
        assert schema.equals(pq.read_schema(small["base"] / f"{table}.parquet"), check_metadata=False)

    folder = tmp_path / "data"
    shutil.copytree(small["base"], folder)
    for name in sim.OUTPUTS:
        shutil.copy(run / name, folder / name)
    counts = load_thelook.load(folder, tmp_path / "w.duckdb", log=quiet)
    new = shards(run)
    base_counts = {t: pq.read_metadata(small["base"] / f"{t}.parquet").num_rows for t in ("orders", "order_items")}
    assert counts["orders"] == base_counts["orders"] + len(new["orders"])
    assert counts["order_items"] == base_counts["order_items"] + len(new["order_items"])
    truth = small["runs"]["effects"]["truth"]
    assert truth["rows_written"] == {"orders": len(new["orders"]), "order_items": len(new["order_items"])}


def test_ids_are_new_unique_and_consistent(small: dict) -> None:
    con = duckdb.connect(str(small["db"]), read_only=True)
    max_order, max_item, max_inventory, base_users = con.execute(
        "select (select max(order_id) from raw.orders), (select max(id) from raw.order_items), "
        "(select max(inventory_item_id) from raw.order_items), (select count(*) from raw.users)").fetchone()
    products = con.execute("select id, department, retail_price from raw.products").df().set_index("id")
    genders = con.execute("select id, gender from raw.users").df().set_index("id")["gender"]
    con.close()
    new = shards(small["runs"]["effects"]["dir"])
    orders, items = new["orders"], new["order_items"]
    assert orders["order_id"].tolist() == list(range(max_order + 1, max_order + 1 + len(orders)))
    assert items["id"].tolist() == list(range(max_item + 1, max_item + 1 + len(items)))
    assert items["inventory_item_id"].is_unique and items["inventory_item_id"].min() > max_inventory
    # Ids follow creation time; items are numbered order by order.
    assert orders["created_at"].is_monotonic_increasing and items["order_id"].is_monotonic_increasing
    assert orders["user_id"].between(1, base_users).all()
    joined = items.merge(orders, on="order_id", suffixes=("", "_order"))
    assert len(joined) == len(items)
    assert (joined["user_id"] == joined["user_id_order"]).all()
    assert (joined["status"] == joined["status_order"]).all()
    assert (joined["created_at"] == joined["created_at_order"]).all()
    assert (items.groupby("order_id").size() == orders.set_index("order_id")["num_of_item"]).all()
    assert (orders["gender"] == orders["user_id"].map(genders)).all()
    lines = items.join(products, on="product_id")
    assert (lines["sale_price"] == lines["retail_price"]).all()
    assert (lines["department"] == lines["user_id"].map(genders).map({"M": "Men", "F": "Women"})).all()
    # thelook's status rules for the timestamps.
    for frame in (orders, items):
        assert frame.loc[frame["status"].isin(["Processing", "Cancelled"]), "shipped_at"].isna().all()
        assert frame.loc[frame["status"].isin(["Complete", "Shipped", "Returned"]), "shipped_at"].notna().all()
        assert (frame["returned_at"].notna() == (frame["status"] == "Returned")).all()
        assert (frame["delivered_at"].notna() == frame["status"].isin(["Complete", "Returned"])).all()
        assert (frame["shipped_at"].dropna() >= frame.loc[frame["shipped_at"].notna(), "created_at"]).all()


def test_every_timestamp_is_inside_the_period(small: dict) -> None:
    truth = small["runs"]["effects"]["truth"]
    assert truth["period"] == {"start": "2026-06-06 00:00:00", "end": str(PERIOD_END), "days": 35.0}
    for frame in shards(small["runs"]["effects"]["dir"]).values():
        assert frame["created_at"].min() >= LAUNCH and frame["created_at"].max() < PERIOD_END
        assert (frame["created_at"] == frame["created_at"].dt.floor("s")).all()


def order_keys(folder: Path) -> pd.DataFrame:
    """Orders without their ids (ids shift when an induced order is inserted before them)."""
    orders = shards(folder)["orders"]
    return orders.drop(columns="order_id").sort_values(["user_id", "created_at"]).reset_index(drop=True)


def test_effects_touch_only_treated_customers_of_configured_cells(small: dict) -> None:
    with_effects = order_keys(small["runs"]["effects"]["dir"])
    aa = order_keys(small["runs"]["aa"]["dir"])
    exp = exposure(small["db"])
    # Organic draws do not depend on the effects: the A/A run's orders are the organic baseline.
    configured = {("silver_outerwear_2026", "Regular", "email"), ("silver_outerwear_2026", "Regular", "sms"),
                  ("silver_outerwear_2026", "At-risk", "email"), ("gold_loyalty_2026", "VIP", "email")}
    cell = list(zip(exp["campaign_id"], exp["lifecycle_segment"], exp["arm"]))
    untouched = exp.loc[[c not in configured for c in cell], "customer_id"]
    assert exp.loc[exp["arm"] == "control", "customer_id"].isin(untouched).all()
    pd.testing.assert_frame_equal(with_effects[with_effects["user_id"].isin(untouched)].reset_index(drop=True),
                                  aa[aa["user_id"].isin(untouched)].reset_index(drop=True))
    columns = list(with_effects.columns)
    # Induced customers only gain sale orders inside the window; fatigued ones only lose orders.
    induced = exp.loc[exp["campaign_id"].eq("silver_outerwear_2026") & exp["is_treated"], "customer_id"]
    extra = with_effects[with_effects["user_id"].isin(induced)].merge(
        aa[aa["user_id"].isin(induced)], on=columns, how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"]
    assert len(extra) > 0 and extra["status"].isin(["Complete", "Shipped", "Processing"]).all()
    assert (extra["created_at"] < LAUNCH + pd.Timedelta(days=30)).all()
    assert len(aa[aa["user_id"].isin(induced)]) == len(with_effects[with_effects["user_id"].isin(induced)]) - len(extra)
    fatigued = exp.loc[exp["campaign_id"].eq("gold_loyalty_2026") & exp["arm"].eq("email"), "customer_id"]
    kept = with_effects[with_effects["user_id"].isin(fatigued)].merge(aa, on=columns, how="left", indicator=True)
    assert (kept["_merge"] == "both").all()
    draws = pd.DataFrame(small["runs"]["effects"]["truth"]["draws"])
    assert draws.loc[draws["arm"] == "control", ["induced_orders", "dropped_orders"]].eq(0).all().all()
    lost = len(aa[aa["user_id"].isin(fatigued)]) - len(kept)
    assert lost == draws.query("campaign_id == 'gold_loyalty_2026' and arm == 'email'")["dropped_orders"].sum() > 0


def test_aa_run_has_a_zero_truth(small: dict) -> None:
    truth = small["runs"]["aa"]["truth"]
    assert truth["aa"] is True and truth["configured_effects"] == sim.DEFAULT_EFFECTS
    for rows in (truth["segments"], truth["overall"]):
        frame = pd.DataFrame(rows)
        assert len(frame) > 0
        assert (frame[["conversion_uplift", "revenue_uplift_per_customer"]] == 0).all().all()
        assert (frame["baseline_conversion"] > 0).all()
    draws = pd.DataFrame(truth["draws"])
    assert (draws[["induced_orders", "dropped_orders"]] == 0).all().all()
    assert (pd.DataFrame(truth["segments"])[["induced", "fatigue"]] == 0).all().all()
    assert json.loads((small["runs"]["aa"]["dir"] / sim.TRUTH_FILE).read_text()) == truth


def test_truth_matches_an_independent_computation(small: dict) -> None:
    truth = small["runs"]["effects"]["truth"]
    segments = pd.DataFrame(truth["segments"]).set_index(["campaign_id", "lifecycle_segment", "arm"])
    overall = pd.DataFrame(truth["overall"]).set_index(["campaign_id", "arm"])
    con = duckdb.connect(str(small["db"]), read_only=True)
    customers = con.execute(f"""
        select c.customer_id, c.gender, c.signed_up_at,
               count(distinct t.order_id) filter (where t.is_sale and t.ordered_at < '{LAUNCH}') as n
        from customers c left join transactions t using (customer_id) group by all""").df().set_index("customer_id")
    products = con.execute("select category, department, cast(retail_price as double) as price "
                           "from stg_thelook__products").df()
    con.close()
    days = (LAUNCH - customers["signed_up_at"]).dt.total_seconds() / 86400
    lam = (customers["n"] + 0.25) / (days + 30)
    dept = customers["gender"].map({"M": "Men", "F": "Women"})
    dept_mean = dept.map(products.groupby("department")["price"].mean())
    exp = exposure(small["db"]).join(lam.rename("lam"), on="customer_id").join(dept.rename("dept"), on="customer_id")
    exp["dept_mean"] = exp["customer_id"].map(dept_mean)
    coats = products[products["category"] == "Outerwear & Coats"].groupby("department")["price"].mean()

    silver = exp[exp["campaign_id"] == "silver_outerwear_2026"].copy()
    mu = silver["lam"] * 30 * 0.75
    silver["p0"] = 1 - np.exp(-mu)
    basket = silver["dept"].map(coats) + 0.3 * silver["dept_mean"]
    for segment, arm, e in (("Regular", "email", 0.08), ("Regular", "sms", 0.04), ("At-risk", "email", 0.04),
                            ("At-risk", "sms", 0.0)):
        sel = silver["lifecycle_segment"] == segment
        row = segments.loc[("silver_outerwear_2026", segment, arm)]
        assert row["conversion_uplift"] == pytest.approx((e * (1 - silver.loc[sel, "p0"])).mean(), rel=1e-9, abs=1e-15)
        assert row["revenue_uplift_per_customer"] == pytest.approx((e * basket[sel]).mean(), rel=1e-9, abs=1e-12)
        assert row["baseline_conversion"] == pytest.approx(silver.loc[sel, "p0"].mean(), rel=1e-9)
        assert row["targets"] == sel.sum()
        assert row["arm_customers"] == (sel & (silver["arm"] == arm)).sum()
    # The overall figure averages the arm's segment uplifts over all the campaign's targets.
    weights = silver["lifecycle_segment"].value_counts()
    for arm in ("email", "sms"):
        expected = sum(segments.loc[("silver_outerwear_2026", s, arm), "conversion_uplift"] * w
                       for s, w in weights.items()) / weights.sum()
        assert overall.loc[("silver_outerwear_2026", arm), "conversion_uplift"] == pytest.approx(expected, rel=1e-9)

    gold = exp[exp["campaign_id"] == "gold_loyalty_2026"]
    mu = gold["lam"] * 30 * 0.75
    row = segments.loc[("gold_loyalty_2026", "VIP", "email")]
    assert row["conversion_uplift"] == pytest.approx((np.exp(-mu) - np.exp(-mu * 0.65)).mean(), rel=1e-9)
    assert row["revenue_uplift_per_customer"] == pytest.approx((-0.35 * mu * 1.45 * gold["dept_mean"]).mean(), rel=1e-9)
    assert row["conversion_uplift"] < 0
    assert segments.loc[("gold_loyalty_2026", "VIP", "sms"), "conversion_uplift"] == 0
    # A campaign the effects do not list has a zero truth, but is measured like the others.
    later = overall.loc["later_campaign_2026"]
    assert set(later.index) == {"email", "sms"} and (later["conversion_uplift"] == 0).all()
    assert (later["baseline_conversion"] > 0).all()


def test_remove_simulated_removes_exactly_its_outputs(small: dict, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(small["base"], folder)
    (folder / "orders-2025.parquet").write_bytes(b"someone else's shard")
    for name in sim.OUTPUTS:
        shutil.copy(small["runs"]["effects"]["dir"] / name, folder / name)
    (folder / ".orders-campaign_window.tmp-123.parquet").write_bytes(b"a crashed run's temp file")
    before = set(folder.iterdir())
    removed = sim.remove_simulated(folder)
    assert set(removed) == {folder / n for n in sim.OUTPUTS} | {folder / ".orders-campaign_window.tmp-123.parquet"}
    assert set(folder.iterdir()) == before - set(removed)
    assert sim.remove_simulated(folder) == [] and sim.remove_simulated(tmp_path / "absent") == []


def test_refuses_a_warehouse_whose_history_reaches_the_period(small: dict, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copy(small["db"], db)
    con = duckdb.connect(str(db))
    con.execute("update int_campaigns_for_source set launch_date = date '2026-01-01'")
    con.close()
    with pytest.raises(sim.SimulationError, match="already holds orders"):
        sim.simulate(db, tmp_path / "out", log=quiet)
    assert not (tmp_path / "out").exists()


def test_cli(small: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert sim.main(["--db", str(small["db"]), "--data-dir", str(tmp_path), "--aa"]) == 0
    out = capsys.readouterr().out
    assert "orders" in out and "gold_loyalty_2026" in out and "A/A" in out
    assert (tmp_path / sim.TRUTH_FILE).read_bytes() == (small["runs"]["aa"]["dir"] / sim.TRUTH_FILE).read_bytes()
    assert sim.main(["--db", str(tmp_path / "absent.duckdb"), "--data-dir", str(tmp_path)]) == 1


# ---------------------------------------------------------------------------------------------------------
# A large synthetic population: the written orders recover the truth
# ---------------------------------------------------------------------------------------------------------
N_PER_ARM = 100_000


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """400,000 customers: silver (Regular) and gold (VIP) campaigns, each 100,000 control + 100,000 email."""
    work = tmp_path_factory.mktemp("large")
    db = work / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema raw")
    for table in ("orders", "order_items"):
        columns = ", ".join(f"{c} {t}" for c, t in TABLES[table].items())
        con.execute(f"create table raw.{table} ({columns})")
    con.execute("insert into raw.orders (order_id, user_id, status, created_at, num_of_item) "
                "values (5000000, 1, 'Complete', '2026-06-01', 1)")
    con.execute("insert into raw.order_items (id, order_id, user_id, product_id, inventory_item_id, status, "
                "created_at, sale_price) values (9000000, 5000000, 1, 1, 20000000, 'Complete', '2026-06-01', 10)")
    con.execute("""
        create table stg_thelook__products as
        select row_number() over (order by d, c, i) as product_id, c as category, d as department,
               cast(10 + 15 * i + (case c when 'Outerwear & Coats' then 100 else 0 end)
                    + (case d when 'Women' then 3 else 0 end) as decimal(18, 2)) as retail_price
        from unnest(['Men', 'Women']) t(d), unnest(['Outerwear & Coats', 'Jeans', 'Socks']) s(c), range(8) r(i)""")
    con.execute("""
        create table customers as
        select i as customer_id, case when i % 2 = 0 then 'F' else 'M' end as gender,
               timestamp '2026-06-06' - to_days(cast(100 + i % 500 as integer)) as signed_up_at
        from range(1, 400001) t(i)""")
    # 0-5 earlier sale orders per customer, plus a cancelled one for some (not a sale: no rate).
    con.execute(f"""
        create table transactions as
        select row_number() over (order by customer_id, k) as order_item_id,
               customer_id * 10 + k as order_id, customer_id,
               signed_up_at + to_days(cast(k as integer)) as ordered_at,
               case when k = 6 then 'Cancelled' else 'Complete' end as status, k < 6 as is_sale
        from customers, range(7) r(k)
        where k < customer_id % 6 or (k = 6 and customer_id % 7 = 0)""")
    con.execute(CAMPAIGNS_DDL)
    con.execute("insert into int_campaigns_for_source values ('silver_outerwear_2026', '2026-06-06', 30, 'Outerwear & Coats', 10, 100),"
                " ('gold_loyalty_2026', '2026-06-06', 30, null, 10, 100)")
    con.execute(EXPOSURE_DDL)
    con.execute("""
        insert into campaign_exposure
        with targets as (
            select customer_id,
                   case when customer_id <= 200000 then 'silver_outerwear_2026' else 'gold_loyalty_2026' end as c
            from customers),
        -- Arms by the parity of a hash rank: exactly half each, unrelated to the id's residues.
        ranked as (
            select *, row_number() over (partition by c order by md5(customer_id::varchar)) % 2 = 1 as treated
            from targets)
        select c, customer_id, date '2026-06-06', 30, 'x', case when c like 'silver%' then 'Regular' else 'VIP' end,
               0.5, case when treated then 'email' else 'control' end, treated, 'email', 0.05
        from ranked""")
    con.close()
    truth = sim.simulate(db, work / "out", seed=11, log=quiet)
    con = duckdb.connect(str(db), read_only=True)
    orders, items = (str(work / "out" / f) for f in (sim.ORDERS_FILE, sim.ITEMS_FILE))
    outcomes = con.execute(f"""
        with sale_orders as (
            select o.user_id, o.order_id, sum(i.sale_price) as revenue
            from read_parquet('{orders}') o join read_parquet('{items}') i using (order_id)
            where o.status in {SALES} and o.created_at >= '2026-06-06' and o.created_at < '2026-07-06'
            group by all)
        select e.campaign_id, e.arm, e.customer_id, count(s.order_id) > 0 as converted,
               coalesce(sum(s.revenue), 0) as revenue
        from campaign_exposure e left join sale_orders s on s.user_id = e.customer_id
        group by all""").df()
    con.close()
    return {"truth": truth, "outcomes": outcomes}


@pytest.mark.parametrize("campaign", ["silver_outerwear_2026", "gold_loyalty_2026"])
def test_large_population_recovers_the_truth(large: dict, campaign: str) -> None:
    outcomes = large["outcomes"][large["outcomes"]["campaign_id"] == campaign]
    stats = outcomes.groupby("arm").agg(n=("converted", "size"), conv=("converted", "mean"),
                                        rev=("revenue", "mean"), rev_var=("revenue", "var"))
    assert stats["n"].tolist() == [N_PER_ARM, N_PER_ARM]
    truth = pd.DataFrame(large["truth"]["overall"]).set_index(["campaign_id", "arm"]).loc[(campaign, "email")]
    t, c = stats.loc["email"], stats.loc["control"]
    se_conv = np.sqrt(t.conv * (1 - t.conv) / t.n + c.conv * (1 - c.conv) / c.n)
    assert abs((t.conv - c.conv) - truth["conversion_uplift"]) < 4 * se_conv
    assert abs(c.conv - truth["baseline_conversion"]) < 4 * np.sqrt(c.conv * (1 - c.conv) / c.n)
    # The effect is far from zero at this size, so the comparison above has teeth.
    assert abs(truth["conversion_uplift"]) > 10 * se_conv
    se_rev = np.sqrt(t.rev_var / t.n + c.rev_var / c.n)
    assert abs((t.rev - c.rev) - truth["revenue_uplift_per_customer"]) < 4 * se_rev
    assert abs(c.rev - truth["baseline_revenue_per_customer"]) < 4 * np.sqrt(c.rev_var / c.n)
