"""The Online Retail loader: both releases, as xlsx and as CSV, land in one raw table exactly as an independent
pandas reading of the same files says; release 2's overlap is dropped once; bad input stops with file, sheet,
column, row and value, and leaves the warehouse as it was."""

from __future__ import annotations

import datetime as dt
import math
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import load_online_retail
from load_online_retail import LoadError, load
from online_retail_files import (
    HEADERS,
    RELEASE_1,
    RELEASE_2,
    RELEASE_2_SHEETS,
    Line,
    csv_text,
    generate_lines,
    write_retail_csv,
    write_retail_xlsx,
    write_xlsx,
)

T = dt.datetime
UK = "United Kingdom"

# Release 2, first sheet (Year 2009-2010): it ends with the first days of December 2010, which the second sheet
# repeats. Invoice 536365 has an exact duplicate line, kept: duplicates inside a sheet are real data.
SHEET_2009 = [
    Line("489434", "85048", "15CM CHRISTMAS GLASS BALL 20 LIGHTS", 12, T(2009, 12, 1, 7, 45), 6.95, 13085, UK),
    Line("489434", "79323P", "PINK CHERRY LIGHTS", 12, T(2009, 12, 1, 7, 45), 6.75, 13085, UK),
    Line("C489449", "22087", "PAPER BUNTING WHITE LACE", -12, T(2009, 12, 1, 10, 33), 2.95, 16321, "Australia"),
    Line("489450", "POST", "POSTAGE", 1, T(2009, 12, 1, 10, 40), 18.0, 12533, "Germany"),
    Line("489451", "21232", "STRAWBERRY CERAMIC TRINKET BOX", 2, T(2009, 12, 1, 11, 2), 0.0, None, UK),
    Line("489451", "21232", "STRAWBERRY CERAMIC TRINKET BOX", 2, T(2009, 12, 1, 11, 2), 0.0, None, UK),
    Line("A506401", "B", "Adjust bad debt", 1, T(2010, 4, 29, 13, 36), -53594.36, None, UK),
    Line("536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, T(2010, 12, 1, 8, 26), 2.55, 17850, UK),
    Line("536365", "71053", "WHITE METAL LANTERN", 6, T(2010, 12, 1, 8, 26), 3.39, 17850, UK),
    Line("536365", "71053", "WHITE METAL LANTERN", 6, T(2010, 12, 1, 8, 26), 3.39, 17850, UK),
    Line("C536379", "D", "Discount", -1, T(2010, 12, 1, 9, 41), 27.5, 14527, UK),
]
# Second sheet (Year 2010-2011): 536365 (3 lines) and C536379 (1 line) again, then its own lines.
OVERLAP = SHEET_2009[-4:]
SHEET_2010 = OVERLAP + [
    Line("536370", "POST", "POSTAGE", 3, T(2010, 12, 1, 8, 45), 18.0, 12583, "France"),
    Line("537032", "21275", None, -30, T(2010, 12, 3, 16, 50), 0.0, None, UK),
    Line("A563185", "B", "Adjust bad debt", 1, T(2011, 8, 12, 14, 50), 11062.06, None, UK),
    Line("C581569", "20979", "36 PENCILS TUBE RED RETROSPOT", -5, T(2011, 12, 9, 11, 58), 1.25, 17315, UK),
    Line("581587", "22613", 'PACK OF 20 SPACEBOY NAPKINS, "BLUE"', 12, T(2011, 12, 9, 12, 50), 0.85, 12680, "France"),
    Line("581587", "POST", "POSTAGE", 3, T(2011, 12, 9, 12, 50), 18.0, 12680, "France"),
]
# Release 1 covers what release 2's second sheet covers.
RELEASE_1_LINES = SHEET_2010
# For the latin-1 CSV: characters outside ASCII, as in the re-shares of the data.
ACCENTED = [
    Line("536400", "84997B", "CAFÉ CREME £1 MUG ", 4, T(2010, 12, 1, 12, 0), 3.75, 13448, "Côte d'Ivoire"),
    Line("536400", "22960", "JAM MAKING SET WITH JARS", 2, T(2010, 12, 1, 12, 0), 4.25, 13448, "Côte d'Ivoire"),
]


def quiet(_: str) -> None:
    pass


def rows(db: Path, schema: str = "raw_online_retail") -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            f"select * from {schema}.invoice_lines order by source_file, source_sheet nulls first, source_row"
        ).fetchall()
    finally:
        con.close()


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every table of the warehouse with its rows, to show that a failed load changed nothing."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables order by 1"
        ).fetchall()
        return {name: con.execute(f"select * from {name} order by all").fetchall() for (name,) in tables}
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------------------------
# An independent reading with pandas, with the rules written out again the simple way


def is_missing(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def as_code(value) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text or None


def as_text(value) -> str | None:
    return None if is_missing(value) else str(value)


def expected_rows(frame: pd.DataFrame, layout: str, file: str, sheet: str | None, dates: pd.Series) -> list[tuple]:
    invoice, stock, description, quantity, _, price, customer, country = HEADERS[layout]
    return [
        (
            file,
            sheet,
            index + 2,  # header = row 1
            as_code(row[invoice]),
            as_code(row[stock]),
            as_text(row[description]),
            int(float(row[quantity])),
            dates.iloc[index].to_pydatetime(),
            float(row[price]),
            as_code(row[customer]),
            as_text(row[country]),
        )
        for index, row in frame.reset_index(drop=True).iterrows()
    ]


def pandas_xlsx(path: Path, layout: str) -> dict[str, list[tuple]]:
    """Sheet -> expected raw rows, read by pandas (its calamine engine, its own cell conversion)."""
    sheets = pd.read_excel(path, sheet_name=None, engine="calamine", dtype=object, keep_default_na=False)
    return {
        name: expected_rows(frame, layout, path.name, name, pd.to_datetime(frame[HEADERS[layout][4]]))
        for name, frame in sheets.items()
    }


def pandas_csv(path: Path, layout: str, encoding: str, date_format: str) -> list[tuple]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    return expected_rows(frame, layout, path.name, None, pd.to_datetime(frame[HEADERS[layout][4]], format=date_format))


def without_overlap(first: list[tuple], second: list[tuple]) -> list[tuple]:
    """The second part's rows whose invoice the first part does not have (invoice_no is field 3)."""
    seen = {row[3] for row in first}
    return [row for row in second if row[3] not in seen]


US, ISO = "%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M:%S"


# ---------------------------------------------------------------------------------------------------------------
# Loads


@pytest.fixture
def release_2_xlsx(tmp_path: Path) -> Path:
    return write_retail_xlsx(
        tmp_path / "online_retail_II.xlsx", dict(zip(RELEASE_2_SHEETS, (SHEET_2009, SHEET_2010))), RELEASE_2
    )


def test_release_2_workbook_loads_both_sheets_and_drops_the_overlap_once(tmp_path: Path, release_2_xlsx: Path) -> None:
    db = tmp_path / "w.duckdb"
    messages: list[str] = []
    result = load(release_2_xlsx, db, log=messages.append)

    expected = pandas_xlsx(release_2_xlsx, RELEASE_2)
    first, second = expected[RELEASE_2_SHEETS[0]], expected[RELEASE_2_SHEETS[1]]
    assert rows(db) == first + without_overlap(first, second)

    # Whole invoices are dropped: all three lines of 536365 (two of them identical) and C536379.
    assert result["overlap_lines_dropped"] == len(OVERLAP) == 4
    assert result["overlap_invoices"] == 2
    assert result["overlap_lines_unmatched"] == 0
    assert result["lines_read"] == len(SHEET_2009) + len(SHEET_2010)
    assert result["invoice_lines"] == len(SHEET_2009) + len(SHEET_2010) - 4
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute(
        "select source_sheet, count(*) from raw_online_retail.invoice_lines where invoice_no = '536365' group by all"
    ).fetchall() == [("Year 2009-2010", 3)]
    manifest = con.execute(
        "select part, layout, source_file, source_sheet, file_format, lines_read, overlap_lines_dropped, "
        "overlap_invoices_dropped, lines_loaded, first_invoiced_at, last_invoiced_at "
        "from raw_online_retail.load_manifest order by part"
    ).fetchall()
    con.close()
    assert manifest == [
        (1, "online_retail_ii", "online_retail_II.xlsx", "Year 2009-2010", "xlsx", 11, 0, 0, 11,
         T(2009, 12, 1, 7, 45), T(2010, 12, 1, 9, 41)),
        (2, "online_retail_ii", "online_retail_II.xlsx", "Year 2010-2011", "xlsx", 10, 4, 2, 6,
         T(2010, 12, 1, 8, 26), T(2011, 12, 9, 12, 50)),
    ]

    # What was detected, said and returned.
    assert result["layout"] == "online_retail_ii"
    assert result["sheets"] == {"online_retail_II.xlsx": list(RELEASE_2_SHEETS)}
    assert (
        "  detected Online Retail II (UCI release 2) in online_retail_II.xlsx "
        "(sheets 'Year 2009-2010', 'Year 2010-2011')" in messages
    )
    assert any(
        "4 lines of 2 invoices dropped as overlap (already in online_retail_II.xlsx / Year 2009-2010)" in m
        for m in messages
    )

    # Loading again replaces the tables with the same content.
    before = snapshot(db)
    load(release_2_xlsx, db, log=quiet)
    assert snapshot(db) == before


def test_raw_types_and_the_quirks_of_the_data(tmp_path: Path, release_2_xlsx: Path) -> None:
    db = tmp_path / "w.duckdb"
    load(release_2_xlsx, db, log=quiet)
    con = duckdb.connect(str(db), read_only=True)
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_online_retail' and table_name = 'invoice_lines' order by ordinal_position"
        ).fetchall()
    )
    assert types == load_online_retail.INVOICE_LINES
    one = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    # Numbers read as floats are codes written as integers; the codes stay text.
    assert one("select invoice_no, stock_code, customer_id from raw_online_retail.invoice_lines where source_row = 2 "
               "and source_sheet = 'Year 2009-2010'") == [("489434", "85048", "13085")]
    assert one("select count(*) from raw_online_retail.invoice_lines where invoice_no like 'C%'") == [(3,)]
    assert one("select invoice_no, unit_price from raw_online_retail.invoice_lines where invoice_no like 'A%' "
               "order by 1") == [("A506401", -53594.36), ("A563185", 11062.06)]
    assert one("select count(*) from raw_online_retail.invoice_lines where customer_id is null") == [(5,)]
    assert one("select count(*) from raw_online_retail.invoice_lines where stock_code = 'POST'") == [(3,)]
    assert one("select count(*) from raw_online_retail.invoice_lines where unit_price = 0") == [(3,)]
    assert one("select count(*) from raw_online_retail.invoice_lines where description is null") == [(1,)]
    # Exact duplicate lines are kept.
    assert one(
        "select count(*) from (select * exclude (source_row) from raw_online_retail.invoice_lines "
        "group by all having count(*) > 1)"
    ) == [(2,)]
    con.close()


@pytest.mark.parametrize("layout", [RELEASE_1, RELEASE_2])
@pytest.mark.parametrize(
    "date_style, customer_style, encoding", [("us", "float", "utf-8"), ("iso", "int", "latin-1")]
)
def test_csv_re_shares_load_like_the_workbook(
    tmp_path: Path, layout: str, date_style: str, customer_style: str, encoding: str
) -> None:
    lines = RELEASE_1_LINES + ACCENTED
    csv_path = write_retail_csv(
        tmp_path / "online_retail.csv", lines, layout, encoding, date_style=date_style, customer_style=customer_style
    )
    xlsx_path = write_retail_xlsx(tmp_path / "online_retail.xlsx", {"Online Retail": lines}, layout)

    from_csv, from_xlsx = tmp_path / "csv.duckdb", tmp_path / "xlsx.duckdb"
    result = load(csv_path, from_csv, log=quiet)
    load(xlsx_path, from_xlsx, log=quiet)

    assert rows(from_csv) == pandas_csv(csv_path, layout, encoding, US if date_style == "us" else ISO)
    assert rows(from_xlsx) == pandas_xlsx(xlsx_path, layout)["Online Retail"]
    # The same lines whichever format they come in.
    drop_source = lambda table: [row[2:] for row in table]  # noqa: E731
    assert drop_source(rows(from_csv)) == drop_source(rows(from_xlsx))
    assert result["layout"] == layout
    part = result["parts"][0]
    assert (part["encoding"], part["date_format"], part["source_sheet"]) == (
        encoding,
        "month/day/year" if date_style == "us" else "year-month-day",
        None,
    )
    descriptions = [row[5] for row in rows(from_csv)]
    assert "CAFÉ CREME £1 MUG " in descriptions  # kept exactly, trailing space included
    assert 'PACK OF 20 SPACEBOY NAPKINS, "BLUE"' in descriptions


def test_latin_1_is_detected(tmp_path: Path) -> None:
    path = write_retail_csv(tmp_path / "retail.csv", ACCENTED, RELEASE_1, "latin-1")
    assert "É".encode("latin-1") in path.read_bytes()
    messages: list[str] = []
    load(path, tmp_path / "w.duckdb", log=messages.append)
    assert "  retail.csv: Online Retail (UCI release 1) layout (latin-1, delimiter ',')" in messages
    assert {row[5] for row in rows(tmp_path / "w.duckdb")} == {"CAFÉ CREME £1 MUG ", "JAM MAKING SET WITH JARS"}
    assert {row[10] for row in rows(tmp_path / "w.duckdb")} == {"Côte d'Ivoire"}


def test_two_yearly_csv_files_of_release_2_in_a_folder(tmp_path: Path) -> None:
    """The overlap rule follows the dates, not the file names: here the later year sorts first."""
    folder = tmp_path / "retail"
    folder.mkdir()
    later = write_retail_csv(folder / "a_2010_2011.csv", SHEET_2010, RELEASE_2)
    earlier = write_retail_csv(folder / "b_2009_2010.csv", SHEET_2009, RELEASE_2, date_style="iso")
    (folder / "README.txt").write_text("not data")
    db = tmp_path / "w.duckdb"
    result = load(folder, db, log=quiet)

    first, second = pandas_csv(earlier, RELEASE_2, "utf-8", ISO), pandas_csv(later, RELEASE_2, "utf-8", US)
    assert sorted(rows(db), key=lambda r: (r[0], r[2])) == sorted(
        first + without_overlap(first, second), key=lambda r: (r[0], r[2])
    )
    assert result["overlap_lines_dropped"] == 4
    assert result["files"] == ["a_2010_2011.csv", "b_2009_2010.csv"]
    assert result["sheets"] == {}
    assert [(p["part"], p["source_file"], p["overlap_lines_dropped"]) for p in result["parts"]] == [
        (1, "b_2009_2010.csv", 0),
        (2, "a_2010_2011.csv", 4),
    ]


def test_a_workbook_whose_invoice_numbers_are_all_numbers(tmp_path: Path) -> None:
    """Every invoice number and stock code a number cell (a float to the reader): still text, no ".0"."""
    numeric = [line for line in RELEASE_1_LINES if line.invoice.isdigit() and line.stock_code.isdigit()]
    assert len(numeric) >= 2
    xlsx = write_retail_xlsx(tmp_path / "numbers.xlsx", numeric, RELEASE_1)
    csv_path = write_retail_csv(tmp_path / "numbers.csv", numeric, RELEASE_1)
    load(xlsx, tmp_path / "x.duckdb", log=quiet)
    load(csv_path, tmp_path / "c.duckdb", log=quiet)
    for db in (tmp_path / "x.duckdb", tmp_path / "c.duckdb"):
        got = rows(db)
        assert [row[3:5] for row in got] == [(line.invoice, line.stock_code) for line in numeric]
        con = duckdb.connect(str(db), read_only=True)
        assert con.execute(
            "select count(*) filter (where invoice_no like 'C%'), count(*) from raw_online_retail.invoice_lines"
        ).fetchone() == (0, len(numeric))
        con.close()


def test_header_names_order_and_extra_columns(tmp_path: Path) -> None:
    header = ["Unnamed: 0", "country", "customer_id", "Invoice Date", "invoiceno", "STOCKCODE", "Description",
              " Quantity ", "Unit Price", "Notes"]
    text = "\ufeff" + csv_text(RELEASE_1_LINES, RELEASE_1, header=header, line_end="\r\n")
    path = tmp_path / "reordered.csv"
    path.write_bytes(text.encode("utf-8"))
    xlsx = write_retail_xlsx(tmp_path / "reordered.xlsx", RELEASE_1_LINES, RELEASE_1, header=header)
    reference = write_retail_csv(tmp_path / "plain.csv", RELEASE_1_LINES, RELEASE_1)
    for source in (path, xlsx, reference):
        load(source, tmp_path / f"{source.name}.duckdb", log=quiet)
    expected = [row[2:] for row in rows(tmp_path / "plain.csv.duckdb")]
    assert [row[2:] for row in rows(tmp_path / "reordered.csv.duckdb")] == expected
    assert [row[2:] for row in rows(tmp_path / "reordered.xlsx.duckdb")] == expected


def test_codes_are_stripped_and_descriptions_kept_exactly(tmp_path: Path) -> None:
    lines = [
        Line(" 536365 ", "85123A ", "  WHITE HANGING HEART ", 6, T(2010, 12, 1, 8, 26), 2.55, " 17850.0", UK),
        Line("C536379", " D", "Discount", -1, T(2010, 12, 1, 9, 41), 27.5, "", UK),
    ]
    for name, writer in (("a.csv", write_retail_csv), ("a.xlsx", write_retail_xlsx)):
        db = tmp_path / f"{name}.duckdb"
        load(writer(tmp_path / name, lines, RELEASE_1), db, log=quiet)
        assert [row[3:6] + row[9:10] for row in rows(db)] == [
            ("536365", "85123A", "  WHITE HANGING HEART ", "17850"),
            ("C536379", "D", "Discount", None),
        ]


def test_row_numbers_are_the_ones_a_user_sees(tmp_path: Path) -> None:
    # A workbook whose header sits on row 3 and with an empty row inside the data.
    sheet = [list(HEADERS[RELEASE_1])] + [
        ["536365", "85123A", "WHITE HANGING HEART", 6, T(2010, 12, 1, 8, 26), 2.55, 17850.0, UK],
        [None] * 8,
        ["536366", "22633", "HAND WARMER UNION JACK", 6, T(2010, 12, 1, 8, 28), 1.85, 17850.0, UK],
    ]
    xlsx = write_xlsx(tmp_path / "gap.xlsx", {"Online Retail": sheet}, first_row=3)
    db = tmp_path / "x.duckdb"
    result = load(xlsx, db, log=quiet)
    assert [(row[2], row[3]) for row in rows(db)] == [(4, "536365"), (6, "536366")]
    assert result["empty_rows_skipped"] == 1

    # A CSV with a quoted description over two lines, an empty line, and a line of empty fields.
    text = (
        ",".join(HEADERS[RELEASE_1]) + "\n"
        '536365,85123A,"WHITE HANGING\nHEART",6,12/1/2010 8:26,2.55,17850.0,United Kingdom\n'
        "\n"
        "536366,22633,HAND WARMER,6,12/1/2010 8:28,1.85,17850.0,United Kingdom\n"
        ",,,,,,,\n"
        "536367,22633,HAND WARMER,six,12/1/2010 8:34,1.85,13047.0,United Kingdom\n"
    )
    path = tmp_path / "lines.csv"
    path.write_text(text)
    with pytest.raises(LoadError, match=r"lines\.csv: column Quantity, row 7: 'six' is not an integer"):
        load(path, db, log=quiet)
    path.write_text(text.replace(",six,", ",6,"))
    load(path, db, log=quiet)
    assert [(row[2], row[3], row[5]) for row in rows(db)] == [
        (2, "536365", "WHITE HANGING\nHEART"),
        (5, "536366", "HAND WARMER"),
        (7, "536367", "HAND WARMER"),
    ]


def test_generated_year_files_read_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A few thousand made-up lines over two overlapping sheets, read 500 rows at a time (with a progress line
    each), against pandas; the same lines as CSV files give the same table."""
    lines = generate_lines(3000, seed=7)
    split = next(i for i, line in enumerate(lines) if i > 2000 and line.invoice != lines[i - 1].invoice)
    overlap_start = next(i for i in range(split - 40, split) if lines[i].invoice != lines[i - 1].invoice)
    sheets = {RELEASE_2_SHEETS[0]: lines[:split], RELEASE_2_SHEETS[1]: lines[overlap_start:]}
    workbook = write_retail_xlsx(tmp_path / "online_retail_II.xlsx", sheets, RELEASE_2)
    monkeypatch.setattr(load_online_retail, "PROGRESS_ROWS", 500)
    messages: list[str] = []
    result = load(workbook, tmp_path / "x.duckdb", log=messages.append)

    expected = pandas_xlsx(workbook, RELEASE_2)
    first, second = expected[RELEASE_2_SHEETS[0]], expected[RELEASE_2_SHEETS[1]]
    assert rows(tmp_path / "x.duckdb") == first + without_overlap(first, second)
    assert result["overlap_lines_dropped"] == split - overlap_start
    assert "  online_retail_II.xlsx: sheet 'Year 2009-2010': 2,000 rows read" in messages

    folder = tmp_path / "csv"
    folder.mkdir()
    for name, part in sheets.items():
        write_retail_csv(folder / f"{name}.csv", part, RELEASE_2)
    load(folder, tmp_path / "c.duckdb", log=quiet)
    assert [row[2:] for row in rows(tmp_path / "c.duckdb")] == [row[2:] for row in rows(tmp_path / "x.duckdb")]


def test_nothing_depends_on_the_clock(tmp_path: Path, release_2_xlsx: Path) -> None:
    load(release_2_xlsx, tmp_path / "a.duckdb", log=quiet)
    load(release_2_xlsx, tmp_path / "b.duckdb", log=quiet)
    assert snapshot(tmp_path / "a.duckdb") == snapshot(tmp_path / "b.duckdb")


def test_cells_are_written_as_excel_shows_them() -> None:
    cells = np.array(
        [536365.0, "C536379", "", 2.55, 1e-05, 0.1 + 0.2, True, T(2010, 12, 1, 8, 26), dt.date(2011, 1, 2), -3.0,
         None, dt.time(8, 26)],
        dtype=object,
    )
    assert load_online_retail.cells_to_text(cells).to_pylist() == [
        "536365", "C536379", None, "2.55", "0.00001", "0.30000000000000004", "TRUE", "2010-12-01 08:26:00.000000",
        "2011-01-02", "-3", None, "08:26:00",
    ]
    # A column of one kind takes the short way, with the same result.
    assert load_online_retail.cells_to_text(np.array([17850.0, 2.55], dtype=object)).to_pylist() == ["17850", "2.55"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12/1/2010 8:26", T(2010, 12, 1, 8, 26)),
        ("12/01/2010 08:26:05", T(2010, 12, 1, 8, 26, 5)),
        ("12/1/2010 8:26 PM", T(2010, 12, 1, 20, 26)),
        ("2010-12-01 08:26:00", T(2010, 12, 1, 8, 26)),
        ("2010-12-01T08:26:00.000000", T(2010, 12, 1, 8, 26)),
        ("2010-12-01", T(2010, 12, 1)),
        (" 2010-12-01 08:26 ", T(2010, 12, 1, 8, 26)),
        # Refused rather than guessed: two-digit years (DuckDB's cast reads 12/1/10 as the year 12), day first,
        # impossible dates, other separators.
        ("12/1/10 8:26", None),
        ("13/12/2010 9:01", None),
        ("2010-02-30 08:00:00", None),
        ("2010/12/01 08:26", None),
        ("not a date", None),
    ],
)
def test_date_forms(text: str, expected: dt.datetime | None) -> None:
    con = duckdb.connect()
    sql = load_online_retail.timestamp_sql("invoiced_at")
    assert con.execute(f"select {sql} from (select ? as invoiced_at)", [text]).fetchall() == [(expected,)]


def test_command_line(tmp_path: Path, release_2_xlsx: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "w.duckdb"
    assert load_online_retail.main([str(release_2_xlsx), "--db", str(db), "--schema", "retail"]) == 0
    out = capsys.readouterr().out
    assert "detected Online Retail II (UCI release 2)" in out and "retail.invoice_lines" in out
    assert len(rows(db, "retail")) == 17
    bad = write_retail_csv(tmp_path / "bad.csv", [], RELEASE_1)
    assert load_online_retail.main([str(bad), "--db", str(db), "--schema", "retail"]) == 1
    assert "load failed, warehouse unchanged: " in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# Refusals: each leaves the warehouse as the good load left it


@pytest.fixture
def loaded(tmp_path: Path, release_2_xlsx: Path) -> Path:
    """A warehouse holding a good load plus a table of someone's, as a previous run would leave it."""
    db = tmp_path / "warehouse" / "w.duckdb"
    load(release_2_xlsx, db, log=quiet)
    con = duckdb.connect(str(db))
    con.execute("create table main.customers as select distinct customer_id from raw_online_retail.invoice_lines")
    con.close()
    return db


def assert_load_fails(source: Path, db: Path, match: str) -> None:
    before = snapshot(db)
    with pytest.raises(LoadError, match=match):
        load(source, db, log=quiet)
    assert snapshot(db) == before


def replaced(lines: list[Line], index: int, **changes) -> list[Line]:
    fields = {**lines[index].__dict__, **changes}
    return lines[:index] + [Line(**fields)] + lines[index + 1:]


def test_malformed_date_in_a_csv(tmp_path: Path, loaded: Path) -> None:
    bad = write_retail_csv(tmp_path / "bad.csv", replaced(RELEASE_1_LINES, 5, invoiced_at="not a date"), RELEASE_1)
    assert_load_fails(bad, loaded, r"bad\.csv: column InvoiceDate, row 7: 'not a date' is not a date-time$")


def test_day_first_date_is_not_a_us_date(tmp_path: Path, loaded: Path) -> None:
    bad = write_retail_csv(tmp_path / "bad.csv", replaced(RELEASE_1_LINES, 2, invoiced_at="13/12/2010 9:01"), RELEASE_1)
    assert_load_fails(bad, loaded, r"bad\.csv: column InvoiceDate, row 4: '13/12/2010 9:01' is not a date-time$")


def test_malformed_date_in_the_second_sheet(tmp_path: Path, loaded: Path) -> None:
    """The first sheet is good and already staged when the second fails: still nothing written."""
    sheets = {RELEASE_2_SHEETS[0]: SHEET_2009, RELEASE_2_SHEETS[1]: replaced(SHEET_2010, 2, invoiced_at="not a date")}
    bad = write_retail_xlsx(tmp_path / "bad.xlsx", sheets, RELEASE_2)
    assert_load_fails(
        bad, loaded, r"bad\.xlsx, sheet 'Year 2010-2011': column InvoiceDate, row 4: 'not a date' is not a date-time$"
    )


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_non_numeric_quantity(tmp_path: Path, loaded: Path, suffix: str) -> None:
    lines = replaced(RELEASE_1_LINES, 8, quantity="twelve")
    bad = (write_retail_csv if suffix == "csv" else write_retail_xlsx)(tmp_path / f"bad.{suffix}", lines, RELEASE_2)
    where = r"bad\.csv" if suffix == "csv" else r"bad\.xlsx, sheet 'Online Retail'"
    assert_load_fails(bad, loaded, rf"{where}: column Quantity, row 10: 'twelve' is not an integer$")


def test_fractional_quantity_is_not_rounded(tmp_path: Path, loaded: Path) -> None:
    bad = write_retail_xlsx(tmp_path / "bad.xlsx", replaced(RELEASE_1_LINES, 0, quantity=2.5), RELEASE_1)
    assert_load_fails(bad, loaded, r"column Quantity, row 2: '2\.5' is not an integer$")


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_malformed_csv_line(tmp_path: Path, loaded: Path, line_end: str) -> None:
    text = csv_text(RELEASE_1_LINES, RELEASE_1).splitlines()
    text[3] += ",extra"
    bad = tmp_path / "bad.csv"
    bad.write_bytes((line_end.join(text) + line_end).encode())
    assert_load_fails(
        bad, loaded, r"bad\.csv: row 4: Expected Number of Columns: 8 Found: 9 \(the line: '536365,71053,WHITE METAL"
    )


def test_non_numeric_price(tmp_path: Path, loaded: Path) -> None:
    bad = write_retail_csv(tmp_path / "bad.csv", replaced(RELEASE_1_LINES, 3, price="2,55"), RELEASE_1)
    assert_load_fails(bad, loaded, r"bad\.csv: column UnitPrice, row 5: '2,55' is not a number$")


def test_empty_invoice_number(tmp_path: Path, loaded: Path) -> None:
    bad = write_retail_csv(tmp_path / "bad.csv", replaced(RELEASE_1_LINES, 1, invoice=" "), RELEASE_1)
    assert_load_fails(bad, loaded, r"bad\.csv: column InvoiceNo, row 3: the value is empty$")


def test_missing_column(tmp_path: Path, loaded: Path) -> None:
    header = [name for name in HEADERS[RELEASE_2] if name != "Price"]
    bad = write_retail_xlsx(tmp_path / "bad.xlsx", SHEET_2010, RELEASE_2, header=header)
    assert_load_fails(bad, loaded, r"bad\.xlsx, sheet 'Online Retail': missing column Price \(for the Online Retail II")


def test_unrecognised_header(tmp_path: Path, loaded: Path) -> None:
    bad = tmp_path / "orders.csv"
    bad.write_text("order_id,sku,amount\n1,A,2\n")
    assert_load_fails(
        bad,
        loaded,
        r"orders\.csv: unrecognised header \(order_id, sku, amount\); expected the columns of one layout, "
        r"Online Retail \(UCI release 1\): InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, "
        r"CustomerID, Country; Online Retail II \(UCI release 2\): Invoice, StockCode, Description, Quantity, "
        r"InvoiceDate, Price, Customer ID, Country$",
    )


def test_empty_files_and_sheets(tmp_path: Path, loaded: Path) -> None:
    for name in ("empty.csv", "empty.xlsx"):
        (tmp_path / name).write_bytes(b"")
        assert_load_fails(tmp_path / name, loaded, rf"{re.escape(name)}: the file is empty$")
    header_only = write_retail_csv(tmp_path / "header.csv", [], RELEASE_1)
    assert_load_fails(header_only, loaded, r"header\.csv: the file has no rows$")
    sheets = {RELEASE_2_SHEETS[0]: SHEET_2009, RELEASE_2_SHEETS[1]: []}
    no_rows = write_retail_xlsx(tmp_path / "no_rows.xlsx", sheets, RELEASE_2)
    assert_load_fails(no_rows, loaded, r"no_rows\.xlsx, sheet 'Year 2010-2011': the sheet has no rows$")
    blank = write_xlsx(tmp_path / "blank.xlsx", {"Sheet1": []})
    assert_load_fails(blank, loaded, r"blank\.xlsx: the file is empty$")
    not_a_workbook = tmp_path / "fake.xlsx"
    not_a_workbook.write_text("InvoiceNo,StockCode\n")
    assert_load_fails(not_a_workbook, loaded, r"fake\.xlsx: cannot be read as XLSX")


def test_a_folder_mixing_the_releases_is_refused(tmp_path: Path, loaded: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_retail_csv(folder / "a.csv", RELEASE_1_LINES, RELEASE_1)
    write_retail_csv(folder / "b.csv", SHEET_2009, RELEASE_2)
    assert_load_fails(folder, loaded, r"b\.csv: is Online Retail II \(UCI release 2\) but a\.csv is Online Retail")
    assert_load_fails(tmp_path / "nowhere", loaded, r"nowhere: no such file or folder")


def test_a_locked_warehouse_is_refused(tmp_path: Path, loaded: Path, release_2_xlsx: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
         "time.sleep(60)", str(loaded)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(LoadError, match="cannot open the warehouse for writing"):
            load(release_2_xlsx, loaded, log=quiet)
    finally:
        holder.kill()
        holder.wait()
