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
                          ("srm", "7. Sample-ratio check"), ("verdicts", "8. Verdicts")]:
        assert f'<h2 id="{anchor}">{title}</h2>' in html_text
    assert str(Path(built["db"]).resolve()) in html_text
    campaigns = query(built["db"], "select campaign_name, strftime(launch_date, '%Y-%m-%d') as launch from campaigns")
    for name, launch in zip(campaigns["campaign_name"], campaigns["launch"]):
        assert f"Campaigns launched {launch}" in html_text
        assert name.replace("&", "&amp;") in html_text
    today = date.today().isoformat()
    if today not in set(campaigns["launch"]):
        assert today not in html_text, "the report must not carry the day it was built"
    # Per campaign: a bubble chart (both campaigns have a target segment), funnel, conversion, forest, money, SRM.
    ids = chart_ids(html_text)
    for campaign_id in query(built["db"], "select campaign_id from campaigns")["campaign_id"]:
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
    campaigns = query(db, "select campaign_id, campaign_name from campaigns")
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
