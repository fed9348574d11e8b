"""Load a folder of `thelook_ecommerce` tables (CSV or Parquet) into the `raw` schema of the DuckDB warehouse.

Every file is read by DuckDB's own readers and checked first (required columns, values that cast to the
documented types, non-empty tables, unique non-null keys), in one aggregate scan per file; only a failed
check reads the file again to name the offending row. Only when every table has passed are the `raw` tables
replaced, in one transaction, straight from the files: a failed load leaves the warehouse as it was.

Accepted file names per table (BigQuery exports large tables in shards):
    <table>.parquet | <table>.csv | <table>.csv.gz | <table>-*.{parquet,csv,csv.gz} | <table>/*.{parquet,csv,csv.gz}
Parquet wins when a folder holds both formats of a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from thelook_schema import OPTIONAL_TABLES, PRIMARY_KEYS, TABLES

FORMATS = ("parquet", "csv", "csv.gz")
READABLE_TYPE = {"BIGINT": "an integer", "DOUBLE": "a number", "TIMESTAMP": "a timestamp", "VARCHAR": "text"}


class LoadError(Exception):
    """Input that cannot be loaded; the message names the file, the column and the offending row."""


@dataclass
class TableFiles:
    table: str
    fmt: str
    files: list[Path]


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def find_table_files(source_dir: Path, table: str) -> TableFiles | None:
    """The files of one table in a user's export folder, by the naming rules in the module docstring."""
    for fmt in FORMATS:
        candidates = [source_dir / f"{table}.{fmt}"]
        candidates += sorted(source_dir.glob(f"{table}-*.{fmt}"))
        if (source_dir / table).is_dir():
            candidates += sorted((source_dir / table).glob(f"*.{fmt}"))
        files = [path for path in candidates if path.is_file()]
        if files:
            return TableFiles(table, fmt, files)
    return None


def read_expression(path: Path, fmt: str) -> str:
    if fmt == "parquet":
        return f"read_parquet({sql_string(str(path))})"
    # Everything as text first, so that a bad value is reported with its row instead of failing the scan.
    return (
        f"read_csv({sql_string(str(path))}, header = true, all_varchar = true, "
        "delim = ',', quote = '\"', escape = '\"')"
    )


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def cast_expression(column: str, duck_type: str, source_type: str = "VARCHAR") -> str:
    col = quote_ident(column)
    if duck_type == "TIMESTAMP":
        base = source_type.split("(")[0]
        # Text: BigQuery writes `2024-01-05 10:11:12 UTC`; other tools write ISO 8601 with an offset or none.
        # Through timestamptz in a UTC session every form lands as the UTC wall-clock time.
        through_utc = f"cast(try_cast({col} as timestamptz) as timestamp)"
        if base == "TIMESTAMP":
            return col
        if base == "TIMESTAMP WITH TIME ZONE":
            # The UTC wall-clock time from the instant's microseconds: the same value as a cast in a UTC
            # session, without a time-zone conversion per row (it was a third of a 10M-line load). Only
            # +-infinity, which has no microseconds, takes the cast.
            return f"coalesce(make_timestamp(epoch_us({col})), cast({col} as timestamp))"
        if base == "TIMESTAMPTZ_NS":
            # pandas and pyarrow write zoned times in nanoseconds. The same from the instant's nanoseconds,
            # rounded to the microsecond as DuckDB's cast of a naive TIMESTAMP_NS rounds; +-infinity, which
            # has none (and which DuckDB cannot cast to a naive timestamp directly), goes through UTC.
            return f"coalesce(cast(make_timestamp_ns(epoch_ns({col})) as timestamp), {through_utc})"
        if base in SAFE_SOURCES["TIMESTAMP"]:
            return f"cast({col} as timestamp)"
        return through_utc
    if duck_type == "VARCHAR":
        return f"nullif(trim(cast({col} as varchar)), '')"
    return f"try_cast({col} as {duck_type})"


def is_missing(column: str, source_type: str) -> str:
    """The source value counts as absent: null, or an empty field in a text file."""
    col = quote_ident(column)
    if source_type == "VARCHAR":
        return f"({col} is null or trim({col}) = '')"
    return f"{col} is null"


# Source types that always cast to the target type: no value check needed (the fast path for Parquet).
SAFE_SOURCES = {
    "BIGINT": ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT"),
    "DOUBLE": ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "DECIMAL"),
    "TIMESTAMP": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS", "TIMESTAMP_NS", "TIMESTAMP_MS",
                  "TIMESTAMP_S", "DATE"),
}


def needs_value_check(source_type: str, duck_type: str) -> bool:
    if duck_type == "VARCHAR":
        return False
    base = source_type.split("(")[0]
    return base not in SAFE_SOURCES.get(duck_type, ())


@dataclass
class CheckedFile:
    path: Path
    read: str
    select_list: str
    rows: int


def check_file(con: duckdb.DuckDBPyConnection, table: str, path: Path, fmt: str) -> CheckedFile:
    """Checks one file's columns and values against the layout in one scan.

    Only when a check fails is the file read again, numbered, to name the first offending row.
    """
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    read = read_expression(path, fmt)
    try:
        described = con.execute(f"describe select * from {read}").fetchall()
    except duckdb.Error as error:
        raise LoadError(f"{path}: cannot be read as {fmt.upper()} ({first_line(error)})") from error
    found = {name.strip().lstrip("\ufeff").lower(): (name, col_type) for name, col_type, *_ in described}
    missing = [column for column in TABLES[table] if column not in found]
    if missing:
        raise LoadError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the file has: {', '.join(name for name, _ in found.values())})"
        )
    checked = [
        (column, duck_type, *found[column])
        for column, duck_type in TABLES[table].items()
        if needs_value_check(found[column][1], duck_type)
    ]
    counts = ", ".join(
        f"count(*) filter (where not {is_missing(source_name, source_type)} "
        f"and {cast_expression(source_name, duck_type)} is null)"
        for _, duck_type, source_name, source_type in checked
    )
    try:
        rows, *bad_counts = con.execute(f"select count(*){', ' + counts if counts else ''} from {read}").fetchone()
    except duckdb.Error as error:
        raise LoadError(f"{path}: cannot be read as {fmt.upper()} ({first_line(error)})") from error
    if rows == 0:
        raise LoadError(f"{path}: the file has no rows")
    for (column, duck_type, source_name, source_type), bad in zip(checked, bad_counts):
        if bad:
            row, value = con.execute(
                f"select _row_number, cast({quote_ident(source_name)} as varchar) from "
                f"(select row_number() over () as _row_number, {quote_ident(source_name)} from {read}) "
                f"where not {is_missing(source_name, source_type)} "
                f"and {cast_expression(source_name, duck_type)} is null order by _row_number limit 1"
            ).fetchone()
            raise LoadError(f"{path}: column {column}, row {row}: {value!r} is not {READABLE_TYPE[duck_type]}")
    select_list = ", ".join(
        f"{cast_expression(found[column][0], duck_type, found[column][1])} as {quote_ident(column)}"
        for column, duck_type in TABLES[table].items()
    )
    return CheckedFile(path, read, select_list, rows)


def check_key(con: duckdb.DuckDBPyConnection, table: str, files: list[CheckedFile]) -> None:
    """No empty and no duplicated key across all files of a table: one aggregate, rows named on failure."""
    key = PRIMARY_KEYS[table]
    keys = " union all ".join(f"select {quote_ident(key)} as key from {f.read}" for f in files)
    nulls, duplicates = con.execute(
        f"select count(*) filter (where key is null), count(key) - count(distinct key) from ({keys})"
    ).fetchone()
    if not nulls and not duplicates:
        return
    numbered = " union all ".join(
        f"select {i} as _part, row_number() over () as _row_number, {quote_ident(key)} as key from {f.read}"
        for i, f in enumerate(files)
    )
    if nulls:
        part, row = con.execute(
            f"select _part, _row_number from ({numbered}) where key is null order by _part, _row_number limit 1"
        ).fetchone()
        raise LoadError(f"{files[part].path}: column {key}, row {row}: the key is empty")
    key_value, file_parts, row_numbers = con.execute(
        f"""
        select key, list(_part order by _part, _row_number), list(_row_number order by _part, _row_number)
        from ({numbered}) where key is not null
        group by key having count(*) > 1 order by min(_part), min(_row_number) limit 1
        """
    ).fetchone()
    raise LoadError(
        f"{files[file_parts[1]].path}: column {key}, row {row_numbers[1]}: duplicate key {key_value} "
        f"(also at {files[file_parts[0]].path.name} row {row_numbers[0]})"
    )


def check_table(con: duckdb.DuckDBPyConnection, found: TableFiles) -> list[CheckedFile]:
    files = [check_file(con, found.table, path, found.fmt) for path in found.files]
    check_key(con, found.table, files)
    return files


def create_table_sql(schema: str, table: str, files: list[CheckedFile] | None) -> str:
    target = f"{quote_ident(schema)}.{quote_ident(table)}"
    if not files:
        columns = ", ".join(f"{quote_ident(c)} {t}" for c, t in TABLES[table].items())
        return f"create or replace table {target} ({columns})"
    # Files in their listed order, rows in file order (preserve_insertion_order): a reproducible table.
    return f"create or replace table {target} as " + " union all ".join(
        f"select {f.select_list} from {f.read}" for f in files
    )


def load(source_dir: Path, db_path: Path, schema: str = "raw", log=print) -> dict[str, int]:
    """Loads the thelook tables in `source_dir` into `schema` of the DuckDB file at `db_path`.

    Raises LoadError, leaving the warehouse unchanged, when anything is missing or malformed.
    """
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise LoadError(f"{source_dir}: no such folder")
    found = {table: find_table_files(source_dir, table) for table in TABLES}
    absent = [t for t, f in found.items() if f is None and t not in OPTIONAL_TABLES]
    if absent:
        raise LoadError(
            f"{source_dir}: no file for table{'s' if len(absent) > 1 else ''} {', '.join(absent)} "
            f"(expected e.g. {absent[0]}.parquet or {absent[0]}.csv)"
        )

    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db_path))
    except duckdb.IOException as error:
        raise LoadError(f"{db_path}: cannot open the warehouse for writing ({first_line(error)})") from error
    try:
        con.execute("set TimeZone = 'UTC'")
        # Row numbers in error messages follow the file's order.
        con.execute("set preserve_insertion_order = true")
        checked: dict[str, list[CheckedFile] | None] = {}
        counts = {}
        for table, table_files in found.items():
            if table_files is None:
                checked[table], counts[table] = None, 0
                log(f"  {table:<22} no file: loaded empty (optional)")
                continue
            checked[table] = check_table(con, table_files)
            counts[table] = sum(f.rows for f in checked[table])
            names = ", ".join(str(p.relative_to(source_dir)) for p in table_files.files)
            log(f"  {table:<22} {counts[table]:>12,} rows from {names}")

        # The switch: every table written in one transaction, or none.
        con.execute("begin transaction")
        try:
            con.execute(f"create schema if not exists {quote_ident(schema)}")
            for table in TABLES:
                con.execute(create_table_sql(schema, table, checked[table]))
            con.execute("commit")
        except duckdb.Error as error:
            con.execute("rollback")
            raise LoadError(f"{db_path}: writing the raw tables failed, nothing changed ({first_line(error)})") from error
        except BaseException:
            con.execute("rollback")
            raise
        return counts
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder with users, orders, order_items, products files")
    parser.add_argument("--db", type=Path, required=True, help="DuckDB warehouse file")
    parser.add_argument("--schema", default="raw", help="schema to load into (default: raw)")
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
