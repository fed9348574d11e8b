"""The HTML campaign report: it builds from the marts, needs no network, is byte-for-byte reproducible, says what
the marts say (verdicts and chart data), handles a campaign without outcomes, and renders in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import numpy as np
import pytest

import build_report
from reference import query

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------- helpers


class Page(HTMLParser):
    """Tags with their attributes (script bodies are not parsed as markup), and the verdict list items."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.verdicts: list[tuple[dict, str]] = []
        self._verdict: dict | None = None
        self._text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "li" and "verdict" in (attributes.get("class") or "").split():
            self._verdict, self._text = attributes, []

    def handle_data(self, data: str) -> None:
        if self._verdict is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self._verdict is not None:
            self.verdicts.append((self._verdict, "".join(self._text)))
            self._verdict = None


class Tables(HTMLParser):
    """Every table of an HTML fragment as rows of cell texts (the header row first), with each body row's class."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.row_classes: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
            self.row_classes.append([])
        elif tag == "tr":
            self.tables[-1].append([])
            self.row_classes[-1].append(dict(attrs).get("class") or "")
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def find(self, first_header: str) -> tuple[list[list[str]], list[str]]:
        """(body rows, their classes) of the only table whose first column is headed `first_header`."""
        (index,) = [i for i, t in enumerate(self.tables) if t and t[0] and t[0][0] == first_header]
        return self.tables[index][1:], self.row_classes[index][1:]


def section(text: str, anchor: str) -> str:
    """The HTML of one section: from its <h2> to the next <h2> or the footer."""
    start = text.index(f'<h2 id="{anchor}">')
    ends = [i for i in (text.find("<h2", start + 1), text.find("<footer>", start)) if i != -1]
    return text[start:min(ends)]


def long_date(day) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"


def chart_ids(text: str) -> list[str]:
    return re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', text)


def figure_data(text: str, div_id: str) -> list[dict]:
    """The traces passed to Plotly.newPlot for one chart, as JSON."""
    match = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', text)
    assert match, f"no Plotly.newPlot for {div_id}"
    traces, _ = json.JSONDecoder().raw_decode(text, match.end())
    return traces


def points(value: float) -> str:
    return f"{value * 100:+.1f}"


def uplift_rows(db: Path):
    return query(db, """
        select campaign_id, segment_scheme, segment, arm, conversion_uplift, conversion_uplift_low,
            conversion_uplift_high, conversion_p_value, is_significant, minimum_detectable_uplift, alpha,
            treated_conversion_rate, control_conversion_rate, incremental_margin, roi
        from uplift_by_arm
        union all
        select campaign_id, segment_scheme, segment, arm, conversion_uplift, conversion_uplift_low,
            conversion_uplift_high, conversion_p_value, is_significant, minimum_detectable_uplift, alpha,
            treated_conversion_rate, control_conversion_rate, incremental_margin, roi
        from uplift_by_segment_arm
        order by all
    """)


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed: the browser test of the report cannot run (apt-get install chromium)")
    pytest.skip("chromium is not installed (set CI=true to make this a failure)")


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def png_top_rows(path: Path, rows: int) -> np.ndarray:
    """Decodes the first `rows` rows of an 8-bit RGB(A) non-interlaced PNG (zlib + numpy only)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, compressed = 8, []
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunk = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            compressed.append(chunk)
        position += 12 + length
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type, interlace)
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    rows = min(rows, height)
    raw = zlib.decompressobj().decompress(b"".join(compressed), rows * (stride + 1))
    image = np.zeros((rows, width, channels), dtype=np.uint8)
    previous = np.zeros((width, channels), dtype=np.int64)
    for y in range(rows):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).reshape(width, channels).astype(np.int64)
        if kind == 0:
            current = line
        elif kind == 1:
            current = np.cumsum(line, axis=0) % 256
        elif kind == 2:
            current = (line + previous) % 256
        else:
            # Average and Paeth depend on the decoded byte to the left: a plain loop over ints is fastest.
            raw_line, up_line = line.reshape(-1).tolist(), previous.reshape(-1).tolist()
            out = [0] * stride
            for i in range(stride):
                left = out[i - channels] if i >= channels else 0
                up = up_line[i]
                if kind == 3:
                    predictor = (left + up) >> 1
                else:
                    upper_left = up_line[i - channels] if i >= channels else 0
                    estimate = left + up - upper_left
                    pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
                    predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
                out[i] = (raw_line[i] + predictor) & 255
            current = np.array(out, dtype=np.int64).reshape(width, channels)
        image[y] = current
        previous = current
    return image


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def truth_path(built: dict) -> Path:
    path = Path(built["data_dir"]) / "_campaign_truth.json"
    assert path.exists(), "the main command writes the simulation's truth"
    return path


@pytest.fixture(scope="module")
def report(built: dict, truth_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report.build_report(built["db"], tmp_path_factory.mktemp("report") / "campaign_report.html",
                                     truth_path)


@pytest.fixture(scope="module")
def html_text(report: Path) -> str:
    return report.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------- tests


def test_the_report_has_every_section_and_a_header_from_the_data(built: dict, report: Path, html_text: str) -> None:
    assert report.name == "campaign_report.html" and report.stat().st_size > 1_000_000
    assert [p.name for p in report.parent.iterdir()] == [report.name], "no temporary file left behind"
    for anchor, title in [("segments", "1. Segment sizes and RFM profile"), ("categories", "2. Category opportunities"),
                          ("funnel", "3. Campaign funnel"), ("conversion", "4. Conversion by arm"),
                          ("uplift", "5. Uplift by segment and arm"), ("money", "6. Incremental margin, cost and ROI"),
                          ("srm", "7. Sample-ratio check"), ("verdicts", "8. Verdicts"),
                          ("clusters", "9. Customer clusters (K-means on RFM)"),
                          ("customer-value", "10. Customer value (BG/NBD + Gamma-Gamma)")]:
        assert f'<h2 id="{anchor}">{title}</h2>' in html_text
    assert str(Path(built["db"]).resolve()) in html_text
    campaigns = query(built["db"], "select campaign_name, strftime(launch_date, '%Y-%m-%d') as launch from int_campaigns_for_source")
    for name, launch in zip(campaigns["campaign_name"], campaigns["launch"]):
        assert f"Campaigns launched {launch}" in html_text
        assert name.replace("&", "&amp;") in html_text
    today = date.today().isoformat()
    if today not in set(campaigns["launch"]):
        assert today not in html_text, "the report must not carry the day it was built"
    # Per campaign: a bubble chart (both campaigns have a target segment), funnel, conversion, forest, money, SRM.
    ids = chart_ids(html_text)
    for campaign_id in query(built["db"], "select campaign_id from int_campaigns_for_source")["campaign_id"]:
        slug = campaign_id.replace("_", "-")
        for kind in ("categories", "funnel", "conversion", "uplift", "money", "srm"):
            assert f"fig-{kind}-{slug}" in ids
    assert "Arm sizes match the plan" in html_text and "Sample ratio mismatch" not in html_text


def test_the_report_is_self_contained_with_plotly_inlined_once(html_text: str) -> None:
    page = Page(html_text)
    for tag, attributes in page.tags:
        for name in ("src", "href", "data"):
            value = attributes.get(name)
            if value is not None:
                assert value.startswith("#"), f"<{tag} {name}={value!r}>: the page must load nothing"
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html_text.split("<script>", 1)[0])
    from plotly.offline import get_plotlyjs

    banner = get_plotlyjs()[:120]
    assert html_text.count(banner) == 1
    assert html_text.count("* plotly.js v") == 1
    ids = chart_ids(html_text)
    assert len(ids) == len(set(ids)) >= 12
    assert html_text.count("Plotly.newPlot(") == len(ids)
    # The error hook comes before plotly.js, so that it sees errors in plotly too.
    assert html_text.index('id="script-errors"') < html_text.index(banner)


def test_two_builds_of_the_same_warehouse_are_identical(built: dict, truth_path: Path, report: Path,
                                                        tmp_path: Path) -> None:
    again = build_report.build_report(built["db"], tmp_path / "again.html", truth_path)
    assert again.read_bytes() == report.read_bytes()
    without_truth = build_report.build_report(built["db"], tmp_path / "plain.html")
    assert build_report.build_report(built["db"], tmp_path / "plain2.html").read_bytes() == without_truth.read_bytes()
    assert "true effect" not in without_truth.read_text()


def test_every_uplift_row_has_its_verdict_with_the_marts_figures(built: dict, truth_path: Path,
                                                                  html_text: str) -> None:
    rows = uplift_rows(built["db"])
    truth = json.loads(truth_path.read_text())
    true_effect = {(t["campaign_id"], "All", t["arm"]): t["conversion_uplift"] for t in truth["overall"]}
    true_effect.update({(t["campaign_id"], t["lifecycle_segment"], t["arm"]): t["conversion_uplift"]
                        for t in truth["segments"]})
    verdicts = {(a["data-campaign"], a["data-scheme"], a["data-segment"], a["data-arm"]): text
                for a, text in Page(html_text).verdicts}
    assert len(verdicts) == len(Page(html_text).verdicts) == len(rows) > 0
    significant_seen = {True: 0, False: 0}
    for row in rows.itertuples():
        text = verdicts[(row.campaign_id, row.segment_scheme, row.segment, row.arm)]
        who = "all targets" if row.segment_scheme == "overall" else f"{row.segment} customers"
        assert f", {row.arm}, {who}: " in text
        assert (f"{points(row.conversion_uplift)} points (95 % interval {points(row.conversion_uplift_low)} "
                f"to {points(row.conversion_uplift_high)})") in text
        assert row.alpha == 0.05
        if row.is_significant:
            assert "significant at 5 %" in text and "not distinguishable" not in text
            assert row.conversion_p_value < 0.05
        else:
            assert "not distinguishable from zero" in text and "significant at" not in text
            mde = row.minimum_detectable_uplift * 100
            assert f"the smallest uplift this test could detect is {mde:.1f} points" in text
        significant_seen[bool(row.is_significant)] += 1
        known = true_effect.get((row.campaign_id, row.segment, row.arm)) if row.segment_scheme != "rfm_tier" else None
        if known is not None:
            assert f"the simulation's true effect: {points(known)} points" in text
        else:
            assert "true effect" not in text
    # The built-in campaigns have both kinds (README): the test exercises both wordings.
    assert significant_seen[True] > 0 and significant_seen[False] > 0


def test_the_charts_plot_the_marts_numbers(built: dict, truth_path: Path, html_text: str) -> None:
    rows = uplift_rows(built["db"])
    truth = json.loads(truth_path.read_text())
    for campaign_id, group in rows.groupby("campaign_id"):
        slug = campaign_id.replace("_", "-")
        # Forest plot: every row's uplift, in points, with its interval; significance decides the marker.
        traces = figure_data(html_text, f"fig-uplift-{slug}")
        plotted = []
        for trace in traces:
            if trace["name"].endswith("significant"):
                significant = not trace["name"].endswith("not significant")
                arm = trace["name"].split(":")[0]
                for x, plus, minus, label in zip(trace["x"], trace["error_x"]["array"],
                                                 trace["error_x"]["arrayminus"], trace["customdata"]):
                    plotted.append((label[0], arm, significant, x, x - minus, x + plus))
        assert len(plotted) == len(group)
        for row in group.itertuples():
            label = f"{'All targets' if row.segment_scheme == 'overall' else row.segment} · {row.arm}"
            (found,) = [p for p in plotted if p[0] == label]
            assert found[2] == bool(row.is_significant)
            assert found[3:] == pytest.approx((row.conversion_uplift * 100, row.conversion_uplift_low * 100,
                                               row.conversion_uplift_high * 100), abs=1e-9)
        (true_trace,) = [t for t in traces if t["name"] == "true effect (simulation)"]
        known = {("All", t["arm"]): t["conversion_uplift"] for t in truth["overall"] if t["campaign_id"] == campaign_id}
        known.update({(t["lifecycle_segment"], t["arm"]): t["conversion_uplift"] for t in truth["segments"]
                      if t["campaign_id"] == campaign_id})
        expected = [known[(r.segment, r.arm)] * 100 for r in group.itertuples()
                    if r.segment_scheme in ("overall", "lifecycle") and (r.segment, r.arm) in known]
        assert len(expected) > 0 and sorted(true_trace["x"]) == pytest.approx(sorted(expected))
        # Conversion by arm: control then the treatment arms, as in uplift_by_arm.
        overall = group[group["segment_scheme"] == "overall"].sort_values("arm")
        bars = figure_data(html_text, f"fig-conversion-{slug}")[0]
        assert bars["x"] == ["control", *overall["arm"]]
        expected_rates = [overall["control_conversion_rate"].iloc[0], *overall["treated_conversion_rate"]]
        assert bars["y"] == pytest.approx(expected_rates)
        # Money: incremental margin per arm, and the ROI labels.
        money = {t["name"]: t for t in figure_data(html_text, f"fig-money-{slug}")}
        assert money["incremental margin"]["y"] == pytest.approx(list(overall["incremental_margin"]))
        assert money["net incremental margin"]["text"] == [f"ROI {roi:.2f}" for roi in overall["roi"]]
    funnel = query(built["db"], "select campaign_id, scored_customers, target_customers from campaign_funnel")
    for row in funnel.itertuples():
        bars = figure_data(html_text, f"fig-funnel-{row.campaign_id.replace('_', '-')}")[0]
        assert bars["x"][0] == row.scored_customers and row.target_customers in bars["x"]


# ------------------------------------------------------------------------------------ clusters and customer value

CLUSTER_MARTS = ["cluster_selection", "cluster_profiles", "clusters_by_segment"]
VALUE_MARTS = ["customer_value_fit", "customer_value", "customer_value_holdout", "churn_model_evaluation"]
PREDICTOR_LABELS = {"bg_nbd_one_minus_p_alive": "1 − P(alive), BG/NBD",
                    "bg_nbd_p_no_purchase": "P(no purchase in the window), BG/NBD",
                    "logistic_rfm": "Logistic regression on recency, frequency, monetary"}
MODEL_TITLES = {"bg_nbd": "BG/NBD", "gamma_gamma": "Gamma-Gamma"}


def cluster_launches(db: Path) -> list[tuple[str, list[str]]]:
    """(launch date, its campaigns) for every launch date of cluster_selection, in date order."""
    rows = query(db, """
        select strftime(launch_date, '%Y-%m-%d') as launch, list(distinct campaign_id order by campaign_id) as ids
        from cluster_selection group by launch order by launch
    """)
    return [(launch, list(ids)) for launch, ids in zip(rows["launch"], rows["ids"])]


def test_the_cluster_section_shows_the_marts_numbers_once_per_launch_date(built: dict, html_text: str) -> None:
    db = built["db"]
    text = section(html_text, "clusters")
    names = dict(zip(*query(db, "select campaign_id, campaign_name from int_campaigns_for_source").T.values))
    launches = cluster_launches(db)
    assert launches, "the default pipeline builds the cluster marts"
    # Campaigns sharing a launch date share their clusters: one elbow chart and one profile table per date.
    assert [i for i in chart_ids(text) if i.startswith("fig-cluster-elbow-")] == [
        f"fig-cluster-elbow-{launch}" for launch, _ in launches]
    tables = Tables(text)
    profile_tables = [i for i, t in enumerate(tables.tables) if t[0][0] == "Cluster"]
    assert len(profile_tables) == len(launches)
    for (launch, campaign_ids), index in zip(launches, profile_tables):
        label = ", ".join(names[c] for c in campaign_ids).replace("&", "&amp;")
        assert f'<h3>As of {launch} <span class="muted">({label})</span></h3>' in text
        selection = query(db, f"""
            select campaign_id, k, inertia, silhouette, is_chosen, k_setting, clustered_customers
            from cluster_selection where strftime(launch_date, '%Y-%m-%d') = '{launch}' order by campaign_id, k
        """)
        shown = selection[selection["campaign_id"] == campaign_ids[0]]
        for other in campaign_ids[1:]:
            same = selection[selection["campaign_id"] == other]
            columns = ["k", "inertia", "is_chosen"]
            assert same[columns].values.tolist() == shown[columns].values.tolist()
        (chosen,) = shown[shown["is_chosen"]].itertuples()
        assert f"<strong>k = {chosen.k} was chosen</strong>" in text
        if chosen.k_setting == "auto":
            assert chosen.k == shown.loc[shown["silhouette"].idxmax(), "k"]
            assert f"the best silhouette ({chosen.silhouette:.3f}) of the k tried" in text
        else:
            assert f"fixed by <code>cluster_k = {chosen.k_setting}</code>" in text
        span = f"k = {shown['k'].min()} to {shown['k'].max()}"
        assert f"of {chosen.clustered_customers:,} customers, tried for {span}" in text

        profiles = query(db, f"""
            select cluster_id, cluster_name, cluster_action, is_outlier_group, customers, customer_share,
                median_recency_days, median_frequency, median_monetary, revenue_share
            from cluster_profiles where campaign_id = '{campaign_ids[0]}' order by cluster_id nulls last, cluster_name
        """)
        body, classes = tables.tables[index][1:], tables.row_classes[index][1:]
        assert len(body) == len(profiles) > 0
        for cells, kind, r in zip(body, classes, profiles.itertuples()):
            name = f"{r.cluster_name} (outlier group)" if r.is_outlier_group else f"{r.cluster_id}. {r.cluster_name}"
            assert cells == [name, r.cluster_action, f"{r.customers:,}", f"{r.customer_share * 100:.1f} %",
                             f"{r.median_recency_days:,.0f}", f"{r.median_frequency:.1f}",
                             f"{r.median_monetary:,.0f}", f"{r.revenue_share * 100:.1f} %"]
            assert kind == ("outlier" if r.is_outlier_group else "")


def test_the_customer_value_section_shows_the_marts_numbers(built: dict, html_text: str) -> None:
    db = built["db"]
    text = section(html_text, "customer-value")
    tables = Tables(text)
    # Parameters of the reference fit, as formatted, and numerically close to the mart's estimates.
    fit = query(db, """
        select model, parameter, estimate, std_error, estimate_weeks, log_likelihood, customers
        from customer_value_fit where fit_scope = 'reference'
    """)
    body, _ = tables.find("Model")
    assert [(c[0], c[1]) for c in body] == [("BG/NBD", p) for p in ("r", "alpha", "a", "b")] + [
        ("Gamma-Gamma", p) for p in ("p", "q", "gamma")]
    shown = {(c[0], c[1]): c for c in body}
    assert len(fit) == len(shown)
    for r in fit.itertuples():
        cells = shown[(MODEL_TITLES[r.model], r.parameter)]
        assert cells[3] == build_report.significant(r.estimate)
        assert float(cells[3].replace(",", "")) == pytest.approx(r.estimate, rel=1e-3)
        assert cells[4] == build_report.significant(r.std_error)
        assert float(cells[4].replace(",", "")) == pytest.approx(r.std_error, rel=1e-3)
        if r.parameter == "alpha":
            assert cells[5] == build_report.significant(r.estimate_weeks)
            assert float(cells[5].replace(",", "")) == pytest.approx(r.estimate / 7, rel=1e-3)
        else:
            assert cells[5] == ""
        assert cells[6:] == [f"{r.log_likelihood:,.1f}", f"{r.customers:,}"]

    # Holdout check: the dates in words, the MAE and every group's means.
    holdout = query(db, """
        select holdout_start, holdout_end, frequency_group, customers, actual_mean, predicted_mean, absolute_error,
            mean_absolute_error
        from customer_value_holdout order by frequency_group_order
    """)
    start, end = holdout["holdout_start"].iloc[0], holdout["holdout_end"].iloc[0]
    last = end - np.timedelta64(1, "D")
    assert (f"from {long_date(start)} to {long_date(last)} ({(end - start).days} days)") in text
    assert f"Mean absolute error: {holdout['mean_absolute_error'].iloc[0]:.4f} purchase days per customer" in text
    body, _ = tables.find("Repeat days")
    assert body == [[r.frequency_group, f"{r.customers:,}", f"{r.actual_mean:.3f}", f"{r.predicted_mean:.3f}",
                     f"{r.absolute_error:.3f}"] for r in holdout.itertuples()]

    # Churn predictors: every AUC, and a callout worded from them.
    aucs = dict(zip(*query(db, "select predictor, max(auc) as auc from churn_model_evaluation group by all").T.values))
    assert set(aucs) == set(PREDICTOR_LABELS)
    body, _ = tables.find("Predictor")
    assert {c[0]: c[1] for c in body} == {PREDICTOR_LABELS[p]: f"{a:.3f}" for p, a in aucs.items()}
    found = re.search(r'<div class="callout (\w+)"><strong>1 − P\(alive\) gives every one-purchase customer the '
                      r"lowest churn risk\.</strong>(.*?)</div>", text, re.S)
    assert found, "the churn callout"
    kind, callout = found.groups()
    base = round(aucs["bg_nbd_one_minus_p_alive"], 3)
    assert "BG/NBD lets a customer drop out only after a purchase" in callout
    assert f"Its AUC is {base:.3f}" in callout
    assert ("worse than ranking at random" in callout) == (base < 0.5)
    for predictor, phrase in (("bg_nbd_p_no_purchase", "the model's own probability of no purchase in the window"),
                              ("logistic_rfm", "the logistic regression on recency, frequency and monetary value")):
        other = round(aucs[predictor], 3)
        word = "worse than" if base < other else ("better than" if base > other else "as well as")
        assert re.search(rf"it ranks {word} [^;]*{re.escape(phrase)} \(AUC {other:.3f}\)", callout), (word, callout)
    assert kind == ("warn" if base < max(round(a, 3) for a in aucs.values()) else "info")

    # CLV by churn-risk band.
    bands = query(db, """
        select churn_risk, count(*) as customers, avg(clv) as mean_clv, sum(clv) as total_clv
        from customer_value group by churn_risk
    """).set_index("churn_risk")
    body, _ = tables.find("Churn risk")
    assert [c[0] for c in body] == [b for b in ("high", "medium", "low") if b in bands.index]
    for cells in body:
        band = bands.loc[cells[0]]
        assert cells[2] == f"{int(band['customers']):,}"
        # Aggregates of many doubles: allow for the last bit of the sum in the rounding.
        assert float(cells[4]) == pytest.approx(band["mean_clv"], abs=0.005 + 1e-9)
        assert float(cells[6].replace(",", "")) == pytest.approx(band["total_clv"], abs=0.5 + 1e-6)


def test_the_cluster_and_value_charts_plot_the_marts_numbers(built: dict, html_text: str) -> None:
    db = built["db"]
    for launch, campaign_ids in cluster_launches(db):
        selection = query(db, f"""
            select k, inertia, silhouette, is_chosen from cluster_selection where campaign_id = '{campaign_ids[0]}'
            order by k
        """)
        traces = {t["name"]: t for t in figure_data(html_text, f"fig-cluster-elbow-{launch}")}
        assert traces["inertia"]["x"] == list(selection["k"])
        assert traces["inertia"]["y"] == pytest.approx(list(selection["inertia"]))
        assert traces["silhouette"]["y"] == pytest.approx(list(selection["silhouette"]))
        assert traces["silhouette"]["yaxis"] == "y2", "silhouette on the second axis"
        chosen = int(selection.loc[selection["is_chosen"], "k"].iloc[0])
        assert traces[f"chosen k = {chosen}"]["x"] == [chosen]

        crossed = query(db, f"""
            select cluster_name, segment_scheme, segment, share_of_cluster from clusters_by_segment
            where campaign_id = '{campaign_ids[0]}'
        """)
        heatmaps = {t["name"]: t for t in figure_data(html_text, f"fig-cluster-segments-{launch}")}
        assert set(heatmaps) == {"rfm_tier", "lifecycle"}
        for scheme, trace in heatmaps.items():
            plotted = {}
            for label, line in zip(trace["y"], trace["z"]):
                for segment, share in zip(trace["x"], line):
                    plotted[(label.removesuffix(" (outlier group)"), segment)] = share
            expected = crossed[crossed["segment_scheme"] == scheme]
            assert {s for _, s in plotted} == set(expected["segment"])
            for r in expected.itertuples():
                assert plotted.pop((r.cluster_name, r.segment)) == pytest.approx(r.share_of_cluster)
            assert all(v == 0 for v in plotted.values()), "a pair the mart does not have shares no customer"

    holdout = query(db, "select frequency_group, actual_mean, predicted_mean from customer_value_holdout "
                        "order by frequency_group_order")
    bars = {t["name"]: t for t in figure_data(html_text, "fig-value-holdout")}
    for name, column in (("actual", "actual_mean"), ("predicted (BG/NBD)", "predicted_mean")):
        assert bars[name]["type"] == "bar" and bars[name]["x"] == list(holdout["frequency_group"])
        assert bars[name]["y"] == pytest.approx(list(holdout[column]))

    churn = query(db, "select predictor, mean_predicted, observed_rate from churn_model_evaluation order by all")
    lines = {t["name"]: t for t in figure_data(html_text, "fig-value-churn-calibration")}
    for predictor, label in PREDICTOR_LABELS.items():
        rows = query(db, f"select mean_predicted, observed_rate from churn_model_evaluation "
                         f"where predictor = '{predictor}' order by decile")
        assert lines[label]["x"] == pytest.approx(list(rows["mean_predicted"]))
        assert lines[label]["y"] == pytest.approx(list(rows["observed_rate"]))
    assert len(churn) == sum(len(lines[label]["x"]) for label in PREDICTOR_LABELS.values())

    bands = query(db, """
        select churn_risk, count(*) as customers, avg(clv) as mean_clv, sum(clv) as total_clv
        from customer_value group by churn_risk
        order by case churn_risk when 'high' then 0 when 'medium' then 1 else 2 end
    """)
    panels = {t["name"]: t for t in figure_data(html_text, "fig-value-clv-bands")}
    for name in ("customers", "mean_clv", "total_clv"):
        assert panels[name]["x"] == list(bands["churn_risk"])
    assert panels["customers"]["y"] == list(bands["customers"])
    assert panels["mean_clv"]["y"] == pytest.approx(list(bands["mean_clv"]), abs=0.005 + 1e-9)
    assert panels["total_clv"]["y"] == pytest.approx(list(bands["total_clv"]), abs=0.005 + 1e-6)


def test_a_warehouse_without_the_cluster_and_value_marts_gets_a_note_instead(built: dict, html_text: str,
                                                                              tmp_path: Path) -> None:
    db = tmp_path / "older.duckdb"
    shutil.copyfile(built["db"], db)

    def drop(names: list[str]) -> None:
        con = duckdb.connect(str(db))
        try:
            for name in names:
                (kind,) = con.execute("select table_type from information_schema.tables where table_name = ?",
                                      [name]).fetchone()
                con.execute(f"drop {'view' if kind == 'VIEW' else 'table'} {name}")
        finally:
            con.close()

    def note(what: str, marts: list[str]) -> str:
        return (f"This warehouse has no {what} marts (" + ", ".join(f"<code>{m}</code>" for m in marts)
                + "): rebuild it with <code>dbt build</code> to see this section.")

    drop(VALUE_MARTS)
    text = build_report.build_report(db, tmp_path / "no_value.html").read_text()
    value = section(text, "customer-value")
    assert value.count('<div class="callout warn">') == 1 and note("customer-value", VALUE_MARTS) in value
    assert not chart_ids(value)
    assert section(text, "clusters") == section(html_text, "clusters"), "the cluster section does not depend on them"

    drop(CLUSTER_MARTS + ["customer_clusters"])
    text = build_report.build_report(db, tmp_path / "older.html").read_text()
    for anchor, title, what, marts in (
            ("clusters", "9. Customer clusters (K-means on RFM)", "customer-cluster", CLUSTER_MARTS),
            ("customer-value", "10. Customer value (BG/NBD + Gamma-Gamma)", "customer-value", VALUE_MARTS)):
        part = section(text, anchor)
        assert part.startswith(f'<h2 id="{anchor}">{title}</h2>')
        assert part.count("<p") == 0 and part.count('<div class="callout warn">') == 1, "one line, no more"
        assert note(what, marts) in part
        assert not chart_ids(part)
    # The campaign sections are untouched.
    assert chart_ids(text) == [i for i in chart_ids(html_text) if not i.startswith(("fig-cluster-", "fig-value-"))]
    assert len(Page(text).verdicts) == len(Page(html_text).verdicts)


def test_outlier_groups_and_a_fixed_k_are_visible() -> None:
    campaigns = [{"campaign_id": cid, "campaign_name": name, "launch_date": "2026-06-06"}
                 for cid, name in (("a_2026", "First"), ("b_2026", "Second"))]
    selection = [
        {"campaign_id": cid, "launch_date": "2026-06-06", "k": k, "inertia": 100.0 / k, "silhouette": silhouette,
         "is_chosen": k == 3, "clustered_customers": 900, "transform": "none", "outliers": "iqr", "k_setting": "3",
         "seed": 7, "n_init": 5, "silhouette_sample_size": 10000}
        for cid in ("a_2026", "b_2026") for k, silhouette in ((2, 0.5), (3, 0.4), (4, 0.3))
    ]
    profiles = [
        {"campaign_id": cid, "launch_date": "2026-06-06", "cluster_id": cluster_id, "cluster_name": name,
         "cluster_action": action, "is_outlier_group": cluster_id is None, "customers": n, "customer_share": n / 1000,
         "median_recency_days": 30.0, "median_frequency": 2.0, "median_monetary": 150.0, "revenue": 1.0,
         "revenue_share": 0.2}
        for cid in ("a_2026", "b_2026")
        for cluster_id, name, action, n in ((1, "Champions", "reward", 300), (2, "Promising", "develop", 300),
                                            (3, "Hibernating", "re-engage", 300),
                                            (None, "Monetary outliers", "review individually", 100))
    ]
    by_segment = [{"campaign_id": "a_2026", "cluster_id": None, "cluster_name": "Monetary outliers",
                   "segment_scheme": "rfm_tier", "segment": "Gold", "customers": 100, "share_of_cluster": 1.0,
                   "share_of_segment": 0.5}]
    data = {"campaigns": campaigns, "clusters": {"selection": selection, "profiles": profiles,
                                                 "by_segment": by_segment}}
    figures = build_report.Figures()
    text = build_report.section_clusters(data, figures)
    assert figures.ids == ["fig-cluster-elbow-2026-06-06", "fig-cluster-segments-2026-06-06"], "once per launch date"
    assert '<span class="muted">(First, Second)</span>' in text
    assert "<strong>k = 3 was chosen</strong>, fixed by <code>cluster_k = 3</code> (silhouette 0.400)" in text
    assert "the best silhouette of the k tried was at k = 2 (0.500)" in text
    assert "customers beyond 1.5 &times; IQR on monetary or frequency set aside" in text and ": 100 customers" in text
    body, classes = Tables(text).find("Cluster")
    assert [c[0] for c in body] == ["1. Champions", "2. Promising", "3. Hibernating",
                                    "Monetary outliers (outlier group)"]
    assert classes == ["", "", "", "outlier"]
    assert "Rows marked <strong>outlier group</strong>" in text
    heatmap = figure_data(text, "fig-cluster-segments-2026-06-06")[0]
    assert heatmap["y"][-1] == "Monetary outliers (outlier group)" and heatmap["z"][-1] == [1.0]


def test_a_k_search_on_a_sample_of_customers_says_so() -> None:
    row = {"campaign_id": "a_2026", "launch_date": "2026-06-06", "inertia": 1.0, "clustered_customers": 2_406_564,
           "k_search_customers": 100_000, "transform": "log1p", "outliers": "none", "k_setting": "auto", "seed": 42,
           "n_init": 10, "silhouette_sample_size": 10000}
    selection = [{**row, "k": k, "silhouette": s, "is_chosen": k == 2} for k, s in ((2, 0.6), (3, 0.5))]
    text = build_report.cluster_choice_text(selection, 0)
    assert ("of 2,406,564 customers, tried for k = 2 to 3 on 100,000 of them, those with the lowest hash of their "
            "id (<code>cluster_k_search_sample_size</code>), the chosen k then fitted on all: ") in text
    assert "silhouette on a seeded sample of 10,000 customers" in text
    # Every customer searched: no word of a sample; a silhouette sample as large as the search is no sample.
    everyone = [{**r, "k_search_customers": 2_406_564} for r in selection]
    assert "cluster_k_search_sample_size" not in build_report.cluster_choice_text(everyone, 0)
    small = [{**r, "silhouette_sample_size": 100_000} for r in selection]
    assert "silhouette on the search's customers" in build_report.cluster_choice_text(small, 0)


def test_the_churn_callout_is_worded_from_the_aucs() -> None:
    kind, text = build_report.churn_callout(
        {"bg_nbd_one_minus_p_alive": 0.415, "bg_nbd_p_no_purchase": 0.706, "logistic_rfm": 0.735})
    assert kind == "warn"
    assert ("Its AUC is 0.415 (below 0.5: worse than ranking at random): it ranks worse than the model's own "
            "probability of no purchase in the window (AUC 0.706) and than the logistic regression on recency, "
            "frequency and monetary value (AUC 0.735).") in text
    assert "The best ranking here: Logistic regression on recency, frequency, monetary (AUC 0.735)." in text
    kind, text = build_report.churn_callout(
        {"bg_nbd_one_minus_p_alive": 0.8, "bg_nbd_p_no_purchase": 0.7, "logistic_rfm": 0.8001})
    assert kind == "info" and "worse than" not in text and "best ranking" not in text
    assert ("Its AUC is 0.800: it ranks as well as the logistic regression on recency, frequency and monetary value "
            "(AUC 0.800); it ranks better than the model's own probability of no purchase in the window "
            "(AUC 0.700).") in text


def test_the_number_formats_of_the_new_sections() -> None:
    assert [build_report.significant(v) for v in (222.014559, 0.166801, 0.004703, 31.716366, 12345.6, 0, None)] == [
        "222.0", "0.1668", "0.004703", "31.72", "12,346", "0", "n/a"]
    assert build_report.long_date("2025-12-08") == "8 December 2025"
    assert build_report.long_date("2026-06-05") == "5 June 2026"


def test_the_cli_writes_the_report_and_explains_failures(built: dict, tmp_path: Path, capsys) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(built["db"], db)
    out = tmp_path / "reports" / "campaign_report.html"
    assert build_report.main(["--db", str(db), "--out", str(out)]) == 0
    assert out.exists() and f"wrote {out}" in capsys.readouterr().out
    # The read-only connection is closed: DuckDB refuses a read-write one on a file this process still holds.
    duckdb.connect(str(db)).close()
    assert build_report.main(["--db", str(tmp_path / "missing.duckdb"), "--out", str(tmp_path / "x.html")]) == 1
    assert "no warehouse at" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_a_campaign_without_outcomes_yet_still_gets_a_report(tmp_path: Path) -> None:
    # A small shop stopped before the campaign window (--no-simulation): every conversion is 0.
    db = tmp_path / "warehouse.duckdb"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crm.py"), "run", "--users", "3000", "--no-simulation",
         "--data-dir", str(tmp_path / "data"), "--db", str(db), "--report", str(tmp_path / "run_report.html")],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = build_report.build_report(db, tmp_path / "report.html").read_text()
    campaigns = query(db, "select campaign_id, campaign_name from int_campaigns_for_source")
    rows = uplift_rows(db)
    verdicts = Page(text).verdicts
    assert len(verdicts) == len(rows) > 0
    assert all(v.endswith("no outcome yet (no sale recorded in the measurement window).") for _, v in verdicts)
    for campaign_id, name in zip(campaigns["campaign_id"], campaigns["campaign_name"]):
        assert f"<strong>No outcomes yet</strong> for {name.replace('&', '&amp;')}" in text
        slug = campaign_id.replace("_", "-")
        ids = chart_ids(text)
        assert f"fig-funnel-{slug}" in ids and f"fig-srm-{slug}" in ids
        assert not {f"fig-uplift-{slug}", f"fig-conversion-{slug}", f"fig-money-{slug}"} & set(ids)
    assert not any("significant at" in v or "distinguishable" in v for _, v in verdicts)


def test_the_report_renders_in_a_browser_without_script_errors(report: Path, html_text: str, tmp_path: Path) -> None:
    binary = chromium()
    # The page records its own script errors: check the hook catches one before trusting an empty record.
    broken = tmp_path / "broken.html"
    broken.write_text(f"<!DOCTYPE html><html><body>{build_report.ERROR_HOOK}<script>no_such_function();</script>"
                      "</body></html>")
    dom = run_chromium(binary, tmp_path / "profile-broken", "--virtual-time-budget=2000", "--dump-dom", broken.as_uri())
    assert "no_such_function" in re.search(r'<pre id="script-errors"[^>]*>(.*?)</pre>', dom.stdout, re.S).group(1)

    dom = run_chromium(binary, tmp_path / "profile-dom", "--virtual-time-budget=10000", "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-3000:]
    errors = re.search(r'<pre id="script-errors"[^>]*>(.*?)</pre>', dom.stdout, re.S)
    assert errors is not None and errors.group(1).strip() == "", errors.group(1) if errors else dom.stdout[:2000]
    ids = chart_ids(html_text)
    starts = [dom.stdout.index(f'id="{div_id}"') for div_id in ids]
    for div_id, start, end in zip(ids, starts, starts[1:] + [len(dom.stdout)]):
        assert 'class="main-svg"' in dom.stdout[start:end], f"chart {div_id} did not render"

    shot = tmp_path / "report.png"
    result = run_chromium(binary, tmp_path / "profile-shot", "--window-size=1400,6000", "--virtual-time-budget=10000",
                          f"--screenshot={shot}", report.as_uri())
    assert shot.exists(), result.stderr[-3000:]
    assert shot.stat().st_size > 100_000
    top = png_top_rows(shot, 1700)
    colours = {tuple(pixel) for pixel in top[:, :, :3].reshape(-1, 3)[::7]}
    assert len(colours) > 50, "the screenshot is (nearly) blank"
    # The segment chart's Gold bars are drawn in the top part of the page.
    gold = tuple(int(build_report.SEGMENT_COLOURS["Gold"][i:i + 2], 16) for i in (1, 3, 5))
    assert (top[:, :, :3] == gold).all(axis=2).sum() > 1000


def test_a_sample_ratio_mismatch_is_a_visible_warning() -> None:
    campaign = {"campaign_id": "c1", "campaign_name": "Example", "launch_date": "2026-06-06"}
    arms = [
        {"campaign_id": "c1", "arm": arm, "planned_share": share, "customers": n, "observed_share": n / 1500,
         "expected_customers": 1500 * share, "exposed_customers": 1500, "chi_square": 40.0,
         "degrees_of_freedom": 1, "p_value": 2e-10, "is_sample_ratio_mismatch": True}
        for arm, share, n in (("control", 0.5, 600), ("email", 0.5, 900))
    ]
    data = {"campaigns": [campaign], "arms": arms, "uplift": [], "outcomes": [], "data_through": "2026-07-05"}
    section = build_report.section_srm(data, build_report.Figures())
    assert '<div class="callout bad"><strong>Sample ratio mismatch</strong> (chi-square p = 2e-10)' in section
    assert "Arm sizes match the plan" not in section
    assert "Sample ratio mismatch: the verdicts below cannot be trusted." in build_report.section_verdicts(data, {})
    assert "(SRM!)" not in build_report.summary(data)  # no uplift row: nothing to flag in the summary table


def test_the_main_command_writes_the_report(built: dict) -> None:
    assert "report: " in built["output"]
    html = built["report"].read_text()
    assert "<html" in html.lower() and 'id="script-errors"' in html
