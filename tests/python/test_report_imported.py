"""The report's imported-campaign section (13): a copy of the main warehouse gets a small Hillstrom-layout results
file through `crm.py import-results`; the section then shows, for every outcome, each arm against control overall
and per breakdown level, the CUPED columns of the amounts and the sample-ratio check, all as the marts hold them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import build_report
import campaign_results_files as crf
from reference import query
from test_report import Page, Tables, chart_ids, figure_data, section

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "hillstrom_2008"


def missing(value) -> bool:
    return value is None or value != value  # None, or NaN as pandas reads a null


def na(format_one):
    """The formatter, giving "n/a" for a null (a level an arm has no customer in has null statistics)."""
    return lambda value, *args: "n/a" if missing(value) else format_one(value, *args)


signed = na(lambda value, digits=2: f"{round(value, digits) + 0.0:+,.{digits}f}")
p_text = na(lambda value: "< 0.001" if value < 0.001 else f"{value:.3f}")
pct = na(lambda value, digits=1: f"{value * 100:.{digits}f} %")
pp = na(lambda value: f"{value * 100:+.1f}")
fixed = na(lambda value, fmt: format(value, fmt))
theta = na(lambda value: build_report.significant(value))


def interval(low, high, formatter) -> str:
    return "n/a" if missing(low) or missing(high) else f"{formatter(low)} to {formatter(high)}"


@pytest.fixture(scope="module")
def imported(built: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("imported_report")
    db = work / "warehouse.duckdb"
    shutil.copyfile(built["db"], db)
    source = crf.write_results_csv(work / "hillstrom_small.csv", crf.hillstrom_rows(2400, seed=13))
    # dbt writes into its own folders: other builds may be using the project's target/.
    env = {**os.environ, "DBT_TARGET_PATH": str(work / "target"), "DBT_LOG_PATH": str(work / "logs")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crm.py"), "import-results", str(source), "--mapping",
         str(ROOT / "mappings" / "hillstrom.yml"), "--db", str(db), "--report", str(work / "from_import.html"),
         "--truth", str(built["data_dir"] / "_campaign_truth.json")],
        cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    report = build_report.build_report(db, work / "report.html")
    return {"db": db, "text": report.read_text(encoding="utf-8"), "work": work, "output": result.stdout}


def test_the_imported_section_appears_with_the_campaign_and_its_sample_ratio(imported: dict) -> None:
    text, db = imported["text"], imported["db"]
    assert '<a href="#imported">13 Imported campaigns</a>' in text
    part = section(text, "imported")
    assert part.startswith('<h2 id="imported">13. Imported campaigns</h2>')
    (name,) = query(db, f"select campaign_name from stg_campaign_results__campaigns where campaign_id = '{CAMPAIGN}'"
                        )["campaign_name"]
    assert f"{name.replace(chr(39), '&#x27;')} <span class=\"muted\">({CAMPAIGN})</span></h3>" in part
    assert ("2,400 customers from <code>hillstrom_small.csv</code>, 14-day window; CUPED covariate "
            "<code>history</code>.") in part
    srm = query(db, f"select * from imported_sample_ratio where campaign_id = '{CAMPAIGN}' "
                    "order by not is_control, arm")
    body = [t for t in Tables(part).tables if t[0] == ["Arm", "Planned share", "Expected", "Observed",
                                                          "Observed share"]]
    assert len(body) == 1
    assert body[0][1:] == [[r.arm + (" (control)" if r.is_control else ""), pct(r.planned_share),
                            f"{r.expected_customers:,.1f}", f"{r.customers:,}", pct(r.observed_share, 2)]
                           for r in srm.itertuples()]
    assert sum(srm["customers"]) == 2400
    p_value = srm["p_value"].iloc[0]
    assert not srm["is_sample_ratio_mismatch"].any()
    assert f"Arm sizes match the plan (chi-square p = {p_value:.3f}, 2 degrees of freedom)." in part
    # The built-in sections are untouched by the import.
    assert section(text, "uplift").count("<h3>") == 2


def test_binary_outcomes_are_shown_per_arm_and_breakdown_level(imported: dict) -> None:
    text, db = imported["text"], imported["db"]
    part = section(text, "imported")
    mart = query(db, f"""
        select * from uplift_imported_binary where campaign_id = '{CAMPAIGN}'
        order by outcome, breakdown <> 'All', breakdown, level, arm
    """)
    tables = [t for t in Tables(part).tables if t[0][:3] == ["Breakdown", "Level", "Arm"] and "Rate treated" in t[0]]
    outcomes = sorted(mart["outcome"].unique())
    assert outcomes == ["conversion", "visit"] and len(tables) == 2
    for outcome, shown in zip(outcomes, tables):
        rows = mart[mart["outcome"] == outcome]
        # Every breakdown of the mapping, every level, both treatment arms.
        assert set(rows["breakdown"]) == {"All", "history_segment", "zip_code", "channel", "newbie", "mens", "womens"}
        assert {"Surburban", "7) $1,000 +"} <= set(rows["level"])
        expected = []
        for r in rows.itertuples():
            expected.append([
                r.breakdown, r.level, r.arm, f"{r.treated_customers:,}", f"{r.control_customers:,}",
                pct(r.treated_rate), interval(r.treated_rate_low, r.treated_rate_high, pct),
                pct(r.control_rate), interval(r.control_rate_low, r.control_rate_high, pct), pp(r.uplift),
                interval(r.uplift_low, r.uplift_high, pp), p_text(r.p_value),
                fixed(r.relative_lift * 100, "+.1f") + ("" if missing(r.relative_lift) else " %"),
                fixed(r.minimum_detectable_uplift * 100, ".1f"), fixed(r.incremental_successes, ",.1f")])
        assert shown[1:] == expected
        # The forest plot: every comparison once, at the mart's uplift and interval, filled when significant.
        traces = figure_data(text, f"fig-imported-{CAMPAIGN.replace('_', '-')}-{outcome}")
        plotted = {}
        for trace in traces:
            arm, kind = trace["name"].split(": ")
            for x, plus, minus, label in zip(trace["x"], trace["error_x"]["array"], trace["error_x"]["arrayminus"],
                                             trace["customdata"]):
                plotted[(label[0], arm)] = (kind == "significant", x, x - minus, x + plus)
        # A level with no customer in an arm has no uplift: nothing to plot, "n/a" in the table.
        estimable = rows[rows["uplift"].notna() & rows["uplift_low"].notna()]
        assert len(plotted) == len(estimable) > 0
        for r in estimable.itertuples():
            label = "All" if r.breakdown == "All" else f"{r.breakdown} = {r.level}"
            significant, x, low, high = plotted[(label, r.arm)]
            assert significant == bool(r.is_significant)
            assert (x, low, high) == pytest.approx((r.uplift * 100, r.uplift_low * 100, r.uplift_high * 100))


def test_amount_outcomes_show_the_plain_and_cuped_comparisons(imported: dict) -> None:
    text, db = imported["text"], imported["db"]
    part = section(text, "imported")
    rows = query(db, f"""
        select * from uplift_imported_amount where campaign_id = '{CAMPAIGN}' and outcome = 'spend'
        order by breakdown <> 'All', breakdown, level, arm
    """)
    (shown,) = [t for t in Tables(part).tables if t[0][:3] == ["Breakdown", "Level", "Arm"] and "Theta" in t[0]]
    assert shown[0][-5:] == ["Theta", "CUPED difference", "CUPED 95 % interval", "CUPED p-value",
                             "Variance reduction"]
    assert (rows["cuped_covariate"] == "history").all()
    assert shown[1:] == [[
        r.breakdown, r.level, r.arm, f"{r.treated_customers:,}", f"{r.control_customers:,}",
        fixed(r.treated_amount_per_customer, ",.2f"), fixed(r.control_amount_per_customer, ",.2f"),
        signed(r.amount_per_customer_diff),
        interval(r.amount_per_customer_diff_low, r.amount_per_customer_diff_high, signed),
        p_text(r.amount_p_value), fixed(r.incremental_amount, ",.0f"), theta(r.cuped_theta),
        signed(r.cuped_amount_per_customer_diff),
        interval(r.cuped_amount_per_customer_diff_low, r.cuped_amount_per_customer_diff_high, signed),
        p_text(r.cuped_p_value), pct(r.cuped_variance_reduction)] for r in rows.itertuples()]
    traces = {t["name"]: t for t in figure_data(text, f"fig-imported-{CAMPAIGN.replace('_', '-')}-spend")}
    estimable = rows[rows["amount_per_customer_diff_low"].notna()]
    assert traces["unadjusted"]["x"] == pytest.approx(list(estimable["amount_per_customer_diff"]))
    cuped = rows[rows["cuped_amount_per_customer_diff_low"].notna()]
    assert len(cuped) > 0 and traces["CUPED-adjusted"]["x"] == pytest.approx(
        list(cuped["cuped_amount_per_customer_diff"]))
    assert [c[0] for c in traces["CUPED-adjusted"]["customdata"]][:2] == ["All · mens_email", "All · womens_email"]


def test_every_overall_comparison_has_its_verdict_in_words(imported: dict) -> None:
    db = imported["db"]
    verdicts = {(a["data-outcome"], a["data-arm"]): (a["class"], words) for a, words in Page(imported["text"]).verdicts
                if a.get("data-outcome")}
    binary = query(db, f"select * from uplift_imported_binary where campaign_id = '{CAMPAIGN}' and breakdown = 'All'")
    amount = query(db, f"select * from uplift_imported_amount where campaign_id = '{CAMPAIGN}' and breakdown = 'All'")
    assert len(verdicts) == len(binary) + len(amount) == 6
    for r in binary.itertuples():
        kind, words = verdicts[(r.outcome, r.arm)]
        expected = (f"{r.arm}, {r.outcome}, all customers: {pp(r.uplift)} points (95 % interval {pp(r.uplift_low)} "
                    f"to {pp(r.uplift_high)}), ")
        if r.p_value < 0.05:
            expected += "significant at 5 %."
            assert kind == "verdict " + ("positive" if r.uplift >= 0 else "negative")
        else:
            expected += ("not distinguishable from zero (the smallest uplift this test could detect is "
                         f"{r.minimum_detectable_uplift * 100:.1f} points).")
            assert kind == "verdict neutral"
        assert words == expected
    for r in amount.itertuples():
        _, words = verdicts[(r.outcome, r.arm)]
        plain = "significant at 5 %" if r.amount_p_value < 0.05 else "not distinguishable from zero"
        adjusted = "significant at 5 %" if r.cuped_p_value < 0.05 else "not distinguishable from zero"
        assert words == (
            f"{r.arm}, {r.outcome} per customer, all customers: {signed(r.amount_per_customer_diff)} (95 % interval "
            f"{signed(r.amount_per_customer_diff_low)} to {signed(r.amount_per_customer_diff_high)}), {plain}; "
            f"CUPED-adjusted {signed(r.cuped_amount_per_customer_diff)} (95 % interval "
            f"{signed(r.cuped_amount_per_customer_diff_low)} to {signed(r.cuped_amount_per_customer_diff_high)}), "
            f"{adjusted}, variance {pct(r.cuped_variance_reduction)} lower.")


def test_the_imported_page_is_deterministic_and_keeps_the_other_sections(built: dict, imported: dict,
                                                                         tmp_path: Path) -> None:
    again = build_report.build_report(imported["db"], tmp_path / "again.html").read_text(encoding="utf-8")
    assert again == imported["text"]
    plain = build_report.build_report(built["db"], tmp_path / "plain.html").read_text(encoding="utf-8")
    ids = chart_ids(imported["text"])
    assert [i for i in ids if not i.startswith("fig-imported-")] == chart_ids(plain)
    assert [i for i in ids if i.startswith("fig-imported-")] == [
        f"fig-imported-hillstrom-2008-{o}" for o in ("conversion", "visit", "spend")]


def test_import_results_can_rebuild_the_report_with_the_truth(built: dict, imported: dict, tmp_path: Path) -> None:
    written = imported["work"] / "from_import.html"
    assert f"report: {written}" in imported["output"]
    truth = built["data_dir"] / "_campaign_truth.json"
    expected = build_report.build_report(imported["db"], tmp_path / "expected.html", truth)
    assert written.read_bytes() == expected.read_bytes()
    page = written.read_text(encoding="utf-8")
    assert '<h2 id="imported">13. Imported campaigns</h2>' in page and "Simulation truth" in page
