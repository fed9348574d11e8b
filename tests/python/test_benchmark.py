"""The benchmark script runs end to end at a tiny size and writes its tables (it asserts no timing)."""

from __future__ import annotations

import json
from pathlib import Path

import benchmark


def test_benchmark_writes_markdown_and_json(tmp_path: Path) -> None:
    assert benchmark.main(["--items", "3000", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    (size,) = results["sizes"]
    assert set(size["steps"]) == {"generate", "load", "build", "floor", "loop"}
    for step in size["steps"].values():
        assert step["wall_seconds"] > 0 and step["peak_memory_mb"] > 0
    assert size["order_items"] > 2000
    assert results["dbt_fixed_overhead"]["empty_build_seconds"] > 0
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| load + build s |" in table and f"{size['order_items']:,}" in table
