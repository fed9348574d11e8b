"""Simulate the measurement period of the campaigns on the built-in data: the closed loop, with a known truth.

A campaign is sent, time passes, new orders arrive and are measured. On the generated shop nothing happens
after `end_date`, so this script writes what happens: it reads the exposure list (`campaign_exposure`) from a
built warehouse, draws the orders of the measurement period (organic purchases for every customer, plus the
campaigns' effects on treated customers) and writes them as extra shards that `load_thelook.py` unions with
the generated tables. Reload and rebuild, and the uplift marts must recover the true effects written next to
the shards.

    python scripts/simulate_campaigns.py --db warehouse/crm_uplift.duckdb --data-dir data/thelook [--seed 42] [--aa]
        [--no-heterogeneity]

    from simulate_campaigns import simulate, remove_simulated
    truth = simulate(db_path, data_dir, seed=42, aa=False, heterogeneity=True)   # -> the truth dict (also as JSON)
    remove_simulated(data_dir)                                # -> the paths it deleted

Outputs in `data_dir` (each written under a hidden temporary name, then renamed):

* `orders-campaign_window.parquet`, `order_items-campaign_window.parquet`: rows in the raw layout of
  `thelook_schema.TABLES` (same columns, order and Parquet types as the generator writes). Ids continue after
  the maxima of raw.orders / raw.order_items (inventory_item_id too), in order of created_at, then customer.
  A file that would hold no rows is not written (the loader refuses empty files).
* `_campaign_truth.json`: parameters and the expected (population) true effects, see "Truth" below.
* `_campaign_truth_customers.parquet`: the per-customer truth, one row per campaign target and treated arm (every
  target, whatever arm it was assigned: the effect that arm would have on it), sorted by campaign_id, arm,
  customer_id; columns campaign_id string, arm string, customer_id int64, lifecycle_segment string,
  conversion_uplift float64, revenue_uplift float64 (uplift_i below). Written even when it holds no row.

The model (every rate below is this simulation's assumption, not an estimate of anything real)
--------------------------------------------------------------------------------------------------
* Period: [earliest launch, latest launch + window_days) over the campaigns of the built source (`int_campaigns_for_source`). The warehouse's history
  must end before it (raw.orders has no order at or after the period start), else the run stops: simulating
  on top of real or already simulated orders would double count.
* Organic rate per customer of `customers`: lambda_i = (distinct sale orders before the earliest launch + 0.25)
  / (days from signup to the earliest launch + 30), in orders per day. The +0.25 / +30 keep new and one-off
  customers at a small non-zero rate. A missing signup counts as signing up at the launch.
* Organic orders ~ Poisson(lambda_i x period days), at uniform whole-second times over the period; status from
  the thelook mix (Complete 25, Shipped 30, Processing 20, Cancelled 15, Returned 10 %; the first three are
  sales, so the organic sale share is s = 0.75) with thelook's shipped / delivered / returned lags; 1/2/3/4
  items at 70/20/5/5 %; sale_price = retail_price. Items copy the order's status and timestamps (item
  created_at = order created_at).
* Organic item prices follow the customer's own price level, shrunk toward the department. The customer's
  product pool is their department (gender M -> Men, F -> Women, anything else -> the whole catalogue); sorted
  by (retail price, product_id) it is cut into PRICE_TIERS = 5 equal-count tiers (tier k holds positions
  floor(k n / 5) .. floor((k + 1) n / 5) - 1). The customer's tier t_i is the one holding their pre-launch mean
  item price (sale revenue / sale items before the earliest launch; the number of tiers above the cheapest
  whose lowest price is <= it; tier 0 without a sale). Each organic item comes from tier t_i with probability
  q_i = k_i / (k_i + 2), k_i = pre-launch sale items, else uniformly from the department, so
  E[organic item price]_i = p_i = q_i x mean price of tier t_i + (1 - q_i) x department mean price.
  Customers who bought dear keep buying dear: pre-period spend predicts window spend (CUPED has something to
  use), more so the longer the history.
* Effects, for treated customers only (arm <> 'control'), per (campaign, lifecycle_segment, arm), from
  `DEFAULT_EFFECTS` (campaign -> segment -> arm -> {"induced": e, "fatigue": f}); anything not listed has no
  effect, so a campaign added by a user simply has a zero truth. `aa=True` sets every effect to zero.
  - heterogeneity (on unless heterogeneity=False / --no-heterogeneity): the induced probability of target i
    is e_i = min(e h_i, 1) with h_i = g_i / mean(g over the campaign's targets of i's lifecycle segment, every
    arm) and g_i = (0.1 + 2^(-recency_days_i / 180)) x max(frequency_i, 1)^0.5, recency_days and frequency as
    rfm_features defines them at the campaign's launch (days from the date of the last sale order before the
    launch to the launch date; distinct sale orders before it; no sale: recency term 0). Recent and frequent
    customers answer more; mean h = 1 in every segment, so e keeps its meaning as the segment's mean induced
    probability (exactly, unless e h_i > 1 clips). Off: e_i = e. Fatigue does not vary per customer.
  - induced e_i: with probability e_i one extra order at a uniform time in [launch, launch + window), always a
    sale (Complete / Shipped / Processing at 25:30:20), holding one item of the campaign's target category
    from the customer's department plus, with probability 0.3, one item uniform over the department. A
    campaign without a category: 1 or 2 items (50/50) uniform over the department. If the department has no
    product of the category, the category's products of every department are used.
  - fatigue f: each organic order of the customer whose time falls inside the campaign's window is dropped
    with probability f.
  Campaigns are assumed not to interact (the shipped campaigns have disjoint targets).

Truth (`_campaign_truth.json`, also returned by `simulate`)
-----------------------------------------------------------
Expected values from the model's own probabilities, not from the draws. For a target i of a campaign with
window W: mu_i = lambda_i W s, the expected organic sale orders in the window; R_i = E[organic order revenue]
= 1.45 x p_i (p_i: expected organic item price above); B_i = E[induced basket] = mean price of the category in
i's department + 0.3 x department mean (no category: 1.5 x department mean). With the effects (e_i, f) that
an arm has on i (e_i from the arm's e in i's segment and h_i):
    conversion uplift_i = exp(-mu_i) - (1 - e_i) exp(-mu_i (1 - f))   (= e_i (1 - P0_i) with f = 0,
                                                                          = exp(-mu) - exp(-mu (1 - f)) with e = 0)
    revenue uplift_i    = e_i B_i - f mu_i R_i                         (per customer, in the window)
where conversion = at least one sale order in [launch, launch + W) and P0_i = 1 - exp(-mu_i). These are the
rows of `_campaign_truth_customers.parquet`. A segment's truth for an arm is the mean of uplift_i over ALL the
campaign's targets in that segment (every arm's customers); the campaign x arm truth is the mean over all the
campaign's targets. The JSON:

    {
      "simulator_version": 2, "seed": 42, "aa": false, "heterogeneity": true,
      "customers_file": "_campaign_truth_customers.parquet",
      "effects": {campaign: {segment: {arm: {"induced": e, "fatigue": f}}}},   # as applied (zeros if aa)
      "configured_effects": {...},                                             # as passed, before aa
      "model": {"organic_sale_share": 0.75, "mean_items_per_organic_order": 1.45, ...},
      "period": {"start": "2026-06-06 00:00:00", "end": "2026-07-06 00:00:00", "days": 30.0},
      "campaigns": [{"campaign_id", "launch_date", "window_days", "window_start", "window_end",
                     "target_category", "targets"}],
      "segments": [{"campaign_id", "lifecycle_segment", "arm", "induced", "fatigue", "mean_induced", "targets",
                    "arm_customers", "baseline_conversion", "conversion_uplift",
                    "baseline_revenue_per_customer", "revenue_uplift_per_customer"}],
      "overall":  [{"campaign_id", "arm", "targets", "arm_customers", "baseline_conversion",
                    "conversion_uplift", "baseline_revenue_per_customer", "revenue_uplift_per_customer"}],
      "draws":    [{"campaign_id", "lifecycle_segment", "arm", "customers", "induced_orders",
                    "dropped_orders"}],                  # what this seed realised, for diagnostics
      "rows_written": {"orders": n, "order_items": k}
    }

Rows cover the treated arms only (control's uplift is zero by definition); baselines are the control's
expected conversion and sale revenue per customer; mean_induced is the mean of e_i over the segment's targets.
`pd.DataFrame(truth["segments"])` reads a table.

Deterministic: the same warehouse, seed and aa give byte-identical files. Random streams are
np.random.default_rng([seed, 9, k]) (campaign streams add crc32(campaign_id), so adding a campaign never
shifts another's draws); the organic orders do not depend on the effects, so an A/A run (or one without
heterogeneity) has the same organic orders. Inputs are read sorted by their keys.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import generate_thelook as gen

SIMULATOR_VERSION = 2
ORDERS_FILE = "orders-campaign_window.parquet"
ITEMS_FILE = "order_items-campaign_window.parquet"
TRUTH_FILE = "_campaign_truth.json"
CUSTOMER_TRUTH_FILE = "_campaign_truth_customers.parquet"
OUTPUTS = (ORDERS_FILE, ITEMS_FILE, TRUTH_FILE, CUSTOMER_TRUTH_FILE)
CUSTOMER_TRUTH_SCHEMA = pa.schema([
    ("campaign_id", pa.string()), ("arm", pa.string()), ("customer_id", pa.int64()),
    ("lifecycle_segment", pa.string()), ("conversion_uplift", pa.float64()), ("revenue_uplift", pa.float64()),
])

DAY = 86_400
STREAM = 9  # generate_thelook uses 1-4
SUB_ORGANIC, SUB_ORGANIC_ITEMS, SUB_FATIGUE, SUB_INDUCED, SUB_INDUCED_ITEMS, SUB_INVENTORY = 1, 2, 3, 4, 5, 6
SUB_PRICE_TIER = 7

# Organic rate smoothing: (sale orders + RATE_PRIOR_ORDERS) / (days since signup + RATE_PRIOR_DAYS).
RATE_PRIOR_ORDERS = 0.25
RATE_PRIOR_DAYS = 30.0
SALE_STATUSES = ("Complete", "Shipped", "Processing")
INDUCED_EXTRA_ITEM_P = 0.3  # a campaign with a category: one more item from the department
NO_CATEGORY_ITEMS, NO_CATEGORY_ITEMS_P = (1, 2), (0.5, 0.5)

# Organic item prices: customers keep buying at their own price level. The department's products, sorted by
# price, are cut into PRICE_TIERS equal-count tiers; a customer's tier is the one holding their pre-launch mean
# item price, and each organic item comes from that tier with probability q = k / (k + PRICE_PRIOR_ITEMS)
# (k = pre-launch sale items), else uniformly from the department: the more history, the less shrinkage
# toward the department mean.
PRICE_TIERS = 5
PRICE_PRIOR_ITEMS = 2.0

# Heterogeneous induced effect: e_i = min(e_cell h_i, 1), h_i = g_i / mean of g over the campaign's targets of
# the same lifecycle segment, g_i = (HET_FLOOR + 2^(-recency_days / HET_HALF_LIFE_DAYS)) x frequency^HET_POWER
# with recency_days and frequency as in rfm_features (sale orders before the campaign's launch). Recent,
# frequent customers answer a campaign more; the floor keeps lapsed ones above zero.
HET_FLOOR = 0.1
HET_HALF_LIFE_DAYS = 180.0
HET_FREQUENCY_POWER = 0.5

DEFAULT_EFFECTS: dict = {
    "silver_outerwear_2026": {
        "Regular": {"email": {"induced": 0.08}, "sms": {"induced": 0.04}},
        "At-risk": {"email": {"induced": 0.04}, "sms": {"induced": 0.0}},  # zero for one arm
    },
    "gold_loyalty_2026": {
        "VIP": {"email": {"fatigue": 0.35}, "sms": {"fatigue": 0.0}},
    },
}
EFFECT_KINDS = ("induced", "fatigue")

_STATUS_INDEX = {s: i for i, s in enumerate(gen.STATUSES)}
_SALE_CODES = np.array([_STATUS_INDEX[s] for s in SALE_STATUSES])
ORGANIC_SALE_SHARE = float(sum(p for s, p in zip(gen.STATUSES, gen.STATUS_P) if s in SALE_STATUSES))
_INDUCED_STATUS_P = np.array([gen.STATUS_P[_STATUS_INDEX[s]] for s in SALE_STATUSES]) / ORGANIC_SALE_SHARE
MEAN_ORGANIC_ITEMS = float(np.dot(gen.ITEMS_PER_ORDER, gen.ITEMS_PER_ORDER_P))
GROUPS = ("Men", "Women", None)  # customer's product pool: department, or the whole catalogue


class SimulationError(Exception):
    """The warehouse cannot be simulated on; the message says why."""


# =========================================================================================================
# reading the warehouse
# =========================================================================================================
def _fetch(con, sql: str, params=None) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in con.execute(sql, params or []).fetchnumpy().items()}


def read_warehouse(db_path) -> dict:
    db_path = Path(db_path)
    if not db_path.is_file():
        raise SimulationError(f"{db_path}: no such warehouse file")
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        tables = {r[0] for r in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables").fetchall()}
        needed = ["main.int_campaigns_for_source", "main.campaign_exposure", "main.customers", "main.transactions",
                  "main.stg_thelook__products", "raw.orders", "raw.order_items"]
        missing = [t for t in needed if t not in tables]
        if missing:
            raise SimulationError(f"{db_path}: missing {', '.join(missing)} (build the warehouse with dbt first)")
        campaigns = _fetch(con, """
            select campaign_id, epoch(cast(launch_date as timestamp))::bigint as launch_s,
                   cast(window_days as bigint) as window_days, coalesce(target_category, '') as target_category
            from int_campaigns_for_source order by campaign_id""")
        if campaigns["campaign_id"].size == 0:
            raise SimulationError(f"{db_path}: the campaigns table is empty")
        if np.any(campaigns["window_days"] <= 0):
            raise SimulationError("every campaign needs a positive window_days")
        start_s = int(campaigns["launch_s"].min())
        end_s = int((campaigns["launch_s"] + campaigns["window_days"] * DAY).max())

        (latest,) = con.execute("select max(epoch(created_at))::bigint from raw.orders").fetchone()
        if latest is not None and latest >= start_s:
            raise SimulationError(
                f"{db_path}: raw.orders already holds orders from the period start "
                f"({_iso(start_s)}) on; load the generated data without the simulated shards first "
                "(remove_simulated, then load_thelook)")
        max_ids = con.execute("""
            select (select coalesce(max(order_id), 0) from raw.orders),
                   (select coalesce(max(id), 0) from raw.order_items),
                   (select coalesce(max(inventory_item_id), 0) from raw.order_items)""").fetchone()

        customers = _fetch(con, """
            with sale_orders as (
                select customer_id, count(distinct order_id) as n, count(*) as items,
                       sum(cast(sale_price as double)) as revenue
                from transactions
                where is_sale and ordered_at < make_timestamp(?::bigint * 1000000)
                group by customer_id
            )
            select c.customer_id,
                   c.gender,
                   case c.gender when 'M' then 0 when 'F' then 1 else 2 end::bigint as grp,
                   coalesce(epoch(c.signed_up_at), ?)::double as signup_s,
                   coalesce(s.n, 0)::bigint as sale_orders,
                   coalesce(s.items, 0)::bigint as sale_items,
                   coalesce(s.revenue, 0)::double as sale_revenue
            from customers c left join sale_orders s using (customer_id)
            order by c.customer_id""", [start_s, start_s])
        if np.unique(customers["customer_id"]).size != customers["customer_id"].size:
            raise SimulationError("customers.customer_id is not unique")

        # recency_days and frequency as rfm_features defines them: sale orders before the campaign's launch.
        exposure = _fetch(con, """
            with pre_launch as (
                select e.campaign_id, e.customer_id, count(distinct t.order_id) as frequency,
                       date_diff('day', max(cast(t.ordered_at as date)), max(c.launch_date)) as recency_days
                from campaign_exposure e
                join int_campaigns_for_source c on c.campaign_id = e.campaign_id
                join transactions t on t.customer_id = e.customer_id and t.is_sale and t.ordered_at < c.launch_date
                group by e.campaign_id, e.customer_id
            )
            select e.campaign_id, e.customer_id, coalesce(e.lifecycle_segment, '') as lifecycle_segment, e.arm,
                   coalesce(p.frequency, 0)::bigint as frequency,
                   coalesce(p.recency_days, -1)::bigint as recency_days
            from campaign_exposure e left join pre_launch p using (campaign_id, customer_id)
            order by e.campaign_id, e.customer_id""")
        dup = con.execute("""
            select campaign_id, customer_id from campaign_exposure
            group by all having count(*) > 1 order by all limit 1""").fetchone()
        if dup:
            raise SimulationError(f"campaign_exposure lists customer {dup[1]} twice in {dup[0]}")

        products = _fetch(con, """
            select product_id, coalesce(category, '') as category, coalesce(department, '') as department,
                   cast(retail_price as double) as retail_price
            from stg_thelook__products where retail_price is not null order by product_id""")
        if products["product_id"].size == 0:
            raise SimulationError("stg_thelook__products is empty")
    finally:
        con.close()
    return {"campaigns": campaigns, "start_s": start_s, "end_s": end_s, "max_ids": max_ids,
            "customers": customers, "exposure": exposure, "products": products}


def _iso(seconds: int) -> str:
    return str(np.datetime64(int(seconds), "s")).replace("T", " ")


# =========================================================================================================
# products: the pools customers draw from, and their mean prices (the truth's E[...])
# =========================================================================================================
class Catalogue:
    def __init__(self, products: dict[str, np.ndarray]):
        self.product_id = products["product_id"].astype(np.int64)
        self.price = products["retail_price"].astype(np.float64)
        self.category = products["category"].astype(str)
        self.department = products["department"].astype(str)
        self._pools: dict = {}

    def pool(self, group: int, category: str | None = None) -> np.ndarray:
        """Product indices for a customer group (0 Men, 1 Women, 2 all) and optionally a category."""
        key = (group, category)
        if key not in self._pools:
            dept = GROUPS[group]
            in_dept = np.ones(self.price.size, bool) if dept is None else self.department == dept
            if not in_dept.any():
                in_dept = np.ones(self.price.size, bool)  # a catalogue without this department
            if category is None:
                found = np.flatnonzero(in_dept)
            else:
                found = np.flatnonzero(in_dept & (self.category == category))
                if found.size == 0:
                    found = np.flatnonzero(self.category == category)
                if found.size == 0:
                    found = self.pool(group)
            self._pools[key] = found
        return self._pools[key]

    def mean_price(self, group: int, category: str | None = None) -> float:
        return float(self.price[self.pool(group, category)].mean())

    def tier_pool(self, group: int, tier: int) -> np.ndarray:
        """Product indices of price tier `tier` (0 cheapest) of the group's pool: equal-count cuts of the pool
        sorted by (price, product_id)."""
        key = (group, None, tier)
        if key not in self._pools:
            pool = self.pool(group)
            ranked = pool[np.lexsort((self.product_id[pool], self.price[pool]))]
            cuts = (np.arange(PRICE_TIERS + 1) * ranked.size) // PRICE_TIERS
            for k in range(PRICE_TIERS):
                # A pool smaller than PRICE_TIERS leaves empty cuts: those tiers fall back to the whole pool.
                self._pools[(group, None, k)] = ranked[cuts[k]:cuts[k + 1]] if cuts[k + 1] > cuts[k] else pool
        return self._pools[key]

    def tier_of(self, group: np.ndarray, price: np.ndarray) -> np.ndarray:
        """The tier holding each price: the number of tiers above the cheapest whose lowest price is <= it."""
        out = np.zeros(price.size, dtype=np.int64)
        for g in range(len(GROUPS)):
            rows = group == g
            lows = np.array([self.price[self.tier_pool(g, k)].min() for k in range(1, PRICE_TIERS)])
            out[rows] = np.searchsorted(lows, price[rows], side="right")
        return out

    def tier_means(self) -> np.ndarray:
        """[group, tier] -> mean price of the tier's products."""
        return np.array([[self.price[self.tier_pool(g, k)].mean() for k in range(PRICE_TIERS)]
                         for g in range(len(GROUPS))])

    def pick_tier(self, group: np.ndarray, tier: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Uniform product per row from its (group, tier) pool, with u ~ U(0, 1) drawn by the caller."""
        out = np.empty(u.size, dtype=np.int64)
        for g in range(len(GROUPS)):
            for k in range(PRICE_TIERS):
                rows = np.flatnonzero((group == g) & (tier == k))
                pool = self.tier_pool(g, k)
                out[rows] = pool[np.minimum((u[rows] * pool.size).astype(np.int64), pool.size - 1)]
        return out

    def pick(self, group: np.ndarray, u: np.ndarray, category: np.ndarray | None = None) -> np.ndarray:
        """Uniform product per row from its pool, with u ~ U(0, 1) drawn by the caller (fixed draw count)."""
        out = np.empty(u.size, dtype=np.int64)
        cats = np.full(u.size, "", dtype=object) if category is None else category
        for g in range(len(GROUPS)):
            in_group = group == g
            for c in np.unique(cats[in_group]):  # a handful of (group, category) pools
                rows = np.flatnonzero(in_group & (cats == c))
                pool = self.pool(g, c or None)
                out[rows] = pool[np.minimum((u[rows] * pool.size).astype(np.int64), pool.size - 1)]
        return out


# =========================================================================================================
# effects
# =========================================================================================================
def normalise_effects(effects: dict | None, aa: bool) -> tuple[dict, dict]:
    """(configured, applied): validated copies; applied has every value at zero when aa."""
    configured = json.loads(json.dumps(DEFAULT_EFFECTS if effects is None else effects))
    for campaign, segments in configured.items():
        for segment, arms in segments.items():
            for arm, cell in arms.items():
                for kind, value in cell.items():
                    if kind not in EFFECT_KINDS:
                        raise ValueError(f"effects[{campaign}][{segment}][{arm}]: unknown kind {kind!r}")
                    if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                        raise ValueError(f"effects[{campaign}][{segment}][{arm}][{kind}] must be in [0, 1]")
                    cell[kind] = float(value)
    applied = {c: {s: {a: {k: 0.0 if aa else v for k, v in cell.items()} for a, cell in arms.items()}
                   for s, arms in segs.items()} for c, segs in configured.items()}
    return configured, applied


def _cell(applied: dict, campaign: str, segment: str, arm: str) -> tuple[float, float]:
    cell = applied.get(campaign, {}).get(segment, {}).get(arm, {})
    return cell.get("induced", 0.0), cell.get("fatigue", 0.0)


def responsiveness(recency_days: np.ndarray, frequency: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """h_i: g_i over its mean among the targets of the same segment (mean h = 1 in every segment).
    recency_days < 0 means no sale before the launch (the recency term is 0, only the floor is left)."""
    recent = np.where(recency_days >= 0, np.exp2(-np.maximum(recency_days, 0) / HET_HALF_LIFE_DAYS), 0.0)
    g = (HET_FLOOR + recent) * np.maximum(frequency, 1.0) ** HET_FREQUENCY_POWER
    h = np.empty(g.size)
    for s in np.unique(segment):
        sel = segment == s
        h[sel] = g[sel] / g[sel].mean()
    return h


def _campaign_rng(seed: int, sub: int, campaign: str) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM, sub, zlib.crc32(campaign.encode("utf-8"))])


# =========================================================================================================
# the simulation
# =========================================================================================================
def _lags(rng: np.random.Generator, created: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = created.size
    ship = created + rng.integers(0, gen.SHIP_MAX_MIN, size=m) * 60
    deliver = ship + rng.integers(0, gen.DELIVER_MAX_MIN, size=m) * 60
    ret = deliver + rng.integers(0, gen.RETURN_MAX_MIN, size=m) * 60
    return ship, deliver, ret


def simulate(db_path, data_dir, seed: int = 42, aa: bool = False, log=print, *, effects: dict | None = None,
             heterogeneity: bool = True) -> dict:
    """Writes the measurement period's orders and the truth into `data_dir`; returns the truth dict.

    `effects` replaces DEFAULT_EFFECTS (same nesting); `aa=True` zeroes every effect; `heterogeneity=False`
    gives every treated customer of a cell the cell's induced effect (h_i = 1).
    """
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed, aa, heterogeneity = int(seed), bool(aa), bool(heterogeneity)
    configured, applied = normalise_effects(effects, aa)
    wh = read_warehouse(db_path)
    cat = Catalogue(wh["products"])
    start_s, end_s = wh["start_s"], wh["end_s"]
    period_s = end_s - start_s
    camp = wh["campaigns"]
    cust = wh["customers"]
    cid, grp = cust["customer_id"].astype(np.int64), cust["grp"].astype(np.int64)
    n_cust = cid.size

    days_known = np.maximum(start_s - cust["signup_s"], 0.0) / DAY
    lam = (cust["sale_orders"] + RATE_PRIOR_ORDERS) / (days_known + RATE_PRIOR_DAYS)

    # Organic item price: the customer's price tier with probability q, else the department (see PRICE_TIERS).
    sale_items = cust["sale_items"].astype(np.float64)
    tier_q = sale_items / (sale_items + PRICE_PRIOR_ITEMS)
    mean_item_price = np.divide(cust["sale_revenue"], sale_items, out=np.zeros(n_cust), where=sale_items > 0)
    tier = cat.tier_of(grp, mean_item_price)
    dept_means = np.array([cat.mean_price(k) for k in range(len(GROUPS))])
    item_price = tier_q * cat.tier_means()[grp, tier] + (1.0 - tier_q) * dept_means[grp]  # E[organic item price]

    # ---- organic orders: everyone, over the whole period ----
    rng = np.random.default_rng([seed, STREAM, SUB_ORGANIC])
    n_org = rng.poisson(lam * period_s / DAY)
    o_cust = np.repeat(np.arange(n_cust), n_org)
    m = o_cust.size
    o_created = start_s + gen._uniform_int(rng, 0, np.full(m, period_s))
    o_status = rng.choice(len(gen.STATUSES), size=m, p=gen.STATUS_P)
    o_ship, o_deliver, o_ret = _lags(rng, o_created)
    o_items = rng.choice(gen.ITEMS_PER_ORDER, size=m, p=gen.ITEMS_PER_ORDER_P)
    keep = np.ones(m, dtype=bool)

    # ---- exposure, per campaign ----
    exp = wh["exposure"]
    exp_cust = np.searchsorted(cid, exp["customer_id"])
    known = (exp_cust < n_cust) & (cid[np.minimum(exp_cust, n_cust - 1)] == exp["customer_id"])
    if not known.all():
        log(f"  warning: {int((~known).sum())} exposure rows name no customer of `customers`; ignored")
    exp = {k: v[known] for k, v in exp.items()}
    exp_cust = exp_cust[known]
    exp_seg = exp["lifecycle_segment"].astype(str)
    exp_arm = exp["arm"].astype(str)
    exp_camp = exp["campaign_id"].astype(str)
    exp_freq = exp["frequency"].astype(np.float64)
    exp_recency = exp["recency_days"].astype(np.float64)
    unknown = sorted(set(exp_camp) - set(camp["campaign_id"].astype(str)))
    if unknown:
        log(f"  warning: campaign_exposure names campaigns missing from `campaigns` ({', '.join(unknown)}); ignored")

    campaigns_out, segments_out, overall_out, draws_out, customers_out = [], [], [], [], []
    induced_parts = []  # (customer index, created, campaign rank, target category)
    for rank, campaign in enumerate(camp["campaign_id"].astype(str)):
        launch = int(camp["launch_s"][rank])
        window = int(camp["window_days"][rank])
        w_end = launch + window * DAY
        category = str(camp["target_category"][rank]) or None
        rows = np.flatnonzero(exp_camp == campaign)
        campaigns_out.append({
            "campaign_id": campaign, "launch_date": _iso(launch)[:10], "window_days": window,
            "window_start": _iso(launch), "window_end": _iso(w_end), "target_category": category,
            "targets": int(rows.size),
        })
        if rows.size == 0:
            continue
        ci = exp_cust[rows]
        seg, arm = exp_seg[rows], exp_arm[rows]
        h = responsiveness(exp_recency[rows], exp_freq[rows], seg) if heterogeneity else np.ones(rows.size)
        e_row = np.zeros(rows.size)
        f_row = np.zeros(rows.size)
        for s in np.unique(seg):
            for a in np.unique(arm):
                if a == "control":
                    continue
                sel = (seg == s) & (arm == a)
                e, f_row[sel] = _cell(applied, campaign, s, a)
                e_row[sel] = np.minimum(e * h[sel], 1.0)

        # Fatigue: drop the customer's organic orders inside this window with probability f.
        f_cust = np.zeros(n_cust)
        f_cust[ci] = f_row
        u = _campaign_rng(seed, SUB_FATIGUE, campaign).random(m)
        drop = keep & (o_created >= launch) & (o_created < w_end) & (u < f_cust[o_cust])
        keep &= ~drop
        dropped_per_row = np.bincount(o_cust[drop], minlength=n_cust)[ci]

        # Induced: at most one extra sale order per treated customer.
        r = _campaign_rng(seed, SUB_INDUCED, campaign)
        buy = r.random(rows.size) < e_row
        when = launch + gen._uniform_int(r, 0, np.full(rows.size, window * DAY))
        induced_parts.append((ci[buy], when[buy], np.full(int(buy.sum()), rank), category))

        # Truth from the model's probabilities: mu = expected organic sale orders in the window.
        mu = lam[ci] * window * ORGANIC_SALE_SHARE
        g = grp[ci]
        dept_mean = dept_means[g]
        organic_revenue = MEAN_ORGANIC_ITEMS * item_price[ci]  # E[revenue of one organic order of i]
        if category is None:
            basket = float(np.dot(NO_CATEGORY_ITEMS, NO_CATEGORY_ITEMS_P)) * dept_mean  # per customer
        else:
            cat_mean = np.array([cat.mean_price(k, category) for k in range(len(GROUPS))])[g]
            basket = cat_mean + INDUCED_EXTRA_ITEM_P * dept_mean
        base_conv = 1.0 - np.exp(-mu)
        base_rev = mu * organic_revenue
        treated_arms = sorted(a for a in np.unique(arm) if a != "control")
        for a in treated_arms:
            conv_up = np.empty(rows.size)
            rev_up = np.empty(rows.size)
            for s in np.unique(seg):
                sel = seg == s
                e, f = _cell(applied, campaign, s, a)
                e_i = np.minimum(e * h[sel], 1.0)  # what arm a would induce in each target of the segment
                conv_up[sel] = np.exp(-mu[sel]) - (1.0 - e_i) * np.exp(-mu[sel] * (1.0 - f))
                rev_up[sel] = e_i * basket[sel] - f * mu[sel] * organic_revenue[sel]
                segments_out.append({
                    "campaign_id": campaign, "lifecycle_segment": s or None, "arm": a,
                    "induced": e, "fatigue": f, "mean_induced": float(e_i.mean()), "targets": int(sel.sum()),
                    "arm_customers": int((sel & (arm == a)).sum()),
                    "baseline_conversion": float(base_conv[sel].mean()),
                    "conversion_uplift": float(conv_up[sel].mean()),
                    "baseline_revenue_per_customer": float(base_rev[sel].mean()),
                    "revenue_uplift_per_customer": float(rev_up[sel].mean()),
                })
            customers_out.append({
                "campaign_id": np.full(rows.size, campaign, dtype=object), "arm": np.full(rows.size, a, dtype=object),
                "customer_id": cid[ci], "lifecycle_segment": np.where(seg == "", None, seg).astype(object),
                "conversion_uplift": conv_up, "revenue_uplift": rev_up,
            })
            overall_out.append({
                "campaign_id": campaign, "arm": a, "targets": int(rows.size),
                "arm_customers": int((arm == a).sum()),
                "baseline_conversion": float(base_conv.mean()),
                "conversion_uplift": float(conv_up.mean()),
                "baseline_revenue_per_customer": float(base_rev.mean()),
                "revenue_uplift_per_customer": float(rev_up.mean()),
            })
        for s in np.unique(seg):
            for a in np.unique(arm):
                sel = (seg == s) & (arm == a)
                if sel.any():
                    draws_out.append({
                        "campaign_id": campaign, "lifecycle_segment": s or None, "arm": a,
                        "customers": int(sel.sum()), "induced_orders": int(buy[sel].sum()),
                        "dropped_orders": int(dropped_per_row[sel].sum()),
                    })

    # ---- induced orders: status, lags, items ----
    i_cust = np.concatenate([p[0] for p in induced_parts] or [np.empty(0, np.int64)]).astype(np.int64)
    i_created = np.concatenate([p[1] for p in induced_parts] or [np.empty(0, np.int64)]).astype(np.int64)
    i_rank = np.concatenate([p[2] for p in induced_parts] or [np.empty(0, np.int64)]).astype(np.int64)
    i_category = np.concatenate([np.full(p[0].size, p[3] or "", dtype=object) for p in induced_parts]
                                or [np.empty(0, dtype=object)])
    n_ind = i_cust.size
    r = np.random.default_rng([seed, STREAM, SUB_INDUCED_ITEMS])
    i_status = _SALE_CODES[r.choice(len(SALE_STATUSES), size=n_ind, p=_INDUCED_STATUS_P)]
    i_ship, i_deliver, i_ret = _lags(r, i_created)
    has_cat = i_category != ""
    i_items = np.where(has_cat, 1 + (r.random(n_ind) < INDUCED_EXTRA_ITEM_P),
                       r.choice(NO_CATEGORY_ITEMS, size=n_ind, p=NO_CATEGORY_ITEMS_P)).astype(np.int64)

    # ---- all orders, numbered in order of creation, then customer, organic before induced ----
    sel = np.flatnonzero(keep)
    cust_idx = np.concatenate([o_cust[sel], i_cust])
    created = np.concatenate([o_created[sel], i_created])
    status = np.concatenate([o_status[sel], i_status])
    ship = np.concatenate([o_ship[sel], i_ship])
    deliver = np.concatenate([o_deliver[sel], i_deliver])
    ret = np.concatenate([o_ret[sel], i_ret])
    n_items = np.concatenate([o_items[sel], i_items])
    source = np.concatenate([np.zeros(sel.size, np.int64), 1 + i_rank])  # 0 organic, 1+ campaign rank
    order_cat = np.concatenate([np.full(sel.size, "", dtype=object), i_category])
    local = np.arange(created.size)
    chrono = np.lexsort((local, source, cid[cust_idx], created))
    cust_idx, created, status = cust_idx[chrono], created[chrono], status[chrono]
    ship, deliver, ret, n_items = ship[chrono], deliver[chrono], ret[chrono], n_items[chrono]
    order_cat, source = order_cat[chrono], source[chrono]
    n_orders = created.size

    # Items: position 0 of an induced order with a category is the category item; every other item is
    # uniform over the customer's department.
    item_order = np.repeat(np.arange(n_orders), n_items)
    first = np.concatenate([[0], np.cumsum(n_items)[:-1]]) if n_orders else np.empty(0, np.int64)
    position = np.arange(item_order.size) - first[item_order]
    item_cat = np.where(position == 0, order_cat[item_order], "").astype(object)
    u_org = np.random.default_rng([seed, STREAM, SUB_ORGANIC_ITEMS]).random(item_order.size)
    product = cat.pick(grp[cust_idx[item_order]], u_org, item_cat)
    # Organic items: from the customer's price tier with probability q (same u, so a customer at q = 0 keeps
    # the department draw); induced items stay uniform over the department or category.
    item_cust = cust_idx[item_order]
    u_tier = np.random.default_rng([seed, STREAM, SUB_PRICE_TIER]).random(item_order.size)
    in_tier = (source[item_order] == 0) & (u_tier < tier_q[item_cust])
    product[in_tier] = cat.pick_tier(grp[item_cust[in_tier]], tier[item_cust[in_tier]], u_org[in_tier])
    stubs = np.random.default_rng([seed, STREAM, SUB_INVENTORY]).choice(
        gen.UNSOLD_STUBS, size=item_order.size, p=gen.UNSOLD_STUBS_P)

    max_order, max_item, max_inventory = (int(x) for x in wh["max_ids"])
    no_ship = (status == _STATUS_INDEX["Processing"]) | (status == _STATUS_INDEX["Cancelled"])
    no_deliver = no_ship | (status == _STATUS_INDEX["Shipped"])
    no_return = status != _STATUS_INDEX["Returned"]
    orders = gen._table("orders", {
        "order_id": max_order + 1 + np.arange(n_orders, dtype=np.int64),
        "user_id": cid[cust_idx],
        "status": gen._take(gen.STATUSES, status),
        "gender": pa.array(cust["gender"][cust_idx], type=pa.string()),
        "created_at": gen._ts(created),
        "returned_at": gen._ts(ret, no_return),
        "shipped_at": gen._ts(ship, no_ship),
        "delivered_at": gen._ts(deliver, no_deliver),
        "num_of_item": n_items.astype(np.int64),
    })
    io = item_order
    items = gen._table("order_items", {
        "id": max_item + 1 + np.arange(io.size, dtype=np.int64),
        "order_id": max_order + 1 + io.astype(np.int64),
        "user_id": cid[cust_idx[io]],
        "product_id": cat.product_id[product],
        "inventory_item_id": max_inventory + np.cumsum(1 + stubs).astype(np.int64),
        "status": gen._take(gen.STATUSES, status[io]),
        "created_at": gen._ts(created[io]),
        "shipped_at": gen._ts(ship[io], no_ship[io]),
        "delivered_at": gen._ts(deliver[io], no_deliver[io]),
        "returned_at": gen._ts(ret[io], no_return[io]),
        "sale_price": cat.price[product],
    })

    customer_truth = _customer_truth(customers_out)
    truth = {
        "simulator_version": SIMULATOR_VERSION,
        "seed": seed,
        "aa": aa,
        "heterogeneity": heterogeneity,
        "customers_file": CUSTOMER_TRUTH_FILE,
        "effects": applied,
        "configured_effects": configured,
        "model": {
            "organic_rate": "(sale orders before the earliest launch + 0.25) / (days from signup to it + 30)",
            "organic_sale_share": ORGANIC_SALE_SHARE,
            "mean_items_per_organic_order": MEAN_ORGANIC_ITEMS,
            "induced_extra_item_probability": INDUCED_EXTRA_ITEM_P,
            "no_category_mean_items": float(np.dot(NO_CATEGORY_ITEMS, NO_CATEGORY_ITEMS_P)),
            "organic_item_price": (f"price tier of the pre-launch mean item price ({PRICE_TIERS} equal-count tiers "
                                   f"of the department) with probability k / (k + {PRICE_PRIOR_ITEMS:g}), "
                                   "k = pre-launch sale items; else uniform over the department"),
            "price_tiers": PRICE_TIERS,
            "price_prior_items": PRICE_PRIOR_ITEMS,
            "induced_heterogeneity": (f"e_i = min(e_cell h_i, 1), h_i = g_i / mean(g) over the campaign's targets "
                                      f"of the segment, g_i = ({HET_FLOOR:g} + 2^(-recency_days / "
                                      f"{HET_HALF_LIFE_DAYS:g})) x frequency^{HET_FREQUENCY_POWER:g}"
                                      if heterogeneity else "none: e_i = e_cell"),
            "heterogeneity_floor": HET_FLOOR,
            "heterogeneity_half_life_days": HET_HALF_LIFE_DAYS,
            "heterogeneity_frequency_power": HET_FREQUENCY_POWER,
        },
        "period": {"start": _iso(start_s), "end": _iso(end_s), "days": period_s / DAY},
        "campaigns": campaigns_out,
        "segments": segments_out,
        "overall": overall_out,
        "draws": draws_out,
        "rows_written": {"orders": int(n_orders), "order_items": int(io.size)},
    }
    _write_outputs(Path(data_dir), orders, items, truth, customer_truth)
    log(f"simulated {_iso(start_s)} .. {_iso(end_s)}: {n_orders:,} orders ({n_ind:,} induced, "
        f"{int((~keep).sum()):,} organic dropped by fatigue), {io.size:,} items -> {data_dir}")
    return truth


# =========================================================================================================
# files
# =========================================================================================================
def _customer_truth(parts: list[dict]) -> pa.Table:
    """One row per campaign target and treated arm, sorted by campaign_id, arm, customer_id."""
    columns = {name: np.concatenate([p[name] for p in parts]) if parts else np.empty(0, dtype=object)
               for name in CUSTOMER_TRUTH_SCHEMA.names}
    order = np.lexsort((columns["customer_id"].astype(np.int64), columns["arm"].astype(str),
                        columns["campaign_id"].astype(str)))
    return pa.table({name: pa.array(columns[name][order], type=CUSTOMER_TRUTH_SCHEMA.field(name).type)
                     for name in CUSTOMER_TRUTH_SCHEMA.names}, schema=CUSTOMER_TRUTH_SCHEMA)


def _write_outputs(folder: Path, orders: pa.Table, items: pa.Table, truth: dict, customer_truth: pa.Table) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # Written even when empty (no campaign has a target): it is the truth, not a shard the loader reads.
    tmp_stem = f".{CUSTOMER_TRUTH_FILE.removesuffix('.parquet')}.tmp-{os.getpid()}"
    pq.write_table(customer_truth, folder / f"{tmp_stem}.parquet", compression="zstd", use_dictionary=True,
                   write_statistics=True)
    os.replace(folder / f"{tmp_stem}.parquet", folder / CUSTOMER_TRUTH_FILE)
    for table, file_name in ((orders, ORDERS_FILE), (items, ITEMS_FILE)):
        final = folder / file_name
        if table.num_rows == 0:
            final.unlink(missing_ok=True)  # the loader refuses an empty file; none means no rows
            continue
        # Hidden temp name: the loader's `<table>-*.parquet` glob never sees a half-written file.
        tmp_stem = f".{file_name.removesuffix('.parquet')}.tmp-{os.getpid()}"
        gen.write_table(table, folder, tmp_stem, ("parquet",))
        os.replace(folder / f"{tmp_stem}.parquet", final)
    tmp = folder / f".{TRUTH_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / TRUTH_FILE)


def remove_simulated(data_dir) -> list[Path]:
    """Deletes this script's outputs (and any temp file a crashed run left) from `data_dir`."""
    folder = Path(data_dir)
    if not folder.is_dir():
        return []
    removed = []
    candidates = [folder / name for name in OUTPUTS]
    for name in OUTPUTS:
        stem = name.removesuffix(".parquet")
        candidates += sorted(folder.glob(f".{stem}.tmp-*"))
    for path in candidates:
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


# =========================================================================================================
# CLI
# =========================================================================================================
def format_truth(truth: dict) -> str:
    lines = [f"truth (seed {truth['seed']}{', A/A' if truth['aa'] else ''}; period {truth['period']['start']}"
             f" .. {truth['period']['end']}):",
             f"  {'campaign':<24} {'segment':<9} {'arm':<7} {'targets':>8} {'base conv':>9} "
             f"{'conv uplift':>11} {'base rev':>9} {'rev uplift':>10}"]
    rows = [dict(r, lifecycle_segment="(all)") for r in truth["overall"]] + truth["segments"]
    rows.sort(key=lambda r: (r["campaign_id"], r["lifecycle_segment"] != "(all)", r["lifecycle_segment"] or "",
                             r["arm"]))
    for r in rows:
        lines.append(f"  {r['campaign_id']:<24} {r['lifecycle_segment'] or '-':<9} {r['arm']:<7} "
                     f"{r['targets']:>8,} {r['baseline_conversion']:>9.4f} {r['conversion_uplift']:>+11.4f} "
                     f"{r['baseline_revenue_per_customer']:>9.2f} {r['revenue_uplift_per_customer']:>+10.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="built warehouse (read only)")
    parser.add_argument("--data-dir", type=Path, required=True, help="folder the shards are written into")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--aa", action="store_true", help="A/A run: every effect zero")
    parser.add_argument("--no-heterogeneity", action="store_true",
                        help="every treated customer of a cell gets the cell's induced effect")
    args = parser.parse_args(argv)
    try:
        truth = simulate(args.db, args.data_dir, seed=args.seed, aa=args.aa, heterogeneity=not args.no_heterogeneity)
    except (SimulationError, ValueError) as error:
        print(f"simulation failed: {error}", file=sys.stderr)
        return 1
    written = truth["rows_written"]
    print(f"wrote {written['orders']:,} orders and {written['order_items']:,} order items into {args.data_dir}")
    print(format_truth(truth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
