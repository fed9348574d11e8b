"""Load a finished campaign's per-customer results file (CSV or Parquet) into the `raw_campaign_results` schema.

The file is what an email/CRM tool exports after a test: one row per customer with the arm the customer was in,
attributes known before the send, and outcomes over the measurement window. A small YAML mapping (see
`mappings/README.md`, example `mappings/hillstrom.yml`) says which column is which: the customer id (or none:
then the 1-based data row number is the id, and identical rows are different customers), the arm column with
its control value and, per arm value, its planned share, short name, channel and contact cost (null when
unknown); the outcomes (binary 0/1 or non-negative amounts); the pre-period covariates (numeric; one of them the
CUPED covariate); the breakdown columns (any values, treated as categories).

Five long tables, so that any number of outcomes and attributes fits (several campaigns share them):
    result_campaigns   campaign_id, campaign_name, source_file, customers, launch_date, window_days, cuped_covariate
    result_arms        campaign_id, arm_value, arm, is_control, planned_share, channel, contact_cost
    result_customers   campaign_id, customer_id, source_row, arm
    result_outcomes    campaign_id, customer_id, outcome, outcome_kind, value
    result_attributes  campaign_id, customer_id, attribute, role, value_text, value_number

The file is read by DuckDB's readers, a CSV with its dialect given (every column as text, nothing sniffed), into a
temporary table, and checked in one scan: mapped columns present, arm values known and the control present,
outcomes and covariates numbers, binary outcomes 0/1, amounts not negative, ids present and unique, at least one
row. A failed check names file, column, row (as a user sees it: header = row 1) and value. Only then are the
campaign's rows replaced, in all five tables, in one transaction: other campaigns' rows stay, and a failed load
leaves the warehouse as it was. Nothing depends on the clock or on where the file lies (only its name is kept):
the same file and mapping give the same tables.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import re
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa
import yaml

from load_online_retail import SPACES, csv_error, csv_header, csv_read_expression, csv_record_lines, scan_csv
from load_thelook import LoadError, first_line, quote_ident, sql_string

SCHEMA = "raw_campaign_results"
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
KINDS = ("binary", "amount")
SHARE_TOLERANCE = 1e-6
# Short names (arms, outcomes) end up in model columns and labels downstream.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
OUTCOME_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CAMPAIGN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# What counts as a number: decimal digits with an optional sign, point and exponent. Stricter than DuckDB's cast,
# which would also read '1_000', 'inf' and 'nan'.
NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"

TABLES = {
    "result_campaigns": {
        "campaign_id": "VARCHAR",
        "campaign_name": "VARCHAR",
        "source_file": "VARCHAR",
        "customers": "BIGINT",
        "launch_date": "DATE",
        "window_days": "INTEGER",
        "cuped_covariate": "VARCHAR",
    },
    "result_arms": {
        "campaign_id": "VARCHAR",
        "arm_value": "VARCHAR",
        "arm": "VARCHAR",
        "is_control": "BOOLEAN",
        "planned_share": "DOUBLE",
        "channel": "VARCHAR",
        "contact_cost": "DOUBLE",
    },
    "result_customers": {
        "campaign_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "source_row": "BIGINT",
        "arm": "VARCHAR",
    },
    "result_outcomes": {
        "campaign_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "outcome": "VARCHAR",
        "outcome_kind": "VARCHAR",
        "value": "DOUBLE",
    },
    "result_attributes": {
        "campaign_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "attribute": "VARCHAR",
        "role": "VARCHAR",
        "value_text": "VARCHAR",
        "value_number": "DOUBLE",
    },
}


# ---------------------------------------------------------------------------------------------------------------
# The mapping


@dataclass(frozen=True)
class Arm:
    value: str  # as in the file
    name: str
    share: float
    channel: str
    contact_cost: float | None  # None: unknown (the mapping says null)
    is_control: bool


@dataclass(frozen=True)
class Outcome:
    column: str
    kind: str
    name: str


@dataclass(frozen=True)
class Attribute:
    column: str
    role: str  # covariate | breakdown | both


@dataclass(frozen=True)
class Mapping:
    where: str  # the mapping file, for messages
    campaign_id: str
    campaign_name: str
    customer_id: str | None
    arm_column: str
    control: str
    arms: tuple[Arm, ...]
    outcomes: tuple[Outcome, ...]
    covariates: tuple[str, ...]
    cuped_covariate: str | None
    breakdowns: tuple[str, ...]
    launch_date: dt.date | None
    window_days: int | None

    @property
    def attributes(self) -> tuple[Attribute, ...]:
        """Covariates then breakdowns, each column once; a column in both lists has the role 'both'."""
        columns = list(dict.fromkeys(self.covariates + self.breakdowns))
        role = {c: "covariate" for c in self.covariates}
        for c in self.breakdowns:
            role[c] = "both" if c in role else "breakdown"
        return tuple(Attribute(c, role[c]) for c in columns)

    @property
    def columns(self) -> list[str]:
        """Every mapped column once: id, arm, outcomes, attributes."""
        columns = [self.customer_id] if self.customer_id is not None else []
        columns += [self.arm_column] + [o.column for o in self.outcomes] + [a.column for a in self.attributes]
        return columns


TOP_KEYS = (
    "campaign_id", "campaign_name", "customer_id", "arm", "outcomes", "covariates", "cuped_covariate", "breakdowns",
    "launch_date", "window_days",
)
REQUIRED_TOP_KEYS = ("campaign_id", "campaign_name", "customer_id", "arm", "outcomes")
ARM_KEYS = ("column", "control", "values")
ARM_VALUE_KEYS = ("value", "name", "share", "channel", "contact_cost")
OUTCOME_KEYS = ("column", "kind", "name")


class _Checker:
    """Validation of the mapping's parts, with messages that start with the mapping file and the key."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, problem: str) -> LoadError:
        return LoadError(f"{self.where}: {key}: {problem}" if key else f"{self.where}: {problem}")

    def keys(self, value, key: str, known: tuple[str, ...], required: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping of keys ({', '.join(known)}), got {value!r}")
        unknown = [str(k) for k in value if k not in known]
        if unknown:
            raise self.fail(
                key, f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (known: {', '.join(known)})"
            )
        missing = [k for k in required if k not in value]
        if missing:
            raise self.fail(key, f"missing key{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        return value

    def text(self, value, key: str, allow_none: bool = False) -> str | None:
        """Text; an integer is taken as its digits (a column or value named 1). A float or a boolean is refused:
        YAML reads `0.10` and `yes` as such, and their text as in the file is lost."""
        if value is None and allow_none:
            return None
        if isinstance(value, bool):
            raise self.fail(key, f"{str(value).lower()} is read by YAML as a boolean; quote it as the file has it")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            raise self.fail(key, f"{value!r} is read by YAML as a number; quote it as the file has it")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected text, got {value!r}")
        return value.strip()

    def name(self, value, key: str, pattern: re.Pattern, what: str) -> str:
        text = self.text(value, key)
        if not pattern.fullmatch(text):
            raise self.fail(key, f"{text!r} is not a valid {what} (letters, digits and _, e.g. mens_email)")
        return text

    def number(self, value, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(key, f"{value!r} is not a number")
        return float(value)

    def contact_cost(self, value, key: str) -> float | None:
        """A cost per contact >= 0, or null: unknown (never guessed as 0: a cost of 0 is a claim)."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(key, f"{value!r} is not a cost per contact (a number >= 0, or null when unknown)")
        if value < 0:
            raise self.fail(key, f"{value!r} is negative (a cost per contact is >= 0, or null when unknown)")
        return float(value)

    def share(self, value, key: str) -> Fraction:
        """A number (0.45) or a fraction as text ('1/3')."""
        try:
            if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*/\s*[0-9]+\s*", value):
                share = Fraction(*(int(part) for part in value.split("/")))
            else:
                share = Fraction(str(self.number(value, key)))
        except (LoadError, ZeroDivisionError):
            raise self.fail(key, f"{value!r} is not a share (a number between 0 and 1, or a fraction like 1/3)")
        if not 0 < share <= 1:
            raise self.fail(key, f"{value!r} is not a share (a number between 0 and 1, or a fraction like 1/3)")
        return share

    def column_list(self, value, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of column names, got {value!r}")
        columns = [self.text(item, f"{key}[{i}]") for i, item in enumerate(value)]
        for i, column in enumerate(columns):
            if column in columns[:i]:
                raise self.fail(key, f"column {column!r} is listed twice")
        return tuple(columns)


def parse_mapping(raw, where: str = "mapping") -> Mapping:
    """Validates a mapping (as read from YAML) and returns it; LoadError names the key that is wrong."""
    check = _Checker(where)
    top = check.keys(raw, "", TOP_KEYS, REQUIRED_TOP_KEYS)
    campaign_id = check.text(top["campaign_id"], "campaign_id")
    if not CAMPAIGN_ID_PATTERN.fullmatch(campaign_id):
        raise check.fail("campaign_id", f"{campaign_id!r} is not a valid id (letters, digits, _ . -)")
    campaign_name = check.text(top["campaign_name"], "campaign_name")
    customer_id = check.text(top["customer_id"], "customer_id", allow_none=True)

    arm = check.keys(top["arm"], "arm", ARM_KEYS, ARM_KEYS)
    arm_column = check.text(arm["column"], "arm.column")
    control = check.text(arm["control"], "arm.control")
    if not isinstance(arm["values"], list) or len(arm["values"]) < 2:
        raise check.fail("arm.values", "expected a list of at least two arms (the control and one treatment)")
    entries = []
    for i, entry in enumerate(arm["values"]):
        key = f"arm.values[{i}]"
        check.keys(entry, key, ARM_VALUE_KEYS, ARM_VALUE_KEYS)
        value = check.text(entry["value"], f"{key}.value")
        key = f"arm.values[{i}] ({value})"
        entries.append((
            value,
            check.name(entry["name"], f"{key}.name", NAME_PATTERN, "short arm name"),
            check.share(entry["share"], f"{key}.share"),
            check.text(entry["channel"], f"{key}.channel"),
            check.contact_cost(entry["contact_cost"], f"{key}.contact_cost"),
        ))
    values = [e[0] for e in entries]
    for i, (value, name, *_) in enumerate(entries):
        if value in values[:i]:
            raise check.fail("arm.values", f"the value {value!r} is listed twice")
        if name in [e[1] for e in entries[:i]]:
            raise check.fail("arm.values", f"the short name {name!r} is given to two arms")
    if control not in values:
        raise check.fail("arm.control", f"{control!r} is not among the arm values ({', '.join(map(repr, values))})")
    total = sum(e[2] for e in entries)
    if abs(total - 1) > Fraction(str(SHARE_TOLERANCE)):
        raise check.fail("arm.values", f"the shares sum to {float(total):.6g}, not 1")
    arms = tuple(Arm(v, n, float(s), ch, cost, v == control) for v, n, s, ch, cost in entries)

    if not isinstance(top["outcomes"], list) or not top["outcomes"]:
        raise check.fail("outcomes", "expected a list of at least one outcome ({column, kind, name})")
    outcomes = []
    for i, entry in enumerate(top["outcomes"]):
        key = f"outcomes[{i}]"
        check.keys(entry, key, OUTCOME_KEYS, ("column", "kind"))
        column = check.text(entry["column"], f"{key}.column")
        key = f"outcomes[{i}] ({column})"
        kind = entry["kind"]
        if kind not in KINDS:
            raise check.fail(f"{key}.kind", f"unknown kind {kind!r} (use {' or '.join(KINDS)})")
        name = entry.get("name")
        name = check.name(column if name is None else name, f"{key}.name", OUTCOME_NAME_PATTERN, "outcome name")
        if name in [o.name for o in outcomes]:
            raise check.fail(f"{key}.name", f"the outcome name {name!r} is used twice")
        outcomes.append(Outcome(column, kind, name))

    covariates = check.column_list(top.get("covariates"), "covariates")
    breakdowns = check.column_list(top.get("breakdowns"), "breakdowns")
    cuped = check.text(top.get("cuped_covariate"), "cuped_covariate", allow_none=True)
    if cuped is not None and cuped not in covariates:
        listed = ", ".join(covariates) or "none"
        raise check.fail("cuped_covariate", f"{cuped!r} is not among the covariates ({listed})")

    # One column, one role; a covariate may also be a breakdown (role 'both').
    roles: dict[str, str] = {}
    uses = [(customer_id, "the customer id")] if customer_id is not None else []
    uses += [(arm_column, "the arm")]
    uses += [(o.column, f"outcome {o.name}") for o in outcomes]
    uses += [(c, "a covariate/breakdown") for c in dict.fromkeys(covariates + breakdowns)]
    for column, role in uses:
        if column in roles:
            raise check.fail("", f"column {column!r} is used as {roles[column]} and as {role}")
        roles[column] = role

    launch_date = top.get("launch_date")
    if isinstance(launch_date, dt.datetime) or not isinstance(launch_date, (dt.date, str, type(None))):
        raise check.fail("launch_date", f"{launch_date!r} is not a date (YYYY-MM-DD)")
    if isinstance(launch_date, str):
        try:
            launch_date = dt.date.fromisoformat(launch_date.strip())
        except ValueError:
            raise check.fail("launch_date", f"{launch_date!r} is not a date (YYYY-MM-DD)") from None
    window_days = top.get("window_days")
    whole = isinstance(window_days, int) and not isinstance(window_days, bool)
    if window_days is not None and not (whole and window_days >= 1):
        raise check.fail("window_days", f"{window_days!r} is not a positive whole number of days")

    return Mapping(
        where, campaign_id, campaign_name, customer_id, arm_column, control, arms, tuple(outcomes), covariates,
        cuped, breakdowns, launch_date, window_days,
    )


def read_mapping(mapping: Path | str | dict) -> Mapping:
    """The mapping from a YAML file, or from a dict shaped like one."""
    if isinstance(mapping, dict):
        return parse_mapping(mapping)
    path = Path(mapping)
    if not path.is_file():
        raise LoadError(f"{path}: no such mapping file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeError) as error:
        raise LoadError(f"{path}: not a valid YAML mapping ({' '.join(str(error).split())})") from error
    return parse_mapping(raw, str(path))


# ---------------------------------------------------------------------------------------------------------------
# Text -> numbers, in SQL


def trimmed(expression: str) -> str:
    return f"trim({expression}, {sql_string(SPACES)})"


def is_empty_sql(expression: str) -> str:
    return f"coalesce({trimmed(expression)}, '') = ''"


def number_sql(expression: str) -> str:
    t = trimmed(expression)
    d = f"try_cast({t} as double)"
    # + 0.0 writes -0 as 0.
    return f"case when regexp_full_match({t}, {sql_string(NUMBER)}) and isfinite({d}) then {d} + 0.0 end"


# ---------------------------------------------------------------------------------------------------------------
# Reading the file into a temporary text table: data_row, source_row, then one column per mapped column


@dataclass
class Staged:
    path: Path
    file_format: str
    columns: dict[str, str]  # mapped column -> its name in the file
    aliases: dict[str, str]  # mapped column -> its column in the staged table
    rows: int = 0


def resolve_columns(names: list[str], mapping: Mapping, where: str) -> dict[str, str]:
    """For each mapped column, its name in the file: the same name, else the only one equal ignoring case and
    surrounding spaces."""
    def key(name: str) -> str:
        return str(name).lstrip("\ufeff").strip()

    found, missing = {}, []
    for column in mapping.columns:
        exact = [n for n in names if key(n) == column]
        loose = exact or [n for n in names if key(n).casefold() == column.casefold()]
        if len(loose) > 1:
            raise LoadError(f"{where}: column {column} appears {len(loose)} times in the header")
        if not loose:
            missing.append(column)
        else:
            found[column] = loose[0]
    if missing:
        raise LoadError(
            f"{where}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the file has: {', '.join(key(n) for n in names if key(n)) or 'no column names'})"
        )
    return found


def stage_csv(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping, log) -> Staged:
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    scan = scan_csv(path)
    try:
        names = csv_header(path, scan)
    except (UnicodeError, csv.Error) as error:
        raise LoadError(f"{path}: cannot be read as CSV ({error})") from error
    if not any(name.strip() for name in names):
        raise LoadError(f"{path}: the file is empty")
    columns = resolve_columns(names, mapping, str(path))
    aliases = {column: f"m{i}" for i, column in enumerate(mapping.columns)}
    picked = ", ".join(f"c{names.index(columns[c])} as {aliases[c]}" for c in mapping.columns)
    read = csv_read_expression(path, scan, len(names))
    try:
        con.execute(
            "create or replace temp table _results as select row_number() over () as data_row, "
            f"row_number() over () + 1 as source_row, {picked} from {read}"
        )
    except duckdb.Error as error:
        raise csv_error(path, error) from error
    (records,) = con.execute("select count(*) from _results").fetchall()[0]
    if scan.blank_line or records != scan.lines - 1:
        # A quoted value spanning lines, or empty lines: records and lines differ, so each record's first line is
        # looked up (the exact, slower path only such files take).
        starts = csv_record_lines(path, scan)
        if len(starts) == records:
            con.register("_record_lines", pa.table({"_n": np.arange(1, records + 1, dtype=np.int64), "_line": starts}))
            try:
                con.execute(
                    "create or replace temp table _results as select r.data_row, l._line as source_row, "
                    "r.* exclude (data_row, source_row) from _results r join _record_lines l on r.data_row = l._n "
                    "order by r.data_row"
                )
            finally:
                con.unregister("_record_lines")
        else:
            log(f"  {path.name}: warning: could not match records to lines; row numbers count records, not lines")
    return Staged(path, "csv", columns, aliases, records)


def parquet_text_sql(column: str, duck_type: str, is_id: bool) -> str:
    """A Parquet value as text: booleans as 1/0, numbers as DuckDB writes them (148.0 stays '148.0', as Python and
    pandas write it), except a customer id stored as a whole float, written as the integer (123.0 -> '123')."""
    col = quote_ident(column)
    base = duck_type.split("(")[0]
    if base == "BOOLEAN":
        return f"case when {col} then '1' when not {col} then '0' end"
    if is_id and base in ("DOUBLE", "FLOAT"):
        return (
            f"case when isfinite({col}) and {col} = trunc({col}) and abs({col}) < 1e15 "
            f"then cast(cast({col} as bigint) as varchar) else cast({col} as varchar) end"
        )
    return f"cast({col} as varchar)"


def stage_parquet(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping, log) -> Staged:
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    read = f"read_parquet({sql_string(str(path))})"
    try:
        described = con.execute(f"describe select * from {read}").fetchall()
    except duckdb.Error as error:
        raise LoadError(f"{path}: cannot be read as PARQUET ({first_line(error)})") from error
    types = {name: col_type for name, col_type, *_ in described}
    columns = resolve_columns(list(types), mapping, str(path))
    aliases = {column: f"m{i}" for i, column in enumerate(mapping.columns)}
    picked = ", ".join(
        f"{parquet_text_sql(columns[c], types[columns[c]], c == mapping.customer_id)} as {aliases[c]}"
        for c in mapping.columns
    )
    try:
        con.execute(
            "create or replace temp table _results as select row_number() over () as data_row, "
            f"row_number() over () + 1 as source_row, {picked} from {read}"
        )
    except duckdb.Error as error:
        raise LoadError(f"{path}: cannot be read as PARQUET ({first_line(error)})") from error
    (records,) = con.execute("select count(*) from _results").fetchall()[0]
    return Staged(path, "parquet", columns, aliases, records)


# ---------------------------------------------------------------------------------------------------------------
# Checks: one scan for every value check; the first failing row (then check) is reported with its value


def check_results(con: duckdb.DuckDBPyConnection, staged: Staged, mapping: Mapping) -> dict[str, int]:
    """Checks the staged rows; returns the number of customers per arm value."""
    path, a = staged.path, staged.aliases
    if staged.rows == 0:
        raise LoadError(f"{path}: the file has no rows")
    arm_values = ", ".join(sql_string(arm.value) for arm in mapping.arms)
    allowed = ", ".join(repr(arm.value) for arm in mapping.arms)

    # (mapped column, condition on the staged row, the message for a failing value)
    checks: list[tuple[str, str, Callable[[str], str]]] = []

    def empty(what: str = "the value is empty") -> Callable[[str], str]:
        return lambda value: what

    def not_a_number(value: str) -> str:
        return f"{value!r} is not a number"

    if mapping.customer_id is not None:
        checks.append((mapping.customer_id, is_empty_sql(a[mapping.customer_id]), empty("the customer id is empty")))
    arm = a[mapping.arm_column]
    checks.append((mapping.arm_column, is_empty_sql(arm), empty("the arm is empty")))
    checks.append((
        mapping.arm_column,
        f"{trimmed(arm)} not in ({arm_values})",
        lambda value: f"{value!r} is not an arm of the mapping (the arms are {allowed})",
    ))
    for outcome in mapping.outcomes:
        col = a[outcome.column]
        number = number_sql(col)
        checks.append((outcome.column, is_empty_sql(col), empty()))
        checks.append((outcome.column, f"{number} is null", not_a_number))
        if outcome.kind == "binary":
            checks.append((
                outcome.column, f"{number} not in (0, 1)", lambda value: f"{value!r} is not 0 or 1 (a binary outcome)"
            ))
        else:
            checks.append((outcome.column, f"{number} < 0", lambda value: f"{value!r} is negative (an amount)"))
    for column in mapping.covariates:
        col = a[column]
        checks.append((column, is_empty_sql(col), empty("the value is empty (a covariate must be known for everyone)")))
        checks.append((column, f"{number_sql(col)} is null", not_a_number))

    # A check counts a row only where the earlier checks of its column passed: one failure, one message.
    conditions, earlier = [], {}
    for column, condition, _ in checks:
        passed = earlier.get(column, [])
        conditions.append(
            " and ".join([f"not coalesce({c}, false)" for c in passed] + [f"coalesce({condition}, false)"])
        )
        earlier[column] = passed + [condition]
    first_rows = con.execute(
        "select " + ", ".join(f"min(source_row) filter (where {c})" for c in conditions) + " from _results"
    ).fetchall()[0]
    failures = [(row, i) for i, row in enumerate(first_rows) if row is not None]
    if failures:
        row, i = min(failures)
        column, _, message = checks[i]
        (value,) = con.execute(f"select {a[column]} from _results where source_row = ?", [row]).fetchall()[0]
        raise LoadError(f"{path}: column {staged.columns[column]}, row {row}: {message(value or '')}")

    if mapping.customer_id is not None:
        duplicate = con.execute(
            f"""
            select {trimmed(a[mapping.customer_id])} as id, list(source_row order by source_row) as rows
            from _results group by id having count(*) > 1 order by rows[2] limit 1
            """
        ).fetchall()
        if duplicate:
            value, rows = duplicate[0]
            raise LoadError(
                f"{path}: column {staged.columns[mapping.customer_id]}, row {rows[1]}: duplicate customer id "
                f"{value!r} (also at row {rows[0]})"
            )

    counts = dict(con.execute(f"select {trimmed(arm)}, count(*) from _results group by all").fetchall())
    if mapping.control not in counts:
        found = ", ".join(f"{value!r} ({n:,} rows)" for value, n in sorted(counts.items()))
        raise LoadError(
            f"{path}: column {staged.columns[mapping.arm_column]}: the control value {mapping.control!r} never "
            f"occurs (the values found: {found})"
        )
    return {arm.value: counts.get(arm.value, 0) for arm in mapping.arms}


# ---------------------------------------------------------------------------------------------------------------
# Writing: the campaign's rows in the five tables, replaced in one transaction


def insert_sql(schema: str, table: str, select: str) -> str:
    columns = ", ".join(quote_ident(c) for c in TABLES[table])
    return f"insert into {quote_ident(schema)}.{quote_ident(table)} ({columns}) {select}"


def write_campaign(
    con: duckdb.DuckDBPyConnection, schema: str, staged: Staged, mapping: Mapping, customers: int
) -> None:
    a = staged.aliases
    campaign = sql_string(mapping.campaign_id)
    customer_id = (
        trimmed(a[mapping.customer_id]) if mapping.customer_id is not None else "cast(data_row as varchar)"
    )
    arm_case = " ".join(f"when {sql_string(arm.value)} then {sql_string(arm.name)}" for arm in mapping.arms)
    con.execute(
        "create or replace temp table _customers as select data_row, source_row, "
        f"{customer_id} as customer_id, case {trimmed(a[mapping.arm_column])} {arm_case} end as arm, "
        + ", ".join(a[c] for c in mapping.columns)
        + " from _results"
    )

    outcomes = " union all ".join(
        f"select data_row, {i} as ordinal, customer_id, {sql_string(o.name)} as outcome, "
        f"{sql_string(o.kind)} as outcome_kind, {number_sql(a[o.column])} as value from _customers"
        for i, o in enumerate(mapping.outcomes)
    )
    attributes = " union all ".join(
        f"select data_row, {i} as ordinal, customer_id, {sql_string(attr.column)} as attribute, "
        f"{sql_string(attr.role)} as role, nullif({trimmed(a[attr.column])}, '') as value_text, "
        f"{number_sql(a[attr.column])} as value_number from _customers"
        for i, attr in enumerate(mapping.attributes)
    )

    con.execute(f"create schema if not exists {quote_ident(schema)}")
    for table, columns in TABLES.items():
        definition = ", ".join(f"{quote_ident(c)} {t}" for c, t in columns.items())
        con.execute(f"create table if not exists {quote_ident(schema)}.{quote_ident(table)} ({definition})")
        con.execute(f"delete from {quote_ident(schema)}.{quote_ident(table)} where campaign_id = {campaign}")

    con.execute(
        insert_sql(schema, "result_campaigns", "select ?, ?, ?, ?, ?, ?, ?"),
        [
            mapping.campaign_id, mapping.campaign_name, staged.path.name, customers, mapping.launch_date,
            mapping.window_days, mapping.cuped_covariate,
        ],
    )
    con.executemany(
        insert_sql(schema, "result_arms", "select ?, ?, ?, ?, ?, ?, ?"),
        [
            [mapping.campaign_id, arm.value, arm.name, arm.is_control, arm.share, arm.channel, arm.contact_cost]
            for arm in mapping.arms
        ],
    )
    con.execute(insert_sql(
        schema, "result_customers",
        f"select {campaign}, customer_id, source_row, arm from _customers order by data_row",
    ))
    con.execute(insert_sql(
        schema, "result_outcomes",
        f"select {campaign}, customer_id, outcome, outcome_kind, value from ({outcomes}) order by data_row, ordinal",
    ))
    if mapping.attributes:
        con.execute(insert_sql(
            schema, "result_attributes",
            f"select {campaign}, customer_id, attribute, role, value_text, value_number from ({attributes}) "
            "order by data_row, ordinal",
        ))


# ---------------------------------------------------------------------------------------------------------------
# Load


def file_format(source: Path) -> str:
    name = source.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise LoadError(f"{source}: not a .csv or .parquet file")


def load(
    source: Path, mapping: Path | dict, db_path: Path, schema: str = SCHEMA, log=print
) -> dict:
    """Loads the campaign results file `source`, read as `mapping` says, into `schema` of the DuckDB file at
    `db_path`, replacing that campaign's rows (only).

    Returns the campaign id, the file's format, the customers per arm and the rows written per table. Raises
    LoadError, leaving the warehouse unchanged, when the mapping or the file is wrong.
    """
    source = Path(source)
    spec = read_mapping(mapping)
    if not source.is_file():
        raise LoadError(f"{source}: no such file")
    fmt = file_format(source)

    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db_path))
    except duckdb.IOException as error:
        raise LoadError(f"{db_path}: cannot open the warehouse for writing ({first_line(error)})") from error
    try:
        con.execute("set TimeZone = 'UTC'")
        # Row numbers follow the file's order.
        con.execute("set preserve_insertion_order = true")
        staged = (stage_csv if fmt == "csv" else stage_parquet)(con, source, spec, log)
        per_arm = check_results(con, staged, spec)
        customers = sum(per_arm.values())
        log(f"  {source.name}: {customers:,} customers ({fmt}), campaign {spec.campaign_id}")
        for arm in spec.arms:
            n = per_arm[arm.value]
            log(
                f"  arm {arm.name:<20} {n:>10,} customers, {n / customers:7.2%} (planned {arm.share:.2%})"
                f"{'  control' if arm.is_control else ''}"
            )
            if n == 0:
                log(f"  warning: no customer is in arm {arm.name} ({arm.value!r})")

        # The switch: the campaign's rows in every table, in one transaction, or none.
        con.execute("begin transaction")
        try:
            write_campaign(con, schema, staged, spec, customers)
            counts = {
                table: con.execute(
                    f"select count(*) from {quote_ident(schema)}.{quote_ident(table)} where campaign_id = ?",
                    [spec.campaign_id],
                ).fetchall()[0][0]
                for table in TABLES
            }
            con.execute("commit")
        except duckdb.Error as error:
            con.execute("rollback")
            raise LoadError(
                f"{db_path}: writing the campaign's rows failed, nothing changed ({first_line(error)})"
            ) from error
        except BaseException:
            con.execute("rollback")
            raise
        for table, n in counts.items():
            log(f"  {schema}.{table:<18} {n:>12,} rows for {spec.campaign_id}")
        return {
            "campaign_id": spec.campaign_id,
            "source_file": source.name,
            "format": fmt,
            "customers": customers,
            "arms": {arm.name: per_arm[arm.value] for arm in spec.arms},
            "tables": counts,
        }
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the campaign's per-customer results, .csv or .parquet")
    parser.add_argument("--mapping", type=Path, required=True, help="YAML mapping (see mappings/README.md)")
    parser.add_argument("--db", type=Path, required=True, help="DuckDB warehouse file")
    parser.add_argument("--schema", default=SCHEMA, help=f"schema to load into (default: {SCHEMA})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"loading {args.source} with {args.mapping} into {args.db} (schema {args.schema})")
    try:
        load(args.source, args.mapping, args.db, args.schema)
    except LoadError as error:
        print(f"load failed, warehouse unchanged: {error}", file=sys.stderr)
        return 1
    print(f"loaded in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
