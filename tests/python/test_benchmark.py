"""The benchmark script runs end to end at a tiny size and writes its tables (it asserts no timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import benchmark


def test_benchmark_writes_markdown_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # dbt's artefacts go where DBT_TARGET_PATH says, and the benchmark reads its timings from there.
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    assert benchmark.main(["--items", "3000", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"),
                           "--note", "a test run"]) == 0
    assert (tmp_path / "target" / "run_results.json").exists()
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    (size,) = results["sizes"]
    assert set(size["steps"]) == {"generate", "load", "build", "floor", "loop"}
    for step in size["steps"].values():
        assert step["wall_seconds"] > 0 and step["peak_memory_mb"] > 0
    assert size["order_items"] > 2000
    assert results["dbt_fixed_overhead"]["empty_build_seconds"] > 0
    # The build's node time is split into the Python models (the K-means, customer-value and uplift models)
    # and the rest; both ran.
    assert size["build_node_seconds"]["python_models"] > 0 and size["build_node_seconds"]["sql_and_tests"] > 0
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| load + build s |" in table and f"{size['order_items']:,}" in table
    assert "a test run" in table


def test_time_by_language_splits_python_models_from_the_rest(tmp_path: Path) -> None:
    """A hand-made run: 3 s of Python model, 1.5 s of SQL model and 0.5 s of test."""
    (tmp_path / "run_results.json").write_text(json.dumps({"results": [
        {"unique_id": "model.p.clusters", "execution_time": 3.0},
        {"unique_id": "model.p.customers", "execution_time": 1.5},
        {"unique_id": "test.p.unique_customers", "execution_time": 0.5},
    ]}))
    (tmp_path / "manifest.json").write_text(json.dumps({"nodes": {
        "model.p.clusters": {"language": "python"},
        "model.p.customers": {"language": "sql"},
        "test.p.unique_customers": {"language": "sql"},
    }}))
    assert benchmark.time_by_language(tmp_path) == {"python_models": 3.0, "sql_and_tests": 2.0}
    assert benchmark.model_timings(tmp_path, top=1) == [{"node": "clusters", "seconds": 3.0}]


def test_a_stopped_run_keeps_the_sizes_it_measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step = {"wall_seconds": 2.0, "cpu_seconds": 3.0, "peak_memory_mb": 100.0, "items_per_second": 50}

    def measure_size(items, profile, work, seed):
        if items > 1000:
            raise KeyboardInterrupt  # the run is stopped during the second size
        return {"requested_items": items, "order_items": items, "users": 10, "slowest_dbt_nodes": [],
                "build_node_seconds": {}, "steps": {name: dict(step) for name in ("load", "build", "floor")}}

    monkeypatch.setattr(benchmark, "measure_overhead", lambda work: {"empty_build_seconds": 1.0,
                                                                      "partial_parse_seconds": 1.0})
    monkeypatch.setattr(benchmark, "measure_size", measure_size)
    with pytest.raises(KeyboardInterrupt):
        benchmark.main(["--items", "1000", "5000", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "w")])
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [size["order_items"] for size in results["sizes"]] == [1000]
    assert results["sizes"][0]["build_over_floor_plus_overhead"] == 0.67  # build 2 s / (floor 2 s + overhead 1 s)
    assert "| 1,000 |" in (tmp_path / "out" / "results.md").read_text()
