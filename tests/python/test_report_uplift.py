"""The report's CUPED (11) and uplift-model (12) sections: every number shown is the mart's (tables parsed from the
HTML, chart data read from the Plotly calls), the plain-words readings follow from the figures, the rank agreement
with a per-customer truth file matches scipy, skipped comparisons are said in words, and a warehouse without these
marts gets a one-line note."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import build_report
from reference import query
from test_report import Tables, chart_ids, figure_data, section

SCHEME_ORDER = {"overall": 0, "lifecycle": 1, "rfm_tier": 2}
SEGMENT_ORDER = ["All", "Gold", "Silver", "Bronze", "VIP", "Regular", "At-risk"]


def signed(value: float, digits: int = 2) -> str:
    return f"{round(value, digits) + 0.0:+,.{digits}f}"


def p_text(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def campaigns(db: Path) -> pd.DataFrame:
    return query(db, "select campaign_id, campaign_name from int_campaigns_for_source "
                     "order by launch_date, campaign_id")


@pytest.fixture(scope="module")
def truth_dir(built: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's truth JSON, and beside it a per-customer truth file in the simulator's layout: the true uplift
    of each treated customer, by lifecycle segment plus a term from the id (so that ranks differ), constant for
    gold_loyalty_2026 / sms (no order to compare), and three customers the model never scored."""
    folder = tmp_path_factory.mktemp("truth")
    shutil.copyfile(Path(built["data_dir"]) / "_campaign_truth.json", folder / "_campaign_truth.json")
    frame = query(built["db"], """
        select s.campaign_id, s.arm, s.customer_id, r.lifecycle_segment
        from customer_uplift_scores as s join rfm_features as r using (campaign_id, customer_id)
        where s.is_treated order by all
    """)
    base = frame["lifecycle_segment"].map({"Regular": 0.08, "At-risk": 0.04, "VIP": -0.04}).fillna(0.0)
    frame["conversion_uplift"] = base + (frame["customer_id"] * 7919 % 101) / 2000
    constant = (frame["campaign_id"] == "gold_loyalty_2026") & (frame["arm"] == "sms")
    frame.loc[constant, "conversion_uplift"] = 0.0
    frame["revenue_uplift"] = frame["conversion_uplift"] * 120.0
    strangers = pd.DataFrame({"campaign_id": ["silver_outerwear_2026"] * 3, "arm": ["email"] * 3,
                              "customer_id": [-1, -2, -3], "lifecycle_segment": ["Regular"] * 3,
                              "conversion_uplift": [0.5, 0.6, 0.7], "revenue_uplift": [1.0, 2.0, 3.0]})
    frame = pd.concat([frame, strangers], ignore_index=True)
    frame = frame.astype({"campaign_id": "string", "arm": "string", "customer_id": "int64",
                          "lifecycle_segment": "string", "conversion_uplift": "float64", "revenue_uplift": "float64"})
    frame.to_parquet(folder / "_campaign_truth_customers.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def text(built: dict, truth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report_uplift") / "report.html"
    return build_report.build_report(built["db"], out, truth_dir / "_campaign_truth.json").read_text(encoding="utf-8")


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    key = frame.apply(lambda r: (SCHEME_ORDER[r["segment_scheme"]], SEGMENT_ORDER.index(r["segment"]),
                                 r["arm"] != "control", r["arm"]), axis=1)
    return frame.assign(_key=key).sort_values("_key").drop(columns="_key")


# --------------------------------------------------------------------------------------------- CUPED


def test_the_cuped_section_shows_the_marts_numbers_and_the_injected_truth(built: dict, truth_dir: Path,
                                                                         text: str) -> None:
    part = section(text, "cuped")
    assert part.startswith('<h2 id="cuped">11. Revenue per customer, plain and CUPED-adjusted</h2>')
    assert '<a href="#cuped">11 CUPED</a>' in text
    truth = json.loads((truth_dir / "_campaign_truth.json").read_text())
    injected = {(t["campaign_id"], "All", t["arm"]): t["revenue_uplift_per_customer"] for t in truth["overall"]}
    injected.update({(t["campaign_id"], t["lifecycle_segment"], t["arm"]): t["revenue_uplift_per_customer"]
                     for t in truth["segments"]})
    mart = query(built["db"], "select * from uplift_revenue_cuped")
    tables = [t for t in Tables(part).tables if t[0][0] == "Segment"]
    names = campaigns(built["db"])
    assert len(tables) == len(names) == 2
    for (campaign_id, name), shown in zip(names.itertuples(index=False), tables):
        assert f"<h3>{name.replace('&', '&amp;')}</h3>" in part
        rows = sorted_rows(mart[mart["campaign_id"] == campaign_id])
        assert shown[0][-1] == "Injected uplift"
        expected = []
        for r in rows.itertuples():
            known = injected.get((campaign_id, r.segment, r.arm)) if r.segment_scheme != "rfm_tier" else None
            expected.append([
                "All targets" if r.segment_scheme == "overall" else r.segment, r.arm, f"{r.treated_customers:,}",
                f"{r.control_customers:,}", signed(r.revenue_per_customer_diff),
                f"{signed(r.revenue_per_customer_diff_low)} to {signed(r.revenue_per_customer_diff_high)}",
                p_text(r.revenue_p_value), build_report.significant(r.cuped_theta),
                signed(r.cuped_revenue_per_customer_diff),
                f"{signed(r.cuped_revenue_per_customer_diff_low)} to {signed(r.cuped_revenue_per_customer_diff_high)}",
                p_text(r.cuped_revenue_p_value), f"{r.variance_reduction * 100:.1f} %",
                "" if known is None else signed(known)])
            assert float(expected[-1][4]) == pytest.approx(r.revenue_per_customer_diff, abs=0.005)
        assert shown[1:] == expected

        # The summary sentence: the range of the reduction, and the coverage of the injected uplift, recounted.
        reduction = rows["variance_reduction"]
        assert (f"CUPED removed {reduction.min() * 100:.1f} % to {reduction.max() * 100:.1f} % of the variance of "
                "the difference") in part
        known = [(r, injected[(campaign_id, r.segment, r.arm)]) for r in rows.itertuples()
                 if r.segment_scheme != "rfm_tier" and (campaign_id, r.segment, r.arm) in injected]
        assert known, "the truth file has the overall and the lifecycle rows"
        cuped_in = sum(r.cuped_revenue_per_customer_diff_low <= v <= r.cuped_revenue_per_customer_diff_high
                       for r, v in known)
        plain_in = sum(r.revenue_per_customer_diff_low <= v <= r.revenue_per_customer_diff_high for r, v in known)
        assert (f"The CUPED interval covers the simulation's injected revenue uplift in {cuped_in} of {len(known)} "
                f"comparisons (the unadjusted interval in {plain_in} of {len(known)}).") in part

        traces = {t["name"]: t for t in figure_data(text, f"fig-cuped-{campaign_id.replace('_', '-')}")}
        for name, column in (("unadjusted", "revenue_per_customer_diff"),
                             ("CUPED-adjusted", "cuped_revenue_per_customer_diff")):
            assert traces[name]["x"] == pytest.approx(list(rows[column]))
            low, high = rows[f"{column}_low"], rows[f"{column}_high"]
            assert np.array(traces[name]["error_x"]["arrayminus"]) == pytest.approx(list(rows[column] - low))
            assert np.array(traces[name]["error_x"]["array"]) == pytest.approx(list(high - rows[column]))
        assert sorted(traces["injected by the simulation"]["x"]) == pytest.approx(sorted(v for _, v in known))


# --------------------------------------------------------------------------------------------- uplift model


def expected_targeting_words(rows: pd.DataFrame, arm: str) -> str:
    """The targeting sentence, from an independent argmax of the net margin."""
    rows = rows.dropna(subset=["net_margin"])
    best = rows.sort_values(["net_margin", "share"], ascending=[False, True]).iloc[0]
    everyone = rows.sort_values("share").iloc[-1]
    if best["net_margin"] > 0 and best["share"] == everyone["share"]:
        return (f"<strong>Contact everyone</strong> ({best['customers']:,} customers): expected net margin "
                f"{best['net_margin']:,.0f}")
    top = f"the top {best['share'] * 100:.0f} % by predicted uplift ({best['customers']:,} customers)"
    if best["net_margin"] <= 0:
        return f"<strong>No share pays for its contacts</strong>: the expected net margin is negative at every share " \
               f"(the least bad: {top}, {best['net_margin']:,.0f}). On this evidence, do not send {arm}"
    return (f"<strong>Contact {top}</strong>: expected net margin {best['net_margin']:,.0f}, the best of the shares "
            f"below; as many customers picked at random: {best['random_net_margin']:,.0f}; everyone: "
            f"{everyone['net_margin']:,.0f}.")


def test_the_uplift_model_section_shows_the_qini_curves_metrics_and_targeting(built: dict, text: str) -> None:
    db = built["db"]
    part = section(text, "uplift-model")
    assert part.startswith('<h2 id="uplift-model">12. Whom to target next: the uplift model</h2>')
    evaluation = query(db, "select * from uplift_model_evaluation order by campaign_id, arm, point")
    targeting = query(db, "select * from uplift_targeting order by campaign_id, arm, share")
    assert not evaluation["is_skipped"].any(), "the built-in campaigns are large enough to be modelled"
    tables = Tables(part)
    metric_tables = [t for t in tables.tables if t[0][0] == "Arm"]
    targeting_tables = [t for t in tables.tables if t[0][0] == "Top share"]
    names = campaigns(db)
    assert len(metric_tables) == len(names)
    seen = 0
    for (campaign_id, name), metrics in zip(names.itertuples(index=False), metric_tables):
        assert f"<h3>{name.replace('&', '&amp;')}</h3>" in part
        arms = sorted(evaluation.loc[evaluation["campaign_id"] == campaign_id, "arm"].unique())
        assert [row[0] for row in metrics[1:]] == arms
        for arm, cells in zip(arms, metrics[1:]):
            curve = evaluation[(evaluation["campaign_id"] == campaign_id) & (evaluation["arm"] == arm)]
            first = curve.iloc[0]
            assert cells[1:] == [f"{first.treated_customers:,}", f"{first.control_customers:,}",
                                 f"{first.qini_coefficient:.3f}"] + [
                f"{first[c]:,.1f}" for c in ("qini_area", "random_area", "perfect_area", "auuc", "random_auuc")]
            # The coefficient is the mart's ratio of areas.
            assert first.qini_coefficient == pytest.approx(
                (first.qini_area - first.random_area) / (first.perfect_area - first.random_area))

            slug = f"fig-qini-{campaign_id}-{arm}".replace("_", "-")
            traces = {t["name"]: t for t in figure_data(text, slug)}
            assert traces["uplift model"]["x"] == pytest.approx(list(curve["share_targeted"]))
            assert traces["uplift model"]["y"] == pytest.approx(list(curve["qini"]))
            assert traces["random targeting"]["y"] == pytest.approx(list(curve["random_qini"]))
            assert traces["perfect model"]["y"] == pytest.approx(list(curve["perfect_qini"]))
            assert traces["perfect model"]["visible"] == "legendonly"

            coefficient = round(first.qini_coefficient, 3)
            verdict = ("The model beats random targeting" if coefficient > 0 else
                       "The model ranks worse than random targeting" if coefficient < 0 else
                       "The model does no better than random targeting")
            kind = "good" if coefficient > 0 else "warn"
            assert (f'<div class="callout {kind}" data-campaign="{campaign_id}" data-arm="{arm}">{arm}: '
                    f"<strong>{verdict}</strong> (area under its Qini curve {first.qini_area:,.1f} incremental "
                    f"conversions against {first.random_area:,.1f} for random targeting") in part
            assert f"Qini coefficient {first.qini_coefficient:.3f}" in part

            rows = targeting[(targeting["campaign_id"] == campaign_id) & (targeting["arm"] == arm)]
            shown = targeting_tables[seen][1:]
            assert shown == [[f"{r.share * 100:.0f} %", f"{r.customers:,}", f"{r.treated:,}", f"{r.control:,}",
                              f"{r.incremental_conversions:,.1f}", f"{r.incremental_revenue:,.0f}",
                              f"{r.incremental_margin:,.0f}", f"{r.contact_cost:,.0f}", f"{r.net_margin:,.0f}",
                              f"{r.random_incremental_conversions:,.1f}", f"{r.random_net_margin:,.0f}"]
                             for r in rows.itertuples()]
            words = part.split(f'<p class="targeting" data-campaign="{campaign_id}" data-arm="{arm}">', 1)[1]
            assert words.startswith(expected_targeting_words(rows, arm))
            seen += 1
    assert seen == len(targeting_tables) == evaluation.groupby(["campaign_id", "arm"]).ngroups


def test_predicted_uplift_ranks_true_uplift_as_scipy_says(built: dict, truth_dir: Path, text: str) -> None:
    part = section(text, "uplift-model")
    scores = query(built["db"], "select campaign_id, arm, customer_id, predicted_uplift from customer_uplift_scores")
    truth = pd.read_parquet(truth_dir / "_campaign_truth_customers.parquet")
    joined = scores.merge(truth, on=["campaign_id", "arm", "customer_id"])
    names = dict(campaigns(built["db"]).itertuples(index=False))
    body = [t for t in Tables(part).tables if t[0][0] == "Campaign"]
    assert len(body) == 1
    shown = {(cells[0], cells[1]): cells[2:] for cells in body[0][1:]}
    assert len(shown) == scores.groupby(["campaign_id", "arm"]).ngroups == 4
    for (campaign_id, arm), group in joined.groupby(["campaign_id", "arm"]):
        cells = shown[(names[campaign_id], arm)]
        scored = int(((scores["campaign_id"] == campaign_id) & (scores["arm"] == arm)).sum())
        assert cells[:2] == [f"{len(group):,}", f"{scored:,}"]
        assert len(group) < scored, "the treated customers only: the controls have no true uplift in the file"
        if group["conversion_uplift"].nunique() == 1:
            assert cells[2:] == ["n/a"] * 4
            continue
        rho = stats.spearmanr(group["predicted_uplift"], group["conversion_uplift"])
        tau = stats.kendalltau(group["predicted_uplift"], group["conversion_uplift"])
        assert cells[2:] == [f"{rho.statistic:.3f}", p_text(rho.pvalue), f"{tau.statistic:.3f}", p_text(tau.pvalue)]
    assert "n/a: predicted or true uplift is the same for every customer there" in part
    # The three customers the model never scored are not compared.
    assert (-1 not in set(joined["customer_id"])) and len(truth) - 3 == len(joined)


def test_the_model_readings_in_words() -> None:
    base = {"share": 0.1, "customers": 100, "net_margin": -5.0, "random_net_margin": 1.0}
    rows = [dict(base, share=s / 10, customers=100 * s, net_margin=m, random_net_margin=r)
            for s, m, r in ((1, -5.0, 1.0), (2, 30.0, 2.0), (3, 12.0, 3.0))]
    assert build_report.targeting_text("email", rows) == (
        "<strong>Contact the top 20 % by predicted uplift (200 customers)</strong>: expected net margin 30, the best "
        "of the shares below; as many customers picked at random: 2; everyone: 12.")
    rows[2]["net_margin"] = 31.0
    assert build_report.targeting_text("email", rows).startswith(
        "<strong>Contact everyone</strong> (300 customers): expected net margin 31")
    for row in rows:
        row["net_margin"] = -abs(row["net_margin"])
    assert build_report.targeting_text("sms", rows) == (
        "<strong>No share pays for its contacts</strong>: the expected net margin is negative at every share (the "
        "least bad: the top 10 % by predicted uplift (100 customers), -5). On this evidence, do not send sms to "
        "these customers.")
    first = {"qini_coefficient": -0.1234, "qini_area": 1.0, "random_area": 2.0, "perfect_area": 12.0, "note": None}
    kind, words = build_report.model_verdict(first)
    assert kind == "warn" and "<strong>The model ranks worse than random targeting</strong>" in words
    assert "Qini coefficient -0.123" in words
    kind, words = build_report.model_verdict(dict(first, qini_coefficient=None, note="no conversion at all"))
    assert (kind, words) == ("warn", "The Qini coefficient is undefined: no conversion at all.")


def test_a_skipped_comparison_is_said_in_words() -> None:
    campaign = {"campaign_id": "c1", "campaign_name": "Tiny"}
    point = {"campaign_id": "c1", "arm": "email", "point": 0, "share_targeted": 0.0, "customers_targeted": 0,
             "qini": 0.0, "random_qini": 0.0, "perfect_qini": None, "treated_customers": 400,
             "control_customers": 100, "qini_area": 3.0, "random_area": 1.0, "perfect_area": None,
             "qini_coefficient": None, "auuc": 2.0, "random_auuc": 1.0, "method": "t_learner", "folds": 5,
             "is_skipped": False, "note": "the perfect curve is not above random"}
    evaluation = [point, dict(point, point=1, share_targeted=1.0, customers_targeted=500, qini=2.0, random_qini=2.0),
                  {**{k: None for k in point}, "campaign_id": "c1", "arm": "sms", "is_skipped": True,
                   "treated_customers": 30, "control_customers": 100,
                   "note": "fewer than 50 treated customers (30): not modelled"}]
    data = {"campaigns": [campaign], "model": {"evaluation": evaluation, "targeting": []}}
    figures = build_report.Figures()
    part = build_report.section_uplift_model(data, None, figures)
    assert ('<div class="callout warn"><strong>sms: not modelled.</strong> fewer than 50 treated customers (30): '
            "not modelled</div>") in part
    assert "email: The Qini coefficient is undefined: the perfect curve is not above random." in part
    assert figures.ids == ["fig-qini-c1-email"], "a chart for the modelled arm only"
    traces = {t["name"] for t in figure_data(part, "fig-qini-c1-email")}
    assert traces == {"uplift model", "random targeting"}, "no perfect curve when the mart has none"
    assert "No rows in <code>uplift_targeting</code> for this arm." in part
    assert "Predicted against true uplift" not in part


# --------------------------------------------------------------------------------------------- robustness


def test_the_page_is_deterministic_and_quiet_about_truth_it_was_not_given(built: dict, truth_dir: Path, text: str,
                                                                         tmp_path: Path) -> None:
    again = build_report.build_report(built["db"], tmp_path / "again.html", truth_dir / "_campaign_truth.json")
    assert again.read_text(encoding="utf-8") == text
    plain = build_report.build_report(built["db"], tmp_path / "plain.html").read_text(encoding="utf-8")
    assert build_report.build_report(built["db"], tmp_path / "plain2.html").read_text(encoding="utf-8") == plain
    for words in ("injected", "Injected uplift", "Predicted against true uplift"):
        assert words not in section(plain, "cuped") + section(plain, "uplift-model")
    # Without the imported marts there is no imported section, nor a link to it.
    assert 'id="imported"' not in text and 'href="#imported"' not in text


def test_a_warehouse_without_the_cuped_and_model_marts_gets_a_note(built: dict, text: str, tmp_path: Path) -> None:
    db = tmp_path / "older.duckdb"
    shutil.copyfile(built["db"], db)
    with duckdb.connect(str(db)) as con:
        for name in ("uplift_revenue_cuped", "uplift_model_evaluation", "uplift_targeting", "customer_uplift_scores"):
            con.execute(f"drop table {name}")
    older = build_report.build_report(db, tmp_path / "older.html").read_text(encoding="utf-8")
    for anchor, what, marts in (("cuped", "CUPED", ["uplift_revenue_cuped"]),
                                ("uplift-model", "uplift-model", ["uplift_model_evaluation", "uplift_targeting"])):
        part = section(older, anchor)
        assert part.count("<p") == 0 and part.count('<div class="callout warn">') == 1
        assert (f"This warehouse has no {what} marts (" + ", ".join(f"<code>{m}</code>" for m in marts)
                + "): rebuild it with <code>dbt build</code> to see this section.") in part
        assert not chart_ids(part)
    assert chart_ids(older) == [i for i in chart_ids(text) if not i.startswith(("fig-cuped-", "fig-qini-"))]
