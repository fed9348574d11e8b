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
    for name, kwargs in {"effects": {}, "effects_again": {}, "aa": {"aa": True}, "seed": {"seed": 43},
                         "flat": {"heterogeneity": False}}.items():
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


def expected_per_customer(db: Path, heterogeneity: bool = True) -> pd.DataFrame:
    """The model's per-target quantities recomputed with pandas from the warehouse (docstring of simulate_campaigns):
    mu (expected organic sale orders in the window), the expected organic item price, the induced basket and the
    responsiveness h."""
    con = duckdb.connect(str(db), read_only=True)
    customers = con.execute(f"""
        select c.customer_id, c.gender, c.signed_up_at,
               count(distinct t.order_id) filter (where t.is_sale and t.ordered_at < '{LAUNCH}') as n,
               count(t.order_id) filter (where t.is_sale and t.ordered_at < '{LAUNCH}') as items,
               coalesce(sum(cast(t.sale_price as double)) filter (where t.is_sale and t.ordered_at < '{LAUNCH}'), 0)
                   as revenue
        from customers c left join transactions t using (customer_id) group by all""").df().set_index("customer_id")
    products = con.execute("select product_id, category, department, cast(retail_price as double) as price "
                           "from stg_thelook__products").df()
    # Pre-launch sale orders per campaign launch, for recency_days and frequency as rfm_features defines them.
    sales = con.execute("select customer_id, order_id, ordered_at from transactions where is_sale").df()
    campaigns = con.execute("select campaign_id, launch_date, window_days, target_category "
                            "from int_campaigns_for_source").df().set_index("campaign_id")
    con.close()
    days = (LAUNCH - customers["signed_up_at"]).dt.total_seconds() / 86400
    customers["lam"] = (customers["n"] + 0.25) / (days + 30)
    customers["dept"] = customers["gender"].map({"M": "Men", "F": "Women"})
    # Price tiers: each department's products by (price, id), position p of n in tier ceil(5 (p + 1) / n) - 1.
    products = products.sort_values(["department", "price", "product_id"])
    position = products.groupby("department").cumcount()
    size = products.groupby("department")["price"].transform("size")
    products["tier"] = -(-5 * (position + 1) // size) - 1
    tier_mean = products.groupby(["department", "tier"])["price"].mean()
    tier_low = products.groupby(["department", "tier"])["price"].min()
    dept_mean = products.groupby("department")["price"].mean()
    mean_item = (customers["revenue"] / customers["items"]).where(customers["items"] > 0, 0.0)
    tier = pd.Series(0, index=customers.index)
    for k in range(1, 5):
        tier += (mean_item >= customers["dept"].map(tier_low.xs(k, level="tier"))).astype(int)
    q = customers["items"] / (customers["items"] + 2)
    own = pd.Series([tier_mean[(d, t)] for d, t in zip(customers["dept"], tier)], index=customers.index)
    customers["item_price"] = q * own + (1 - q) * customers["dept"].map(dept_mean)
    customers["dept_mean"] = customers["dept"].map(dept_mean)

    exp = exposure(db).join(customers[["lam", "dept", "dept_mean", "item_price"]], on="customer_id")
    exp = exp.join(campaigns[["launch_date", "target_category"]].rename(columns={"launch_date": "launch_date_c"}),
                   on="campaign_id")
    pre = exp[["campaign_id", "customer_id", "launch_date_c"]].merge(sales, on="customer_id")
    pre = pre[pre["ordered_at"] < pre["launch_date_c"]]
    rfm = pre.groupby(["campaign_id", "customer_id"]).agg(frequency=("order_id", "nunique"),
                                                          last=("ordered_at", "max"), launch=("launch_date_c", "first"))
    rfm["recency_days"] = (rfm["launch"] - rfm["last"].dt.floor("D")).dt.days
    exp = exp.join(rfm[["frequency", "recency_days"]], on=["campaign_id", "customer_id"])
    g = (0.1 + np.where(exp["recency_days"].notna(), 0.5 ** (exp["recency_days"].fillna(0) / 180), 0.0)) * np.sqrt(
        exp["frequency"].fillna(0).clip(lower=1))
    segment_mean = g.groupby([exp["campaign_id"], exp["lifecycle_segment"]]).transform("mean")
    exp["h"] = g / segment_mean if heterogeneity else 1.0
    exp["mu"] = exp["lam"] * exp["window_days"] * 0.75
    category_mean = products.groupby(["department", "category"])["price"].mean()
    exp["basket"] = [category_mean[(d, c)] + 0.3 * m if isinstance(c, str) else 1.5 * m
                     for d, c, m in zip(exp["dept"], exp["target_category"], exp["dept_mean"])]
    return exp


def per_customer_uplift(exp: pd.DataFrame, effects: dict) -> pd.DataFrame:
    """Rows per target and treated arm: the arm's (e h, f) in the target's segment, and its uplifts."""
    rows = []
    for campaign, targets in exp.groupby("campaign_id"):
        for arm in sorted(set(targets["arm"]) - {"control"}):
            cell = [effects.get(campaign, {}).get(s, {}).get(arm, {}) for s in targets["lifecycle_segment"]]
            e = np.minimum(np.array([c.get("induced", 0.0) for c in cell]) * targets["h"], 1.0)
            f = np.array([c.get("fatigue", 0.0) for c in cell])
            mu = targets["mu"]
            rows.append(pd.DataFrame({
                "campaign_id": campaign, "arm": arm, "customer_id": targets["customer_id"],
                "lifecycle_segment": targets["lifecycle_segment"],
                "conversion_uplift": np.exp(-mu) - (1 - e) * np.exp(-mu * (1 - f)),
                "revenue_uplift": e * targets["basket"] - f * mu * 1.45 * targets["item_price"],
                "e": e, "mu": mu}))
    return pd.concat(rows).sort_values(["campaign_id", "arm", "customer_id"]).reset_index(drop=True)


def test_truth_matches_an_independent_computation(small: dict) -> None:
    truth = small["runs"]["effects"]["truth"]
    assert truth["simulator_version"] == 2 and truth["heterogeneity"] is True
    expected = per_customer_uplift(expected_per_customer(small["db"]), sim.DEFAULT_EFFECTS)
    written = pd.read_parquet(small["runs"]["effects"]["dir"] / truth["customers_file"])
    pd.testing.assert_frame_equal(written, expected[written.columns.tolist()], check_exact=False, rtol=1e-9,
                                  atol=1e-12)
    segments = pd.DataFrame(truth["segments"]).set_index(["campaign_id", "lifecycle_segment", "arm"])
    overall = pd.DataFrame(truth["overall"]).set_index(["campaign_id", "arm"])
    # Figures the defaults make: a positive effect that varies per customer, a zero arm, fatigue.
    silver = expected[expected["campaign_id"] == "silver_outerwear_2026"]
    for segment, arm, e in (("Regular", "email", 0.08), ("Regular", "sms", 0.04), ("At-risk", "email", 0.04),
                            ("At-risk", "sms", 0.0)):
        cell = silver[(silver["lifecycle_segment"] == segment) & (silver["arm"] == arm)]
        row = segments.loc[("silver_outerwear_2026", segment, arm)]
        # h averages to 1 over the segment's targets: the configured effect keeps its meaning.
        assert cell["e"].mean() == pytest.approx(e, rel=1e-9, abs=1e-15) == row["mean_induced"]
        assert (cell["e"].std() > 0.2 * e) if e > 0 else (cell["e"] == 0).all()
        assert row["conversion_uplift"] == pytest.approx(cell["conversion_uplift"].mean(), rel=1e-9, abs=1e-15)
        assert row["revenue_uplift_per_customer"] == pytest.approx(cell["revenue_uplift"].mean(), rel=1e-9, abs=1e-12)
        assert row["baseline_conversion"] == pytest.approx((1 - np.exp(-cell["mu"])).mean(), rel=1e-9)
        assert row["targets"] == len(cell)
    gold = expected[(expected["campaign_id"] == "gold_loyalty_2026") & (expected["arm"] == "email")]
    row = segments.loc[("gold_loyalty_2026", "VIP", "email")]
    fatigued = np.exp(-gold["mu"]) - np.exp(-gold["mu"] * 0.65)
    assert row["conversion_uplift"] == pytest.approx(fatigued.mean(), rel=1e-9)
    assert row["revenue_uplift_per_customer"] == pytest.approx(gold["revenue_uplift"].mean(), rel=1e-9)
    assert row["conversion_uplift"] < 0 and row["revenue_uplift_per_customer"] < 0
    assert segments.loc[("gold_loyalty_2026", "VIP", "sms"), "conversion_uplift"] == 0
    # A campaign the effects do not list has a zero truth, but is measured like the others.
    later = overall.loc["later_campaign_2026"]
    assert set(later.index) == {"email", "sms"} and (later["conversion_uplift"] == 0).all()
    assert (later["baseline_conversion"] > 0).all()


def test_per_customer_truth_file_layout_and_means(small: dict) -> None:
    for run in ("effects", "aa", "flat"):
        truth, folder = small["runs"][run]["truth"], small["runs"][run]["dir"]
        assert truth["customers_file"] == sim.CUSTOMER_TRUTH_FILE
        path = folder / sim.CUSTOMER_TRUTH_FILE
        schema = pq.read_schema(path)
        assert [(f.name, str(f.type)) for f in schema] == [
            ("campaign_id", "string"), ("arm", "string"), ("customer_id", "int64"), ("lifecycle_segment", "string"),
            ("conversion_uplift", "double"), ("revenue_uplift", "double")]
        table = pd.read_parquet(path)
        assert table.equals(table.sort_values(["campaign_id", "arm", "customer_id"]).reset_index(drop=True))
        # Every target once per treated arm of its campaign, whatever arm it was assigned.
        exp = exposure(small["db"])
        arms = exp[exp["arm"] != "control"].groupby("campaign_id")["arm"].unique()
        expected_keys = sorted((c, a, i) for c, i in zip(exp["campaign_id"], exp["customer_id"]) for a in arms[c])
        assert list(zip(table["campaign_id"], table["arm"], table["customer_id"])) == expected_keys
        # The JSON's truths are exactly the means of these rows.
        by_segment = table.groupby(["campaign_id", "lifecycle_segment", "arm"])[["conversion_uplift", "revenue_uplift"]]
        segments = pd.DataFrame(truth["segments"]).set_index(["campaign_id", "lifecycle_segment", "arm"])
        means = by_segment.mean().loc[segments.index]
        assert np.allclose(means["conversion_uplift"], segments["conversion_uplift"], rtol=1e-12, atol=0)
        assert np.allclose(means["revenue_uplift"], segments["revenue_uplift_per_customer"], rtol=1e-12, atol=0)
        overall = pd.DataFrame(truth["overall"]).set_index(["campaign_id", "arm"])
        means = table.groupby(["campaign_id", "arm"])[["conversion_uplift", "revenue_uplift"]].mean().loc[overall.index]
        assert np.allclose(means["conversion_uplift"], overall["conversion_uplift"], rtol=1e-12, atol=0)
        assert np.allclose(means["revenue_uplift"], overall["revenue_uplift_per_customer"], rtol=1e-12, atol=0)
        if run == "aa":
            assert (table[["conversion_uplift", "revenue_uplift"]] == 0).all().all()


def test_heterogeneity_switch(small: dict) -> None:
    """Off: every target of a cell gets the cell's induced probability (the uplift varies only with the baseline).
    On: the same mean, spread by recency and frequency; the organic draws are the same either way."""
    flat, varied = small["runs"]["flat"], small["runs"]["effects"]
    assert flat["truth"]["heterogeneity"] is False
    expected = per_customer_uplift(expected_per_customer(small["db"], heterogeneity=False), sim.DEFAULT_EFFECTS)
    written = pd.read_parquet(flat["dir"] / sim.CUSTOMER_TRUTH_FILE)
    pd.testing.assert_frame_equal(written, expected[written.columns.tolist()], check_exact=False, rtol=1e-9,
                                  atol=1e-12)
    silver = written.merge(expected[["campaign_id", "arm", "customer_id", "mu"]])
    silver = silver[silver["campaign_id"] == "silver_outerwear_2026"]
    implied = silver["conversion_uplift"] / np.exp(-silver["mu"])  # = e_i where f = 0
    per_cell = implied.groupby([silver["lifecycle_segment"], silver["arm"]])
    assert np.allclose(per_cell.max() - per_cell.min(), 0, atol=1e-12)
    assert per_cell.first().to_dict() == pytest.approx({("At-risk", "email"): 0.04, ("At-risk", "sms"): 0.0,
                                                        ("Regular", "email"): 0.08, ("Regular", "sms"): 0.04})
    segments = {name: pd.DataFrame(run["truth"]["segments"]).set_index(["campaign_id", "lifecycle_segment", "arm"])
                for name, run in (("flat", flat), ("varied", varied))}
    assert np.allclose(segments["flat"]["mean_induced"], segments["varied"]["mean_induced"], rtol=1e-12)
    assert not np.allclose(segments["flat"]["conversion_uplift"], segments["varied"]["conversion_uplift"], rtol=1e-6)
    # Organic orders do not depend on the effects: untouched customers' orders are identical.
    control = exposure(small["db"]).query("arm == 'control'")["customer_id"]
    a, b = order_keys(flat["dir"]), order_keys(varied["dir"])
    pd.testing.assert_frame_equal(a[a["user_id"].isin(control)].reset_index(drop=True),
                                  b[b["user_id"].isin(control)].reset_index(drop=True))


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
    assert sim.main(["--db", str(small["db"]), "--data-dir", str(tmp_path / "flat"), "--no-heterogeneity"]) == 0
    for name in sim.OUTPUTS:
        assert (tmp_path / "flat" / name).read_bytes() == (small["runs"]["flat"]["dir"] / name).read_bytes(), name
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
               case when k = 6 then 'Cancelled' else 'Complete' end as status, k < 6 as is_sale,
               -- Customers' own price levels, so that the organic item prices differ by tier.
               cast(10 + 15 * (customer_id % 8) + 100 * (customer_id % 3 = 0)::integer as decimal(18, 2)) as sale_price
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
    return {"truth": truth, "outcomes": outcomes, "customers": pd.read_parquet(work / "out" / sim.CUSTOMER_TRUTH_FILE)}


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


def test_large_population_draws_follow_the_per_customer_truth(large: dict) -> None:
    """Silver (Regular, email, e = 0.08): split the targets at the median of their true conversion uplift; in each
    half the realised uplift matches the mean per-customer truth, and the halves differ as the truth says."""
    truth = large["customers"].query("campaign_id == 'silver_outerwear_2026' and arm == 'email'")
    outcomes = large["outcomes"].merge(truth, on=["campaign_id", "customer_id"], suffixes=("", "_truth"))
    assert len(outcomes) == 2 * N_PER_ARM
    high = outcomes["conversion_uplift"] > outcomes["conversion_uplift"].median()
    realised = {}
    for name, half in (("high", outcomes[high]), ("low", outcomes[~high])):
        t, c = half[half["arm"] == "email"]["converted"], half[half["arm"] == "control"]["converted"]
        se = np.sqrt(t.mean() * (1 - t.mean()) / len(t) + c.mean() * (1 - c.mean()) / len(c))
        realised[name] = (t.mean() - c.mean(), se)
        assert abs(t.mean() - c.mean() - half["conversion_uplift"].mean()) < 4 * se, name
    expected_gap = outcomes.loc[high, "conversion_uplift"].mean() - outcomes.loc[~high, "conversion_uplift"].mean()
    assert expected_gap > 0.03  # heterogeneity the split can see at this size
    gap_se = np.hypot(realised["high"][1], realised["low"][1])
    assert abs(realised["high"][0] - realised["low"][0] - expected_gap) < 4 * gap_se
    assert realised["high"][0] - realised["low"][0] > 4 * gap_se
