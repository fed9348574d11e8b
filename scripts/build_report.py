"""The campaign report: one static, self-contained HTML file built from the warehouse's marts.

    python scripts/build_report.py --db warehouse/crm_uplift.duckdb --out reports/campaign_report.html \
        [--truth data/thelook/_campaign_truth.json]

    from build_report import build_report
    build_report(db_path, out_path, truth_path=None)    # -> the written Path

Sections: 1 segment sizes and RFM profile, 2 category opportunities of each campaign's target segment,
3 funnel, 4 conversion by arm, 5 uplift by segment and arm (forest plot, with the simulation's true effect
when a truth file is given), 6 incremental margin, cost and ROI, 7 sample-ratio check, 8 a verdict in plain
words for every uplift row, 9 K-means customer clusters (elbow chart, profiles, clusters against the rule-based
segments; once per launch date), 10 customer value (BG/NBD and Gamma-Gamma parameters, the holdout check, the
churn predictors' AUC, CLV by churn-risk band), 11 revenue per customer plain and CUPED-adjusted (theta, variance
reduction; the injected revenue uplift with a truth file), 12 the uplift model (Qini curve against random and
perfect targeting, Qini coefficient and AUUC, the targeting table and which share to contact; with a truth file
and `_campaign_truth_customers.parquet` beside it, Spearman and Kendall between predicted and true per-customer
uplift), 13 imported campaigns (`crm.py import-results`: per outcome, each arm against control overall and per
breakdown level, CUPED for amounts, the sample-ratio check), only when their marts exist. A warehouse built
before the marts of 9 to 12 existed gets a one-line note in their place.

The warehouse is opened read-only and only the marts (and the campaigns seed) are queried; the figures are
what the marts say, shaped for the charts. The page needs no network: plotly.js is inlined once. The same
warehouse (and truth file) always gives the same bytes: no generation time, fixed chart ids, ordered
queries. The file is written under a temporary name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

FONT = '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
ARM_COLOURS = {"control": "#7b8794", "email": "#2563eb", "sms": "#d97706"}
EXTRA_COLOURS = ["#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d"]
SEGMENT_COLOURS = {
    "Gold": "#c99a06", "Silver": "#8d99a6", "Bronze": "#a0522d",
    "VIP": "#7c3aed", "Regular": "#0e7490", "At-risk": "#dc2626",
}
SEGMENT_ORDER = {name: i for i, name in enumerate(["All", "Gold", "Silver", "Bronze", "VIP", "Regular", "At-risk"])}
SCHEME_TITLES = {"overall": "all targets", "lifecycle": "lifecycle segments", "rfm_tier": "RFM tiers"}
SCHEME_ORDER = {"overall": 0, "lifecycle": 1, "rfm_tier": 2}
GREY = "#9aa5b1"
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
# A small explicit template: plotly's default one adds ~10 kB of JSON to every figure.
TEMPLATE = go.layout.Template(
    layout=dict(
        font=dict(family=FONT, size=13, color="#1f2933"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        hoverlabel=dict(align="left", font=dict(family=FONT)),
        xaxis=dict(gridcolor="#e4e7eb", linecolor="#cbd2d9", zerolinecolor="#cbd2d9", automargin=True),
        yaxis=dict(gridcolor="#e4e7eb", linecolor="#cbd2d9", zerolinecolor="#cbd2d9", automargin=True),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        margin=dict(l=60, r=30, t=50, b=50),
    )
)


class ReportError(Exception):
    """The warehouse cannot be reported on (missing file or marts)."""


# --------------------------------------------------------------------------------------------- reading


def _native(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> list[dict]:
    cursor = con.execute(sql, parameters)
    names = [column[0] for column in cursor.description]
    return [{name: _native(value) for name, value in zip(names, row)} for row in cursor.fetchall()]


def read_marts(db_path: Path) -> dict:
    """Everything the report shows, as lists of dicts with plain Python values, in a fixed order."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        data = {
            "campaigns": _rows(con, """
                select c.campaign_id, c.campaign_name, c.was_sent, c.launch_date, c.window_days, c.segment_scheme,
                    c.target_segment, c.target_category, c.offer_amount, c.offer_min_basket,
                    f.scored_customers, f.segment_customers, f.already_bought_category, f.target_customers
                from int_campaigns_for_source as c
                left join campaign_funnel as f on f.campaign_id = c.campaign_id
                order by c.launch_date, c.campaign_id
            """),
            "data_through": con.execute("select max(order_date) from transactions").fetchone()[0],
            "data_has_categories": con.execute(
                "select count(*) > 0 from transactions where category is not null").fetchone()[0],
            "outcomes": _rows(con, """
                select campaign_id, count(*) as exposed, count(*) filter (where is_converted) as conversions,
                    min(launch_date) as window_start, max(window_end_date) as window_end
                from campaign_outcomes group by campaign_id order by campaign_id
            """),
            # Campaigns launched the same day share their RFM features: profile each launch date once.
            "segments": _rows(con, """
                with profiled as (
                    select launch_date, min(campaign_id) as campaign_id from rfm_features group by launch_date
                )
                select launch_date, scheme, segment, customers, mean_recency_days, mean_frequency, mean_monetary
                from (
                    select r.launch_date, 'rfm_tier' as scheme, r.rfm_segment as segment, count(*) as customers,
                        round(avg(r.recency_days), 1) as mean_recency_days,
                        round(avg(r.frequency), 2) as mean_frequency,
                        round(avg(r.monetary), 2) as mean_monetary
                    from rfm_features as r inner join profiled using (launch_date, campaign_id)
                    group by all
                    union all
                    select r.launch_date, 'lifecycle', r.lifecycle_segment, count(*),
                        round(avg(r.recency_days), 1), round(avg(r.frequency), 2), round(avg(r.monetary), 2)
                    from rfm_features as r inner join profiled using (launch_date, campaign_id)
                    group by all
                )
                order by launch_date, scheme, segment
            """),
            "categories": _rows(con, """
                select r.campaign_id, r.segment, r.category, r.segment_customers, r.ratio_panier,
                    r.ratio_frequence, r.gross_margin_rate, r.basket_index, r.segment_penetration,
                    r.all_penetration, r.margin_gap_per_customer, r.is_candidate, r.candidate_rank
                from category_ratios as r
                inner join int_campaigns_for_source as c
                    on r.campaign_id = c.campaign_id and r.segment_scheme = c.segment_scheme
                    and r.segment = c.target_segment
                order by r.campaign_id, r.category
            """),
            "arms": _rows(con, """
                select campaign_id, arm, planned_share, customers, observed_share, expected_customers,
                    exposed_customers, chi_square, degrees_of_freedom, p_value, is_sample_ratio_mismatch
                from campaign_sample_ratio order by campaign_id, arm <> 'control', arm
            """),
            "uplift": _rows(con, """
                select * from (
                    select * from uplift_by_arm
                    union all by name
                    select * from uplift_by_segment_arm
                )
                order by campaign_id, segment_scheme, segment, arm
            """),
            "planning": _rows(con, """
                select campaign_id, exposed_customers, assumed_conversion_rate, expected_conversions,
                    expected_net_margin, expected_roi
                from campaign_roi_simulation order by campaign_id
            """),
        }
    except duckdb.CatalogException as error:
        raise ReportError(f"{db_path} lacks a mart the report needs (was dbt build run?): {error}") from error
    try:
        data["clusters"] = _read_optional(con, CLUSTER_MARTS, {
            "selection": """
                select campaign_id, cast(launch_date as date) as launch_date, k, inertia, silhouette, is_chosen,
                    clustered_customers, k_search_customers, transform, outliers, k_setting, seed, n_init,
                    silhouette_sample_size
                from cluster_selection order by launch_date, campaign_id, k
            """,
            "profiles": """
                select campaign_id, cast(launch_date as date) as launch_date, cluster_id, cluster_name, cluster_action,
                    is_outlier_group, customers, customer_share, median_recency_days, median_frequency,
                    median_monetary, revenue, revenue_share
                from cluster_profiles order by launch_date, campaign_id, cluster_id nulls last, cluster_name
            """,
            "by_segment": """
                select campaign_id, cluster_id, cluster_name, segment_scheme, segment, customers, share_of_cluster,
                    share_of_segment
                from clusters_by_segment
                order by campaign_id, cluster_id nulls last, cluster_name, segment_scheme, segment
            """,
        })
        data["value"] = _read_optional(con, VALUE_MARTS, {
            "fit": """
                select fit_scope, reference_date, model, parameter, estimate, std_error, estimate_weeks,
                    log_likelihood, customers, converged, calibration_start, calibration_end, time_unit
                from customer_value_fit order by fit_scope, model, parameter
            """,
            # Rounded in SQL: a parallel floating-point sum may differ in its last bits from one run to the next.
            # P(alive) is cut (not rounded) to 3 decimals, so that adjacent bands do not seem to overlap.
            "bands": """
                select churn_risk, count(*) as customers, floor(min(p_alive) * 1000) / 1000 as min_p_alive,
                    floor(max(p_alive) * 1000) / 1000 as max_p_alive, round(avg(clv), 2) as mean_clv,
                    round(median(clv), 2) as median_clv, round(sum(clv), 2) as total_clv
                from customer_value group by churn_risk order by churn_risk
            """,
            "settings": """
                select min(reference_date) as reference_date, min(clv_horizon_days) as min_horizon_days,
                    max(clv_horizon_days) as max_horizon_days, round(min(margin_rate), 4) as min_margin_rate,
                    round(max(margin_rate), 4) as max_margin_rate,
                    min(annual_discount_rate) as min_discount_rate, max(annual_discount_rate) as max_discount_rate
                from customer_value
            """,
            "holdout": """
                select holdout_start, holdout_end, frequency_group, frequency_group_order, customers, actual_mean,
                    predicted_mean, absolute_error, mean_absolute_error
                from customer_value_holdout order by frequency_group_order, frequency_group
            """,
            "churn": """
                select predictor, holdout_start, holdout_end, decile, customers, mean_predicted, observed_rate, auc,
                    observed_base_rate
                from churn_model_evaluation order by predictor, decile
            """,
        })
        data["cuped"] = _read_optional(con, CUPED_MARTS, {
            "rows": """
                select campaign_id, segment_scheme, segment, arm, treated_customers, control_customers,
                    revenue_per_customer_diff, revenue_per_customer_diff_low, revenue_per_customer_diff_high,
                    revenue_p_value, cuped_theta, cuped_revenue_per_customer_diff,
                    cuped_revenue_per_customer_diff_low, cuped_revenue_per_customer_diff_high, cuped_revenue_p_value,
                    cuped_is_significant, variance_reduction, alpha
                from uplift_revenue_cuped order by campaign_id, segment_scheme, segment, arm
            """,
        })
        data["model"] = _read_optional(con, UPLIFT_MODEL_MARTS, {
            "evaluation": """
                select campaign_id, arm, point, share_targeted, customers_targeted, qini, random_qini, perfect_qini,
                    treated_customers, control_customers, qini_area, random_area, perfect_area, qini_coefficient,
                    auuc, random_auuc, method, folds, is_skipped, note
                from uplift_model_evaluation order by campaign_id, arm, point nulls first
            """,
            "targeting": """
                select campaign_id, arm, share, customers, share_targeted, treated, control,
                    incremental_conversions, incremental_revenue, incremental_margin, contact_cost_per_customer,
                    contact_cost, net_margin, random_incremental_conversions, random_net_margin
                from uplift_targeting order by campaign_id, arm, share
            """,
        })
        # Imported campaigns exist only after `crm.py import-results`: no marts, no section.
        data["imported"] = _read_optional(con, IMPORTED_MARTS, {
            "binary": """
                select campaign_id, outcome, breakdown, level, arm, treated_customers, control_customers,
                    treated_successes, control_successes, treated_rate, treated_rate_low, treated_rate_high,
                    control_rate, control_rate_low, control_rate_high, uplift, uplift_low, uplift_high, p_value,
                    relative_lift, alpha, minimum_detectable_uplift, is_significant, incremental_successes
                from uplift_imported_binary
                order by campaign_id, outcome, breakdown <> 'All', breakdown, level, arm
            """,
            "amount": """
                select campaign_id, outcome, breakdown, level, arm, treated_customers, control_customers,
                    treated_amount_per_customer, control_amount_per_customer, amount_per_customer_diff,
                    amount_per_customer_diff_low, amount_per_customer_diff_high, amount_p_value, alpha, is_significant,
                    incremental_amount, cuped_covariate, cuped_theta, cuped_amount_per_customer_diff,
                    cuped_amount_per_customer_diff_low, cuped_amount_per_customer_diff_high, cuped_p_value,
                    cuped_is_significant, cuped_variance_reduction
                from uplift_imported_amount
                order by campaign_id, outcome, breakdown <> 'All', breakdown, level, arm
            """,
            "arms": """
                select campaign_id, arm, is_control, planned_share, customers, observed_share, expected_customers,
                    campaign_customers, chi_square, degrees_of_freedom, p_value, is_sample_ratio_mismatch
                from imported_sample_ratio order by campaign_id, not is_control, arm
            """,
        })
        if "missing" not in data["imported"]:
            # The campaigns' names come from staging (a view of the loaded file): optional, the ids do without.
            names = _read_optional(con, ("stg_campaign_results__campaigns",), {"campaigns": """
                select campaign_id, campaign_name, source_file, customers, window_days, cuped_covariate
                from stg_campaign_results__campaigns order by campaign_id
            """})
            data["imported"]["campaigns"] = names.get("campaigns", [])
    finally:
        con.close()
    data["data_through"] = _native(data["data_through"])
    data["uplift"].sort(key=lambda r: (r["campaign_id"], SCHEME_ORDER.get(r["segment_scheme"], 9),
                                        _segment_key(r["segment"]), _arm_key(r["arm"])))
    return data


CLUSTER_MARTS = ("cluster_selection", "cluster_profiles", "clusters_by_segment")
VALUE_MARTS = ("customer_value_fit", "customer_value", "customer_value_holdout", "churn_model_evaluation")
CUPED_MARTS = ("uplift_revenue_cuped",)
UPLIFT_MODEL_MARTS = ("uplift_model_evaluation", "uplift_targeting")
IMPORTED_MARTS = ("uplift_imported_binary", "uplift_imported_amount", "imported_sample_ratio")


def _read_optional(con: duckdb.DuckDBPyConnection, marts: tuple[str, ...], queries: dict[str, str]) -> dict:
    """The queries' rows, or {"missing": [...]} when the warehouse predates these marts (or has an older shape)."""
    present = {row[0] for row in con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema = current_schema()").fetchall()}
    missing = [name for name in marts if name not in present]
    if missing:
        return {"missing": missing}
    try:
        return {key: _rows(con, sql) for key, sql in queries.items()}
    except (duckdb.CatalogException, duckdb.BinderException):
        return {"missing": list(marts), "outdated": True}


def read_truth(truth_path: Path | None) -> dict:
    """(campaign, segment, arm) -> the simulation's true conversion uplift; segment 'All' for the overall rows."""
    if truth_path is None:
        return {}
    truth = json.loads(Path(truth_path).read_text())
    found = {(row["campaign_id"], "All", row["arm"]): row["conversion_uplift"] for row in truth.get("overall", [])}
    for row in truth.get("segments", []):
        found[(row["campaign_id"], row["lifecycle_segment"], row["arm"])] = row["conversion_uplift"]
    return found


def read_truth_revenue(truth_path: Path | None) -> dict:
    """(campaign, segment, arm) -> the simulation's true revenue uplift per customer; segment 'All' overall."""
    if truth_path is None:
        return {}
    truth = json.loads(Path(truth_path).read_text())
    found = {(row["campaign_id"], "All", row["arm"]): row.get("revenue_uplift_per_customer")
             for row in truth.get("overall", [])}
    for row in truth.get("segments", []):
        found[(row["campaign_id"], row["lifecycle_segment"], row["arm"])] = row.get("revenue_uplift_per_customer")
    return {key: value for key, value in found.items() if value is not None}


TRUTH_CUSTOMERS = "_campaign_truth_customers.parquet"


def read_rank_agreement(db_path: Path, truth_path: Path | None) -> list[dict] | None:
    """Per campaign and arm, how the model's predicted uplift ranks the simulation's true per-customer conversion
    uplift (the file `_campaign_truth_customers.parquet` beside the truth JSON), joined on campaign, arm and
    customer. None when there is no such file or no scores to compare with."""
    if truth_path is None or not (Path(truth_path).parent / TRUTH_CUSTOMERS).is_file():
        return None
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = _rows(con, """
            select s.campaign_id, s.arm, s.predicted_uplift, t.conversion_uplift as true_uplift
            from customer_uplift_scores as s
            inner join read_parquet(?) as t
                on t.campaign_id = s.campaign_id and t.arm = s.arm and t.customer_id = s.customer_id
            order by s.campaign_id, s.arm, s.customer_id
        """, [str(Path(truth_path).parent / TRUTH_CUSTOMERS)])
        scored = {(r["campaign_id"], r["arm"]): r["customers"] for r in _rows(con, """
            select campaign_id, arm, count(*) as customers from customer_uplift_scores group by all order by all
        """)}
    except duckdb.CatalogException:
        return None  # a warehouse without customer_uplift_scores: nothing to compare
    except (duckdb.BinderException, duckdb.IOException, duckdb.InvalidInputException) as error:
        raise ReportError(f"{Path(truth_path).parent / TRUTH_CUSTOMERS} cannot be compared with the scores: "
                          f"{error}") from error
    finally:
        con.close()
    import uplift_model  # scikit-learn comes with it: only loaded when there is something to compare

    found = []
    for key in sorted(scored):
        pairs = [r for r in rows if (r["campaign_id"], r["arm"]) == key]
        result = {"campaign_id": key[0], "arm": key[1], "scored": scored[key], "n": len(pairs), "spearman": None,
                  "spearman_pvalue": None, "kendall": None, "kendall_pvalue": None}
        if len(pairs) >= 2:
            agreement = uplift_model.uplift_rank_correlation([r["predicted_uplift"] for r in pairs],
                                                             [r["true_uplift"] for r in pairs])
            result.update({k: _native(float(agreement[k])) for k in
                           ("spearman", "spearman_pvalue", "kendall", "kendall_pvalue")})
        found.append(result)
    return found


# --------------------------------------------------------------------------------------------- formatting


def _segment_key(segment: str | None) -> tuple:
    return (SEGMENT_ORDER.get(segment or "", 99), segment or "")


def _arm_key(arm: str) -> tuple:
    return (arm != "control", arm)


def arm_colour(arm: str, arms: list[str]) -> str:
    if arm in ARM_COLOURS:
        return ARM_COLOURS[arm]
    others = sorted(a for a in arms if a not in ARM_COLOURS)
    return EXTRA_COLOURS[others.index(arm) % len(EXTRA_COLOURS)] if arm in others else GREY


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def count(value) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def money(value) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def pct(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f} %"


def points(value) -> str:
    """A difference of two rates, in percentage points with its sign."""
    return "n/a" if value is None else f"{value * 100:+.1f}"


def p_text(value) -> str:
    if value is None:
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def ratio(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def level_text(alpha: float) -> str:
    return f"{(1 - alpha) * 100:g} %"


def alpha_text(alpha: float) -> str:
    return f"{alpha * 100:g} %"


def significant(value, digits: int = 4) -> str:
    """`digits` significant digits without an exponent (at least the units): 222.0, 0.1668, 0.004703, 12,346."""
    if value is None:
        return "n/a"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def auc_text(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def long_date(iso: str | None) -> str:
    """2025-12-08 -> 8 December 2025 (fixed English names: no locale in the output)."""
    if iso is None:
        return "n/a"
    day = date.fromisoformat(iso)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def segment_label(row: dict) -> str:
    return "all targets" if row["segment_scheme"] == "overall" else f"{row['segment']} customers"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def table(headers: list[str], rows: list[list], numeric_from: int = 1, row_classes: list[str] | None = None) -> str:
    """An HTML table; cells are escaped, columns from `numeric_from` on are right-aligned numbers; `row_classes`
    gives each body row a class ('' for none)."""
    head = "".join(f'<th class="{"num" if i >= numeric_from else ""}">{esc(h)}</th>' for i, h in enumerate(headers))
    classes = row_classes or [""] * len(rows)
    body = "".join(
        (f'<tr class="{esc(kind)}">' if kind else "<tr>")
        + "".join(f'<td class="{"num" if i >= numeric_from else ""}">{esc(c)}</td>' for i, c in enumerate(row))
        + "</tr>"
        for row, kind in zip(rows, classes)
    )
    return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def callout(kind: str, text_html: str) -> str:
    return f'<div class="callout {kind}">{text_html}</div>'


class Figures:
    """Renders figures with fixed, unique div ids: plotly's default ids are random, which breaks determinism."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def html(self, fig: go.Figure, name: str, height: int) -> str:
        div_id = f"fig-{slug(name)}"
        if div_id in self.ids:
            raise ValueError(f"duplicate figure id {div_id}")
        self.ids.append(div_id)
        fig.update_layout(template=TEMPLATE, height=height)
        return '<div class="chart">' + pio.to_html(
            fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=CONFIG,
            default_width="100%", default_height=f"{height}px",
        ) + "</div>"


# --------------------------------------------------------------------------------------------- sections


def section_segments(data: dict, figures: Figures) -> str:
    parts = ['<h2 id="segments">1. Segment sizes and RFM profile</h2>',
             "<p>Customers with a sale before the launch, scored on recency, frequency and monetary value as of "
             "the launch date. Two segmentations of the same customers: RFM tiers (Gold / Silver / Bronze) and "
             "lifecycle (VIP / Regular / At-risk).</p>"]
    by_launch: dict[str, list[dict]] = {}
    for row in data["segments"]:
        by_launch.setdefault(row["launch_date"], []).append(row)
    if not by_launch:
        parts.append(callout("warn", "No scored customer: the warehouse has no sale before any launch date."))
    for launch, rows in by_launch.items():
        names = [c["campaign_name"] for c in data["campaigns"] if c["launch_date"] == launch]
        rows = sorted(rows, key=lambda r: (r["scheme"] != "rfm_tier", _segment_key(r["segment"])))
        parts.append(f"<h3>As of {esc(launch)} <span class=\"muted\">({esc(', '.join(names))})</span></h3>")
        scheme_names = {"rfm_tier": "RFM tier", "lifecycle": "Lifecycle"}
        x = [[scheme_names.get(r["scheme"], r["scheme"]) for r in rows], [r["segment"] for r in rows]]
        colours = [SEGMENT_COLOURS.get(r["segment"], GREY) for r in rows]
        total = {s: sum(r["customers"] for r in rows if r["scheme"] == s) for s in scheme_names}

        fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.1, vertical_spacing=0.2, subplot_titles=(
            "Customers", "Mean recency (days since last sale)", "Mean frequency (orders)", "Mean monetary (revenue)"))
        panels = [("customers", "{:,.0f}"), ("mean_recency_days", "{:,.0f}"), ("mean_frequency", "{:.2f}"),
                  ("mean_monetary", "{:,.0f}")]
        for i, (key, fmt) in enumerate(panels):
            text = [fmt.format(r[key]) for r in rows]
            if key == "customers":
                text = [f"{t} ({r['customers'] / total[r['scheme']]:.0%})" for t, r in zip(text, rows)]
            fig.add_trace(go.Bar(
                x=x, y=[r[key] for r in rows], marker_color=colours, showlegend=False, text=text,
                textposition="outside", cliponaxis=False, hovertemplate="%{x}<br>%{y:,}<extra></extra>",
            ), row=i // 2 + 1, col=i % 2 + 1)
            # Headroom so the labels above the bars stay clear of the panel titles.
            fig.update_yaxes(range=[0, max((r[key] or 0) for r in rows) * 1.18 or 1], row=i // 2 + 1, col=i % 2 + 1)
        fig.update_layout(margin=dict(t=40), bargap=0.25)
        fig.update_annotations(font_size=14)
        parts.append(figures.html(fig, f"segments-{launch}", 640))
        parts.append(table(
            ["Scheme", "Segment", "Customers", "Share", "Mean recency (days)", "Mean frequency (orders)",
             "Mean monetary (revenue)"],
            [[scheme_names.get(r["scheme"], r["scheme"]), r["segment"], count(r["customers"]),
              pct(r["customers"] / total[r["scheme"]]), f"{r['mean_recency_days']:,.0f}",
              f"{r['mean_frequency']:.2f}", money(r["mean_monetary"])] for r in rows], numeric_from=2))
    return "\n".join(parts)


def section_categories(data: dict, figures: Figures) -> str:
    parts = ['<h2 id="categories">2. Category opportunities</h2>',
             "<p>How each campaign's target segment buys every category before the launch, against all scored "
             "customers. Basket ratio (<code>ratio_panier</code>): the segment's spend per order containing the "
             "category over everyone's. Frequency ratio (<code>ratio_frequence</code>): how often the segment "
             "buys the category over how often everyone does. Cross-sell candidates are rarely bought by the "
             "segment, with a high basket and a good margin; bubble area is the category's gross margin rate.</p>"]
    if not data["categories"] and not data["data_has_categories"]:
        parts.append(callout("info", "This data has no product categories (the Online Retail files): category "
                                     "ratios and cross-sell candidates are not computed for it."))
        return "\n".join(parts)
    for campaign in data["campaigns"]:
        cid, segment = campaign["campaign_id"], campaign["target_segment"]
        parts.append(f"<h3>{esc(campaign['campaign_name'])}</h3>")
        if not segment:
            parts.append(callout("info", "This campaign targets every scored customer: there is no segment to "
                                         "compare with everyone."))
            continue
        rows = [r for r in data["categories"] if r["campaign_id"] == cid]
        plotted = [r for r in rows if r["ratio_panier"] is not None]
        never = [r["category"] for r in rows if r["ratio_panier"] is None]
        if not plotted:
            parts.append(callout("warn", f"No category data for {esc(segment)}."))
            continue
        target = campaign["target_category"]
        max_rate = max((r["gross_margin_rate"] or 0) for r in plotted) or 1
        fig = go.Figure()
        for is_candidate, name, colour, opacity in ((False, "other categories", "#93a4b8", 0.55),
                                                    (True, "cross-sell candidate", "#e4572e", 0.9)):
            group = [r for r in plotted if bool(r["is_candidate"]) == is_candidate]
            if not group:
                continue
            fig.add_trace(go.Scatter(
                x=[r["ratio_panier"] for r in group], y=[r["ratio_frequence"] for r in group],
                mode="markers+text", name=name,
                text=[f"#{r['candidate_rank']} {r['category']}" if is_candidate
                      else (r["category"] if r["category"] == target else "") for r in group],
                textposition="middle right",
                textfont=dict(size=13, color="#9a3412" if is_candidate else "#1f2933"),
                marker=dict(
                    size=[max(r["gross_margin_rate"] or 0, 0) for r in group], sizemode="area",
                    sizeref=2 * max_rate / 36**2, sizemin=4, color=colour, opacity=opacity,
                    line=dict(width=[3 if r["category"] == target else 1 for r in group],
                              color=["#111827" if r["category"] == target else "white" for r in group]),
                ),
                customdata=[[r["category"], r["gross_margin_rate"], r["basket_index"], r["margin_gap_per_customer"],
                             r["segment_penetration"], r["all_penetration"]] for r in group],
                hovertemplate=("<b>%{customdata[0]}</b><br>basket ratio %{x:.2f}<br>frequency ratio %{y:.2f}"
                               "<br>margin rate %{customdata[1]:.1%}<br>basket index %{customdata[2]:.2f}"
                               "<br>margin gap per customer %{customdata[3]:.2f}"
                               "<br>penetration: segment %{customdata[4]:.1%}, all %{customdata[5]:.1%}"
                               "<extra></extra>"),
            ))
        fig.add_hline(y=1, line=dict(color="#52606d", dash="dash", width=1))
        fig.add_vline(x=1, line=dict(color="#52606d", dash="dash", width=1))
        fig.update_layout(legend=dict(itemsizing="constant"), showlegend=True)
        xs = [r["ratio_panier"] for r in plotted] + [1]
        ys = [r["ratio_frequence"] for r in plotted] + [1]
        x_pad, y_pad = (max(xs) - min(xs)) * 0.08 + 0.02, (max(ys) - min(ys)) * 0.1 + 0.02
        # Room on the right for the candidates' labels.
        labelled = any(r["is_candidate"] or r["category"] == target for r in plotted)
        label_room = (max(xs) - min(xs)) * 0.35 if labelled else 0
        fig.update_xaxes(title="basket ratio (segment basket / all customers' basket)",
                         range=[min(xs) - x_pad, max(xs) + x_pad + label_room])
        fig.update_yaxes(title="frequency ratio (segment / all)", range=[min(ys) - y_pad, max(ys) + y_pad])
        fig.add_annotation(x=0.005, y=0.01, xref="paper", yref="paper", xanchor="left", yanchor="bottom",
                           showarrow=False, font=dict(size=11, color="#52606d"),
                           text=f"below 1: {esc(segment)} buys it less often than everyone")
        if target:
            fig.add_annotation(x=1, y=1.0, xref="paper", yref="paper", xanchor="right", yanchor="bottom",
                               showarrow=False, font=dict(size=11, color="#52606d"),
                               text=f"black ring: the campaign's category ({esc(target)})")
        parts.append(figures.html(fig, f"categories-{cid}", 520))
        candidates = sorted((r for r in rows if r["is_candidate"]), key=lambda r: r["candidate_rank"])
        if candidates:
            parts.append(table(
                ["Rank", "Category", "Frequency ratio", "Basket ratio", "Basket index", "Margin rate",
                 f"Penetration {segment}", "Penetration all", "Margin gap per customer"],
                [[r["candidate_rank"], r["category"], ratio(r["ratio_frequence"]), ratio(r["ratio_panier"]),
                  ratio(r["basket_index"]), pct(r["gross_margin_rate"]), pct(r["segment_penetration"]),
                  pct(r["all_penetration"]), ratio(r["margin_gap_per_customer"])] for r in candidates],
                numeric_from=2,
            ))
        else:
            parts.append(callout("info", f"No category meets the cross-sell candidate rule for {esc(segment)}."))
        if never:
            parts.append(f'<p class="note">Not plotted, never bought by {esc(segment)} before the launch: '
                         f"{esc(', '.join(never))}.</p>")
    return "\n".join(parts)


def section_funnel(data: dict, figures: Figures) -> str:
    parts = ['<h2 id="funnel">3. Campaign funnel</h2>',
             "<p>From the scored customers to the target list, and how the targets were split between the "
             "control group and the treatment arms.</p>"]
    for campaign in data["campaigns"]:
        cid = campaign["campaign_id"]
        parts.append(f"<h3>{esc(campaign['campaign_name'])}</h3>")
        if campaign["scored_customers"] is None:
            parts.append(callout("warn", "No funnel for this campaign in <code>campaign_funnel</code>."))
            continue
        segment, category = campaign["target_segment"], campaign["target_category"]
        stages = [("Scored customers (a sale before launch)", campaign["scored_customers"], "#334e68"),
                  (f"In segment {segment}" if segment else "In scope (no segment filter)",
                   campaign["segment_customers"], "#486581")]
        if category:
            stages.append((f"Already bought {category} (excluded)", campaign["already_bought_category"], GREY))
        stages.append(("Targets", campaign["target_customers"], "#102a43"))
        arms = [r for r in data["arms"] if r["campaign_id"] == cid]
        arm_names = [r["arm"] for r in arms]
        for r in arms:
            stages.append((f"Exposed: {r['arm']}", r["customers"], arm_colour(r["arm"], arm_names)))
        labels = [s[0] for s in stages]
        values = [s[1] for s in stages]
        base = campaign["scored_customers"] or 1
        targets = campaign["target_customers"] or 1
        texts = []
        for i, (label, value, _) in enumerate(stages):
            if i == 0:
                texts.append(f"{value:,}")
            elif label.startswith("Exposed"):
                texts.append(f"{value:,} ({value / targets:.1%} of targets)")
            else:
                texts.append(f"{value:,} ({value / base:.1%} of scored)")
        fig = go.Figure(go.Bar(
            y=labels, x=values, orientation="h", marker_color=[s[2] for s in stages], text=texts,
            textposition="outside", cliponaxis=False, hovertemplate="%{y}: %{x:,}<extra></extra>",
        ))
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(title="customers", range=[0, max(values) * 1.3])
        fig.update_layout(showlegend=False, margin=dict(t=20, r=40), bargap=0.3)
        parts.append(figures.html(fig, f"funnel-{cid}", 60 + 38 * len(stages)))
    return "\n".join(parts)


def outcome_status(data: dict, campaign: dict) -> tuple[bool, str]:
    """(has outcomes, an explanatory note in HTML or '')."""
    found = next((o for o in data["outcomes"] if o["campaign_id"] == campaign["campaign_id"]), None)
    through = data["data_through"]
    if found is None or not found["conversions"]:
        window = ""
        if found is not None:
            window = f" ({esc(found['window_start'])} to {esc(_day_before(found['window_end']))})"
        return False, (f"<strong>No outcomes yet</strong> for {esc(campaign['campaign_name'])}: no exposed customer "
                       f"has a sale in the measurement window{window}; the data runs up to {esc(through)}. "
                       "Conversion, uplift and money figures appear once the window's orders are loaded.")
    if through is not None and found["window_end"] is not None and through < _day_before(found["window_end"]):
        return True, (f"The measurement window runs to {esc(_day_before(found['window_end']))} but the data "
                      f"runs up to {esc(through)}: these figures are partial, the window is still open.")
    return True, ""


def _day_before(iso: str) -> str:
    return date.fromordinal(date.fromisoformat(iso).toordinal() - 1).isoformat()


def section_conversion(data: dict, figures: Figures) -> str:
    parts = ['<h2 id="conversion">4. Conversion by arm</h2>',
             "<p>Share of each arm's customers with a sale in the measurement window, with its Wilson interval "
             "(error bars). All targets of the campaign; the control group received nothing.</p>"]
    for campaign in data["campaigns"]:
        cid = campaign["campaign_id"]
        parts.append(f"<h3>{esc(campaign['campaign_name'])}</h3>")
        has_outcomes, note = outcome_status(data, campaign)
        if note:
            parts.append(callout("warn" if not has_outcomes else "info", note))
        rows = [r for r in data["uplift"] if r["campaign_id"] == cid and r["segment_scheme"] == "overall"]
        if not has_outcomes or not rows:
            continue
        level = level_text(rows[0]["alpha"])
        control = rows[0]
        series = [("Any purchase", "Any purchase", "")]
        if campaign["target_category"]:
            series.append((f"Purchase in {campaign['target_category']}", "In the category", "category_"))
        arms = ["control"] + [r["arm"] for r in rows]
        counts = {"control": (control["control_conversions"], control["control_customers"])}
        counts.update({r["arm"]: (r["treated_conversions"], r["treated_customers"]) for r in rows})
        fig = make_subplots(rows=1, cols=len(series), subplot_titles=[name for name, _, _ in series],
                            horizontal_spacing=0.12)
        table_rows = []
        for col, (name, short, prefix) in enumerate(series, start=1):
            values = [(control[f"control_{prefix}conversion_rate"], control[f"control_{prefix}conversion_rate_low"],
                       control[f"control_{prefix}conversion_rate_high"])]
            values += [(r[f"treated_{prefix}conversion_rate"], r[f"treated_{prefix}conversion_rate_low"],
                        r[f"treated_{prefix}conversion_rate_high"]) for r in rows]
            top = max(v[2] for v in values) or 1
            fig.add_trace(go.Bar(
                name=name, x=arms, y=[v[0] for v in values], showlegend=False,
                marker_color=[arm_colour(a, arms) for a in arms],
                error_y=dict(type="data", symmetric=False, array=[v[2] - v[0] for v in values],
                             arrayminus=[v[0] - v[1] for v in values], color="#1f2933", thickness=1.5, width=6),
                # Labels at the bar's foot, away from the error bar; none on bars too short to hold one.
                text=[f"{v[0]:.1%}" if v[0] >= 0.12 * top else "" for v in values],
                textposition="inside", insidetextanchor="start", textfont=dict(color="white", size=13),
                customdata=[[v[1], v[2]] for v in values],
                hovertemplate=(f"{name}<br>%{{x}}: %{{y:.1%}}<br>{level} interval "
                               "%{customdata[0]:.1%} to %{customdata[1]:.1%}<extra></extra>"),
            ), row=1, col=col)
            conversions = [control[f"control_{prefix}conversions"]] + [r[f"treated_{prefix}conversions"] for r in rows]
            for arm, v, converted in zip(arms, values, conversions):
                table_rows.append([short, arm, f"{count(converted)} / {count(counts[arm][1])}", pct(v[0]),
                                   f"{pct(v[1])} to {pct(v[2])}"])
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
        fig.update_yaxes(title="conversion rate", row=1, col=1)
        fig.update_annotations(font_size=13)
        fig.update_layout(bargap=0.3, margin=dict(t=50))
        parts.append('<div class="grid">' + figures.html(fig, f"conversion-{cid}", 380)
                     + table(["Measure", "Arm", "Converted / customers", "Rate", f"{level} interval"], table_rows,
                             numeric_from=2) + "</div>")
    return "\n".join(parts)


def section_forest(data: dict, truth: dict, figures: Figures) -> str:
    parts = ['<h2 id="uplift">5. Uplift by segment and arm</h2>',
             "<p>Each treatment arm's conversion minus the control group's (of the same segment), in percentage "
             "points, with its interval. Filled markers are significant; hollow grey ones are not distinguishable "
             "from zero." + (" Black diamonds: the true effect the simulation injected." if truth else "") + "</p>"]
    for campaign in data["campaigns"]:
        cid = campaign["campaign_id"]
        parts.append(f"<h3>{esc(campaign['campaign_name'])}</h3>")
        has_outcomes, note = outcome_status(data, campaign)
        rows = [r for r in data["uplift"] if r["campaign_id"] == cid]
        if not has_outcomes:
            parts.append(callout("warn", note))
            continue
        if not rows:
            parts.append(callout("warn", "No uplift rows for this campaign."))
            continue
        if any(r["is_sample_ratio_mismatch"] for r in data["arms"] if r["campaign_id"] == cid):
            parts.append(callout("bad", "Sample ratio mismatch (section 7): these effects cannot be trusted."))
        level = level_text(rows[0]["alpha"])
        arms = sorted({r["arm"] for r in rows}, key=_arm_key)
        positions, ticks, separators, groups = [], [], [], []
        y, previous = 0.0, None
        for r in rows:
            if previous is not None and r["segment_scheme"] != previous:
                separators.append(y + 0.25)
                y += 0.5
            if r["segment_scheme"] != previous:
                groups.append((y, SCHEME_TITLES.get(r["segment_scheme"], r["segment_scheme"])))
            previous = r["segment_scheme"]
            positions.append(y)
            ticks.append(f"{'All targets' if r['segment_scheme'] == 'overall' else r['segment']} · {r['arm']}")
            y += 1
        fig = go.Figure()
        for arm in arms:
            for significant in (True, False):
                picked = [(p, r, t) for p, r, t in zip(positions, rows, ticks) if r["arm"] == arm
                          and bool(r["is_significant"]) == significant and r["conversion_uplift"] is not None]
                if not picked:
                    continue
                colour = arm_colour(arm, arms) if significant else GREY
                fig.add_trace(go.Scatter(
                    x=[r["conversion_uplift"] * 100 for _, r, _ in picked], y=[p for p, _, _ in picked],
                    mode="markers", name=f"{arm}: {'significant' if significant else 'not significant'}",
                    marker=dict(symbol="circle" if significant else "circle-open", size=12, color=colour,
                                line=dict(width=2, color=colour)),
                    error_x=dict(type="data", symmetric=False, color=colour, thickness=2.5 if significant else 1.5,
                                 width=5,
                                 array=[(r["conversion_uplift_high"] - r["conversion_uplift"]) * 100
                                        for _, r, _ in picked],
                                 arrayminus=[(r["conversion_uplift"] - r["conversion_uplift_low"]) * 100
                                             for _, r, _ in picked]),
                    customdata=[[t, r["conversion_uplift_low"] * 100, r["conversion_uplift_high"] * 100,
                                 p_text(r["conversion_p_value"]), r["treated_customers"], r["control_customers"]]
                                for _, r, t in picked],
                    hovertemplate=("<b>%{customdata[0]}</b><br>uplift %{x:+.1f} points<br>" + level +
                                   " interval %{customdata[1]:+.1f} to %{customdata[2]:+.1f}<br>p %{customdata[3]}"
                                   "<br>%{customdata[4]:,} treated, %{customdata[5]:,} control<extra></extra>"),
                ))
        true_points = [(p, truth[(cid, r["segment"], r["arm"])]) for p, r in zip(positions, rows)
                       if r["segment_scheme"] in ("overall", "lifecycle") and (cid, r["segment"], r["arm"]) in truth]
        if true_points:
            fig.add_trace(go.Scatter(
                x=[v * 100 for _, v in true_points], y=[p for p, _ in true_points], mode="markers",
                name="true effect (simulation)", marker=dict(symbol="diamond", size=10, color="#111827",
                                                             line=dict(width=1, color="white")),
                hovertemplate="true effect %{x:+.1f} points<extra></extra>",
            ))
        fig.add_vline(x=0, line=dict(color="#1f2933", width=1.5))
        for s in separators:
            fig.add_hline(y=s, line=dict(color="#cbd2d9", width=1, dash="dot"))
        for gy, title in groups:
            fig.add_annotation(x=1, xref="paper", y=gy - 0.45, yref="y", xanchor="right", yanchor="bottom",
                               text=title, showarrow=False, font=dict(size=11, color="#7b8794"))
        fig.update_yaxes(tickvals=positions, ticktext=ticks, autorange=False, range=[y - 0.4, -0.9],
                         showgrid=False, zeroline=False)
        fig.update_xaxes(title=f"conversion uplift, percentage points ({level} interval)", zeroline=False)
        fig.update_layout(margin=dict(t=60, l=160))
        parts.append(figures.html(fig, f"uplift-{cid}", 140 + 34 * len(rows) + 18 * len(separators)))
        headers = ["Segment", "Arm", "Treated", "Control", "Conv. treated", "Conv. control", "Uplift (points)",
                   f"{level} interval", "p-value", "Min. detectable (points)"]
        if truth:
            headers.append("True effect (points)")
        table_rows = []
        for r in rows:
            line = [r["segment"] if r["segment_scheme"] != "overall" else "All targets", r["arm"],
                    count(r["treated_customers"]), count(r["control_customers"]), pct(r["treated_conversion_rate"]),
                    pct(r["control_conversion_rate"]), points(r["conversion_uplift"]),
                    f"{points(r['conversion_uplift_low'])} to {points(r['conversion_uplift_high'])}",
                    p_text(r["conversion_p_value"]),
                    "n/a" if r["minimum_detectable_uplift"] is None else f"{r['minimum_detectable_uplift'] * 100:.1f}"]
            if truth:
                known = truth.get((cid, r["segment"], r["arm"])) if r["segment_scheme"] != "rfm_tier" else None
                line.append("" if known is None else points(known))
            table_rows.append(line)
        parts.append(table(headers, table_rows, numeric_from=2))
    return "\n".join(parts)


def section_money(data: dict, figures: Figures) -> str:
    parts = ['<h2 id="money">6. Incremental margin, cost and ROI</h2>',
             "<p>Incremental margin = margin per treated customer minus per control customer, times the treated "
             "customers (error bars: its Welch interval). Campaign cost = contacts x contact cost + redemptions "
             "x offer amount. Net = incremental margin - cost; ROI = net / cost (0 breaks even).</p>"]
    for campaign in data["campaigns"]:
        cid = campaign["campaign_id"]
        parts.append(f"<h3>{esc(campaign['campaign_name'])}</h3>")
        has_outcomes, note = outcome_status(data, campaign)
        rows = [r for r in data["uplift"] if r["campaign_id"] == cid and r["segment_scheme"] == "overall"]
        if not has_outcomes or not rows:
            parts.append(callout("warn", note or "No uplift rows for this campaign."))
            continue
        arms = [r["arm"] for r in rows]
        level = level_text(rows[0]["alpha"])
        fig = go.Figure()
        margin = [r["incremental_margin"] for r in rows]
        low = [(r["margin_per_customer_diff_low"] or 0) * r["treated_customers"] for r in rows]
        high = [(r["margin_per_customer_diff_high"] or 0) * r["treated_customers"] for r in rows]
        fig.add_trace(go.Bar(
            name="incremental margin", x=arms, y=margin, marker_color="#0f766e",
            error_y=dict(type="data", symmetric=False, array=[h - m for h, m in zip(high, margin)],
                         arrayminus=[m - lo for m, lo in zip(margin, low)], color="#1f2933", thickness=1.5, width=6),
            customdata=[[lo, h] for lo, h in zip(low, high)],
            hovertemplate=(f"%{{x}}: incremental margin %{{y:,.0f}}<br>{level} interval "
                           "%{customdata[0]:,.0f} to %{customdata[1]:,.0f}<extra></extra>"),
        ))
        fig.add_trace(go.Bar(
            name="campaign cost", x=arms, y=[r["campaign_cost"] for r in rows], marker_color=GREY,
            hovertemplate="%{x}: cost %{y:,.0f}<extra></extra>",
        ))
        net = [r["net_incremental_margin"] for r in rows]
        fig.add_trace(go.Bar(
            name="net incremental margin", x=arms, y=net,
            marker_color=["#1d4ed8" if (v or 0) >= 0 else "#dc2626" for v in net],
            text=[f"ROI {r['roi']:.2f}" if r["roi"] is not None else "" for r in rows],
            textposition="outside", cliponaxis=False, textfont=dict(size=13, color="#1f2933"),
            hovertemplate="%{x}: net %{y:,.0f}<extra></extra>",
        ))
        fig.add_hline(y=0, line=dict(color="#1f2933", width=1))
        fig.update_yaxes(title="margin (currency of the data)", tickformat=",.0f")
        fig.update_layout(barmode="group", bargap=0.25, margin=dict(t=60))
        parts.append(figures.html(fig, f"money-{cid}", 400))
        parts.append(table(
            ["Arm", "Treated", "Incr. conversions", "Incr. revenue", "Incr. margin", f"{level} interval",
             "Contact cost", "Offer cost", "Campaign cost", "Net incr. margin", "ROI"],
            [[r["arm"], count(r["treated_customers"]), f"{r['incremental_conversions']:,.0f}",
              money(r["incremental_revenue"]), money(r["incremental_margin"]), f"{money(lo)} to {money(h)}",
              money(r["contact_cost"]), money(r["offer_cost"]), money(r["campaign_cost"]),
              money(r["net_incremental_margin"]), ratio(r["roi"])] for r, lo, h in zip(rows, low, high)],
        ))
        plan = next((p for p in data["planning"] if p["campaign_id"] == cid), None)
        if plan is not None and plan["expected_roi"] is not None:
            parts.append(f'<p class="note">Planned before launch (<code>campaign_roi_simulation</code>): '
                         f"{plan['assumed_conversion_rate']:.0%} assumed conversion of "
                         f"{count(plan['exposed_customers'])} "
                         f"contacted customers, expected net margin {money(plan['expected_net_margin'])}, expected "
                         f"ROI {plan['expected_roi']:.2f} (conversions, not uplift: the plan has no control "
                         "group).</p>")
    return "\n".join(parts)


def section_srm(data: dict, figures: Figures) -> str:
    parts = ['<h2 id="srm">7. Sample-ratio check</h2>',
             "<p>Do the arms hold the share of targets the plan gave them? A mismatch means customers went "
             "missing unevenly between arms, and the uplift figures cannot be trusted.</p>"]
    for campaign in data["campaigns"]:
        cid = campaign["campaign_id"]
        parts.append(f"<h3>{esc(campaign['campaign_name'])}</h3>")
        rows = [r for r in data["arms"] if r["campaign_id"] == cid]
        if not rows:
            parts.append(callout("warn", "No arm counts for this campaign."))
            continue
        p_value = rows[0]["p_value"]
        if any(r["is_sample_ratio_mismatch"] for r in rows):
            parts.append(callout("bad", f"<strong>Sample ratio mismatch</strong> (chi-square p = {p_value:.2g}): "
                                        "the arm sizes are not what the plan gave them. Do not trust this "
                                        "campaign's uplift until the cause is found."))
        elif p_value is None:
            parts.append(callout("warn", "No sample-ratio test (fewer than two arms with customers)."))
        else:
            parts.append(callout("good", f"Arm sizes match the plan (chi-square p = {p_value:.3f}, "
                                         f"{rows[0]['degrees_of_freedom']} degrees of freedom)."))
        arms = [r["arm"] for r in rows]
        fig = go.Figure()
        fig.add_trace(go.Bar(name="planned share", x=arms, y=[r["planned_share"] for r in rows], marker_color="#cbd2d9",
                             text=[f"{r['planned_share']:.1%}" for r in rows], textposition="outside",
                             cliponaxis=False, hovertemplate="%{x}: planned %{y:.2%}<extra></extra>"))
        fig.add_trace(go.Bar(name="observed share", x=arms, y=[r["observed_share"] for r in rows],
                             marker_color=[arm_colour(a, arms) for a in arms],
                             text=[f"{(r['observed_share'] or 0):.1%}" for r in rows], textposition="outside",
                             cliponaxis=False, hovertemplate="%{x}: observed %{y:.2%}<extra></extra>"))
        fig.update_yaxes(tickformat=".0%", title="share of targets", rangemode="tozero")
        fig.update_layout(barmode="group", bargap=0.3, margin=dict(t=60))
        parts.append('<div class="grid">' + figures.html(fig, f"srm-{cid}", 320) + table(
            ["Arm", "Planned share", "Expected", "Observed", "Observed share"],
            [[r["arm"], pct(r["planned_share"]), f"{r['expected_customers']:,.1f}", count(r["customers"]),
              pct(r["observed_share"], 2)] for r in rows]) + "</div>")
    return "\n".join(parts)


def verdict(row: dict, campaign: dict, has_outcomes: bool, truth: dict) -> str:
    """One sentence for an uplift row: the effect, its interval and whether it can be told from zero."""
    # "Silver cross-sell: Outerwear & Coats" -> "Silver cross-sell": the sentence reads better without the detail.
    name = campaign["campaign_name"] or campaign["campaign_id"]
    who = f"{name.split(':', 1)[0].strip() or name}, {row['arm']}, {segment_label(row)}"
    if not has_outcomes:
        return f"{who}: no outcome yet (no sale recorded in the measurement window)."
    uplift, low, high, alpha = (row["conversion_uplift"], row["conversion_uplift_low"],
                                row["conversion_uplift_high"], row["alpha"])
    if uplift is None or row["conversion_p_value"] is None:
        return f"{who}: no test possible (no variation in conversion between the groups)."
    text = f"{who}: {points(uplift)} points ({level_text(alpha)} interval {points(low)} to {points(high)}), "
    if campaign.get("was_sent") is False:
        # Arms laid over history: nothing was sent, so whatever the numbers say is noise.
        if row["is_significant"]:
            return text + (f"'significant' at {alpha_text(alpha)}, but this campaign was never sent: a false "
                           "positive of the kind a test gives one time in twenty, not an effect.")
        return text + "as expected for a campaign that was never sent: noise, not an effect."
    if row["is_significant"]:
        text += f"significant at {alpha_text(alpha)}"
        if uplift < 0:
            text += ": this arm lowers conversion"
    else:
        mde = row["minimum_detectable_uplift"]
        text += "not distinguishable from zero"
        if mde is not None:
            text += f" (the smallest uplift this test could detect is {mde * 100:.1f} points)"
    known = truth.get((row["campaign_id"], row["segment"], row["arm"])) if row["segment_scheme"] != "rfm_tier" else None
    if known is not None:
        text += f"; the simulation's true effect: {points(known)} points"
    return text + "."


def section_verdicts(data: dict, truth: dict) -> str:
    parts = ['<h2 id="verdicts">8. Verdicts</h2>',
             "<p>Every measured effect in plain words. \"Not distinguishable from zero\" is not \"no effect\": "
             "with a large minimum detectable uplift the test was too small to tell.</p>"]
    for campaign in data["campaigns"]:
        cid = campaign["campaign_id"]
        parts.append(f"<h3>{esc(campaign['campaign_name'])}</h3>")
        has_outcomes, note = outcome_status(data, campaign)
        if note:
            parts.append(callout("warn" if not has_outcomes else "info", note))
        if campaign.get("was_sent") is False:
            parts.append(callout("info", "A/A check: this campaign was never sent. Its arms were laid over "
                                         "history, so every difference between them is noise, whatever its sign. "
                                         "A negative row is not cannibalisation, and a significant one is the "
                                         "false positive that one test in twenty gives at 95 %."))
        if any(r["is_sample_ratio_mismatch"] for r in data["arms"] if r["campaign_id"] == cid):
            parts.append(callout("bad", "Sample ratio mismatch: the verdicts below cannot be trusted."))
        rows = [r for r in data["uplift"] if r["campaign_id"] == cid]
        if not rows:
            parts.append(callout("warn", "No uplift rows for this campaign."))
            continue
        items = []
        for r in rows:
            significant = has_outcomes and bool(r["is_significant"]) and campaign.get("was_sent") is not False
            kind = "neutral" if not significant else ("positive" if (r["conversion_uplift"] or 0) >= 0 else "negative")
            items.append(
                f'<li class="verdict {kind}" data-campaign="{esc(cid)}" data-scheme="{esc(r["segment_scheme"])}" '
                f'data-segment="{esc(r["segment"])}" data-arm="{esc(r["arm"])}">'
                f"{esc(verdict(r, campaign, has_outcomes, truth))}</li>"
            )
        parts.append('<ul class="verdicts">' + "".join(items) + "</ul>")
    return "\n".join(parts)


def missing_note(part: dict, what: str) -> str:
    """The one line shown instead of a section whose marts this warehouse does not have."""
    names = ", ".join(f"<code>{esc(name)}</code>" for name in part["missing"])
    problem = "has an older version of the" if part.get("outdated") else "has no"
    return callout("warn", f"This warehouse {problem} {what} marts ({names}): rebuild it with "
                           "<code>dbt build</code> to see this section.")


TRANSFORM_TEXT = {"log1p": "log(1 + value), then standardised", "none": "standardised, not transformed"}
OUTLIER_TEXT = {
    "none": "none set aside (<code>cluster_outliers = none</code>)",
    "iqr": "customers beyond 1.5 &times; IQR on monetary or frequency set aside as outlier groups "
           "(<code>cluster_outliers = iqr</code>)",
}


def cluster_choice_text(selection: list[dict], outlier_customers: int) -> str:
    """How k was chosen and with which options, in one paragraph (HTML)."""
    first = selection[0]
    chosen = [r for r in selection if r["is_chosen"]]
    ks = [r["k"] for r in selection]
    scored = [r for r in selection if r["silhouette"] is not None]
    best = max(scored, key=lambda r: (r["silhouette"], -r["k"])) if scored else None
    span = f"k = {min(ks)} to {max(ks)}" if len(ks) > 1 else f"k = {ks[0]}"
    if not chosen:
        how = "<strong>no k is marked as chosen</strong>"
    elif first["k_setting"] == "auto":
        k = chosen[0]
        how = (f"<strong>k = {k['k']} was chosen</strong>, the best silhouette ({ratio(k['silhouette'], 3)}) "
               "of the k tried (<code>cluster_k = auto</code>)")
    else:
        k = chosen[0]
        how = (f"<strong>k = {k['k']} was chosen</strong>, fixed by <code>cluster_k = {esc(first['k_setting'])}</code> "
               f"(silhouette {ratio(k['silhouette'], 3)})")
        if best is not None and best["k"] != k["k"]:
            how += f"; the best silhouette of the k tried was at k = {best['k']} ({ratio(best['silhouette'], 3)})"
    clustered = first["clustered_customers"]
    searched = first.get("k_search_customers")
    sampled_search = searched is not None and clustered is not None and searched < clustered
    on_sample = (f" on {count(searched)} of them, those with the lowest hash of their id "
                 "(<code>cluster_k_search_sample_size</code>), the chosen k then fitted on all" if sampled_search else "")
    sample = first["silhouette_sample_size"]
    tried_on = searched if sampled_search else clustered
    silhouette_on = (f"a seeded sample of {count(sample)} customers" if sample is not None and tried_on is not None
                     and tried_on > sample else ("the search's customers" if sampled_search
                                                 else "every clustered customer"))
    outliers = OUTLIER_TEXT.get(first["outliers"], f"<code>{esc(first['outliers'])}</code>")
    if outlier_customers:
        outliers += f": {count(outlier_customers)} customers"
    return (f"<p>K-means on recency, frequency and monetary value "
            f"({esc(TRANSFORM_TEXT.get(first['transform'], first['transform']))}) of {count(clustered)} customers, "
            f"tried for {span}{on_sample}: {how}. Options: outliers {outliers}; seed {esc(first['seed'])}, "
            f"{esc(first['n_init'])} initialisations per k (the lowest inertia kept); silhouette on "
            f"{silhouette_on}.</p>")


def section_clusters(data: dict, figures: Figures) -> str:
    parts = ['<h2 id="clusters">9. Customer clusters (K-means on RFM)</h2>']
    clusters = data.get("clusters") or {"missing": list(CLUSTER_MARTS)}
    if "missing" in clusters:
        parts.append(missing_note(clusters, "customer-cluster"))
        return "\n".join(parts)
    parts.append("<p>The same pre-launch recency, frequency and monetary features as section 1, grouped by K-means "
                 "instead of fixed rules. The elbow chart shows the within-cluster sum of squares (inertia, lower is "
                 "tighter; it always falls as k grows) and the silhouette (higher is better separated) for every k "
                 "tried. Clusters are numbered by centroid value (1 = most valuable) and named from the centroid. "
                 "Campaigns launched the same day share their clusters: each launch date is shown once.</p>")
    names = {c["campaign_id"]: c["campaign_name"] or c["campaign_id"] for c in data["campaigns"]}
    by_launch: dict[str, list[dict]] = {}
    for row in clusters["selection"]:
        by_launch.setdefault(row["launch_date"], []).append(row)
    if not by_launch:
        parts.append(callout("warn", "No clusters: <code>cluster_selection</code> is empty."))
    for launch, rows in by_launch.items():
        campaign_ids = sorted({r["campaign_id"] for r in rows})
        shown = campaign_ids[0]
        selection = [r for r in rows if r["campaign_id"] == shown]
        parts.append(f"<h3>As of {esc(launch)} <span class=\"muted\">"
                     f"({esc(', '.join(names.get(c, c) for c in campaign_ids))})</span></h3>")
        profiles = [r for r in clusters["profiles"] if r["campaign_id"] == shown]
        outlier_customers = sum(r["customers"] or 0 for r in profiles if r["is_outlier_group"])
        parts.append(cluster_choice_text(selection, outlier_customers))

        ks = [r["k"] for r in selection]
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_trace(go.Scatter(
            x=ks, y=[r["inertia"] for r in selection], name="inertia", mode="lines+markers",
            line=dict(color="#334e68", width=2.5), marker=dict(size=7),
            hovertemplate="k = %{x}<br>inertia %{y:,.0f}<extra></extra>",
        ), secondary_y=False)
        fig.add_trace(go.Scatter(
            x=ks, y=[r["silhouette"] for r in selection], name="silhouette", mode="lines+markers",
            line=dict(color="#d97706", width=2.5, dash="dot"), marker=dict(size=7),
            hovertemplate="k = %{x}<br>silhouette %{y:.3f}<extra></extra>",
        ), secondary_y=True)
        for r in (r for r in selection if r["is_chosen"]):
            fig.add_trace(go.Scatter(
                x=[r["k"]], y=[r["silhouette"]], name=f"chosen k = {r['k']}", mode="markers",
                marker=dict(symbol="star", size=18, color="#dc2626", line=dict(width=1, color="white")),
                hovertemplate="chosen k = %{x}<br>silhouette %{y:.3f}<extra></extra>",
            ), secondary_y=True)
            fig.add_vline(x=r["k"], line=dict(color="#dc2626", width=1, dash="dash"))
        fig.update_xaxes(title="k (number of clusters)", dtick=1)
        fig.update_yaxes(title="inertia (within-cluster sum of squares)", tickformat=",.0f", rangemode="tozero",
                         secondary_y=False)
        fig.update_yaxes(title="silhouette", tickformat=".2f", showgrid=False, secondary_y=True)
        fig.update_layout(margin=dict(t=60))
        parts.append(figures.html(fig, f"cluster-elbow-{launch}", 360))

        if not profiles:
            parts.append(callout("warn", "No cluster profile for this launch date."))
            continue
        if outlier_customers:
            parts.append(callout("info", "Rows marked <strong>outlier group</strong> are customers set aside "
                                         "before K-means (<code>cluster_outliers = iqr</code>), not clusters: "
                                         "their figures describe the group, which K-means never saw."))
        parts.append(table(
            ["Cluster", "Action", "Customers", "Share", "Median recency (days)", "Median frequency (orders)",
             "Median monetary (revenue)", "Revenue share"],
            [[f"{r['cluster_name']} (outlier group)" if r["is_outlier_group"] else
              (f"{r['cluster_id']}. {r['cluster_name']}" if r["cluster_id"] is not None else r["cluster_name"]),
              r["cluster_action"], count(r["customers"]), pct(r["customer_share"]),
              count(r["median_recency_days"]), ratio(r["median_frequency"], 1), money(r["median_monetary"]),
              pct(r["revenue_share"])] for r in profiles],
            numeric_from=2, row_classes=["outlier" if r["is_outlier_group"] else "" for r in profiles]))

        crossed = [r for r in clusters["by_segment"] if r["campaign_id"] == shown]
        cluster_names = [r["cluster_name"] for r in profiles]
        cluster_labels = [f"{name} (outlier group)" if r["is_outlier_group"] else name
                          for name, r in zip(cluster_names, profiles)]
        schemes = [(s, title) for s, title in (("rfm_tier", "RFM tier"), ("lifecycle", "Lifecycle"))
                   if any(r["segment_scheme"] == s for r in crossed)]
        if not schemes:
            parts.append(callout("warn", "No cluster-by-segment rows for this launch date."))
            continue
        parts.append("<p>Clusters against the rule-based segments of section 1: the share of each cluster's "
                     "customers in each segment (a row adds up to 100 % within a scheme).</p>")
        fig = make_subplots(rows=1, cols=len(schemes), subplot_titles=[t for _, t in schemes],
                            horizontal_spacing=0.06, shared_yaxes=True)
        for col, (scheme, _) in enumerate(schemes, start=1):
            segments = sorted({r["segment"] for r in crossed if r["segment_scheme"] == scheme}, key=_segment_key)
            found = {(r["cluster_name"], r["segment"]): r for r in crossed if r["segment_scheme"] == scheme}
            z = [[found[(c, s)]["share_of_cluster"] if (c, s) in found else 0 for s in segments] for c in cluster_names]
            fig.add_trace(go.Heatmap(
                z=z, x=segments, y=cluster_labels, zmin=0, zmax=1, colorscale="Blues", showscale=col == 1,
                colorbar=dict(title="share of cluster", tickformat=".0%", len=0.9),
                text=[[pct(v, 0) for v in line] for line in z], texttemplate="%{text}",
                customdata=[[found[(c, s)]["customers"] if (c, s) in found else 0 for s in segments]
                            for c in cluster_names],
                hovertemplate="%{y} in %{x}: %{z:.1%} of the cluster<br>%{customdata:,} customers<extra></extra>",
                name=scheme,
            ), row=1, col=col)
        fig.update_yaxes(autorange="reversed")
        fig.update_annotations(font_size=13)
        fig.update_layout(margin=dict(t=50))
        parts.append(figures.html(fig, f"cluster-segments-{launch}", max(220, 110 + 44 * len(cluster_names))))
    return "\n".join(parts)


BG_NBD_PARAMETERS = {"r": 0, "alpha": 1, "a": 2, "b": 3}
GAMMA_GAMMA_PARAMETERS = {"p": 0, "q": 1, "gamma": 2}
MODEL_ORDER = {"bg_nbd": 0, "gamma_gamma": 1}
MODEL_TITLES = {"bg_nbd": "BG/NBD", "gamma_gamma": "Gamma-Gamma"}
PARAMETER_MEANINGS = {
    ("bg_nbd", "r"): "shape of the Gamma spread of purchase rates",
    ("bg_nbd", "alpha"): "scale of the Gamma spread of purchase rates",
    ("bg_nbd", "a"): "Beta spread of the dropout probability",
    ("bg_nbd", "b"): "Beta spread of the dropout probability",
    ("gamma_gamma", "p"): "shape of the spend per purchase day",
    ("gamma_gamma", "q"): "shape of the spread of customers' mean spend",
    ("gamma_gamma", "gamma"): "scale of the spread of customers' mean spend",
}
PREDICTOR_ORDER = {"bg_nbd_one_minus_p_alive": 0, "bg_nbd_p_no_purchase": 1, "logistic_rfm": 2}
PREDICTOR_LABELS = {
    "bg_nbd_one_minus_p_alive": "1 − P(alive), BG/NBD",
    "bg_nbd_p_no_purchase": "P(no purchase in the window), BG/NBD",
    "logistic_rfm": "Logistic regression on recency, frequency, monetary",
}
PREDICTOR_PHRASES = {
    "bg_nbd_p_no_purchase": "the model's own probability of no purchase in the window",
    "logistic_rfm": "the logistic regression on recency, frequency and monetary value",
}
PREDICTOR_COLOURS = {"bg_nbd_one_minus_p_alive": "#dc2626", "bg_nbd_p_no_purchase": "#2563eb",
                     "logistic_rfm": "#059669"}
RISK_ORDER = {"high": 0, "medium": 1, "low": 2}
RISK_COLOURS = {"high": "#dc2626", "medium": "#d97706", "low": "#059669"}


def _parameter_key(row: dict) -> tuple:
    order = BG_NBD_PARAMETERS if row["model"] == "bg_nbd" else GAMMA_GAMMA_PARAMETERS
    return (MODEL_ORDER.get(row["model"], 9), row["model"], order.get(row["parameter"], 9), row["parameter"])


def churn_callout(aucs: dict[str, float]) -> tuple[str, str]:
    """(callout kind, HTML): why 1 - P(alive) misranks, and how it compares, worded from the AUCs themselves."""
    text = ("<strong>1 − P(alive) gives every one-purchase customer the lowest churn risk.</strong> BG/NBD lets a "
            "customer drop out only after a purchase, so a customer seen on a single purchase day is certainly "
            "still \"alive\" (1 − P(alive) = 0), though such customers are the least likely to come back.")
    base = aucs.get("bg_nbd_one_minus_p_alive")
    if base is None:
        return "info", text
    others = sorted((p for p in aucs if p != "bg_nbd_one_minus_p_alive" and aucs[p] is not None),
                    key=lambda p: (PREDICTOR_ORDER.get(p, 9), p))
    text += f" Its AUC is {auc_text(base)}"
    if round(base, 3) < 0.5:
        text += " (below 0.5: worse than ranking at random)"
    groups = {"worse": [], "better": [], "same": []}
    for p in others:
        other = round(aucs[p], 3)
        groups["worse" if round(base, 3) < other else "better" if round(base, 3) > other else "same"].append(p)
    clauses = []
    for key, lead in (("worse", "it ranks worse than"), ("same", "it ranks as well as"),
                      ("better", "it ranks better than")):
        if groups[key]:
            joiner = " and as " if key == "same" else " and than "
            clauses.append(lead + " " + joiner.join(
                f"{PREDICTOR_PHRASES.get(p, esc(p))} (AUC {auc_text(aucs[p])})" for p in groups[key]))
    if clauses:
        text += ": " + "; ".join(clauses)
    text += "."
    ranked = sorted((p for p in aucs if aucs[p] is not None),
                    key=lambda p: (-round(aucs[p], 3), PREDICTOR_ORDER.get(p, 9)))
    if len(ranked) > 1 and round(aucs[ranked[0]], 3) > round(aucs[ranked[1]], 3):
        text += (f" The best ranking here: {esc(PREDICTOR_LABELS.get(ranked[0], ranked[0]))} "
                 f"(AUC {auc_text(aucs[ranked[0]])}).")
    return ("warn" if groups["worse"] else "info"), text


def section_customer_value(data: dict, figures: Figures) -> str:
    parts = ['<h2 id="customer-value">10. Customer value (BG/NBD + Gamma-Gamma)</h2>']
    value = data.get("value") or {"missing": list(VALUE_MARTS)}
    if "missing" in value:
        parts.append(missing_note(value, "customer-value"))
        return "\n".join(parts)
    parts.append("<p>BG/NBD models each customer's purchase days (a purchase rate while active, and a chance to "
                 "drop out after each purchase); Gamma-Gamma models the spend per purchase day. Together they give "
                 "P(alive), expected purchases and a customer lifetime value (CLV).</p>")

    # Parameters of the reference fit.
    parts.append("<h3>Fitted parameters</h3>")
    fit = sorted((r for r in value["fit"] if r["fit_scope"] == "reference"), key=_parameter_key)
    if not fit:
        parts.append(callout("warn", "No reference fit in <code>customer_value_fit</code>."))
    else:
        first = fit[0]
        parts.append(f"<p>Maximum likelihood on purchase days from {esc(first['calibration_start'])} to "
                     f"{esc(first['calibration_end'])} (reference date {esc(first['reference_date'])}); time in "
                     f"{esc(first['time_unit'] or 'day')}s, with alpha also in weeks. Standard errors from the inverse "
                     "Hessian. Gamma-Gamma is fitted only on customers with a repeat purchase day.</p>")
        if not all(r["converged"] for r in fit):
            parts.append(callout("bad", "The optimiser did not report convergence for "
                                        + esc(", ".join(sorted({MODEL_TITLES.get(r["model"], r["model"])
                                                                for r in fit if not r["converged"]})))
                                        + ": the parameters are not to be trusted."))
        parts.append(table(
            ["Model", "Parameter", "Meaning", "Estimate", "Std. error", "Estimate (weeks)", "Log-likelihood",
             "Customers"],
            [[MODEL_TITLES.get(r["model"], r["model"]), r["parameter"],
              PARAMETER_MEANINGS.get((r["model"], r["parameter"]), ""), significant(r["estimate"]),
              significant(r["std_error"]),
              # Only the parameters that carry time (alpha) differ in weeks.
              significant(r["estimate_weeks"])
              if r["estimate_weeks"] is not None and r["estimate_weeks"] != r["estimate"] else "",
              f"{r['log_likelihood']:,.1f}" if r["log_likelihood"] is not None else "n/a", count(r["customers"])]
             for r in fit],
            numeric_from=3))

    # Holdout check.
    parts.append("<h3>Holdout check</h3>")
    holdout = value["holdout"]
    if not holdout:
        parts.append(callout("warn", "No rows in <code>customer_value_holdout</code>."))
    else:
        start, end = holdout[0]["holdout_start"], holdout[0]["holdout_end"]
        last = _day_before(end)
        days = date.fromisoformat(end).toordinal() - date.fromisoformat(start).toordinal()
        mae = holdout[0]["mean_absolute_error"]
        parts.append(f"<p>BG/NBD fitted again on the purchase days before {esc(long_date(start))} only, then asked "
                     f"how many purchase days each customer would have from {esc(long_date(start))} to "
                     f"{esc(long_date(last))} ({days} days), against what they actually did, by the number of repeat "
                     f"purchase days before the cutoff. <strong>Mean absolute error: {ratio(mae, 4)} purchase days "
                     "per customer</strong> (weighted by customers).</p>")
        groups = [r["frequency_group"] for r in holdout]
        fig = go.Figure()
        for key, name, colour in (("actual_mean", "actual", "#334e68"), ("predicted_mean", "predicted (BG/NBD)",
                                                                          "#d97706")):
            fig.add_trace(go.Bar(
                x=groups, y=[r[key] for r in holdout], name=name, marker_color=colour,
                customdata=[r["customers"] for r in holdout],
                hovertemplate=(f"{name}<br>%{{x}} repeat purchase days before the cutoff<br>%{{y:.3f}} purchase "
                               "days per customer<br>%{customdata:,} customers<extra></extra>"),
            ))
        fig.update_xaxes(title="repeat purchase days before the cutoff", type="category")
        fig.update_yaxes(title="mean purchase days in the holdout", rangemode="tozero")
        fig.update_layout(barmode="group", bargap=0.25, margin=dict(t=60))
        parts.append('<div class="grid">' + figures.html(fig, "value-holdout", 360) + table(
            ["Repeat days", "Customers", "Actual mean", "Predicted mean", "Absolute error"],
            [[r["frequency_group"], count(r["customers"]), ratio(r["actual_mean"], 3), ratio(r["predicted_mean"], 3),
              ratio(r["absolute_error"], 3)] for r in holdout]) + "</div>")

    # Churn predictors.
    parts.append("<h3>Churn predictors</h3>")
    churn = value["churn"]
    if not churn:
        parts.append(callout("warn", "No rows in <code>churn_model_evaluation</code>."))
    else:
        start, end = churn[0]["holdout_start"], churn[0]["holdout_end"]
        predictors = sorted({r["predictor"] for r in churn}, key=lambda p: (PREDICTOR_ORDER.get(p, 9), p))
        aucs = {p: next(r["auc"] for r in churn if r["predictor"] == p) for p in predictors}
        parts.append(f"<p>Which customers made no purchase from {esc(long_date(start))} to "
                     f"{esc(long_date(_day_before(end)))} ({pct(churn[0]['observed_base_rate'])} of them), predicted "
                     "from the data before that window only. AUC: the chance that a customer with no purchase is "
                     "ranked riskier than one with a purchase (0.5 = random, 1 = perfect). The chart compares each "
                     "predictor's mean prediction with the observed rate, by decile of the prediction.</p>")
        kind, text = churn_callout(aucs)
        parts.append(callout(kind, text))
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                                 line=dict(color="#9aa5b1", dash="dash", width=1), hoverinfo="skip"))
        for p in predictors:
            rows = [r for r in churn if r["predictor"] == p]
            fig.add_trace(go.Scatter(
                x=[r["mean_predicted"] for r in rows], y=[r["observed_rate"] for r in rows], mode="lines+markers",
                name=PREDICTOR_LABELS.get(p, p), line=dict(color=PREDICTOR_COLOURS.get(p, GREY), width=2),
                customdata=[[r["decile"], r["customers"]] for r in rows],
                hovertemplate=("decile %{customdata[0]} (%{customdata[1]:,} customers)<br>predicted %{x:.1%}"
                               "<br>observed %{y:.1%}<extra></extra>"),
            ))
        fig.update_xaxes(title="mean predicted probability of no purchase", tickformat=".0%", range=[0, 1])
        fig.update_yaxes(title="observed share with no purchase", tickformat=".0%", range=[0, 1])
        fig.update_layout(margin=dict(t=80), legend=dict(orientation="v", y=1.02, yanchor="bottom"))
        parts.append('<div class="grid">' + figures.html(fig, "value-churn-calibration", 420) + table(
            ["Predictor", "AUC"], [[PREDICTOR_LABELS.get(p, p), auc_text(aucs[p])] for p in predictors]) + "</div>")

    # CLV by churn-risk band.
    parts.append("<h3>CLV by churn-risk band</h3>")
    bands = sorted(value["bands"], key=lambda r: (RISK_ORDER.get(r["churn_risk"], 9), r["churn_risk"] or ""))
    settings = value["settings"][0] if value["settings"] else {}
    if not bands:
        parts.append(callout("warn", "No customer in <code>customer_value</code>."))
        return "\n".join(parts)
    horizon = (f"{count(settings['min_horizon_days'])} days" if settings.get("min_horizon_days") is not None
               and settings["min_horizon_days"] == settings["max_horizon_days"] else "the configured horizon")
    margin_rate = (f"a margin rate of {pct(settings['min_margin_rate'])}" if settings.get("min_margin_rate") is not None
                   and settings["min_margin_rate"] == settings["max_margin_rate"] else "the margin rate")
    discount = (f"discounted at {pct(settings['min_discount_rate'])} a year"
                if settings.get("min_discount_rate") is not None
                and settings["min_discount_rate"] == settings["max_discount_rate"] else "discounted")
    parts.append(f"<p>CLV: the expected margin over the {horizon} from {esc(settings.get('reference_date'))} "
                 f"(expected purchase days x expected spend per purchase day x {margin_rate}), {discount}. "
                 "Churn risk is the band of P(alive); its range in each band is in the table.</p>")
    total_customers = sum(r["customers"] for r in bands) or 1
    total_clv = sum(r["total_clv"] or 0 for r in bands) or 1
    labels = [r["churn_risk"] for r in bands]
    colours = [RISK_COLOURS.get(r["churn_risk"], GREY) for r in bands]
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.09,
                        subplot_titles=("Customers", "Mean CLV per customer", "Total CLV"))
    for col, (key, fmt) in enumerate((("customers", "{:,.0f}"), ("mean_clv", "{:,.2f}"), ("total_clv", "{:,.0f}")),
                                     start=1):
        fig.add_trace(go.Bar(
            x=labels, y=[r[key] for r in bands], marker_color=colours, showlegend=False, name=key,
            text=[fmt.format(r[key]) for r in bands], textposition="outside", cliponaxis=False,
            hovertemplate="churn risk %{x}<br>%{y:,.2f}<extra></extra>",
        ), row=1, col=col)
        fig.update_yaxes(range=[0, max((r[key] or 0) for r in bands) * 1.18 or 1], row=1, col=col)
    fig.update_xaxes(title="churn risk")
    fig.update_annotations(font_size=13)
    fig.update_layout(bargap=0.3, margin=dict(t=50))
    parts.append(figures.html(fig, "value-clv-bands", 340))
    parts.append(table(
        ["Churn risk", "P(alive) range", "Customers", "Share", "Mean CLV", "Median CLV", "Total CLV",
         "Share of CLV"],
        [[r["churn_risk"], f"{ratio(r['min_p_alive'], 3)} to {ratio(r['max_p_alive'], 3)}", count(r["customers"]),
          pct(r["customers"] / total_customers), ratio(r["mean_clv"], 2), ratio(r["median_clv"], 2),
          money(r["total_clv"]), pct((r["total_clv"] or 0) / total_clv)] for r in bands],
        numeric_from=1))
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------- 11-13: CUPED,
# the uplift model, imported campaigns


def _forest_positions(groups_of_rows: list[str]) -> tuple[list[float], list[float], list[tuple[float, str]], float]:
    """Section 5's layout for any list of rows: one line per row, a gap and a dotted line between groups.
    Returns the positions, the separators, (position, title) of each group and the position after the last row."""
    positions, separators, groups = [], [], []
    y, previous = 0.0, None
    for group in groups_of_rows:
        if previous is not None and group != previous:
            separators.append(y + 0.25)
            y += 0.5
        if group != previous:
            groups.append((y, group))
        previous = group
        positions.append(y)
        y += 1
    return positions, separators, groups, y


def _forest_frame(fig: go.Figure, positions: list[float], ticks: list[str], separators: list[float],
                  groups: list[tuple[float, str]], end: float, x_title: str) -> None:
    fig.add_vline(x=0, line=dict(color="#1f2933", width=1.5))
    for s in separators:
        fig.add_hline(y=s, line=dict(color="#cbd2d9", width=1, dash="dot"))
    for gy, title in groups:
        fig.add_annotation(x=1, xref="paper", y=gy - 0.45, yref="y", xanchor="right", yanchor="bottom",
                           text=esc(title), showarrow=False, font=dict(size=11, color="#7b8794"))
    fig.update_yaxes(tickvals=positions, ticktext=ticks, autorange=False, range=[end - 0.4, -0.9],
                     showgrid=False, zeroline=False)
    fig.update_xaxes(title=x_title, zeroline=False)
    fig.update_layout(margin=dict(t=60, l=200))


def signed(value, digits: int = 2) -> str:
    """A difference of amounts with its sign: +14.18, -6.48 (never "-0.00": adding 0.0 drops the zero's sign)."""
    return "n/a" if value is None else f"{round(value, digits) + 0.0:+,.{digits}f}"


def number(value, digits: int = 1) -> str:
    """A figure with thousands separators and fixed decimals: 1,089.6, -83.8."""
    return "n/a" if value is None else f"{value:,.{digits}f}"


def interval_text(low, high, fmt=signed) -> str:
    return "n/a" if low is None or high is None else f"{fmt(low)} to {fmt(high)}"


def covers(low, high, value) -> bool:
    return low is not None and high is not None and low <= value <= high


def _sorted_uplift_rows(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["campaign_id"], SCHEME_ORDER.get(r["segment_scheme"], 9),
                                       _segment_key(r["segment"]), _arm_key(r["arm"])))


def section_cuped(data: dict, truth_revenue: dict, figures: Figures) -> str:
    parts = ['<h2 id="cuped">11. Revenue per customer, plain and CUPED-adjusted</h2>']
    cuped = data.get("cuped") or {"missing": list(CUPED_MARTS)}
    if "missing" in cuped:
        parts.append(missing_note(cuped, "CUPED"))
        return "\n".join(parts)
    parts.append("<p>Revenue in the measurement window per treated customer minus per control customer (customers "
                 "without a purchase count as 0), with its Welch interval, next to the same difference adjusted "
                 "with CUPED: every customer's revenue minus theta &times; (their pre-launch spending X &minus; "
                 "its mean), theta = cov(revenue, X) / var(X) over the comparison's customers (X as defined in "
                 "<code>uplift_revenue_cuped</code>). X is known before the send, so the adjustment stays "
                 "unbiased; it narrows the interval by the share of the variance that X explains (the variance "
                 "reduction)."
                 + (" Black diamonds: the revenue uplift per customer the simulation injected." if truth_revenue
                    else "") + "</p>")
    rows_all = _sorted_uplift_rows(cuped["rows"])
    for campaign in data["campaigns"]:
        cid = campaign["campaign_id"]
        parts.append(f"<h3>{esc(campaign['campaign_name'])}</h3>")
        has_outcomes, note = outcome_status(data, campaign)
        rows = [r for r in rows_all if r["campaign_id"] == cid]
        if not has_outcomes:
            parts.append(callout("warn", note))
            continue
        if not rows:
            parts.append(callout("warn", "No rows for this campaign in <code>uplift_revenue_cuped</code>."))
            continue
        level = level_text(rows[0]["alpha"])
        reductions = [r["variance_reduction"] for r in rows if r["variance_reduction"] is not None]
        thetas = [r["cuped_theta"] for r in rows if r["cuped_theta"] is not None]
        text = ""
        if reductions:
            text = (f"CUPED removed {pct(min(reductions))} to {pct(max(reductions))} of the variance of the "
                    f"difference (theta {significant(min(thetas))} to {significant(max(thetas))})")
            text += (": pre-launch spending explains little of the window's revenue here, so the intervals barely "
                     "narrow." if max(reductions) < 0.05 else ".")
        known = [(r, truth_revenue[(cid, r["segment"], r["arm"])]) for r in rows
                 if r["segment_scheme"] != "rfm_tier" and (cid, r["segment"], r["arm"]) in truth_revenue]
        if known:
            cuped_in = sum(covers(r["cuped_revenue_per_customer_diff_low"], r["cuped_revenue_per_customer_diff_high"],
                                  v) for r, v in known)
            plain_in = sum(covers(r["revenue_per_customer_diff_low"], r["revenue_per_customer_diff_high"], v)
                           for r, v in known)
            text += (f" The CUPED interval covers the simulation's injected revenue uplift in {cuped_in} of "
                     f"{len(known)} comparisons (the unadjusted interval in {plain_in} of {len(known)}).")
        if text:
            parts.append(f'<p class="cuped-summary">{text.strip()}</p>')

        positions, separators, groups, end = _forest_positions(
            [SCHEME_TITLES.get(r["segment_scheme"], r["segment_scheme"]) for r in rows])
        ticks = [f"{'All targets' if r['segment_scheme'] == 'overall' else r['segment']} · {r['arm']}" for r in rows]
        fig = go.Figure()
        for name, prefix, offset, colour, symbol in (
                ("unadjusted", "revenue_per_customer_diff", -0.17, "#7b8794", "circle"),
                ("CUPED-adjusted", "cuped_revenue_per_customer_diff", 0.17, "#0f766e", "square")):
            picked = [(p, r, t) for p, r, t in zip(positions, rows, ticks)
                      if None not in (r[prefix], r[f"{prefix}_low"], r[f"{prefix}_high"])]
            fig.add_trace(go.Scatter(
                x=[r[prefix] for _, r, _ in picked], y=[p + offset for p, _, _ in picked], mode="markers",
                name=name, marker=dict(symbol=symbol, size=10, color=colour),
                error_x=dict(type="data", symmetric=False, color=colour, thickness=2, width=4,
                             array=[r[f"{prefix}_high"] - r[prefix] for _, r, _ in picked],
                             arrayminus=[r[prefix] - r[f"{prefix}_low"] for _, r, _ in picked]),
                customdata=[[t, r[f"{prefix}_low"], r[f"{prefix}_high"]] for _, r, t in picked],
                hovertemplate=(f"<b>%{{customdata[0]}}</b><br>{name} %{{x:+,.2f}} per customer<br>{level} interval "
                               "%{customdata[1]:+,.2f} to %{customdata[2]:+,.2f}<extra></extra>"),
            ))
        if known:
            where = {id(r): p for p, r in zip(positions, rows)}
            fig.add_trace(go.Scatter(
                x=[v for _, v in known], y=[where[id(r)] for r, _ in known], mode="markers",
                name="injected by the simulation", marker=dict(symbol="diamond", size=10, color="#111827",
                                                               line=dict(width=1, color="white")),
                hovertemplate="injected %{x:+,.2f} per customer<extra></extra>",
            ))
        _forest_frame(fig, positions, ticks, separators, groups, end,
                      f"revenue per customer, treated minus control ({level} interval)")
        parts.append(figures.html(fig, f"cuped-{cid}", 140 + 40 * len(rows) + 18 * len(separators)))
        headers = ["Segment", "Arm", "Treated", "Control", "Difference", f"{level} interval", "p-value", "Theta",
                   "CUPED difference", f"CUPED {level} interval", "CUPED p-value", "Variance reduction"]
        if truth_revenue:
            headers.append("Injected uplift")
        table_rows = []
        for r in rows:
            line = [r["segment"] if r["segment_scheme"] != "overall" else "All targets", r["arm"],
                    count(r["treated_customers"]), count(r["control_customers"]),
                    signed(r["revenue_per_customer_diff"]),
                    interval_text(r["revenue_per_customer_diff_low"], r["revenue_per_customer_diff_high"]),
                    p_text(r["revenue_p_value"]), significant(r["cuped_theta"]),
                    signed(r["cuped_revenue_per_customer_diff"]),
                    interval_text(r["cuped_revenue_per_customer_diff_low"], r["cuped_revenue_per_customer_diff_high"]),
                    p_text(r["cuped_revenue_p_value"]), pct(r["variance_reduction"])]
            if truth_revenue:
                value = truth_revenue.get((cid, r["segment"], r["arm"])) if r["segment_scheme"] != "rfm_tier" else None
                line.append("" if value is None else signed(value))
            table_rows.append(line)
        parts.append(table(headers, table_rows, numeric_from=2))
    return "\n".join(parts)


def best_share(targeting: list[dict]) -> dict | None:
    """The targeting row with the highest expected net margin (the smaller share on a tie), or None."""
    usable = [r for r in targeting if r["net_margin"] is not None]
    return max(usable, key=lambda r: (r["net_margin"], -r["share"])) if usable else None


def model_verdict(first: dict) -> tuple[str, str]:
    """(callout kind, HTML): does the model beat random targeting, from its Qini coefficient and areas."""
    coefficient = first["qini_coefficient"]
    if coefficient is None:
        return "warn", ("The Qini coefficient is undefined" + (f": {esc(first['note'])}" if first["note"] else "")
                        + ".")
    areas = (f"area under its Qini curve {number(first['qini_area'])} incremental conversions against "
             f"{number(first['random_area'])} for random targeting and {number(first['perfect_area'])} for the "
             f"perfect ranking; Qini coefficient {coefficient:.3f}")
    if round(coefficient, 3) > 0:
        return "good", (f"<strong>The model beats random targeting</strong> ({areas}: it captures "
                        f"{pct(coefficient)} of the perfect ranking's gain over random).")
    if round(coefficient, 3) < 0:
        return "warn", f"<strong>The model ranks worse than random targeting</strong> ({areas})."
    return "warn", f"<strong>The model does no better than random targeting</strong> ({areas})."


def targeting_text(arm: str, targeting: list[dict]) -> str:
    """Which share to contact, in words, from the targeting table's net margins."""
    best = best_share(targeting)
    if best is None:
        return "No share has both treated and control customers: no targeting estimate."
    everyone = max(targeting, key=lambda r: r["share"])
    top = f"the top {best['share'] * 100:.0f} % by predicted uplift ({count(best['customers'])} customers)"
    if best["net_margin"] > 0 and best is everyone:
        return (f"<strong>Contact everyone</strong> ({count(best['customers'])} customers): expected net margin "
                f"{money(best['net_margin'])}, more than any smaller top share by predicted uplift brings.")
    if best["net_margin"] <= 0:
        return (f"<strong>No share pays for its contacts</strong>: the expected net margin is negative at every "
                f"share (the least bad: {top}, {money(best['net_margin'])}). On this evidence, do not send "
                f"{esc(arm)} to these customers.")
    text = (f"<strong>Contact {top}</strong>: expected net margin {money(best['net_margin'])}, the best of the "
            f"shares below; as many customers picked at random: {money(best['random_net_margin'])}; everyone: "
            f"{money(everyone['net_margin'])}")
    return text + "."


def section_uplift_model(data: dict, agreement: list[dict] | None, figures: Figures) -> str:
    parts = ['<h2 id="uplift-model">12. Whom to target next: the uplift model</h2>']
    model = data.get("model") or {"missing": list(UPLIFT_MODEL_MARTS)}
    if "missing" in model:
        parts.append(missing_note(model, "uplift-model"))
        return "\n".join(parts)
    evaluation = model["evaluation"]
    first_row = next((r for r in evaluation if not r["is_skipped"]), None)
    how = (f"({esc(first_row['method'])}, {esc(first_row['folds'])}-fold cross-fitting: every customer is scored "
           "by models that never saw them)" if first_row else "")
    parts.append("<p>One model per campaign and treatment arm " + how + " predicts each customer's conversion "
                 "uplift from the pre-launch features. Customers are ranked by it, highest first. The Qini curve "
                 "counts the incremental conversions among the top share targeted (treated conversions minus "
                 "control conversions scaled to as many treated customers), against random targeting (the "
                 "straight line) and the perfect ranking (hidden at first, its scale dwarfs the others: click "
                 "it in the legend). Qini coefficient = (model area &minus; random area) / (perfect area &minus; "
                 "random area): 0 is no better than random, 1 perfect, below 0 worse. AUUC: area under the "
                 "uplift curve (the difference in conversion rates among the targeted times their number). The "
                 "targeting table estimates, from the randomised arms within each top share, what contacting "
                 "only that share would bring; its figures carry sampling noise.</p>")
    names = {c["campaign_id"]: c["campaign_name"] or c["campaign_id"] for c in data["campaigns"]}
    order = {c["campaign_id"]: i for i, c in enumerate(data["campaigns"])}
    comparisons: dict[tuple[str, str], list[dict]] = {}
    for row in evaluation:
        comparisons.setdefault((row["campaign_id"], row["arm"]), []).append(row)
    campaign_ids = sorted({cid for cid, _ in comparisons}, key=lambda c: (order.get(c, len(order)), c))
    if not campaign_ids:
        parts.append(callout("warn", "No comparison in <code>uplift_model_evaluation</code>."))
    for cid in campaign_ids:
        parts.append(f"<h3>{esc(names.get(cid, cid))}</h3>")
        arms = sorted((arm for c, arm in comparisons if c == cid), key=_arm_key)
        modelled = [(arm, comparisons[(cid, arm)][0]) for arm in arms if not comparisons[(cid, arm)][0]["is_skipped"]]
        if modelled:
            parts.append(table(
                ["Arm", "Treated", "Control", "Qini coefficient", "Qini area", "Random area", "Perfect area", "AUUC",
                 "Random AUUC"],
                [[arm, count(r["treated_customers"]), count(r["control_customers"]), ratio(r["qini_coefficient"], 3),
                  number(r["qini_area"]), number(r["random_area"]), number(r["perfect_area"]), number(r["auuc"]),
                  number(r["random_auuc"])] for arm, r in modelled]))
        for arm in arms:
            curve = comparisons[(cid, arm)]
            first = curve[0]
            if first["is_skipped"]:
                parts.append(callout("warn", f"<strong>{esc(arm)}: not modelled.</strong> "
                                             f"{esc(first['note'] or 'No reason recorded.')}"))
                continue
            kind, text = model_verdict(first)
            parts.append(f'<div class="callout {kind}" data-campaign="{esc(cid)}" data-arm="{esc(arm)}">'
                         f"{esc(arm)}: {text}</div>")
            fig = go.Figure()
            shares = [r["share_targeted"] for r in curve]
            fig.add_trace(go.Scatter(
                x=shares, y=[r["qini"] for r in curve], name="uplift model", mode="lines+markers",
                line=dict(color=arm_colour(arm, arms), width=2.5), marker=dict(size=6),
                customdata=[r["customers_targeted"] for r in curve],
                hovertemplate=("top %{x:.0%} (%{customdata:,} customers)<br>Qini %{y:,.1f} incremental "
                               "conversions<extra></extra>"),
            ))
            fig.add_trace(go.Scatter(
                x=shares, y=[r["random_qini"] for r in curve], name="random targeting", mode="lines",
                line=dict(color="#52606d", width=1.5, dash="dash"),
                hovertemplate="random, %{x:.0%}: %{y:,.1f}<extra></extra>",
            ))
            if all(r["perfect_qini"] is not None for r in curve):
                fig.add_trace(go.Scatter(
                    x=shares, y=[r["perfect_qini"] for r in curve], name="perfect model", mode="lines",
                    line=dict(color="#111827", width=1.5, dash="dot"), visible="legendonly",
                    hovertemplate="perfect, %{x:.0%}: %{y:,.1f}<extra></extra>",
                ))
            fig.add_hline(y=0, line=dict(color="#cbd2d9", width=1))
            fig.update_xaxes(title="share of customers targeted, by predicted uplift", tickformat=".0%", range=[0, 1])
            fig.update_yaxes(title="incremental conversions (Qini)", tickformat=",.0f")
            fig.update_layout(margin=dict(t=60))
            targeting = [r for r in model["targeting"] if r["campaign_id"] == cid and r["arm"] == arm]
            parts.append(figures.html(fig, f"qini-{cid}-{arm}", 380))
            if not targeting:
                parts.append(callout("warn", "No rows in <code>uplift_targeting</code> for this arm."))
                continue
            parts.append(f'<p class="targeting" data-campaign="{esc(cid)}" data-arm="{esc(arm)}">'
                         f"{targeting_text(arm, targeting)}</p>")
            parts.append(table(
                ["Top share", "Customers", "Treated", "Control", "Incr. conversions", "Incr. revenue", "Incr. margin",
                 "Contact cost", "Net margin", "Random: incr. conversions", "Random: net margin"],
                [[f"{r['share'] * 100:.0f} %", count(r["customers"]), count(r["treated"]), count(r["control"]),
                  number(r["incremental_conversions"]), money(r["incremental_revenue"]),
                  money(r["incremental_margin"]), money(r["contact_cost"]), money(r["net_margin"]),
                  number(r["random_incremental_conversions"]), money(r["random_net_margin"])] for r in targeting]))
    if agreement is not None:
        parts.append("<h3>Predicted against true uplift (simulation)</h3>")
        parts.append("<p>The simulation knows every customer's true conversion uplift "
                     f"(<code>{TRUTH_CUSTOMERS}</code>). How well does the predicted uplift rank it? Spearman's rho "
                     "and Kendall's tau-b over the customers of each comparison: 1 = the same order, 0 = unrelated, "
                     "&minus;1 = reversed.</p>")
        parts.append(table(
            ["Campaign", "Arm", "Customers compared", "Customers scored", "Spearman", "p-value", "Kendall",
             "p-value"],
            [[names.get(r["campaign_id"], r["campaign_id"]), r["arm"], count(r["n"]), count(r["scored"]),
              ratio(r["spearman"], 3), p_text(r["spearman_pvalue"]), ratio(r["kendall"], 3),
              p_text(r["kendall_pvalue"])] for r in agreement], numeric_from=2))
        if any(r["n"] >= 2 and r["spearman"] is None for r in agreement):
            parts.append('<p class="note">n/a: predicted or true uplift is the same for every customer there, '
                         "so there is no order to compare.</p>")
    return "\n".join(parts)


def _breakdown_label(row: dict) -> str:
    return "All" if row["breakdown"] == "All" else f"{row['breakdown']} = {row['level']}"


def section_imported(data: dict, figures: Figures) -> str:
    """Shown only when the warehouse has imported campaigns (`crm.py import-results`)."""
    imported = data.get("imported")
    if not imported or ("missing" in imported and not imported.get("outdated")
                        and len(imported["missing"]) == len(IMPORTED_MARTS)):
        return ""
    parts = ['<h2 id="imported">13. Imported campaigns</h2>']
    if "missing" in imported:
        parts.append(missing_note(imported, "imported-campaign"))
        return "\n".join(parts)
    parts.append("<p>Campaigns measured from a results file (<code>crm.py import-results</code>, see "
                 "<code>docs/imported_campaigns.md</code>): every outcome, each treatment arm against the control "
                 "arm, over all customers and per level of each breakdown column. Binary outcomes: rates with "
                 "Wilson intervals, the uplift in percentage points with its interval and z-test p-value, the "
                 "relative lift and the minimum detectable uplift. Amount outcomes: means per assigned customer "
                 "(zeros included) with Welch's interval and, when the mapping names a pre-period covariate, the "
                 "CUPED-adjusted difference. Filled markers are significant.</p>")
    info = {c["campaign_id"]: c for c in imported.get("campaigns", [])}
    campaign_ids = sorted({r["campaign_id"] for part in ("binary", "amount", "arms") for r in imported[part]})
    if not campaign_ids:
        parts.append(callout("warn", "The imported-campaign marts are empty."))
    for cid in campaign_ids:
        meta = info.get(cid, {})
        parts.append(f"<h3>{esc(meta.get('campaign_name') or cid)} <span class=\"muted\">({esc(cid)})</span></h3>")
        if meta:
            covariate = meta.get("cuped_covariate")
            parts.append(f'<p class="meta">{count(meta.get("customers"))} customers from '
                         f"<code>{esc(meta.get('source_file'))}</code>"
                         + (f", {esc(meta['window_days'])}-day window" if meta.get("window_days") is not None else "")
                         + (f"; CUPED covariate <code>{esc(covariate)}</code>" if covariate else
                            "; no CUPED covariate") + ".</p>")
        parts.append(_imported_srm(cid, [r for r in imported["arms"] if r["campaign_id"] == cid], figures))
        binary = [r for r in imported["binary"] if r["campaign_id"] == cid]
        for outcome in sorted({r["outcome"] for r in binary}):
            parts.append(_imported_binary(cid, outcome, [r for r in binary if r["outcome"] == outcome], figures))
        amount = [r for r in imported["amount"] if r["campaign_id"] == cid]
        for outcome in sorted({r["outcome"] for r in amount}):
            parts.append(_imported_amount(cid, outcome, [r for r in amount if r["outcome"] == outcome], figures))
    return "\n".join(parts)


def _imported_srm(cid: str, rows: list[dict], figures: Figures) -> str:
    parts = ["<h4>Sample-ratio check</h4>"]
    if not rows:
        parts.append(callout("warn", "No arm counts for this campaign in <code>imported_sample_ratio</code>."))
        return "\n".join(parts)
    p_value = rows[0]["p_value"]
    if any(r["is_sample_ratio_mismatch"] for r in rows):
        parts.append(callout("bad", f"<strong>Sample ratio mismatch</strong> (chi-square p = {p_value:.2g}): the "
                                    "arm sizes are not what the mapping planned. Do not trust this campaign's "
                                    "uplift until the cause is found."))
    elif p_value is None:
        parts.append(callout("warn", "No sample-ratio test (fewer than two arms with customers)."))
    else:
        parts.append(callout("good", f"Arm sizes match the plan (chi-square p = {p_value:.3f}, "
                                     f"{rows[0]['degrees_of_freedom']} degrees of freedom)."))
    parts.append(table(
        ["Arm", "Planned share", "Expected", "Observed", "Observed share"],
        [[r["arm"] + (" (control)" if r["is_control"] else ""), pct(r["planned_share"]),
          "n/a" if r["expected_customers"] is None else f"{r['expected_customers']:,.1f}", count(r["customers"]),
          pct(r["observed_share"], 2)] for r in rows]))
    return "\n".join(parts)


def imported_verdict(row: dict, amount: bool) -> str:
    """One sentence for an imported campaign's overall comparison of an arm with control on one outcome."""
    level, alpha = level_text(row["alpha"]), alpha_text(row["alpha"])
    if amount:
        diff, low, high, p_value = (row["amount_per_customer_diff"], row["amount_per_customer_diff_low"],
                                    row["amount_per_customer_diff_high"], row["amount_p_value"])
        text = f"{row['arm']}, {row['outcome']} per customer, all customers: "
        effect = f"{signed(diff)} ({level} interval {signed(low)} to {signed(high)})"
    else:
        diff, low, high, p_value = row["uplift"], row["uplift_low"], row["uplift_high"], row["p_value"]
        text = f"{row['arm']}, {row['outcome']}, all customers: "
        effect = f"{points(diff)} points ({level} interval {points(low)} to {points(high)})"
    if diff is None or low is None or p_value is None:
        return text + "no test possible (no customers or no variation in an arm)."
    text += effect + ", " + (f"significant at {alpha}" if row["is_significant"] else "not distinguishable from zero")
    if not amount and not row["is_significant"] and row["minimum_detectable_uplift"] is not None:
        text += (f" (the smallest uplift this test could detect is {row['minimum_detectable_uplift'] * 100:.1f} "
                 "points)")
    if amount and row["cuped_amount_per_customer_diff"] is not None and row["cuped_p_value"] is not None:
        text += (f"; CUPED-adjusted {signed(row['cuped_amount_per_customer_diff'])} ({level} interval "
                 f"{signed(row['cuped_amount_per_customer_diff_low'])} to "
                 f"{signed(row['cuped_amount_per_customer_diff_high'])}), "
                 + (f"significant at {alpha}" if row["cuped_is_significant"] else "not distinguishable from zero")
                 + f", variance {pct(row['cuped_variance_reduction'])} lower")
    return text + "."


def _imported_verdicts(cid: str, rows: list[dict], amount: bool) -> str:
    items = []
    for r in (r for r in rows if r["breakdown"] == "All"):
        value = r["amount_per_customer_diff"] if amount else r["uplift"]
        kind = ("neutral" if not r["is_significant"] or value is None else
                "positive" if value >= 0 else "negative")
        items.append(f'<li class="verdict {kind}" data-campaign="{esc(cid)}" data-outcome="{esc(r["outcome"])}" '
                     f'data-arm="{esc(r["arm"])}">{esc(imported_verdict(r, amount))}</li>')
    return '<ul class="verdicts">' + "".join(items) + "</ul>" if items else ""


def _imported_binary(cid: str, outcome: str, rows: list[dict], figures: Figures) -> str:
    level = level_text(rows[0]["alpha"])
    parts = [f"<h4>{esc(outcome)} <span class=\"muted\">(binary: share of customers with it)</span></h4>",
             _imported_verdicts(cid, rows, amount=False)]
    arms = sorted({r["arm"] for r in rows})
    positions, separators, groups, end = _forest_positions(
        ["all customers" if r["breakdown"] == "All" else r["breakdown"] for r in rows])
    ticks = [f"{'All' if r['breakdown'] == 'All' else r['level']} · {r['arm']}" for r in rows]
    fig = go.Figure()
    for arm in arms:
        for is_significant in (True, False):
            picked = [(p, r, t) for p, r, t in zip(positions, rows, ticks) if r["arm"] == arm
                      and bool(r["is_significant"]) == is_significant and r["uplift"] is not None
                      and r["uplift_low"] is not None]
            if not picked:
                continue
            colour = arm_colour(arm, arms) if is_significant else GREY
            fig.add_trace(go.Scatter(
                x=[r["uplift"] * 100 for _, r, _ in picked], y=[p for p, _, _ in picked], mode="markers",
                name=f"{arm}: {'significant' if is_significant else 'not significant'}",
                marker=dict(symbol="circle" if is_significant else "circle-open", size=10, color=colour,
                            line=dict(width=2, color=colour)),
                error_x=dict(type="data", symmetric=False, color=colour, thickness=2 if is_significant else 1.2,
                             width=4, array=[(r["uplift_high"] - r["uplift"]) * 100 for _, r, _ in picked],
                             arrayminus=[(r["uplift"] - r["uplift_low"]) * 100 for _, r, _ in picked]),
                customdata=[[_breakdown_label(r), r["uplift_low"] * 100, r["uplift_high"] * 100,
                             p_text(r["p_value"]), r["treated_customers"], r["control_customers"]]
                            for _, r, _ in picked],
                hovertemplate=("<b>%{customdata[0]}</b><br>uplift %{x:+.1f} points<br>" + level +
                               " interval %{customdata[1]:+.1f} to %{customdata[2]:+.1f}<br>p %{customdata[3]}"
                               "<br>%{customdata[4]:,} treated, %{customdata[5]:,} control<extra></extra>"),
            ))
    _forest_frame(fig, positions, ticks, separators, groups, end,
                  f"{outcome}: uplift in percentage points ({level} interval)")
    parts.append(figures.html(fig, f"imported-{cid}-{outcome}", 140 + 26 * len(rows) + 18 * len(separators)))
    parts.append(table(
        ["Breakdown", "Level", "Arm", "Treated", "Control", "Rate treated", f"{level} interval", "Rate control",
         f"{level} interval", "Uplift (points)", f"{level} interval", "p-value", "Relative lift",
         "Min. detectable (points)", "Incr. customers"],
        [[r["breakdown"], r["level"], r["arm"], count(r["treated_customers"]), count(r["control_customers"]),
          pct(r["treated_rate"]), interval_text(r["treated_rate_low"], r["treated_rate_high"], pct),
          pct(r["control_rate"]), interval_text(r["control_rate_low"], r["control_rate_high"], pct),
          points(r["uplift"]), interval_text(r["uplift_low"], r["uplift_high"], points), p_text(r["p_value"]),
          "n/a" if r["relative_lift"] is None else f"{r['relative_lift'] * 100:+.1f} %",
          "n/a" if r["minimum_detectable_uplift"] is None else f"{r['minimum_detectable_uplift'] * 100:.1f}",
          number(r["incremental_successes"])] for r in rows], numeric_from=3))
    return "\n".join(parts)


def _imported_amount(cid: str, outcome: str, rows: list[dict], figures: Figures) -> str:
    level = level_text(rows[0]["alpha"])
    covariate = next((r["cuped_covariate"] for r in rows if r["cuped_covariate"]), None)
    parts = [f"<h4>{esc(outcome)} <span class=\"muted\">(amount per assigned customer"
             + (f"; CUPED on <code>{esc(covariate)}</code>" if covariate else "") + ")</span></h4>",
             _imported_verdicts(cid, rows, amount=True)]
    positions, separators, groups, end = _forest_positions(
        ["all customers" if r["breakdown"] == "All" else r["breakdown"] for r in rows])
    ticks = [f"{'All' if r['breakdown'] == 'All' else r['level']} · {r['arm']}" for r in rows]
    series = [("unadjusted", "amount_per_customer_diff", "amount_p_value", "#7b8794", "circle")]
    if covariate:
        series.append(("CUPED-adjusted", "cuped_amount_per_customer_diff", "cuped_p_value", "#0f766e", "square"))
    fig = go.Figure()
    for name, prefix, p_column, colour, symbol in series:
        offset = 0 if len(series) == 1 else (-0.17 if prefix.startswith("amount") else 0.17)
        picked = [(p, r) for p, r in zip(positions, rows)
                  if r[prefix] is not None and r[f"{prefix}_low"] is not None]
        fig.add_trace(go.Scatter(
            x=[r[prefix] for _, r in picked], y=[p + offset for p, _ in picked], mode="markers", name=name,
            marker=dict(symbol=symbol, size=9, color=colour),
            error_x=dict(type="data", symmetric=False, color=colour, thickness=1.8, width=4,
                         array=[r[f"{prefix}_high"] - r[prefix] for _, r in picked],
                         arrayminus=[r[prefix] - r[f"{prefix}_low"] for _, r in picked]),
            customdata=[[_breakdown_label(r) + " · " + r["arm"], r[f"{prefix}_low"], r[f"{prefix}_high"],
                         p_text(r[p_column])] for _, r in picked],
            hovertemplate=(f"<b>%{{customdata[0]}}</b><br>{name} %{{x:+,.2f}} per customer<br>{level} interval "
                           "%{customdata[1]:+,.2f} to %{customdata[2]:+,.2f}<br>p %{customdata[3]}<extra></extra>"),
        ))
    _forest_frame(fig, positions, ticks, separators, groups, end,
                  f"{outcome} per customer, treated minus control ({level} interval)")
    parts.append(figures.html(fig, f"imported-{cid}-{outcome}", 140 + 26 * len(rows) + 18 * len(separators)))
    headers = ["Breakdown", "Level", "Arm", "Treated", "Control", "Mean treated", "Mean control", "Difference",
               f"{level} interval", "p-value", "Incr. amount"]
    if covariate:
        headers += ["Theta", "CUPED difference", f"CUPED {level} interval", "CUPED p-value", "Variance reduction"]
    table_rows = []
    for r in rows:
        line = [r["breakdown"], r["level"], r["arm"], count(r["treated_customers"]), count(r["control_customers"]),
                number(r["treated_amount_per_customer"], 2), number(r["control_amount_per_customer"], 2),
                signed(r["amount_per_customer_diff"]),
                interval_text(r["amount_per_customer_diff_low"], r["amount_per_customer_diff_high"]),
                p_text(r["amount_p_value"]), money(r["incremental_amount"])]
        if covariate:
            line += [significant(r["cuped_theta"]), signed(r["cuped_amount_per_customer_diff"]),
                     interval_text(r["cuped_amount_per_customer_diff_low"], r["cuped_amount_per_customer_diff_high"]),
                     p_text(r["cuped_p_value"]), pct(r["cuped_variance_reduction"])]
        table_rows.append(line)
    parts.append(table(headers, table_rows, numeric_from=3))
    return "\n".join(parts)


def summary(data: dict) -> str:
    """At a glance: each campaign's arms over all targets."""
    rows = []
    for campaign in data["campaigns"]:
        cid = campaign["campaign_id"]
        has_outcomes, _ = outcome_status(data, campaign)
        srm_bad = any(r["is_sample_ratio_mismatch"] for r in data["arms"] if r["campaign_id"] == cid)
        for r in (r for r in data["uplift"] if r["campaign_id"] == cid and r["segment_scheme"] == "overall"):
            if not has_outcomes:
                result = "no outcome yet"
            elif r["conversion_p_value"] is None:
                result = "no test"
            else:
                result = "significant" if r["is_significant"] else "not significant"
            rows.append([campaign["campaign_name"], r["arm"], count(r["treated_customers"]),
                         points(r["conversion_uplift"]) if has_outcomes else "",
                         result + (" (SRM!)" if srm_bad else ""),
                         money(r["net_incremental_margin"]) if has_outcomes else "",
                         ratio(r["roi"]) if has_outcomes else ""])
    if not rows:
        return ""
    return ('<section class="glance"><h2>At a glance</h2>' + table(
        ["Campaign", "Arm", "Treated", "Uplift (points)", "Result", "Net incr. margin", "ROI"], rows, numeric_from=2)
        + "</section>")


# --------------------------------------------------------------------------------------------- page

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --accent: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; font-family: FONT; color: var(--ink); background: #f5f7fa; line-height: 1.5; font-size: 15px; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; background: white; min-height: 100vh; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 12px; margin-bottom: 8px; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin: 40px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 6px; color: #334e68; }
h4 { font-size: 14.5px; margin: 18px 0 4px; color: #334e68; }
p { margin: 6px 0 10px; max-width: 900px; }
.meta { color: var(--muted); font-size: 14px; margin: 2px 0; }
.meta code, p code { font-size: 13px; background: #f0f4f8; padding: 1px 4px; border-radius: 3px; }
.muted { color: var(--muted); font-weight: normal; }
nav { font-size: 14px; margin: 10px 0 0; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
table { border-collapse: collapse; font-size: 13.5px; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f0f4f8; font-weight: 600; border-bottom: 2px solid #cbd2d9; }
th.num, td.num { text-align: right; }
td.num { white-space: nowrap; }
.table-wrap { overflow-x: auto; max-width: 100%; }
tbody tr:nth-child(even) { background: #fafbfc; }
.grid { display: grid; grid-template-columns: minmax(0, 1.25fr) minmax(0, 1fr); gap: 24px; align-items: start; }
.grid table { width: 100%; }
.chart { min-width: 0; }
.callout { border-left: 4px solid; padding: 8px 14px; margin: 8px 0 12px; border-radius: 3px; max-width: 900px; }
.callout.good { border-color: #059669; background: #ecfdf5; }
.callout.info { border-color: #2563eb; background: #eff6ff; }
.callout.warn { border-color: #d97706; background: #fffbeb; }
.callout.bad { border-color: #dc2626; background: #fef2f2; }
.note { color: var(--muted); font-size: 13.5px; }
ul.verdicts { list-style: none; padding: 0; margin: 8px 0; }
li.verdict { padding: 6px 12px; margin: 4px 0; border-left: 4px solid #cbd2d9; background: #fafbfc; }
li.verdict.positive { border-color: #059669; }
li.verdict.negative { border-color: #dc2626; }
tr.outlier td { background: #fff7ed; font-style: italic; }
tr.outlier td:first-child { border-left: 4px solid #d97706; }
.glance { margin-top: 18px; }
.glance h2 { border-top: none; margin-top: 12px; }
#script-errors { color: #b91c1c; background: #fef2f2; padding: 8px; white-space: pre-wrap; }
#script-errors:empty { display: none; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; border-top: 1px solid var(--line); padding-top: 8px; }
""".replace("FONT", FONT)

# First thing in the page: any script error (plotly included) is written into #script-errors, visible to a
# reader and to the browser test.
ERROR_HOOK = """<pre id="script-errors"></pre>
<script>
(function () {
  var box = document.getElementById("script-errors");
  function record(text) { box.textContent += text + "\\n"; }
  window.addEventListener("error", function (event) {
    record("error: " + event.message + " (" + (event.filename || "inline") + ":" + (event.lineno || 0) + ")");
  });
  window.addEventListener("unhandledrejection", function (event) {
    var reason = event.reason;
    record("unhandled rejection: " + (reason && reason.message ? reason.message : String(reason)));
  });
})();
</script>"""


def render(data: dict, truth: dict, db_path: Path, truth_path: Path | None, truth_revenue: dict | None = None,
           agreement: list[dict] | None = None) -> str:
    figures = Figures()
    imported = section_imported(data, figures)
    launches = sorted({c["launch_date"] for c in data["campaigns"] if c["launch_date"]})
    campaign_lines = "".join(
        f"<li><strong>{esc(c['campaign_name'])}</strong> <span class=\"muted\">({esc(c['campaign_id'])})</span>: "
        f"launched {esc(c['launch_date'])}, {esc(c['window_days'])}-day window, "
        f"{esc(c['target_segment'] or 'every scored')} customers"
        + (f" who never bought {esc(c['target_category'])}" if c["target_category"] else "")
        + (f"; offer {money(c['offer_amount'])} off from a {money(c['offer_min_basket'])} basket"
           if c["offer_amount"] is not None else "")
        + "</li>"
        for c in data["campaigns"]
    )
    body = [
        section_segments(data, figures),
        section_categories(data, figures),
        section_funnel(data, figures),
        section_conversion(data, figures),
        section_forest(data, truth, figures),
        section_money(data, figures),
        section_srm(data, figures),
        section_verdicts(data, truth),
        section_clusters(data, figures),
        section_customer_value(data, figures),
        section_cuped(data, truth_revenue or {}, figures),
        section_uplift_model(data, agreement, figures),
        imported,
    ]
    nav = "".join(f'<a href="#{anchor}">{label}</a>' for anchor, label in [
        ("segments", "1 Segments"), ("categories", "2 Categories"), ("funnel", "3 Funnel"),
        ("conversion", "4 Conversion"), ("uplift", "5 Uplift"), ("money", "6 Margin &amp; ROI"),
        ("srm", "7 Sample ratio"), ("verdicts", "8 Verdicts"), ("clusters", "9 Clusters"),
        ("customer-value", "10 Customer value"), ("cuped", "11 CUPED"), ("uplift-model", "12 Uplift model")]
        + ([("imported", "13 Imported campaigns")] if imported else []))
    header = (
        "<header><h1>Campaign report</h1>"
        f'<p class="meta">Warehouse <code>{esc(db_path)}</code></p>'
        f'<p class="meta">Campaigns launched {esc(", ".join(launches) or "n/a")}; '
        f"sales recorded up to {esc(data['data_through'] or 'n/a')}</p>"
        + (f'<p class="meta">Simulation truth <code>{esc(truth_path)}</code></p>' if truth_path else "")
        + f"<nav>{nav}</nav></header>"
        + f'<ul class="campaigns">{campaign_lines}</ul>'
    )
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Campaign report</title>",
        f"<style>{CSS}</style></head><body>",
        ERROR_HOOK,
        f"<script>{get_plotlyjs()}</script>",
        "<main>",
        header,
        summary(data),
        *[part for part in body if part],
        "<footer>Built by <code>scripts/build_report.py</code> from the marts of crm-uplift. Intervals: Wilson for "
        "rates, Wald for uplifts, Welch for money per customer; see <code>models/marts/_marts__models.yml</code>, "
        "<code>models/marts/clusters/</code>, <code>models/marts/customer_value/</code>, "
        "<code>models/marts/uplift_model/</code> and <code>docs/imported_campaigns.md</code>."
        "</footer>",
        "</main></body></html>",
        "",
    ])


def build_report(db_path, out_path, truth_path=None) -> Path:
    """Writes the HTML report of the warehouse `db_path` to `out_path` (atomically) and returns its path."""
    db_path, out_path = Path(db_path).resolve(), Path(out_path)
    truth_path = None if truth_path is None else Path(truth_path).resolve()
    if not db_path.is_file():
        raise ReportError(f"no warehouse at {db_path}")
    if truth_path is not None and not truth_path.is_file():
        raise ReportError(f"no truth file at {truth_path}")
    data = read_marts(db_path)
    page = render(data, read_truth(truth_path), db_path, truth_path, read_truth_revenue(truth_path),
                  read_rank_agreement(db_path, truth_path))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(page.encode("utf-8"))
        os.replace(temporary, out_path)
    finally:
        temporary.unlink(missing_ok=True)
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="the warehouse file (opened read-only)")
    parser.add_argument("--out", type=Path, default=Path("reports/campaign_report.html"), help="the HTML file to write")
    parser.add_argument("--truth", type=Path, help="the simulation's _campaign_truth.json, to show the true effects")
    args = parser.parse_args(argv)
    try:
        written = build_report(args.db, args.out, args.truth)
    except (ReportError, duckdb.Error, json.JSONDecodeError) as error:
        print(f"report failed: {error}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
