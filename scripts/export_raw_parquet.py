"""Export the raw tables of a DuckDB warehouse to Parquet, for a Spark build of the same marts (docs/spark.md).

The loaders (load_thelook, load_online_retail, load_campaign_results) stay the one place where files are checked
and cleaned; Spark reads what they loaded. Every table of the raw schemas the warehouse holds (thelook `raw`,
`raw_online_retail`, `raw_campaign_results`) is written with DuckDB's COPY as `<out>/<schema>/<table>.parquet`.

The warehouse is opened read-only. The files are written into a scratch folder next to `<out>` and moved into
place only when every table is written, so `<out>` holds either the previous export or the complete new one.

    python3 scripts/export_raw_parquet.py WAREHOUSE.duckdb OUT_FOLDER
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import duckdb

from load_campaign_results import SCHEMA as CAMPAIGN_RESULTS_SCHEMA
from load_online_retail import SCHEMA as ONLINE_RETAIL_SCHEMA
from load_thelook import first_line, quote_ident, sql_string

THELOOK_SCHEMA = "raw"  # load_thelook's default schema, the project's var thelook_raw_schema
RAW_SCHEMAS = (THELOOK_SCHEMA, ONLINE_RETAIL_SCHEMA, CAMPAIGN_RESULTS_SCHEMA)


class ExportError(Exception):
    """The warehouse cannot be exported; nothing was written."""


def raw_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Schema -> its tables, for the raw schemas present (in RAW_SCHEMAS order, tables by name)."""
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_schema in (select unnest(?)) order by table_schema, table_name",
        [list(RAW_SCHEMAS)],
    ).fetchall()
    found: dict[str, list[str]] = {}
    for schema in RAW_SCHEMAS:
        tables = [table for table_schema, table in rows if table_schema == schema]
        if tables:
            found[schema] = tables
    return found


def export(db: Path, out: Path, log=print) -> dict[str, list[str]]:
    """Writes every raw table of `db` to `out/<schema>/<table>.parquet`; returns schema -> tables."""
    if not db.is_file():
        raise ExportError(f"{db}: no warehouse file there (build one with `crm.py run` first)")
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as error:
        raise ExportError(f"{db}: cannot be opened as a DuckDB warehouse ({first_line(error)})") from error
    scratch = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        tables = raw_tables(con)
        if not tables:
            raise ExportError(
                f"{db}: no raw tables (none of the schemas {', '.join(RAW_SCHEMAS)}): load data into it with "
                "`crm.py run` or `crm.py import-results` first"
            )
        shutil.rmtree(scratch, ignore_errors=True)
        for schema, names in tables.items():
            (scratch / schema).mkdir(parents=True)
            for table in names:
                target = scratch / schema / f"{table}.parquet"
                con.execute(
                    f"copy (select * from {quote_ident(schema)}.{quote_ident(table)}) "
                    f"to {sql_string(str(target))} (format parquet)"
                )
                log(f"  {schema}.{table} -> {target.relative_to(scratch)}")
    except duckdb.Error as error:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ExportError(f"{db}: exporting the raw tables failed ({first_line(error)})") from error
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        con.close()
    # The previous export goes only once the new one is complete; a stale table must not outlive its warehouse.
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        shutil.rmtree(out)
    os.replace(scratch, out)
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="the DuckDB warehouse file")
    parser.add_argument("out", type=Path, help="the folder to write <schema>/<table>.parquet into")
    args = parser.parse_args(argv)
    try:
        tables = export(args.db.resolve(), args.out.resolve())
    except ExportError as error:
        print(f"export failed: {error}", file=sys.stderr)
        return 1
    print(f"exported {sum(len(names) for names in tables.values())} raw tables to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
