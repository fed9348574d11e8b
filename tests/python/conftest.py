"""Shared pytest fixtures: the scripts are importable as modules, and the main command runs once for all tests."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Runs the README's main command with its defaults (100 000 users), into a temporary warehouse."""
    work = tmp_path_factory.mktemp("pipeline")
    data_dir, db = work / "data", work / "warehouse.duckdb"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crm.py"), "run", "--data-dir", str(data_dir), "--db", str(db),
         "--report", str(work / "campaign_report.html")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return {"data_dir": data_dir, "db": db, "output": result.stdout, "report": work / "campaign_report.html"}
