"""The benchmark script runs end to end at a tiny size and writes its tables (it asserts no timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    assert set(size["steps"]) == {"generate", "load", "build", "build_sql", "floor", "loop"}
    for step in size["steps"].values():
        assert step["wall_seconds"] > 0 and step["peak_memory_mb"] > 0
    assert size["order_items"] > 2000
    assert results["dbt_fixed_overhead"]["empty_build_seconds"] > 0
    # The build's node time is split into the Python models (the K-means, customer-value and uplift models)
    # and the rest; both ran.
    assert size["build_node_seconds"]["python_models"] > 0 and size["build_node_seconds"]["sql_and_tests"] > 0
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| load + build s | load + build_sql s |" in table and f"{size['order_items']:,}" in table
    assert size["end_to_end_sql_marts_seconds"] == round(
        size["steps"]["load"]["wall_seconds"] + size["steps"]["build_sql"]["wall_seconds"], 2
    )
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
    # A run without the SQL-marts build (results of an older script) shows a dash in its column.
    assert "| 1,000 | 4.0 | - |" in (tmp_path / "out" / "results.md").read_text()


def test_the_sql_marts_selector_leaves_out_the_python_models_and_what_is_built_on_them(tmp_path: Path) -> None:
    """`--selector sql_marts` (selectors.yml), which build_sql times: every model but the Python ones, their
    descendants and the models only they read, with the tests of what it builds, worked out here from the
    manifest's own graph."""
    env = {**os.environ, "CRM_UPLIFT_DB": str(tmp_path / "w.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt = [str(Path(sys.executable).parent / "dbt")]
    common = ["--target-path", str(tmp_path / "target"), "--project-dir", str(benchmark.ROOT),
              "--profiles-dir", str(benchmark.ROOT)]

    def listed(*args: str) -> set[str]:
        result = subprocess.run([*dbt, "ls", "--quiet", "--output", "json", "--output-keys", "unique_id", *args,
                                 *common], cwd=benchmark.ROOT, capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return {json.loads(line)["unique_id"] for line in result.stdout.splitlines() if line.startswith("{")}

    everything = listed()
    selected = listed("--selector", "sql_marts")
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    python = {uid for uid, node in manifest["nodes"].items() if node.get("language") == "python"
              and node["config"]["enabled"]}
    assert {"model.crm_uplift.cluster_selection", "model.crm_uplift.customer_value_fit",
            "model.crm_uplift.customer_uplift_scores"} <= python
    downstream, frontier = set(python), set(python)
    while frontier:
        frontier = {child for uid in frontier for child in manifest["child_map"].get(uid, [])} - downstream
        downstream |= frontier
    assert {"model.crm_uplift.cluster_profiles", "model.crm_uplift.uplift_targeting"} <= downstream
    # Models that only the left-out ones read are left out too, with their tests.
    inputs = set()
    while True:
        only_feeding = {
            uid for uid, node in manifest["nodes"].items()
            if node["resource_type"] == "model" and uid not in downstream | inputs
            and (children := [c for c in manifest["child_map"].get(uid, []) if c.startswith("model.")])
            and set(children) <= downstream | inputs
        }
        if not only_feeding:
            break
        inputs |= only_feeding
    assert inputs == {"model.crm_uplift.int_customer_purchase_days", "model.crm_uplift.int_customer_value_summaries"}
    tests_of_inputs = {c for uid in inputs for c in manifest["child_map"][uid] if c.startswith("test.")}
    expected = {uid for uid in everything
                if uid not in downstream | inputs | tests_of_inputs and not uid.startswith("source.")}
    assert selected - {uid for uid in selected if uid.startswith("source.")} == expected
    assert {"model.crm_uplift.customers", "model.crm_uplift.uplift_by_arm",
            "test.crm_uplift.unique_transactions_order_item_id.90604421c4"} <= selected
