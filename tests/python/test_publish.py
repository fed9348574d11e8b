"""Safe reading while building: the build writes a private file and publishes it by an atomic rename, so a
reader never sees a half-built or failed build and never blocks the next one. Marts have enforced contracts. The
build command passes the user's dbt vars along with the warehouse's own."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

import crm

ROOT = Path(__file__).resolve().parents[2]


def crm_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crm.py"), *args], cwd=ROOT, capture_output=True, text=True
    )


def crm_run_into(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`crm.py run` with its report kept in the test's folder."""
    return crm_run("run", *args, "--report", str(tmp_path / "report.html"))


def read_in_new_process(db: Path, sql: str) -> int:
    """A reader in its own process (within one process DuckDB shares an open database between connections)."""
    result = subprocess.run(
        [sys.executable, "-c", f"import duckdb; print(duckdb.connect({str(db)!r}, read_only=True).execute({sql!r}).fetchone()[0])"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_a_reader_holding_the_published_file_neither_blocks_nor_sees_a_rebuild(tmp_path: Path) -> None:
    published = tmp_path / "warehouse" / "crm.duckdb"
    first = crm_run_into(tmp_path, "--users", "3000", "--no-simulation", "--data-dir", str(tmp_path / "a"), "--db", str(published))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

    reader = duckdb.connect(str(published), read_only=True)
    assert reader.execute("select count(*) from customers").fetchone() == (3000,)

    # A full rebuild on other data, with the closed loop, while the reader holds the file open.
    second = crm_run_into(tmp_path, "--users", "4000", "--data-dir", str(tmp_path / "b"), "--db", str(published))
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    # The reader still reads the complete old warehouse...
    assert reader.execute("select count(*) from customers").fetchone() == (3000,)
    assert reader.execute("select count(*) from campaign_outcomes where is_converted").fetchone() == (0,)
    # ... and a new connection sees the new one, loop included.
    assert read_in_new_process(published, "select count(*) from customers") == 4000
    assert read_in_new_process(published, "select count(*) from campaign_outcomes where is_converted") > 0

    # A failed build publishes nothing: a source whose orders point at no user fails dbt's tests.
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "a", broken)
    con = duckdb.connect()
    con.execute(
        f"copy (select * replace (user_id + 1000000 as user_id) from '{broken / 'orders.parquet'}') "
        f"to '{broken / 'orders_fixed.parquet'}'"
    )
    con.close()
    (broken / "orders_fixed.parquet").replace(broken / "orders.parquet")
    failed = crm_run_into(tmp_path, "--source", str(broken), "--db", str(published))
    assert failed.returncode != 0
    assert "nothing published" in failed.stderr
    assert read_in_new_process(published, "select count(*) from customers") == 4000
    reader.close()
    assert not published.with_name(published.name + ".wal").exists()


def test_build_command_publishes_a_partial_rebuild(tmp_path: Path) -> None:
    published = tmp_path / "crm.duckdb"
    assert crm_run("build", "--db", str(published)).returncode == 1
    first = crm_run_into(tmp_path, "--users", "2000", "--no-simulation", "--data-dir", str(tmp_path / "a"), "--db", str(published))
    assert first.returncode == 0, first.stderr[-3000:]
    reader = duckdb.connect(str(published), read_only=True)
    rebuilt = crm_run("build", "--db", str(published), "--", "--select", "customers", "--quiet")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr[-3000:]
    assert "published" in rebuilt.stdout
    reader.close()


def test_a_wrong_type_in_a_mart_fails_the_build_with_a_contract_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv", "data", "warehouse", "target", "logs", ".git"))
    models = project / "models" / "marts" / "_marts__models.yml"
    text = models.read_text()
    declared = "      - name: sale_price\n        data_type: decimal(18,2)"
    assert declared in text
    models.write_text(text.replace(declared, "      - name: sale_price\n        data_type: varchar"))
    db = tmp_path / "w.duckdb"
    from load_thelook import load
    from generate_thelook import generate

    generate(tmp_path / "data", users=500)
    load(tmp_path / "data", db, log=lambda _: None)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run", "--select", "+transactions", "--project-dir", str(project),
         "--profiles-dir", str(project)],
        cwd=project, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "CRM_UPLIFT_DB": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
             "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "enforced contract that failed" in result.stdout
    assert "| sale_price  | DECIMAL(18,2)   | VARCHAR       | data type mismatch |" in result.stdout


@pytest.mark.parametrize(
    ("defaults", "args", "expected_vars", "expected_rest"),
    [
        ({}, ["--select", "customers"], None, ["--select", "customers"]),
        ({"crm_source": "online_retail"}, [], {"crm_source": "online_retail"}, []),
        # The user's vars join the source's; theirs win key by key; both spellings of the option; a date stays one.
        ({"crm_source": "online_retail"}, ["--select", "x", "--vars", "{reference_date: 2011-10-01}"],
         {"crm_source": "online_retail", "reference_date": dt.date(2011, 10, 1)}, ["--select", "x"]),
        ({"crm_source": "online_retail", "campaign_results": True}, ['--vars={"campaign_results": false}'],
         {"crm_source": "online_retail", "campaign_results": False}, []),
        ({"a": 1}, ["--vars", "{b: 2}", "--vars", "{a: 3}"], {"a": 3, "b": 2}, []),
        # Not a mapping: passed through after the runner's own, for dbt to report.
        ({"a": 1}, ["--vars", "[1, 2]"], {"a": 1}, ["--vars", "[1, 2]"]),
        ({"a": 1}, ["--vars", "{unclosed"], {"a": 1}, ["--vars", "{unclosed"]),
    ],
)
def test_the_users_vars_are_merged_into_the_runners(
    defaults: dict, args: list[str], expected_vars: dict | None, expected_rest: list[str]
) -> None:
    merged = crm.with_vars(defaults, args)
    if expected_vars is None:
        assert merged == expected_rest
        return
    assert merged[0] == "--vars" and merged[2:] == expected_rest
    parsed = yaml.safe_load(merged[1])
    assert parsed == expected_vars and list(parsed) == list(expected_vars)
