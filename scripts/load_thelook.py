"""Load a folder of `thelook_ecommerce` tables (CSV or Parquet) into the `raw` schema of the DuckDB warehouse.

Every file is read by DuckDB's own readers, checked (required columns, values that cast to the documented
types, non-empty tables, unique non-null keys) and typed in temporary tables first. Only when every table
has passed is the `raw` schema replaced, in one transaction: a failed load leaves the warehouse as it was.

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


def cast_expression(column: str, duck_type: str) -> str:
    col = quote_ident(column)
    if duck_type == "TIMESTAMP":
        # BigQuery writes `2024-01-05 10:11:12 UTC`; other tools write ISO 8601 with an offset or none.
        # Through timestamptz in a UTC session every form lands as the UTC wall-clock time.
        return f"cast(try_cast({col} as timestamptz) as timestamp)"
    if duck_type == "VARCHAR":
        return f"nullif(trim(cast({col} as varchar)), '')"
    return f"try_cast({col} as {duck_type})"


def is_missing(column: str, source_type: str) -> str:
    """The source value counts as absent: null, or an empty field in a text file."""
    col = quote_ident(column)
    if source_type == "VARCHAR":
        return f"({col} is null or trim({col}) = '')"
    return f"{col} is null"


def load_file(con: duckdb.DuckDBPyConnection, table: str, path: Path, fmt: str, part: int) -> str:
    """Reads one file into a numbered temporary table of raw values; returns that table's name."""
    name = f"src_{table}_{part}"
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    try:
        con.execute(
            f"create temp table {name} as "
            f"select row_number() over () as _row_number, * from {read_expression(path, fmt)}"
        )
    except duckdb.Error as error:
        raise LoadError(f"{path}: cannot be read as {fmt.upper()} ({first_line(error)})") from error
    return name


def check_and_type_file(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, src: str
) -> str:
    """Checks one file's columns and values against the layout; returns a temporary table of typed rows."""
    described = con.execute(f"describe {src}").fetchall()
    found = {name.strip().lstrip("\ufeff").lower(): (name, col_type) for name, col_type, *_ in described}
    found.pop("_row_number", None)
    missing = [column for column in TABLES[table] if column not in found]
    if missing:
        raise LoadError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the file has: {', '.join(name for name, _ in found.values())})"
        )
    (rows,) = con.execute(f"select count(*) from {src}").fetchone()
    if rows == 0:
        raise LoadError(f"{path}: the file has no rows")

    select_list = []
    for column, duck_type in TABLES[table].items():
        source_name, source_type = found[column]
        select_list.append(f"{cast_expression(source_name, duck_type)} as {quote_ident(column)}")
        if duck_type == "VARCHAR":
            continue
        bad = con.execute(
            f"select _row_number, cast({quote_ident(source_name)} as varchar) from {src} "
            f"where not {is_missing(source_name, source_type)} "
            f"and {cast_expression(source_name, duck_type)} is null order by _row_number limit 1"
        ).fetchone()
        if bad:
            raise LoadError(
                f"{path}: column {column}, row {bad[0]}: {bad[1]!r} is not {READABLE_TYPE[duck_type]}"
            )
    typed = f"typed_{src}"
    con.execute(
        f"create temp table {typed} as select _row_number, {', '.join(select_list)} from {src} order by _row_number"
    )
    return typed


def check_key(con: duckdb.DuckDBPyConnection, table: str, files: list[Path], parts: list[str]) -> None:
    key = PRIMARY_KEYS[table]
    union = " union all ".join(
        f"select {i} as _part, _row_number, {quote_ident(key)} as key from {part}" for i, part in enumerate(parts)
    )
    null_key = con.execute(
        f"select _part, _row_number from ({union}) where key is null order by _part, _row_number limit 1"
    ).fetchone()
    if null_key:
        raise LoadError(f"{files[null_key[0]]}: column {key}, row {null_key[1]}: the key is empty")
    duplicate = con.execute(
        f"""
        select key, list(_part order by _part, _row_number), list(_row_number order by _part, _row_number)
        from ({union}) group by key having count(*) > 1 order by min(_part), min(_row_number) limit 1
        """
    ).fetchone()
    if duplicate:
        key_value, file_parts, row_numbers = duplicate
        where = [f"{files[p].name} row {r}" for p, r in zip(file_parts[:2], row_numbers[:2])]
        raise LoadError(
            f"{files[file_parts[1]]}: column {key}, row {row_numbers[1]}: duplicate key {key_value} "
            f"(also at {where[0]})"
        )


def stage_table(con: duckdb.DuckDBPyConnection, found: TableFiles) -> tuple[str, int]:
    parts = []
    for i, path in enumerate(found.files):
        src = load_file(con, found.table, path, found.fmt, i)
        parts.append(check_and_type_file(con, found.table, path, src))
    check_key(con, found.table, found.files, parts)
    columns = ", ".join(quote_ident(c) for c in TABLES[found.table])
    staged = f"staged_{found.table}"
    con.execute(
        f"create temp table {staged} as "
        + " union all ".join(f"(select {columns} from {part} order by _row_number)" for part in parts)
    )
    (rows,) = con.execute(f"select count(*) from {staged}").fetchone()
    return staged, rows


def empty_table_sql(table: str) -> str:
    columns = ", ".join(f"{quote_ident(c)} {t}" for c, t in TABLES[table].items())
    return f"create temp table staged_{table} ({columns})"


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
        counts = {}
        for table, table_files in found.items():
            if table_files is None:
                con.execute(empty_table_sql(table))
                counts[table] = 0
                log(f"  {table:<22} no file: loaded empty (optional)")
                continue
            _, counts[table] = stage_table(con, table_files)
            names = ", ".join(str(p.relative_to(source_dir)) for p in table_files.files)
            log(f"  {table:<22} {counts[table]:>12,} rows from {names}")

        # The switch: all tables replaced in one transaction, or none.
        con.execute("begin transaction")
        try:
            con.execute(f"create schema if not exists {quote_ident(schema)}")
            for table in TABLES:
                con.execute(
                    f"create or replace table {quote_ident(schema)}.{quote_ident(table)} as "
                    f"select * from staged_{table}"
                )
            con.execute("commit")
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
