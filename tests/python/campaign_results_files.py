"""Writes small campaign results files for the loader's tests, in the layout of the MineThatData e-mail challenge
(Hillstrom, 2008) and with the real file's quirks.

The real file, Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv, has no customer id,
a header row, CRLF line endings, text fields in double quotes (so "7) $1,000 +" keeps its comma), numbers bare,
and the zip_code value "Surburban" spelt so. `hillstrom_rows` draws such customers from a seeded generator (the
same rows for the same seed); the first rows always include a "7) $1,000 +" customer and two identical rows.

Rows are dicts keyed by column name; any value may be a string instead of its usual type, to write a malformed
value ("abc" as a spend). `write_results_csv` and `write_results_parquet` write the same rows as CSV and Parquet.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

HILLSTROM_COLUMNS = (
    "recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel", "segment", "visit",
    "conversion", "spend",
)
ARMS = ("Mens E-Mail", "Womens E-Mail", "No E-Mail")
HISTORY_SEGMENTS = (
    (100, "1) $0 - $100"),
    (200, "2) $100 - $200"),
    (350, "3) $200 - $350"),
    (500, "4) $350 - $500"),
    (750, "5) $500 - $750"),
    (1000, "6) $750 - $1,000"),
    (float("inf"), "7) $1,000 +"),
)
# Where the fixed quirks sit in the generated rows (0-based): a $1,000+ customer, and two identical rows.
BIG_SPENDER = 3
IDENTICAL = (7, 8)


def history_segment(history: float) -> str:
    return next(label for bound, label in HISTORY_SEGMENTS if history < bound)


def hillstrom_rows(count: int = 300, seed: int = 2008) -> list[dict]:
    """`count` customers in the Hillstrom layout, arms drawn at random in thirds."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        history = 3345.93 if i == BIG_SPENDER else round(rng.uniform(29.99, 999.99), 2)
        mens = rng.random() < 0.55
        womens = (not mens) or rng.random() < 0.2
        segment = rng.choice(ARMS)
        lift = 0.0 if segment == "No E-Mail" else 0.06
        visit = int(rng.random() < 0.1 + lift)
        conversion = int(visit and rng.random() < 0.1)
        rows.append({
            "recency": rng.randint(1, 12),
            "history_segment": history_segment(history),
            "history": history,
            "mens": int(mens),
            "womens": int(womens),
            "zip_code": rng.choice(("Urban", "Surburban", "Rural")),
            "newbie": int(rng.random() < 0.5),
            "channel": rng.choice(("Phone", "Web", "Multichannel")),
            "segment": segment,
            "visit": visit,
            "conversion": conversion,
            "spend": round(rng.uniform(25.0, 499.0), 2) if conversion else 0,
        })
    if count > IDENTICAL[1]:
        rows[IDENTICAL[1]] = dict(rows[IDENTICAL[0]])
    return rows


def with_value(rows: list[dict], index: int, column: str, value) -> list[dict]:
    """A copy of `rows` with one value changed."""
    changed = [dict(row) for row in rows]
    changed[index][column] = value
    return changed


def csv_text(rows: list[dict], header: Sequence[str] = HILLSTROM_COLUMNS, line_end: str = "\r\n") -> str:
    """As the real file: text quoted, numbers bare (floats as Python's shortest repr), `line_end` after each line."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator=line_end)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue()


def write_results_csv(
    path: Path,
    rows: list[dict],
    header: Sequence[str] = HILLSTROM_COLUMNS,
    line_end: str = "\r\n",
    bom: bool = False,
) -> Path:
    text = csv_text(rows, header, line_end)
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def parquet_column(values: list) -> pa.Array:
    """Integers as int64, numbers as double, anything else (or a mix with text) as text."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.array(values, type=pa.int64())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pa.array([float(v) for v in values], type=pa.float64())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def write_results_parquet(
    path: Path, rows: list[dict], header: Sequence[str] = HILLSTROM_COLUMNS, row_group_size: int | None = None
) -> Path:
    table = pa.table({column: parquet_column([row.get(column) for row in rows]) for column in header})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path
