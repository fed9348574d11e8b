"""The Online Retail source end to end: the README's run command on a year of invoices in the release-1 CSV
layout, the cleaning counts, RFM, segments and arms recomputed in pandas, the same marts from the release-2
workbook with its overlapping sheets, and switching a warehouse to this source and back."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import online_retail_files as orf
from reference import cents, query
from test_campaigns import python_arm, python_uniform
from test_segmentation import expected_rfm

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "online_retail_crm_2011"
LAUNCH = pd.Timestamp("2011-09-01")
PRODUCT_CODE = re.compile(r"^[0-9]{5}[A-Za-z]*$")
MARTS_COMPARED = ("customers", "rfm_features", "campaign_exposure", "campaign_outcomes", "uplift_by_arm",
                  "online_retail_data_quality", "customer_value_fit")


def run(source: Path, db: Path, report: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crm.py"), "run", "--db", str(db), "--report", str(report), *extra,
         *(["--source-type", "online_retail", "--source", str(source)] if source else [])],
        cwd=ROOT, capture_output=True, text=True,
    )


@pytest.fixture(scope="module")
def lines() -> list[orf.Line]:
    return orf.year_of_invoices(customers=1500, seed=7)


@pytest.fixture(scope="module")
def built_retail(lines: list[orf.Line], tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("online_retail")
    source = orf.write_retail_csv(work / "Online Retail.csv", lines)
    result = run(source, work / "warehouse.duckdb", work / "report.html")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return {"db": work / "warehouse.duckdb", "output": result.stdout, "report": work / "report.html", "work": work}


@pytest.fixture(scope="module")
def frame(lines: list[orf.Line]) -> pd.DataFrame:
    """The lines with every cleaning rule written out in pandas."""
    frame = pd.DataFrame([line.__dict__ for line in lines])
    frame["amount_cents"] = cents(frame["quantity"] * frame["price"])
    frame["is_cancellation"] = frame["invoice"].str.upper().str.startswith("C")
    frame["is_adjustment"] = frame["invoice"].str.upper().str.startswith("A")
    frame["non_positive_quantity"] = frame["quantity"] <= 0
    frame["non_positive_price"] = frame["price"] <= 0
    frame["non_product"] = ~frame["stock_code"].map(lambda code: bool(PRODUCT_CODE.match(code)))
    frame["missing_customer"] = frame["customer_id"].isna()
    frame["duplicate"] = frame.duplicated(keep="first", subset=["invoice", "stock_code", "description", "quantity",
                                                                  "invoiced_at", "price", "customer_id", "country"])
    order = ["is_cancellation", "is_adjustment", "non_positive_quantity", "non_positive_price", "non_product"]
    names = ["cancellation", "adjustment", "non-positive quantity", "non-positive price", "non-product stock code"]
    frame["reason"] = np.select([frame[flag] for flag in order], names, default="")
    frame["is_sale"] = frame["reason"] == ""
    return frame


def test_the_run_says_what_it_loaded_and_that_the_campaign_is_an_aa_test(built_retail: dict) -> None:
    output = built_retail["output"]
    assert "detected Online Retail (UCI release 1)" in output
    assert "category_ratios is empty: the Online Retail files have no product categories" in output
    assert "A/A CHECK: this campaign was never sent" in output
    assert "A/A: noise by construction" in output and "significant at" not in output
    assert query(built_retail["db"], "select count(*) as n from category_ratios")["n"].item() == 0


def test_cleaning_counts_match_pandas(built_retail: dict, frame: pd.DataFrame) -> None:
    quality = query(built_retail["db"], "select * from online_retail_data_quality order by rule_order").set_index("rule")
    flags = {"cancellation": "is_cancellation", "adjustment": "is_adjustment",
             "non-positive quantity": "non_positive_quantity", "non-positive price": "non_positive_price",
             "non-product stock code": "non_product", "exact duplicate line": "duplicate",
             "missing customer id": "missing_customer"}
    for rule, flag in flags.items():
        flagged = frame[frame[flag]]
        assert quality.loc[rule, "lines_flagged"] == len(flagged), rule
        assert round(float(quality.loc[rule, "amount_flagged"]) * 100) == flagged["amount_cents"].sum(), rule
        removed = (frame[frame["reason"] == rule] if rule not in ("exact duplicate line", "missing customer id")
                   else frame[frame["is_sale"] & frame["missing_customer"]] if rule == "missing customer id"
                   else frame.iloc[0:0])
        assert quality.loc[rule, "lines_removed"] == len(removed), rule
        assert round(float(quality.loc[rule, "amount_removed"]) * 100) == removed["amount_cents"].sum(), rule
    kept = frame[frame["is_sale"] & ~frame["missing_customer"]]
    assert (quality["lines_loaded"] == len(frame)).all()
    assert (quality["sale_lines_kept"] == len(kept)).all()
    assert quality["lines_removed"].sum() + len(kept) == len(frame)
    # The fixture exercises every rule.
    assert (quality["lines_flagged"] > 0).all()

    transactions = query(built_retail["db"], "select status, is_sale, count(*) as n, sum(sale_price) as amount "
                                             "from transactions group by all").set_index("status")
    attributable = frame[~frame["missing_customer"]]
    expected = attributable.assign(status=attributable["reason"].replace("", "sale")).groupby("status").agg(
        n=("invoice", "size"), amount=("amount_cents", "sum"))
    assert transactions["n"].sort_index().to_dict() == expected["n"].sort_index().to_dict()
    assert (transactions["amount"].astype(float).mul(100).round().sort_index().tolist()
            == expected["amount"].sort_index().tolist())


def test_rfm_segments_and_arms_match_pandas(built_retail: dict, frame: pd.DataFrame) -> None:
    sales = frame[~frame["missing_customer"]].copy()
    sales = sales.assign(user_id=sales["customer_id"].astype("int64"), ordered_at=pd.to_datetime(sales["invoiced_at"]),
                         order_id=sales["invoice"], price_cents=sales["amount_cents"])
    expected = expected_rfm(sales, LAUNCH)
    actual = query(
        built_retail["db"],
        "select customer_id, recency_days, frequency, cast(monetary * 100 as bigint) as monetary_cents, "
        "recency_score, frequency_score, monetary_score, rfm_score, rfm_segment, lifecycle_segment "
        f"from rfm_features where campaign_id = '{CAMPAIGN}' order by customer_id",
    ).set_index("customer_id")
    assert actual.index.tolist() == expected.index.tolist()
    for column in actual.columns:
        assert actual[column].tolist() == expected[column].tolist(), column

    exposure = query(built_retail["db"], f"select customer_id, arm from campaign_exposure "
                                         f"where campaign_id = '{CAMPAIGN}' order by customer_id")
    # Every scored customer is targeted, and each arm follows the hash and the planned shares.
    assert exposure["customer_id"].tolist() == expected.index.tolist()
    arms = [python_arm(CAMPAIGN, python_uniform(CAMPAIGN, customer)) for customer in exposure["customer_id"]]
    assert exposure["arm"].tolist() == arms
    counts = pd.Series(arms).value_counts()
    uplift = query(built_retail["db"], "select arm, treated_customers, control_customers from uplift_by_arm")
    for row in uplift.itertuples():
        assert row.treated_customers == counts[row.arm] and row.control_customers == counts["control"]


def test_the_release_2_workbook_with_overlapping_sheets_gives_the_same_marts(
        built_retail: dict, lines: list[orf.Line], tmp_path: Path) -> None:
    """The same lines split over release 2's two sheets, the second repeating the first one's last invoices."""
    cut = next(i for i, line in enumerate(lines) if pd.Timestamp(line.invoiced_at) >= pd.Timestamp("2011-03-01"))
    overlap_start = next(i for i in range(cut - 1, 0, -1) if lines[i].invoice != lines[cut - 1].invoice
                         and pd.Timestamp(lines[i].invoiced_at) < pd.Timestamp(lines[cut - 1].invoiced_at)
                         - pd.Timedelta(days=3)) + 1
    while lines[overlap_start].invoice == lines[overlap_start - 1].invoice:
        overlap_start += 1
    workbook = orf.write_retail_xlsx(tmp_path / "online_retail_II.xlsx",
                                     {"Year 2009-2010": lines[:cut], "Year 2010-2011": lines[overlap_start:]},
                                     layout=orf.RELEASE_2)
    db = tmp_path / "release2.duckdb"
    result = run(workbook, db, tmp_path / "report.html")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "detected Online Retail II" in result.stdout
    assert f"{cut - overlap_start} lines" in result.stdout  # the overlap, dropped once
    for mart in MARTS_COMPARED:
        first = query(built_retail["db"], f"select * from {mart} order by all")
        again = query(db, f"select * from {mart} order by all")
        pd.testing.assert_frame_equal(first, again, check_exact=True, obj=mart)


def test_switching_source_and_back_leaves_nothing_behind(built: dict, built_retail: dict, tmp_path: Path) -> None:
    """One warehouse path: thelook, then Online Retail, then thelook again gives the first thelook marts."""
    db = tmp_path / "switch.duckdb"
    thelook = ["--data-dir", str(built["data_dir"])]
    shutil.copy(built["db"], db)
    source = built_retail["work"] / "Online Retail.csv"
    result = run(source, db, tmp_path / "r2.html")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert query(db, "select count(*) as n from raw_online_retail.invoice_lines")["n"].item() > 0
    assert run(None, db, tmp_path / "r3.html", *thelook).returncode == 0
    schemas = set(query(db, "select distinct table_schema from information_schema.tables")["table_schema"])
    assert "raw_online_retail" not in schemas
    for mart in ("transactions", "customers", "rfm_features", "category_ratios", "campaign_exposure", "uplift_by_arm"):
        first = query(built["db"], f"select * from {mart} order by all")
        again = query(db, f"select * from {mart} order by all")
        pd.testing.assert_frame_equal(first, again, check_exact=True, obj=mart)


def test_a_rebuild_with_the_users_own_vars_stays_on_the_warehouses_source(built_retail: dict, tmp_path: Path) -> None:
    """`crm.py build -- --vars ...` adds the user's vars to the source the warehouse was loaded from."""
    db = tmp_path / "rebuilt.duckdb"
    shutil.copy(built_retail["db"], db)
    before = query(db, "select * from customers order by customer_id")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crm.py"), "build", "--db", str(db), "--", "--select", "customers",
         "--quiet", "--vars", "{reference_date: '2011-10-01'}"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    after = query(db, "select * from customers order by customer_id")
    assert set(after["reference_date"].astype(str)) == {"2011-10-01"}
    unchanged = [column for column in before.columns if column not in ("reference_date", "days_since_last_order")]
    pd.testing.assert_frame_equal(before[unchanged], after[unchanged], check_exact=True)
    expected = (pd.Timestamp("2011-10-01") - after["last_order_at"].dt.normalize()).dt.days
    assert after["days_since_last_order"].isna().equals(expected.isna())
    assert (after["days_since_last_order"].dropna() == expected.dropna()).all()


def test_the_report_says_it_is_an_aa_test_and_that_there_are_no_categories(built_retail: dict) -> None:
    text = built_retail["report"].read_text()
    assert "A/A check: this campaign was never sent." in text
    assert "A negative row is not cannibalisation" in text
    assert "This data has no product categories (the Online Retail files)" in text
    rows = query(built_retail["db"], "select count(*) as n from uplift_by_arm")["n"].item()
    rows += query(built_retail["db"], "select count(*) as n from uplift_by_segment_arm")["n"].item()
    verdicts = re.findall(r'<li class="verdict (\w+)"[^>]*>([^<]*)</li>', text)
    assert len(verdicts) == rows
    # Nothing is painted as an effect, and every sentence says why.
    assert {kind for kind, _ in verdicts} == {"neutral"}
    assert all("never sent" in sentence for _, sentence in verdicts)
