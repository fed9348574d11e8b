"""The campaign results loader: a file in the Hillstrom layout (CSV with the real file's quirks, or Parquet) lands in
the long raw tables exactly as an independent pandas reading of the same file says; several campaigns share the
tables; a bad mapping or a bad file stops with file, column, row and value, and leaves the warehouse as it was."""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

import load_campaign_results
from campaign_results_files import (
    BIG_SPENDER,
    HILLSTROM_COLUMNS,
    IDENTICAL,
    csv_text,
    hillstrom_rows,
    with_value,
    write_results_csv,
    write_results_parquet,
)
from load_campaign_results import TABLES, LoadError, load

ROOT = Path(__file__).resolve().parents[2]
HILLSTROM = ROOT / "mappings" / "hillstrom.yml"
SCHEMA = "raw_campaign_results"
ROWS = hillstrom_rows(300)
ORDER = {
    "result_campaigns": "campaign_id",
    "result_arms": "campaign_id, arm",
    "result_customers": "campaign_id, source_row",
    "result_outcomes": "campaign_id, customer_id, outcome",
    "result_attributes": "campaign_id, customer_id, attribute",
}


def quiet(_: str) -> None:
    pass


def hillstrom_mapping() -> dict:
    return yaml.safe_load(HILLSTROM.read_text())


def tables(db: Path, campaign: str | None = None) -> dict[str, list[tuple]]:
    """The five raw tables (one campaign's rows, or all), in a fixed order."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        where = f"where campaign_id = '{campaign}'" if campaign else ""
        return {
            table: con.execute(f"select * from {SCHEMA}.{table} {where} order by {ORDER[table]}").fetchall()
            for table in TABLES
        }
    finally:
        con.close()


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every table of the warehouse with its rows in storage order, to show that a failed load changed nothing."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables order by 1"
        ).fetchall()
        return {name: con.execute(f"select * from {name}").fetchall() for (name,) in names}
    finally:
        con.close()


@pytest.fixture
def hillstrom_csv(tmp_path: Path) -> Path:
    """The Hillstrom layout with the real file's quirks, plus a byte-order mark."""
    return write_results_csv(tmp_path / "hillstrom.csv", ROWS, bom=True)


# ---------------------------------------------------------------------------------------------------------------
# An independent reading with pandas, with the rules written out again the simple way


def as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def expected_tables(path: Path, mapping: dict, source_file: str) -> dict[str, list[tuple]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    campaign = mapping["campaign_id"]
    arms = {arm["value"]: arm for arm in mapping["arm"]["values"]}
    covariates, breakdowns = mapping.get("covariates") or [], mapping.get("breakdowns") or []
    roles = {c: "covariate" for c in covariates} | {c: "both" if c in covariates else "breakdown" for c in breakdowns}
    ids = (
        [str(i + 1) for i in range(len(frame))]
        if mapping["customer_id"] is None
        else [value.strip() for value in frame[mapping["customer_id"]]]
    )
    customers, outcomes, attributes = [], [], []
    for i, (customer, row) in enumerate(zip(ids, frame.to_dict("records"))):
        customers.append((campaign, customer, i + 2, arms[row[mapping["arm"]["column"]].strip()]["name"]))
        for outcome in mapping["outcomes"]:
            name = outcome.get("name", outcome["column"])
            outcomes.append((campaign, customer, name, outcome["kind"], float(row[outcome["column"]])))
        for column, role in roles.items():
            text = row[column].strip()
            attributes.append((campaign, customer, column, role, text or None, as_number(text)))
    share = {"1/3": 1 / 3}
    launch_date = mapping.get("launch_date")
    return {
        "result_campaigns": [(
            campaign, mapping["campaign_name"], source_file, len(frame),
            dt.date.fromisoformat(launch_date) if launch_date else None,
            mapping.get("window_days"), mapping.get("cuped_covariate"),
        )],
        "result_arms": sorted(
            (
                (campaign, value, arm["name"], value == mapping["arm"]["control"],
                 share.get(arm["share"], arm["share"]), arm["channel"], arm["contact_cost"])
                for value, arm in arms.items()
            ),
            key=lambda r: r[2],
        ),
        "result_customers": customers,
        "result_outcomes": sorted(outcomes, key=lambda r: (r[1], r[2])),
        "result_attributes": sorted(attributes, key=lambda r: (r[1], r[2])),
    }


# ---------------------------------------------------------------------------------------------------------------
# Good loads


def test_hillstrom_csv_loads_as_pandas_reads_it(tmp_path: Path, hillstrom_csv: Path) -> None:
    db = tmp_path / "w.duckdb"
    result = load(hillstrom_csv, HILLSTROM, db, log=quiet)
    assert result["customers"] == 300 and result["format"] == "csv"
    assert result["tables"] == {
        "result_campaigns": 1, "result_arms": 3, "result_customers": 300, "result_outcomes": 900,
        "result_attributes": 2400,
    }
    assert sum(result["arms"].values()) == 300 and set(result["arms"]) == {"mens_email", "womens_email", "no_email"}
    assert tables(db) == expected_tables(hillstrom_csv, hillstrom_mapping(), "hillstrom.csv")


def test_an_unknown_contact_cost_stays_null(tmp_path: Path, hillstrom_csv: Path) -> None:
    """The Hillstrom file publishes no cost per e-mail: the mapping says null, the warehouse keeps null (unknown),
    not 0; the control arm is not contacted and costs 0."""
    db = tmp_path / "w.duckdb"
    load(hillstrom_csv, HILLSTROM, db, log=quiet)
    with duckdb.connect(str(db), read_only=True) as con:
        costs = dict(con.execute("select arm, contact_cost from raw_campaign_results.result_arms").fetchall())
    assert costs == {"mens_email": None, "womens_email": None, "no_email": 0.0}
    mapping = hillstrom_mapping()
    mapping["arm"]["values"][0]["contact_cost"] = 0
    parsed = load_campaign_results.parse_mapping(mapping)
    assert [arm.contact_cost for arm in parsed.arms] == [0.0, None, 0.0]


def test_the_quirks_of_the_real_file(tmp_path: Path, hillstrom_csv: Path) -> None:
    raw = hillstrom_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == 301 and b'"7) $1,000 +"' in raw
    db = tmp_path / "w.duckdb"
    load(hillstrom_csv, HILLSTROM, db, log=quiet)
    got = tables(db)
    big = str(BIG_SPENDER + 1)
    assert (big, "history_segment", "breakdown", "7) $1,000 +", None) in [r[1:] for r in got["result_attributes"]]
    assert {r[4] for r in got["result_attributes"] if r[2] == "zip_code"} == {"Urban", "Surburban", "Rural"}
    assert {r[4] for r in got["result_attributes"] if r[2] == "channel"} == {"Phone", "Web", "Multichannel"}
    roles = {r[2]: r[3] for r in got["result_attributes"]}
    assert roles == {
        "recency": "covariate", "history": "covariate", "mens": "both", "womens": "both", "newbie": "both",
        "history_segment": "breakdown", "zip_code": "breakdown", "channel": "breakdown",
    }
    assert got["result_campaigns"] == [(
        "hillstrom_2008", "MineThatData e-mail challenge (Hillstrom 2008): men's / women's e-mail vs no e-mail",
        "hillstrom.csv", 300, None, 14, "history",
    )]
    assert [(r[1], r[2], r[3], r[5]) for r in got["result_arms"]] == [
        ("Mens E-Mail", "mens_email", False, "email"),
        ("No E-Mail", "no_email", True, "none"),
        ("Womens E-Mail", "womens_email", False, "email"),
    ]
    # Without the quirks (no BOM, LF line ends): the same tables.
    (tmp_path / "plain").mkdir()
    plain = write_results_csv(tmp_path / "plain" / "hillstrom.csv", ROWS, line_end="\n")
    load(plain, HILLSTROM, tmp_path / "plain.duckdb", log=quiet)
    assert tables(tmp_path / "plain.duckdb") == got


def test_row_numbers_are_the_ids_and_identical_rows_are_two_customers(tmp_path: Path, hillstrom_csv: Path) -> None:
    db = tmp_path / "w.duckdb"
    load(hillstrom_csv, HILLSTROM, db, log=quiet)
    got = tables(db)
    assert [(r[1], r[2]) for r in got["result_customers"]] == [(str(i), i + 1) for i in range(1, 301)]
    first, second = (str(i + 1) for i in IDENTICAL)
    assert ROWS[IDENTICAL[0]] == ROWS[IDENTICAL[1]]

    def of(customer: str, table: str) -> list[tuple]:
        return [r[2:] for r in got[table] if r[1] == customer]

    for table in ("result_outcomes", "result_attributes"):
        assert of(first, table) == of(second, table) and of(first, table)
    assert len({r[1] for r in got["result_customers"]}) == 300


def test_parquet_copy_loads_the_same(tmp_path: Path, hillstrom_csv: Path) -> None:
    load(hillstrom_csv, HILLSTROM, tmp_path / "csv.duckdb", log=quiet)
    parquet = write_results_parquet(tmp_path / "hillstrom.parquet", ROWS, row_group_size=64)
    result = load(parquet, HILLSTROM, tmp_path / "parquet.duckdb", log=quiet)
    assert result["format"] == "parquet"
    from_csv, from_parquet = tables(tmp_path / "csv.duckdb"), tables(tmp_path / "parquet.duckdb")
    assert from_parquet["result_campaigns"][0][2] == "hillstrom.parquet"
    from_csv["result_campaigns"] = [r[:2] + r[3:] for r in from_csv["result_campaigns"]]
    from_parquet["result_campaigns"] = [r[:2] + r[3:] for r in from_parquet["result_campaigns"]]
    assert from_parquet == from_csv


def odd_csv(path: Path, rows: list[dict]) -> Path:
    """A value spanning two lines in data row 3, and an empty line before data row 10."""
    text = csv_text(with_value(rows, 2, "channel", "Multi\nchannel")).split("\r\n")
    text.insert(10, "")
    path.write_text("\r\n".join(text), newline="")
    return path


def test_a_value_spanning_lines_and_empty_lines_keep_row_numbers_right(tmp_path: Path) -> None:
    path = odd_csv(tmp_path / "odd.csv", ROWS[:20])
    db = tmp_path / "w.duckdb"
    load(path, HILLSTROM, db, log=quiet)
    got = tables(db)
    # Data rows 1-2 on lines 2-3, row 3 on lines 4-5, rows 4-9 on lines 6-11, line 12 empty, rows 10-20 on 13-23.
    assert [r[2] for r in got["result_customers"]] == [2, 3, 4] + list(range(6, 12)) + list(range(13, 24))
    assert [r[1] for r in got["result_customers"]] == [str(i) for i in range(1, 21)]
    assert ("3", "channel", "breakdown", "Multi\nchannel", None) in [r[1:] for r in got["result_attributes"]]
    bad = odd_csv(tmp_path / "bad.csv", with_value(ROWS[:20], 14, "spend", "abc"))
    before = snapshot(db)
    with pytest.raises(LoadError, match=r"bad\.csv: column spend, row 18: 'abc' is not a number$"):
        load(bad, HILLSTROM, db, log=quiet)
    with open(bad, newline="") as f:
        assert f.read().split("\n")[17].rstrip("\r").endswith(',"abc"')
    assert snapshot(db) == before


SPRING_COLUMNS = ("Customer Ref", "group", "converted", "revenue", "prior_revenue", "region")
SPRING_ROWS = [
    {"Customer Ref": f"C{n:04d}", "group": n % 2, "converted": int(n % 5 == 0), "revenue": 12.5 * (n % 5 == 0),
     "prior_revenue": float(n * 3), "region": ("North", "South", "")[n % 3]}
    for n in range(1, 41)
]


def spring_mapping() -> dict:
    return {
        "campaign_id": "spring_sms_2024",
        "campaign_name": "Spring SMS test",
        "customer_id": "customer ref",  # matched ignoring case
        "arm": {
            "column": "group",
            "control": 0,
            "values": [
                {"value": 0, "name": "control", "share": 0.5, "channel": "none", "contact_cost": 0},
                {"value": 1, "name": "sms", "share": 0.5, "channel": "sms", "contact_cost": 0.08},
            ],
        },
        "outcomes": [{"column": "converted", "kind": "binary"}, {"column": "revenue", "kind": "amount", "name": "rev"}],
        "covariates": ["prior_revenue"],
        "cuped_covariate": "prior_revenue",
        "breakdowns": ["region"],
        "launch_date": "2024-04-02",
        "window_days": 30,
    }


def test_a_second_campaign_keeps_the_first(tmp_path: Path, hillstrom_csv: Path) -> None:
    db = tmp_path / "w.duckdb"
    load(hillstrom_csv, HILLSTROM, db, log=quiet)
    hillstrom = tables(db, "hillstrom_2008")
    spring = write_results_csv(tmp_path / "spring.csv", SPRING_ROWS, SPRING_COLUMNS, line_end="\n")
    result = load(spring, spring_mapping(), db, log=quiet)
    assert result["arms"] == {"control": 20, "sms": 20}
    assert tables(db, "hillstrom_2008") == hillstrom
    got = tables(db, "spring_sms_2024")
    mapping = spring_mapping()
    for arm in mapping["arm"]["values"]:
        arm["value"] = str(arm["value"])
    mapping["arm"]["control"] = "0"
    mapping["customer_id"] = "Customer Ref"
    assert got == expected_tables(spring, mapping, "spring.csv")
    assert got["result_campaigns"][0][4] == dt.date(2024, 4, 2)
    assert ("C0002", "region", "breakdown", None, None) in [r[1:] for r in got["result_attributes"]]

    # Loading the first campaign again, from a smaller file, replaces only its rows.
    smaller = write_results_csv(tmp_path / "smaller.csv", ROWS[:50])
    load(smaller, HILLSTROM, db, log=quiet)
    assert len(tables(db, "hillstrom_2008")["result_customers"]) == 50
    assert {r[0] for r in tables(db)["result_campaigns"]} == {"hillstrom_2008", "spring_sms_2024"}
    assert tables(db, "spring_sms_2024")["result_customers"] == got["result_customers"]


def test_nothing_depends_on_the_clock_or_the_folder(tmp_path: Path, hillstrom_csv: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    copy_ = tmp_path / "elsewhere" / "hillstrom.csv"
    copy_.write_bytes(hillstrom_csv.read_bytes())
    load(hillstrom_csv, HILLSTROM, tmp_path / "a.duckdb", log=quiet)
    load(copy_, HILLSTROM, tmp_path / "b.duckdb", log=quiet)
    assert snapshot(tmp_path / "a.duckdb") == snapshot(tmp_path / "b.duckdb")
    # Loading the same campaign again gives the same tables, row order included.
    load(hillstrom_csv, HILLSTROM, tmp_path / "a.duckdb", log=quiet)
    assert snapshot(tmp_path / "a.duckdb") == snapshot(tmp_path / "b.duckdb")


def test_command_line(tmp_path: Path, hillstrom_csv: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "w.duckdb"
    argv = [str(hillstrom_csv), "--mapping", str(HILLSTROM), "--db", str(db), "--schema", "results"]
    assert load_campaign_results.main(argv) == 0
    out = capsys.readouterr().out
    assert "300 customers" in out and "results.result_outcomes" in out and "control" in out
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from results.result_customers").fetchone() == (300,)
    con.close()
    bad = write_results_csv(tmp_path / "bad.csv", [])
    assert load_campaign_results.main([str(bad), "--mapping", str(HILLSTROM), "--db", str(db)]) == 1
    assert "load failed, warehouse unchanged: " in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# Refusals: each leaves the warehouse as the good load left it


@pytest.fixture(scope="module")
def loaded_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding a good load of two campaigns plus a table of someone's."""
    folder = tmp_path_factory.mktemp("loaded")
    db = folder / "w.duckdb"
    load(write_results_csv(folder / "hillstrom.csv", ROWS, bom=True), HILLSTROM, db, log=quiet)
    load(write_results_csv(folder / "spring.csv", SPRING_ROWS, SPRING_COLUMNS), spring_mapping(), db, log=quiet)
    con = duckdb.connect(str(db))
    con.execute(f"create table main.customers as select * from {SCHEMA}.result_customers")
    con.close()
    return db


@pytest.fixture
def loaded(tmp_path: Path, loaded_once: Path) -> Path:
    """A copy of that warehouse, for one test to try to spoil."""
    db = tmp_path / "warehouse" / "w.duckdb"
    db.parent.mkdir()
    shutil.copyfile(loaded_once, db)
    return db


def assert_load_fails(source: Path, db: Path, match: str, mapping: Path | dict = HILLSTROM) -> None:
    before = snapshot(db)
    with pytest.raises(LoadError, match=match):
        load(source, mapping, db, log=quiet)
    assert snapshot(db) == before


def write(tmp_path: Path, fmt: str, rows: list[dict], header=HILLSTROM_COLUMNS, name: str = "bad") -> Path:
    if fmt == "csv":
        return write_results_csv(tmp_path / f"{name}.csv", rows, header)
    return write_results_parquet(tmp_path / f"{name}.parquet", rows, header)


FORMATS = ["csv", "parquet"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_column(tmp_path: Path, loaded: Path, fmt: str) -> None:
    header = [c for c in HILLSTROM_COLUMNS if c != "spend"]
    bad = write(tmp_path, fmt, ROWS, header)
    assert_load_fails(
        bad, loaded, rf"bad\.{fmt}: missing column spend \(the file has: recency, history_segment, history, mens, "
        r"womens, zip_code, newbie, channel, segment, visit, conversion\)$",
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_arm_value_the_mapping_does_not_list(tmp_path: Path, loaded: Path, fmt: str) -> None:
    bad = write(tmp_path, fmt, with_value(ROWS, 10, "segment", "Mens Email"))
    assert_load_fails(
        bad, loaded, rf"bad\.{fmt}: column segment, row 12: 'Mens Email' is not an arm of the mapping "
        r"\(the arms are 'Mens E-Mail', 'Womens E-Mail', 'No E-Mail'\)$",
    )


def test_an_empty_arm(tmp_path: Path, loaded: Path) -> None:
    bad = write(tmp_path, "csv", with_value(ROWS, 4, "segment", " "))
    assert_load_fails(bad, loaded, r"bad\.csv: column segment, row 6: the arm is empty$")


def test_a_control_that_never_occurs(tmp_path: Path, loaded: Path) -> None:
    rows = [row for row in ROWS if row["segment"] != "No E-Mail"]
    counts = pd.Series([row["segment"] for row in rows]).value_counts()
    bad = write(tmp_path, "csv", rows)
    assert_load_fails(
        bad, loaded, r"bad\.csv: column segment: the control value 'No E-Mail' never occurs \(the values found: "
        rf"'Mens E-Mail' \({counts['Mens E-Mail']} rows\), 'Womens E-Mail' \({counts['Womens E-Mail']} rows\)\)$",
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_non_numeric_outcome(tmp_path: Path, loaded: Path, fmt: str) -> None:
    bad = write(tmp_path, fmt, with_value(ROWS, 10, "spend", "abc"))
    assert_load_fails(bad, loaded, rf"bad\.{fmt}: column spend, row 12: 'abc' is not a number$")


@pytest.mark.parametrize("value", ["n/a", "1,234.50", "$120", "inf", "1_000"])
def test_a_non_numeric_covariate(tmp_path: Path, loaded: Path, value: str) -> None:
    bad = write(tmp_path, "csv", with_value(ROWS, 20, "history", value))
    assert_load_fails(bad, loaded, rf"bad\.csv: column history, row 22: {re.escape(repr(value))} is not a number$")


def test_an_empty_outcome_or_covariate(tmp_path: Path, loaded: Path) -> None:
    bad = write(tmp_path, "csv", with_value(ROWS, 7, "visit", ""))
    assert_load_fails(bad, loaded, r"bad\.csv: column visit, row 9: the value is empty$")
    bad = write(tmp_path, "csv", with_value(ROWS, 3, "recency", None))
    assert_load_fails(bad, loaded, r"bad\.csv: column recency, row 5: the value is empty \(a covariate must be known")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("value", [2, "yes", 0.5])
def test_a_binary_outcome_other_than_0_or_1(tmp_path: Path, loaded: Path, fmt: str, value) -> None:
    bad = write(tmp_path, fmt, with_value(ROWS, 30, "conversion", value))
    message = "is not a number" if value == "yes" else r"is not 0 or 1 \(a binary outcome\)"
    assert_load_fails(bad, loaded, rf"bad\.{fmt}: column conversion, row 32: '{value}' {message}$")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_negative_amount(tmp_path: Path, loaded: Path, fmt: str) -> None:
    bad = write(tmp_path, fmt, with_value(ROWS, 99, "spend", -5.5))
    assert_load_fails(bad, loaded, rf"bad\.{fmt}: column spend, row 101: '-5\.5' is negative \(an amount\)$")


def test_the_first_bad_row_is_reported(tmp_path: Path, loaded: Path) -> None:
    rows = with_value(with_value(ROWS, 50, "spend", "abc"), 40, "visit", 3)
    assert_load_fails(write(tmp_path, "csv", rows), loaded, r"column visit, row 42: '3' is not 0 or 1")


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file_and_header_only(tmp_path: Path, loaded: Path, fmt: str) -> None:
    empty = tmp_path / f"empty.{fmt}"
    empty.write_bytes(b"")
    assert_load_fails(empty, loaded, rf"empty\.{fmt}: the file is empty$")
    header_only = write(tmp_path, fmt, [], name="header")
    assert_load_fails(header_only, loaded, rf"header\.{fmt}: the file has no rows$")


def test_unreadable_files(tmp_path: Path, loaded: Path) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_text("recency,history\n1,2\n")
    assert_load_fails(fake, loaded, r"fake\.parquet: cannot be read as PARQUET")
    lines = csv_text(ROWS[:10]).split("\r\n")
    lines[4] += ",extra"
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("\r\n".join(lines), newline="")
    assert_load_fails(ragged, loaded, r"ragged\.csv: row 5: Expected Number of Columns: 12 Found: 13")
    blank = tmp_path / "blank.csv"
    blank.write_text("\r\n \r\n")
    assert_load_fails(blank, loaded, r"blank\.csv: the file is empty$")
    other = tmp_path / "results.xlsx"
    other.write_bytes(b"PK")
    assert_load_fails(other, loaded, r"results\.xlsx: not a \.csv or \.parquet file$")
    assert_load_fails(tmp_path / "nowhere.csv", loaded, r"nowhere\.csv: no such file$")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_duplicated_customer_id(tmp_path: Path, loaded: Path, fmt: str) -> None:
    rows = with_value(SPRING_ROWS, 7, "Customer Ref", " C0004 ")
    bad = write(tmp_path, fmt, rows, SPRING_COLUMNS)
    assert_load_fails(
        bad, loaded, rf"bad\.{fmt}: column Customer Ref, row 9: duplicate customer id 'C0004' \(also at row 5\)$",
        spring_mapping(),
    )
    bad = write(tmp_path, fmt, with_value(SPRING_ROWS, 2, "Customer Ref", ""), SPRING_COLUMNS)
    assert_load_fails(bad, loaded, r"column Customer Ref, row 4: the customer id is empty$", spring_mapping())


def test_a_locked_warehouse_is_refused(tmp_path: Path, loaded: Path, hillstrom_csv: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
         "time.sleep(60)", str(loaded)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(LoadError, match="cannot open the warehouse for writing"):
            load(hillstrom_csv, HILLSTROM, loaded, log=quiet)
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------------------------------------------------------
# The mapping itself


def changed(change) -> dict:
    mapping = copy.deepcopy(hillstrom_mapping())
    change(mapping)
    return mapping


MAPPING_ERRORS = {
    "unknown kind": (
        lambda m: m["outcomes"][2].update(kind="sum"),
        r"mapping: outcomes\[2\] \(spend\)\.kind: unknown kind 'sum' \(use binary or amount\)$",
    ),
    "shares": (
        lambda m: m["arm"]["values"][0].update(share=0.3),
        r"mapping: arm\.values: the shares sum to 0\.966667, not 1$",
    ),
    "control not an arm": (
        lambda m: m["arm"].update(control="Control"),
        r"mapping: arm\.control: 'Control' is not among the arm values "
        r"\('Mens E-Mail', 'Womens E-Mail', 'No E-Mail'\)$",
    ),
    "arm as a breakdown": (
        lambda m: m["breakdowns"].append("segment"),
        r"mapping: column 'segment' is used as the arm and as a covariate/breakdown$",
    ),
    "outcome as a covariate": (
        lambda m: m["covariates"].append("visit"),
        r"mapping: column 'visit' is used as outcome visit and as a covariate/breakdown$",
    ),
    "one column, two outcomes": (
        lambda m: m["outcomes"].append({"column": "spend", "kind": "binary", "name": "bought"}),
        r"mapping: column 'spend' is used as outcome spend and as outcome bought$",
    ),
    "id as the arm": (
        lambda m: m.update(customer_id="segment"),
        r"mapping: column 'segment' is used as the customer id and as the arm$",
    ),
    "listed twice": (
        lambda m: m["breakdowns"].append("zip_code"),
        r"mapping: breakdowns: column 'zip_code' is listed twice$",
    ),
    "cuped not a covariate": (
        lambda m: m.update(cuped_covariate="spend"),
        r"mapping: cuped_covariate: 'spend' is not among the covariates \(recency, history, mens, womens, newbie\)$",
    ),
    "unknown key": (
        lambda m: m.update(outcome=[]),
        r"mapping: unknown key outcome \(known: campaign_id, campaign_name, customer_id, arm, outcomes, ",
    ),
    "missing key": (lambda m: m.pop("customer_id"), r"mapping: missing key customer_id$"),
    "missing arm key": (
        lambda m: m["arm"]["values"][1].pop("contact_cost"),
        r"mapping: arm\.values\[1\]: missing key contact_cost$",
    ),
    "negative cost": (
        lambda m: m["arm"]["values"][1].update(contact_cost=-0.1),
        r"mapping: arm\.values\[1\] \(Womens E-Mail\)\.contact_cost: -0\.1 is negative \(a cost per contact is "
        r">= 0, or null when unknown\)$",
    ),
    "cost not a number": (
        lambda m: m["arm"]["values"][1].update(contact_cost="0,10"),
        r"mapping: arm\.values\[1\] \(Womens E-Mail\)\.contact_cost: '0,10' is not a cost per contact \(a number "
        r">= 0, or null when unknown\)$",
    ),
    "bad share": (
        lambda m: m["arm"]["values"][1].update(share="a third"),
        r"mapping: arm\.values\[1\] \(Womens E-Mail\)\.share: 'a third' is not a share",
    ),
    "value twice": (
        lambda m: m["arm"]["values"][1].update(value="Mens E-Mail"),
        r"mapping: arm\.values: the value 'Mens E-Mail' is listed twice$",
    ),
    "name twice": (
        lambda m: m["arm"]["values"][1].update(name="mens_email"),
        r"mapping: arm\.values: the short name 'mens_email' is given to two arms$",
    ),
    "bad arm name": (
        lambda m: m["arm"]["values"][1].update(name="Womens E-Mail"),
        r"arm\.values\[1\] \(Womens E-Mail\)\.name: 'Womens E-Mail' is not a valid short arm name",
    ),
    "one arm": (
        lambda m: m["arm"].update(values=m["arm"]["values"][2:]),
        r"mapping: arm\.values: expected a list of at least two arms",
    ),
    "boolean value": (
        lambda m: m["arm"]["values"][0].update(value=True),
        r"mapping: arm\.values\[0\]\.value: true is read by YAML as a boolean; quote it as the file has it$",
    ),
    "outcome name": (
        lambda m: m["outcomes"].append({"column": "Spend ($)", "kind": "amount"}),
        r"mapping: outcomes\[3\] \(Spend \(\$\)\)\.name: 'Spend \(\$\)' is not a valid outcome name",
    ),
    "no outcomes": (lambda m: m.update(outcomes=[]), r"mapping: outcomes: expected a list of at least one outcome"),
    "window": (lambda m: m.update(window_days=0), r"mapping: window_days: 0 is not a positive whole number of days$"),
    "launch date": (lambda m: m.update(launch_date="20/03/2008"), r"mapping: launch_date: '20/03/2008' is not a date"),
    "campaign id": (lambda m: m.update(campaign_id="a b"), r"mapping: campaign_id: 'a b' is not a valid id"),
}


@pytest.mark.parametrize("case", MAPPING_ERRORS)
def test_mapping_errors(tmp_path: Path, loaded: Path, hillstrom_csv: Path, case: str) -> None:
    change, message = MAPPING_ERRORS[case]
    assert_load_fails(hillstrom_csv, loaded, message, changed(change))


def test_shares_within_the_tolerance_and_the_yaml_forms(tmp_path: Path, hillstrom_csv: Path) -> None:
    def shares(values):
        def change(m):
            for arm, share in zip(m["arm"]["values"], values):
                arm["share"] = share
        return change

    db = tmp_path / "w.duckdb"
    load(hillstrom_csv, changed(shares([0.333333, 0.333333, 0.333334])), db, log=quiet)
    load(hillstrom_csv, changed(shares([0.333333, 0.333333, 0.333333])), db, log=quiet)  # 1 - 1e-6
    with pytest.raises(LoadError, match=r"the shares sum to 0\.999998, not 1"):
        load(hillstrom_csv, changed(shares([0.333333, 0.333333, 0.333332])), db, log=quiet)
    load(hillstrom_csv, changed(shares(["1/2", "1/4", 0.25])), db, log=quiet)
    assert [r[4] for r in tables(db)["result_arms"]] == [0.5, 0.25, 0.25]
    mapping = yaml.safe_load(HILLSTROM.read_text())
    mapping["launch_date"] = yaml.safe_load("d: 2008-03-20")["d"]
    load(hillstrom_csv, mapping, db, log=quiet)
    assert str(tables(db)["result_campaigns"][0][4]) == "2008-03-20"


def test_mapping_files(tmp_path: Path, loaded: Path, hillstrom_csv: Path) -> None:
    assert_load_fails(hillstrom_csv, loaded, r"nowhere\.yml: no such mapping file$", tmp_path / "nowhere.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("campaign_id: x\narm: [unclosed\n")
    assert_load_fails(hillstrom_csv, loaded, r"broken\.yml: not a valid YAML mapping", broken)
    listed = tmp_path / "list.yml"
    listed.write_text("- campaign_id: x\n")
    assert_load_fails(hillstrom_csv, loaded, r"list\.yml: expected a mapping of keys", listed)
    kind = tmp_path / "kind.yml"
    kind.write_text(HILLSTROM.read_text().replace("kind: amount", "kind: money"))
    assert_load_fails(hillstrom_csv, loaded, r"kind\.yml: outcomes\[2\] \(spend\)\.kind: unknown kind 'money'", kind)
