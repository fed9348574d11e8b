"""Writes small UCI "Online Retail" files the way the real ones are stored, for the loader's tests.

Four layouts: release 1, *Online Retail* (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
CustomerID, Country) and release 2, *Online Retail II* (Invoice, ..., Price, Customer ID, Country), each as an
Excel workbook or as a CSV re-share.

In a workbook the cells have Excel's types, as in the published files: invoice numbers and stock codes are
numbers when they are all digits (536365, 85123) and text otherwise ("C536379", "85123A", "POST"), quantities
are numbers, InvoiceDate is a date-time (an Excel serial number with a date format), customer ids are numbers
(17850, read back as 17850.0) or empty. The xlsx is written here with zipfile and minimal SpreadsheetML, no
dependency; the output is the same bytes for the same input.

A CSV re-share writes those values as text: dates as "12/1/2010 8:26" (month/day/year, no seconds) or
"2010-12-01 08:26:00", customer ids as "17850.0", "17850" or empty, in UTF-8 or latin-1.

Any field of a `Line` may be a string instead of its usual type, to write a malformed value ("not a date").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence
from xml.sax.saxutils import escape

RELEASE_1 = "online_retail"
RELEASE_2 = "online_retail_ii"
HEADERS = {
    RELEASE_1: (
        "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"
    ),
    RELEASE_2: ("Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"),
}
FIELDS = ("invoice", "stock_code", "description", "quantity", "invoiced_at", "price", "customer_id", "country")
# The sheets of the published release 2 workbook.
RELEASE_2_SHEETS = ("Year 2009-2010", "Year 2010-2011")


@dataclass(frozen=True)
class Line:
    invoice: str
    stock_code: str
    description: str | None
    quantity: int | str
    invoiced_at: dt.datetime | str
    price: float | str
    customer_id: int | str | None
    country: str | None


def normalise(name: str) -> str:
    return "".join(name.split()).replace("_", "").lower()


def field_of(header_name: str, layout: str) -> str | None:
    """The Line field a header name stands for in `layout` (case and spaces ignored), None for an extra column."""
    for name, field in zip(HEADERS[layout], FIELDS):
        if normalise(name) == normalise(header_name):
            return field
    return None


# ---------------------------------------------------------------------------------------------------------------
# xlsx


EXCEL_EPOCH = dt.datetime(1899, 12, 30)
DATETIME_STYLE, DATE_STYLE = 1, 2  # cellXfs indexes in STYLES
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    "{sheets}"
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "{shared}"
    "</Types>"
)
SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
SHARED_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
REL = (
    '<Relationship Id="rId{id}" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{type}" Target="{target}"/>'
)
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{MAIN_NS}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="m/d/yyyy h:mm"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def excel_serial(value: dt.datetime | dt.date) -> float | int:
    """Days since 1899-12-30 (Excel's 1900 date system, valid from March 1900), as Excel stores a date-time."""
    if isinstance(value, dt.datetime):
        delta = value - EXCEL_EPOCH
        return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    return (value - EXCEL_EPOCH.date()).days


def number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


class _Strings:
    """Shared strings, in first-seen order (as Excel writes them), or inline strings."""

    def __init__(self, shared: bool):
        self.shared = shared
        self.index: dict[str, int] = {}

    def cell(self, ref: str, text: str) -> str:
        if not self.shared:
            return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'
        position = self.index.setdefault(text, len(self.index))
        return f'<c r="{ref}" t="s"><v>{position}</v></c>'

    def xml(self) -> str:
        items = "".join(f'<si><t xml:space="preserve">{escape(text)}</t></si>' for text in self.index)
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<sst xmlns="{MAIN_NS}" count="{len(self.index)}" uniqueCount="{len(self.index)}">{items}</sst>'
        )


def _cell(ref: str, value, strings: _Strings) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.datetime):
        return f'<c r="{ref}" s="{DATETIME_STYLE}"><v>{number_text(excel_serial(value))}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="{DATE_STYLE}"><v>{excel_serial(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{number_text(value)}</v></c>'
    return strings.cell(ref, str(value))


def _sheet_chunks(rows: Iterable[Sequence], strings: _Strings, first_row: int) -> Iterable[str]:
    yield f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN_NS}"><sheetData>'
    letters = [column_letters(i) for i in range(64)]
    for number, row in enumerate(rows, start=first_row):
        cells = "".join(_cell(f"{letters[i]}{number}", value, strings) for i, value in enumerate(row))
        yield f'<row r="{number}">{cells}</row>'
    yield "</sheetData></worksheet>"


def write_xlsx(
    path: Path, sheets: dict[str, Iterable[Sequence]], shared_strings: bool = True, first_row: int = 1
) -> Path:
    """Writes a workbook: one sheet per item, rows of cells (None = empty cell, str = text, int/float = number,
    datetime = date-time cell, date = date cell, bool = boolean). `first_row` leaves rows empty above the data.
    """
    path = Path(path)
    strings = _Strings(shared_strings)

    def put(archive: zipfile.ZipFile, name: str, chunks: Iterable[str]) -> None:
        info = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as out:
            buffer = []
            for chunk in chunks:
                buffer.append(chunk)
                if len(buffer) >= 2000:
                    out.write("".join(buffer).encode("utf-8"))
                    buffer = []
            out.write("".join(buffer).encode("utf-8"))

    names = list(sheets)
    with zipfile.ZipFile(path, "w") as archive:
        # In the order Excel writes the parts; the shared strings last, once every sheet has added its own.
        sheet_types = "".join(SHEET_TYPE.format(n=n) for n in range(1, len(names) + 1))
        content_types = CONTENT_TYPES.format(sheets=sheet_types, shared=SHARED_TYPE if shared_strings else "")
        put(archive, "[Content_Types].xml", [content_types])
        put(archive, "_rels/.rels", [ROOT_RELS])
        sheet_list = "".join(
            f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{n}" r:id="rId{n}"/>'
            for n, name in enumerate(names, start=1)
        )
        put(
            archive,
            "xl/workbook.xml",
            [
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<workbook xmlns="{MAIN_NS}" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                f"<sheets>{sheet_list}</sheets></workbook>"
            ],
        )
        rels = [REL.format(id=n, type="worksheet", target=f"worksheets/sheet{n}.xml") for n in range(1, len(names) + 1)]
        rels.append(REL.format(id=len(names) + 1, type="styles", target="styles.xml"))
        if shared_strings:
            rels.append(REL.format(id=len(names) + 2, type="sharedStrings", target="sharedStrings.xml"))
        put(
            archive,
            "xl/_rels/workbook.xml.rels",
            [
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                + "".join(rels)
                + "</Relationships>"
            ],
        )
        put(archive, "xl/styles.xml", [STYLES])
        for n, name in enumerate(names, start=1):
            put(archive, f"xl/worksheets/sheet{n}.xml", _sheet_chunks(sheets[name], strings, first_row))
        if shared_strings:
            put(archive, "xl/sharedStrings.xml", [strings.xml()])
    return path


def excel_code(code: str):
    """A code as Excel holds it after typing it in: a number when it is all digits, else text."""
    return int(code) if isinstance(code, str) and code.isdigit() else code


def excel_value(line: Line, field: str, numeric_codes: bool):
    value = getattr(line, field)
    if field in ("invoice", "stock_code") and numeric_codes:
        return excel_code(value)
    if field == "customer_id" and isinstance(value, int):
        return float(value)
    return value


def header_fields(layout: str, header: Sequence[str] | None) -> tuple[list[str], list[str | None]]:
    names = list(header or HEADERS[layout])
    return names, [field_of(name, layout) for name in names]


def xlsx_rows(
    lines: Iterable[Line], layout: str, header: Sequence[str] | None = None, numeric_codes: bool = True
) -> Iterable[list]:
    """Header and rows of one sheet. `header`: the names to write, in order (default: the layout's); a name that
    is not one of the layout's columns is written as an extra column holding the line's index."""
    names, fields = header_fields(layout, header)
    yield names
    for index, line in enumerate(lines):
        yield [index if field is None else excel_value(line, field, numeric_codes) for field in fields]


def write_retail_xlsx(
    path: Path,
    sheets: dict[str, Iterable[Line]] | Iterable[Line],
    layout: str = RELEASE_1,
    header: Sequence[str] | None = None,
    numeric_codes: bool = True,
    shared_strings: bool = True,
    first_row: int = 1,
) -> Path:
    """A workbook in `layout`; `sheets` maps sheet names to lines, or is one list of lines (sheet "Online Retail")."""
    if not isinstance(sheets, dict):
        sheets = {"Online Retail": sheets}
    return write_xlsx(
        path,
        {name: xlsx_rows(lines, layout, header, numeric_codes) for name, lines in sheets.items()},
        shared_strings=shared_strings,
        first_row=first_row,
    )


# ---------------------------------------------------------------------------------------------------------------
# CSV


def csv_date(value: dt.datetime | str, date_style: str) -> str:
    if isinstance(value, str):
        return value
    if date_style == "us":
        return f"{value.month}/{value.day}/{value.year} {value.hour}:{value.minute:02d}"
    if date_style == "iso":
        return value.strftime("%Y-%m-%d %H:%M:%S")
    raise ValueError(f"unknown date style {date_style!r}")


def csv_value(line: Line, field: str, date_style: str, customer_style: str) -> str:
    value = getattr(line, field)
    if value is None:
        return ""
    if field == "invoiced_at":
        return csv_date(value, date_style)
    if field == "customer_id" and isinstance(value, int):
        return f"{value}.0" if customer_style == "float" else str(value)
    if field == "price" and isinstance(value, (int, float)):
        return repr(float(value))
    return str(value)


def csv_text(
    lines: Iterable[Line],
    layout: str = RELEASE_1,
    date_style: str = "us",
    customer_style: str = "float",
    header: Sequence[str] | None = None,
    line_end: str = "\n",
) -> str:
    """The CSV text of `lines` (see `xlsx_rows` for `header`)."""
    names, fields = header_fields(layout, header)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(names)
    for index, line in enumerate(lines):
        writer.writerow(
            [str(index) if field is None else csv_value(line, field, date_style, customer_style) for field in fields]
        )
    return out.getvalue()


def write_retail_csv(
    path: Path, lines: Iterable[Line], layout: str = RELEASE_1, encoding: str = "utf-8", **options
) -> Path:
    """A CSV re-share of `lines`; options as in `csv_text` (date_style "us" or "iso", customer_style "float" or
    "int", header, line_end)."""
    path = Path(path)
    path.write_bytes(csv_text(lines, layout, **options).encode(encoding))
    return path


# ---------------------------------------------------------------------------------------------------------------
# A larger made-up file, for timings

PRODUCTS = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55),
    ("71053", "WHITE METAL LANTERN", 3.39),
    ("84406B", "CREAM CUPID HEARTS COAT HANGER", 2.75),
    ("22752", "SET 7 BABUSHKA NESTING BOXES", 7.65),
    ("21730", "GLASS STAR FROSTED T-LIGHT HOLDER", 4.25),
    ("22633", "HAND WARMER UNION JACK", 1.85),
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT", 1.69),
    ("22745", "POPPY'S PLAYHOUSE BEDROOM ", 2.1),
    ("21754", "HOME BUILDING BLOCK WORD", 5.95),
    ("22310", "IVORY KNITTED MUG COSY ", 1.65),
    ("POST", "POSTAGE", 18.0),
    ("M", "Manual", 0.85),
]
COUNTRIES = ["United Kingdom"] * 9 + ["France", "Germany", "EIRE", "Netherlands", "Spain"]


def generate_lines(
    count: int, seed: int = 0, start: dt.datetime = dt.datetime(2010, 12, 1, 8, 26), first_invoice: int = 536365
) -> list[Line]:
    """`count` made-up lines in the shape of the real data: invoices of 1 to 20 lines a few minutes apart, some
    cancellations (C...), a few adjustments (A...), lines without customer, zero prices and duplicated lines."""
    rng = random.Random(seed)
    lines: list[Line] = []
    invoice, moment = first_invoice, start
    while len(lines) < count:
        moment += dt.timedelta(minutes=rng.randint(0, 9))
        kind = rng.random()
        number = ("C" if kind < 0.02 else "A" if kind < 0.021 else "") + str(invoice)
        customer = None if rng.random() < 0.25 else rng.randint(12346, 18287)
        country = rng.choice(COUNTRIES)
        for _ in range(rng.randint(1, 20)):
            code, description, price = rng.choice(PRODUCTS)
            quantity = rng.randint(1, 24) * (-1 if number.startswith("C") else 1)
            line = Line(
                number,
                code,
                None if rng.random() < 0.003 else description,
                quantity,
                moment,
                0.0 if rng.random() < 0.005 else price,
                customer,
                country,
            )
            lines.append(line)
            if rng.random() < 0.01:
                lines.append(line)
        invoice += 1
    return lines[:count]


def year_of_invoices(customers: int = 1500, seed: int = 7, start: dt.date = dt.date(2010, 12, 1),
                     end: dt.date = dt.date(2011, 12, 9)) -> list[Line]:
    """A shop's year in the release-1 shape, for building the marts end to end: customers who join through the
    year and come back at their own rate, with the real files' quirks (cancellations, an adjustment, lines
    without customer, postage and manual lines, zero prices, exact duplicates, all-numeric invoice numbers)."""
    rng = random.Random(seed)
    days = (end - start).days
    invoices: list[tuple[dt.datetime, int | None]] = []
    for customer in range(12346, 12346 + customers):
        first = rng.randrange(0, days - 30)
        visits = 1 + min(40, int(rng.expovariate(1 / 4.0)))
        for _ in range(visits):
            day = first + int((days - first) * rng.random() ** 1.5) if invoices and rng.random() > 0.2 else first
            invoices.append((dt.datetime.combine(start, dt.time(8, 0)) + dt.timedelta(days=day, minutes=rng.randrange(600)),
                             customer))
    for _ in range(len(invoices) // 12):  # walk-in sales: no customer id
        invoices.append((dt.datetime.combine(start, dt.time(9, 0)) + dt.timedelta(days=rng.randrange(days),
                                                                                  minutes=rng.randrange(500)), None))
    invoices.sort(key=lambda item: (item[0], -1 if item[1] is None else item[1]))
    lines: list[Line] = []
    for number, (moment, customer) in enumerate(invoices, start=536365):
        kind = rng.random()
        invoice = ("C" if kind < 0.02 else "A" if kind < 0.022 else "") + str(number)
        country = rng.choice(COUNTRIES)
        for _ in range(rng.randint(1, 6)):
            code, description, price = rng.choice(PRODUCTS)
            quantity = rng.randint(1, 12) * (-1 if invoice.startswith("C") else 1)
            line = Line(invoice, code, description, quantity, moment, 0.0 if rng.random() < 0.005 else price,
                        customer, country)
            lines.append(line)
            if rng.random() < 0.01:
                lines.append(line)
    return lines
