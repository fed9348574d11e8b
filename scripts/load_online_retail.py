"""Load the UCI "Online Retail" data sets (xlsx or CSV, release 1 or 2) into the `raw_online_retail` schema.

Accepted sources, recognised from their header (column names matched ignoring case, spaces and underscores,
in any order, extra columns ignored):
    release 1, Online Retail:    InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
                                 Country
    release 2, Online Retail II: Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, Country
as the published workbooks (`Online Retail.xlsx`, `online_retail_II.xlsx` with its two sheets) or CSV re-shares
(UTF-8 or latin-1; dates as `12/1/2010 8:26` month/day/year or `2010-12-01 08:26:00`). SOURCE is one file or a
folder of files of one release, loaded together.

Both layouts land in one table, `<schema>.invoice_lines`, one row per source line, no cleaning (cancellations,
postage, ... are staging's business): codes (invoice_no, stock_code, customer_id) are always text, stripped of
spaces, numbers read as floats written as integers (17850.0 -> 17850); descriptions are kept exactly. The one
exception to "every line" is release 2's overlap: its two sheets (or two yearly files) share the first days of
December 2010, so the lines of a later part (parts in date order) whose invoice already occurs in an earlier part
are dropped, whole invoices, and counted. `<schema>.load_manifest` records what was read, one row per sheet or file.

Every part is read into a temporary table as text and checked in one scan (required columns present, values
that convert, at least one line); a failed check names file, sheet, column, row (as a user sees it: header =
row 1) and value. Only when every part has passed are the two tables replaced, in one transaction: a failed
load leaves the warehouse as it was. Nothing depends on the clock: the same files give the same tables.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import datetime as dt
import gc
import re
import sys
import time
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from itertools import islice, repeat
from pathlib import Path
from typing import Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import python_calamine

from load_thelook import LoadError, first_line, quote_ident, sql_string

SCHEMA = "raw_online_retail"
FORMATS = (".xlsx", ".csv")
PROGRESS_ROWS = 100_000
# Whitespace stripped from codes (the no-break space appears in hand-edited sheets).
SPACES = " \t\r\n\u00a0"


@dataclass(frozen=True)
class Layout:
    key: str
    title: str
    # raw column -> the source's header name
    columns: dict[str, str]


LAYOUTS = (
    Layout(
        "online_retail",
        "Online Retail (UCI release 1)",
        {
            "invoice_no": "InvoiceNo",
            "stock_code": "StockCode",
            "description": "Description",
            "quantity": "Quantity",
            "invoiced_at": "InvoiceDate",
            "unit_price": "UnitPrice",
            "customer_id": "CustomerID",
            "country": "Country",
        },
    ),
    Layout(
        "online_retail_ii",
        "Online Retail II (UCI release 2)",
        {
            "invoice_no": "Invoice",
            "stock_code": "StockCode",
            "description": "Description",
            "quantity": "Quantity",
            "invoiced_at": "InvoiceDate",
            "unit_price": "Price",
            "customer_id": "Customer ID",
            "country": "Country",
        },
    ),
)
RAW_COLUMNS = tuple(LAYOUTS[0].columns)
# The columns only one layout has: they tell the layouts apart.
SIGNATURES = {"online_retail": ("invoiceno", "unitprice"), "online_retail_ii": ("invoice", "price")}

INVOICE_LINES = {
    "source_file": "VARCHAR",
    "source_sheet": "VARCHAR",
    "source_row": "BIGINT",
    "invoice_no": "VARCHAR",
    "stock_code": "VARCHAR",
    "description": "VARCHAR",
    "quantity": "BIGINT",
    "invoiced_at": "TIMESTAMP",
    "unit_price": "DOUBLE",
    "customer_id": "VARCHAR",
    "country": "VARCHAR",
}
LOAD_MANIFEST = {
    "part": "INTEGER",
    "layout": "VARCHAR",
    "source_file": "VARCHAR",
    "source_sheet": "VARCHAR",
    "file_format": "VARCHAR",
    "encoding": "VARCHAR",
    "date_format": "VARCHAR",
    "lines_read": "BIGINT",
    "empty_rows_skipped": "BIGINT",
    "overlap_lines_dropped": "BIGINT",
    "overlap_invoices_dropped": "BIGINT",
    "lines_loaded": "BIGINT",
    "first_invoiced_at": "TIMESTAMP",
    "last_invoiced_at": "TIMESTAMP",
}
# Month first, as the published CSV re-shares write them (12/1/2010 8:26); 24-hour or AM/PM clock.
US_DATE_FORMATS = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y",
)


def normalise(name: str) -> str:
    return "".join(str(name).split()).replace("_", "").lstrip("\ufeff").lower()


# ---------------------------------------------------------------------------------------------------------------
# Text -> raw types, in SQL (one definition for CSV and xlsx: both are staged as text)


def trimmed(column: str) -> str:
    return f"trim({quote_ident(column)}, {sql_string(SPACES)})"


def code_sql(column: str) -> str:
    """A code as text: spaces stripped, an integer written as a float (17850.0) as the integer, empty -> null."""
    return f"nullif(regexp_replace({trimmed(column)}, '^([0-9]+)\\.0+$', '\\1'), '')"


def text_sql(column: str) -> str:
    return f"nullif({quote_ident(column)}, '')"


def integer_sql(column: str) -> str:
    # DuckDB's cast rounds '2.5' to 3: only integer digits, or a float with no fraction (6.0), are integers.
    t = trimmed(column)
    d = f"try_cast({t} as double)"
    return (
        f"case when regexp_full_match({t}, '[+-]?[0-9]+') then try_cast({t} as bigint) "
        f"when isfinite({d}) and {d} = trunc({d}) and abs({d}) < 9e18 then cast({d} as bigint) end"
    )


def number_sql(column: str) -> str:
    d = f"try_cast({trimmed(column)} as double)"
    return f"case when isfinite({d}) then {d} end"


ISO_DATE = r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]*)?)?)?"
US_DATE = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}( .*)?"


def iso_timestamp_sql(column: str) -> str:
    # Only what looks like ISO: DuckDB's own cast would also read '12/1/10 8:26' (as the year 12).
    t = trimmed(column)
    return f"case when regexp_full_match({t}, {sql_string(ISO_DATE)}) then try_cast({t} as timestamp) end"


def us_timestamp_sql(column: str) -> str:
    # Four-digit years only: strptime's %Y would read '12/1/10' as the year 10.
    t = trimmed(column)
    formats = "[" + ", ".join(sql_string(f) for f in US_DATE_FORMATS) + "]"
    return f"case when regexp_full_match({t}, {sql_string(US_DATE)}) then try_strptime({t}, {formats}) end"


def timestamp_sql(column: str) -> str:
    return f"coalesce({iso_timestamp_sql(column)}, {us_timestamp_sql(column)})"


CONVERSIONS = {
    "invoice_no": code_sql,
    "stock_code": code_sql,
    "description": text_sql,
    "quantity": integer_sql,
    "invoiced_at": timestamp_sql,
    "unit_price": number_sql,
    "customer_id": code_sql,
    "country": text_sql,
}
# Columns every line must have, and what a value that does not convert is not.
REQUIRED = {
    "invoice_no": "an invoice number",
    "stock_code": "a stock code",
    "quantity": "an integer",
    "invoiced_at": "a date-time",
    "unit_price": "a number",
}


def empty_row_sql() -> str:
    """Every column blank. A CASE, so that the first filled column settles a row (most rows: the invoice)."""
    filled = " ".join(f"when coalesce({trimmed(c)}, '') <> '' then false" for c in RAW_COLUMNS)
    return f"(case {filled} else true end)"


# ---------------------------------------------------------------------------------------------------------------
# Parts: one per sheet or CSV file


@dataclass
class Part:
    path: Path
    name: str  # the file's name as stored in source_file (relative to the source folder)
    sheet: str | None
    sheet_index: int
    file_format: str
    layout: Layout
    columns: dict[str, str]  # raw column -> the header name in this file
    table: str  # the temporary table holding the text
    encoding: str | None = None
    date_format: str | None = None
    lines_read: int = 0
    empty_rows: int = 0
    first_at: object = None
    last_at: object = None
    number: int = 0
    overlap_dropped: int = 0
    overlap_invoices: int = 0
    loaded: int = 0

    @property
    def where(self) -> str:
        return f"{self.path}, sheet {self.sheet!r}" if self.sheet is not None else f"{self.path}"

    @property
    def label(self) -> str:
        return f"{self.name} / {self.sheet}" if self.sheet is not None else self.name


def detect_layout(names: list[str], where: str) -> tuple[Layout, dict[str, str]]:
    """The layout a header belongs to, and for each raw column the header's name for it."""
    found: dict[str, str] = {}
    for name in names:
        key = normalise(name)
        if not key:
            continue
        if key in found:
            raise LoadError(f"{where}: column {name!r} appears twice in the header (also as {found[key]!r})")
        found[key] = str(name)
    present = {
        layout.key: [column for column, name in layout.columns.items() if normalise(name) in found]
        for layout in LAYOUTS
    }
    complete = [layout for layout in LAYOUTS if len(present[layout.key]) == len(layout.columns)]
    if len(complete) > 1:
        raise LoadError(
            f"{where}: the header has the columns of both layouts ({', '.join(found.values())}); keep one set"
        )
    if complete:
        layout = complete[0]
    else:
        candidates = [layout for layout in LAYOUTS if any(key in found for key in SIGNATURES[layout.key])]
        if len(candidates) == 2:
            counts = sorted(((len(present[c.key]), i) for i, c in enumerate(candidates)), reverse=True)
            candidates = [candidates[counts[0][1]]] if counts[0][0] > counts[1][0] else []
        if len(candidates) != 1 or len(present[candidates[0].key]) < 3:
            expected = "; ".join(f"{layout.title}: {', '.join(layout.columns.values())}" for layout in LAYOUTS)
            raise LoadError(
                f"{where}: unrecognised header ({', '.join(found.values()) or 'no column names'}); expected the "
                f"columns of one layout, {expected}"
            )
        layout = candidates[0]
        missing = [name for column, name in layout.columns.items() if column not in present[layout.key]]
        raise LoadError(
            f"{where}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(for the {layout.title} layout; the header has: {', '.join(found.values())})"
        )
    return layout, {column: found[normalise(name)] for column, name in layout.columns.items()}


# ---------------------------------------------------------------------------------------------------------------
# xlsx


# python_calamine's cell types -> a kind code, to convert each kind of cell in one vectorised step.
TEXT, FLOAT, DATETIME, DATE, BOOL, OTHER = range(6)
CELL_KINDS = {str: TEXT, type(None): TEXT, float: FLOAT, dt.datetime: DATETIME, dt.date: DATE, bool: BOOL}


def _kind_to_text(kind: int, values: np.ndarray) -> pa.Array:
    if kind == TEXT:
        return pa.array(values, type=pa.string())
    if kind == FLOAT:
        # Arrow writes the shortest text that reads back as the same double, integers without ".0".
        return pa.array(values.astype(np.float64)).cast(pa.string())
    if kind == DATETIME:
        return pa.array(values, type=pa.timestamp("us")).cast(pa.string())
    if kind == DATE:
        return pa.array(values, type=pa.date32()).cast(pa.string())
    if kind == BOOL:
        return pa.array(np.where(values.astype(bool), "TRUE", "FALSE"), type=pa.string())
    return pa.array(values.astype(str), type=pa.string())


def cells_to_text(values: np.ndarray) -> pa.Array:
    """One column of Excel cells (objects as python_calamine returns them) as text, converted kind by kind.

    Numbers as Excel shows them in General format (17850.0 -> '17850', 2.55 -> '2.55'), date-times in ISO
    form, booleans TRUE/FALSE, empty cells as null.
    """
    kinds = np.fromiter(map(CELL_KINDS.get, map(type, values), repeat(OTHER)), dtype=np.int8, count=len(values))
    present = np.unique(kinds)
    if len(present) == 1:
        text = _kind_to_text(int(present[0]), values)
    else:
        out = np.full(len(values), None, dtype=object)
        for kind in present:
            mask = kinds == kind
            out[mask] = _kind_to_text(int(kind), values[mask]).to_numpy(zero_copy_only=False)
        text = pa.array(out, type=pa.string())
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


EMPTY_TEXT_TABLE = pa.schema([("source_row", pa.int64()), *((c, pa.string()) for c in RAW_COLUMNS)])


@contextmanager
def gc_paused():
    """Millions of short-lived cell objects make the cyclic garbage collector run for nothing (a third of the
    reading time); none of them can form a cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_sheet(rows, positions: list[int], first_number: int, progress) -> pa.Table:
    """The rows after the header as a text table: source_row and the raw columns (cells at `positions`),
    read PROGRESS_ROWS at a time and converted a column at a time."""
    batches, number = [], first_number
    with gc_paused():
        while chunk := list(islice(rows, PROGRESS_ROWS)):
            block = np.array(chunk, dtype=object)
            if block.ndim != 2:  # rows of unequal length: calamine pads them, kept as a safeguard
                width = max(map(len, chunk))
                block = np.array([list(row) + [""] * (width - len(row)) for row in chunk], dtype=object)
            arrays = [pa.array(np.arange(number, number + len(chunk), dtype=np.int64))]
            arrays += [cells_to_text(block[:, position]) for position in positions]
            batches.append(pa.Table.from_arrays(arrays, schema=EMPTY_TEXT_TABLE))
            number += len(chunk)
            progress(number - first_number)
    return pa.concat_tables(batches) if batches else EMPTY_TEXT_TABLE.empty_table()


def stage_xlsx(con: duckdb.DuckDBPyConnection, path: Path, name: str, first_table: int, log) -> Iterator[Part]:
    """Reads the non-empty worksheets of a workbook into temporary text tables, yielding a part per sheet as it
    is read (so that it can be checked before the next sheet is read)."""
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as error:  # calamine's own errors, or ValueError / OSError for what is not a workbook
        raise LoadError(f"{path}: cannot be read as XLSX ({first_line(error)})") from error
    found = 0
    try:
        for index, meta in enumerate(workbook.sheets_metadata):
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            where = f"{path}, sheet {meta.name!r}"
            log(f"  {name}: reading sheet {meta.name!r}")
            try:
                sheet = workbook.get_sheet_by_name(meta.name)
            except Exception as error:
                raise LoadError(f"{where}: cannot be read ({first_line(error)})") from error
            # iter_rows starts at cell A1 (empty rows above the data included): position + 1 = Excel's row number.
            rows = sheet.iter_rows()
            header, header_number = None, 0
            for header_number, row in enumerate(rows, start=1):
                if any(cell != "" for cell in row):
                    header = row
                    break
            if header is None:
                log(f"  {name}: sheet {meta.name!r} is empty, skipped")
                continue
            names = ["" if cell == "" else str(cell) for cell in header]
            layout, columns = detect_layout(names, where)
            log(f"  {name}: sheet {meta.name!r}: {layout.title} layout")
            positions = [names.index(columns[column]) for column in RAW_COLUMNS]

            def progress(count: int) -> None:
                if count % PROGRESS_ROWS == 0:
                    log(f"  {name}: sheet {meta.name!r}: {count:,} rows read")

            data = read_sheet(rows, positions, header_number + 1, progress)
            table = f"_part_{first_table + found}"
            con.register("_xlsx_sheet", data)
            try:
                con.execute(f"create or replace temp table {table} as select * from _xlsx_sheet")
            finally:
                con.unregister("_xlsx_sheet")
            if data.num_rows % PROGRESS_ROWS or not data.num_rows:
                log(f"  {name}: sheet {meta.name!r}: {data.num_rows:,} rows read")
            del data
            found += 1
            yield Part(path, name, meta.name, index, "xlsx", layout, columns, table)
    finally:
        workbook.close()
    if not found:
        raise LoadError(f"{path}: the file is empty")


# ---------------------------------------------------------------------------------------------------------------
# CSV


@dataclass
class CsvScan:
    encoding: str
    delimiter: str
    lines: int  # text lines up to the last non-empty one
    blank_line: bool  # an empty line before the end (DuckDB skips it, so rows and lines no longer match)


def scan_csv(path: Path) -> CsvScan:
    """One pass over the bytes: the encoding (UTF-8 when it decodes, else latin-1), the delimiter (from the header
    line), the number of lines and whether an empty line sits among them."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, newlines, blank, content, first, tail, last = True, 0, False, False, b"", b"", b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if b"\n" not in first:
                first += chunk[:65536]
            content = content or bool(chunk.strip())
            newlines += chunk.count(b"\n")
            # Two bytes of the previous chunk, so that an empty line across the boundary is seen.
            last = tail + chunk
            inner = last.rstrip(b"\r\n")
            blank = blank or b"\n\n" in inner or b"\n\r\n" in inner
            tail = last[-2:]
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    if not content:
        raise LoadError(f"{path}: the file is empty")
    trailing_newlines = last[len(last.rstrip(b"\r\n")):].count(b"\n")
    lines = newlines - trailing_newlines + 1
    encoding = "utf-8" if utf8 else "latin-1"
    header = first.split(b"\n")[0].decode(encoding, errors="replace")
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    return CsvScan(encoding, delimiter, lines, blank)


def csv_record_lines(path: Path, scan: CsvScan) -> np.ndarray:
    """The line on which each data record starts, for files where records and lines do not match one to one
    (a quoted value spanning lines, empty lines). Only these files take this slower, exact path."""
    starts = []
    with open(path, newline="", encoding=python_encoding(scan)) as f:
        reader = csv.reader(f, delimiter=scan.delimiter, quotechar='"', doublequote=True)
        previous, header_seen = 0, False
        for record in reader:
            if record:
                if header_seen:
                    starts.append(previous + 1)
                header_seen = True
            previous = reader.line_num
    return np.array(starts, dtype=np.int64)


def python_encoding(scan: CsvScan) -> str:
    return "utf-8-sig" if scan.encoding == "utf-8" else scan.encoding


def csv_header(path: Path, scan: CsvScan) -> list[str]:
    with open(path, newline="", encoding=python_encoding(scan)) as f:
        for record in csv.reader(f, delimiter=scan.delimiter, quotechar='"', doublequote=True):
            return record
    return []


def csv_read_expression(path: Path, scan: CsvScan, width: int) -> str:
    # Nothing left to DuckDB's sniffer (it would guess a comment character, or fail on a bad row without saying
    # which): the dialect is given, every column read as text, named by position (c0, c1, ...).
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    return (
        f"read_csv({sql_string(str(path))}, auto_detect = false, header = true, columns = {columns}, "
        f"delim = {sql_string(scan.delimiter)}, quote = '\"', escape = '\"', comment = '', skip = 0, "
        f"encoding = {sql_string(scan.encoding)})"
    )


def csv_error(path: Path, error: duckdb.Error) -> LoadError:
    """DuckDB's CSV error in one line: the row, what is wrong, the line itself."""
    # In a CRLF file DuckDB starts the quoted line on a line of its own: join it back to its label.
    text = re.sub(r"Original Line: *\r?\n", "Original Line: ", str(error), count=1)
    lines = [line.strip() for line in text.splitlines()]
    marker = "CSV Error on Line:"
    at = next((i for i, line in enumerate(lines) if marker in line), None)
    if at is None:
        return LoadError(f"{path}: cannot be read as CSV ({first_line(error)})")
    row = lines[at].split(marker, 1)[1].strip()
    rest = lines[at + 1 :]
    original = ""
    if rest and rest[0].startswith("Original Line:"):
        original, rest = rest[0].split(":", 1)[1].strip(), rest[1:]
    problem = next((line for line in rest if line), "malformed line")
    if problem.startswith("Possible fixes"):
        problem = "malformed line"
    return LoadError(f"{path}: row {row}: {problem.rstrip('.')} (the line: {original!r})")


def stage_csv(con: duckdb.DuckDBPyConnection, path: Path, name: str, table: str, log) -> Part:
    """Reads a CSV file, every column as text, into a temporary table numbered by the file's lines."""
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    scan = scan_csv(path)
    try:
        names = csv_header(path, scan)
    except (UnicodeError, csv.Error) as error:
        raise LoadError(f"{path}: cannot be read as CSV ({error})") from error
    if all(normalise(n) == "" for n in names):
        raise LoadError(f"{path}: the file is empty")
    layout, columns = detect_layout(names, f"{path}")
    log(f"  {name}: {layout.title} layout ({scan.encoding}, delimiter {scan.delimiter!r})")
    read = csv_read_expression(path, scan, len(names))
    picked = ", ".join(f"c{names.index(columns[c])} as {quote_ident(c)}" for c in RAW_COLUMNS)
    try:
        con.execute(
            f"create or replace temp table {table} as "
            f"select row_number() over () + 1 as source_row, {picked} from {read}"
        )
    except duckdb.Error as error:
        raise csv_error(path, error) from error
    (records,) = con.execute(f"select count(*) from {table}").fetchall()[0]
    if scan.blank_line or records != scan.lines - 1:
        starts = csv_record_lines(path, scan)
        if len(starts) == records:
            con.register("_record_lines", pa.table({"_n": np.arange(2, records + 2, dtype=np.int64), "_line": starts}))
            try:
                con.execute(
                    f"create or replace temp table {table} as select l._line as source_row, t.* exclude (source_row) "
                    f"from {table} t join _record_lines l on t.source_row = l._n order by l._line"
                )
            finally:
                con.unregister("_record_lines")
        else:
            log(f"  {name}: warning: could not match records to lines; row numbers count records, not lines")
    log(f"  {name}: {records:,} rows read")
    return Part(path, name, None, 0, "csv", layout, columns, table, encoding=scan.encoding)


# ---------------------------------------------------------------------------------------------------------------
# Checks


def convert_part(con: duckdb.DuckDBPyConnection, part: Part) -> None:
    """Converts a staged part from text to the raw types, once, and checks it in one scan: line counts, date
    range and format, the first required value that is empty or does not convert (its text is then looked up)."""
    converted = ", ".join(f"{CONVERSIONS[c](c)} as {quote_ident(c)}" for c in RAW_COLUMNS)
    typed = f"{part.table}_typed"
    con.execute(
        f"create or replace temp table {typed} as select source_row, {empty_row_sql()} as _empty, "
        f"coalesce(invoiced_at like '%/%', false) as _us_date, {converted} from {part.table}"
    )
    failures = ", ".join(f"min(source_row) filter (where not _empty and {quote_ident(c)} is null)" for c in REQUIRED)
    lines, empties, first_at, last_at, us_dates, *rows = con.execute(
        f"""
        select count(*) filter (where not _empty), count(*) filter (where _empty),
            min(invoiced_at) filter (where not _empty), max(invoiced_at) filter (where not _empty),
            count(*) filter (where not _empty and _us_date), {failures}
        from {typed}
        """
    ).fetchall()[0]
    problems = [(row, i, column) for i, (column, row) in enumerate(zip(REQUIRED, rows)) if row is not None]
    if problems:
        row, _, column = min(problems)
        (value,) = con.execute(
            f"select {quote_ident(column)} from {part.table} where source_row = ?", [row]
        ).fetchall()[0]
        source = part.columns[column]
        if value is None or value.strip(SPACES) == "":
            raise LoadError(f"{part.where}: column {source}, row {row}: the value is empty")
        raise LoadError(f"{part.where}: column {source}, row {row}: {value!r} is not {REQUIRED[column]}")
    if lines == 0:
        raise LoadError(f"{part.where}: the {'sheet' if part.sheet is not None else 'file'} has no rows")
    con.execute(f"drop table {part.table}")
    part.table = typed
    part.lines_read, part.empty_rows, part.first_at, part.last_at = lines, empties, first_at, last_at
    if part.file_format == "csv":
        part.date_format = "month/day/year" if us_dates == lines else "year-month-day" if us_dates == 0 else "mixed"


def select_part_sql(part: Part) -> str:
    columns = ", ".join(quote_ident(c) for c in RAW_COLUMNS)
    sheet = sql_string(part.sheet) if part.sheet is not None else "cast(null as varchar)"
    return (
        f"select {part.number} as part, {sql_string(part.name)} as source_file, {sheet} as source_sheet, "
        f"source_row, {columns} from {part.table} where not _empty"
    )


# ---------------------------------------------------------------------------------------------------------------
# Load


def group_sheets(parts: list[Part]) -> dict[str, list[str | None]]:
    """File -> its sheets in workbook order ([None] for a CSV file), files by name."""
    grouped: dict[str, list[str | None]] = {}
    for part in sorted(parts, key=lambda p: (p.name, p.sheet_index)):
        grouped.setdefault(part.name, []).append(part.sheet)
    return grouped


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def find_files(source: Path) -> tuple[list[Path], Path]:
    """The files to load and the folder their names are given relative to."""
    if source.is_file():
        if source.suffix.lower() not in FORMATS:
            raise LoadError(f"{source}: not an .xlsx or .csv file")
        return [source], source.parent
    if not source.is_dir():
        raise LoadError(f"{source}: no such file or folder")
    files = sorted(
        path
        for path in source.iterdir()
        if path.is_file() and path.suffix.lower() in FORMATS and not path.name.startswith(("~$", "."))
    )
    if not files:
        raise LoadError(f"{source}: no .xlsx or .csv file in the folder")
    return files, source


def load(source: Path, db_path: Path, schema: str = SCHEMA, log=print) -> dict:
    """Loads the Online Retail file(s) at `source` into `schema` of the DuckDB file at `db_path`.

    Returns what was detected and counted: layout, files, sheets per file, lines read, overlap lines dropped,
    rows loaded, and one entry per part. Raises LoadError, leaving the warehouse unchanged, when anything is
    missing or malformed.
    """
    source = Path(source)
    files, base = find_files(source)
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db_path))
    except duckdb.IOException as error:
        raise LoadError(f"{db_path}: cannot open the warehouse for writing ({first_line(error)})") from error
    try:
        con.execute("set TimeZone = 'UTC'")
        # Rows keep the files' order, so row numbers follow the files.
        con.execute("set preserve_insertion_order = true")

        parts: list[Part] = []
        for path in files:
            name = path.relative_to(base).as_posix()
            if path.suffix.lower() == ".xlsx":
                staged = closing(stage_xlsx(con, path, name, len(parts), log))
            else:
                staged = nullcontext([stage_csv(con, path, name, f"_part_{len(parts)}", log)])
            with staged as staged_parts:
                for part in staged_parts:
                    if parts and part.layout.key != parts[0].layout.key:
                        raise LoadError(
                            f"{part.where}: is {part.layout.title} but {parts[0].label} is {parts[0].layout.title}; "
                            "load one release at a time"
                        )
                    convert_part(con, part)
                    parts.append(part)
        layout = parts[0].layout
        loaded_from = ", ".join(
            f"{file} (sheet{'s' if len(names) > 1 else ''} {', '.join(repr(n) for n in names)})" if names[0] else file
            for file, names in group_sheets(parts).items()
        )
        log(f"  detected {layout.title} in {loaded_from}")

        # Date order decides which part keeps an invoice that occurs in several.
        parts.sort(key=lambda p: (p.first_at, p.last_at, p.name, p.sheet_index))
        for number, part in enumerate(parts, start=1):
            part.number = number
        con.execute(
            "create or replace temp table _lines as "
            + " union all ".join(select_part_sql(part) for part in parts)
        )
        for part in parts:
            con.execute(f"drop table {part.table}")
        con.execute(
            "create or replace temp table _invoice_first_part as "
            "select invoice_no, min(part) as first_part from _lines group by invoice_no"
        )
        dropped = {
            part: (lines, invoices, earlier)
            for part, lines, invoices, earlier in con.execute(
                "select l.part, count(*), count(distinct invoice_no), "
                "list(distinct f.first_part order by f.first_part) from _lines l "
                "join _invoice_first_part f using (invoice_no) where l.part > f.first_part group by l.part"
            ).fetchall()
        }
        overlap_invoices, unmatched = con.execute(
            f"""
            with dropped as (
                select l.* from _lines l join _invoice_first_part f using (invoice_no) where l.part > f.first_part
            ), kept as (
                select l.* from _lines l join _invoice_first_part f using (invoice_no)
                where l.part = f.first_part and invoice_no in (select invoice_no from dropped)
            )
            select (select count(distinct invoice_no) from dropped),
                (select count(*) from (
                    select {', '.join(RAW_COLUMNS)} from dropped except all select {', '.join(RAW_COLUMNS)} from kept
                ))
            """
        ).fetchall()[0]
        labels = {part.number: part.label for part in parts}
        for part in parts:
            part.overlap_dropped, part.overlap_invoices, earlier = dropped.get(part.number, (0, 0, []))
            part.loaded = part.lines_read - part.overlap_dropped
            detail = (
                f"; {plural(part.overlap_dropped, 'line')} of {plural(part.overlap_invoices, 'invoice')} dropped as "
                f"overlap (already in {', '.join(labels[n] for n in earlier)})"
                if part.overlap_dropped
                else ""
            )
            log(
                f"  {part.label:<40} {part.lines_read:>10,} lines, {part.first_at:%Y-%m-%d} to "
                f"{part.last_at:%Y-%m-%d}{detail}"
            )
            if part.overlap_dropped and part.loaded == 0:
                log(f"  warning: every invoice of {part.label} was already loaded from an earlier part")
        if unmatched:
            log(
                f"  warning: {plural(unmatched, 'overlap line')} dropped differ from the lines kept for the same "
                "invoices"
            )

        manifest = [
            (
                part.number,
                layout.key,
                part.name,
                part.sheet,
                part.file_format,
                part.encoding,
                part.date_format,
                part.lines_read,
                part.empty_rows,
                part.overlap_dropped,
                part.overlap_invoices,
                part.loaded,
                part.first_at,
                part.last_at,
            )
            for part in parts
        ]
        target = f"{quote_ident(schema)}.{quote_ident('invoice_lines')}"
        manifest_target = f"{quote_ident(schema)}.{quote_ident('load_manifest')}"
        lines_select = ", ".join(f"l.{quote_ident(c)}" for c in INVOICE_LINES)

        # The switch: both tables written in one transaction, or none.
        con.execute("begin transaction")
        try:
            con.execute(f"create schema if not exists {quote_ident(schema)}")
            con.execute(
                f"create or replace table {target} as select {lines_select} from _lines l "
                "join _invoice_first_part f using (invoice_no) where l.part = f.first_part "
                "order by l.part, l.source_row"
            )
            columns = ", ".join(f"{quote_ident(c)} {t}" for c, t in LOAD_MANIFEST.items())
            con.execute(f"create or replace table {manifest_target} ({columns})")
            con.executemany(
                f"insert into {manifest_target} values ({', '.join('?' for _ in LOAD_MANIFEST)})", manifest
            )
            (loaded,) = con.execute(f"select count(*) from {target}").fetchall()[0]
            con.execute("commit")
        except duckdb.Error as error:
            con.execute("rollback")
            raise LoadError(
                f"{db_path}: writing the raw tables failed, nothing changed ({first_line(error)})"
            ) from error
        except BaseException:
            con.execute("rollback")
            raise

        lines_read = sum(p.lines_read for p in parts)
        overlap = sum(p.overlap_dropped for p in parts)
        sheets = {file: names for file, names in group_sheets(parts).items() if names[0] is not None}
        dropped_text = (
            f", {plural(overlap, 'overlap line')} of {plural(overlap_invoices, 'invoice')} dropped" if overlap else ""
        )
        log(f"  {schema}.invoice_lines {loaded:>12,} rows ({lines_read:,} lines read{dropped_text})")
        return {
            "layout": layout.key,
            "layout_title": layout.title,
            "files": sorted({p.name for p in parts}),
            "sheets": sheets,
            "lines_read": lines_read,
            "empty_rows_skipped": sum(p.empty_rows for p in parts),
            "overlap_lines_dropped": overlap,
            "overlap_invoices": overlap_invoices,
            "overlap_lines_unmatched": unmatched,
            "invoice_lines": loaded,
            "parts": [dict(zip(LOAD_MANIFEST, row)) for row in manifest],
        }
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="an Online Retail .xlsx or .csv file, or a folder of them")
    parser.add_argument("--db", type=Path, required=True, help="DuckDB warehouse file")
    parser.add_argument("--schema", default=SCHEMA, help=f"schema to load into (default: {SCHEMA})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"loading {args.source} into {args.db} (schema {args.schema})")
    try:
        load(args.source, args.db, args.schema)
    except LoadError as error:
        print(f"load failed, warehouse unchanged: {error}", file=sys.stderr)
        return 1
    print(f"loaded in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
