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
    # Every model's node seconds, and how long the build's nodes ran with one alone.
    assert size["build_model_seconds"]["transactions"] > 0 and "customer_value_fit" in size["build_model_seconds"]
    overlap = size["build_concurrency"]
    assert 0 < overlap["one_node_seconds"] + overlap["no_node_seconds"] <= overlap["span_seconds"]
    assert "| model | " in table and f"| {size['order_items']:,} | {overlap['span_seconds']:.1f} | " in table


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


def _timing(start: float, end: float) -> list[dict]:
    """dbt's compile and execute timings of a node that ran from `start` to `end` seconds past 12:00."""
    def stamp(seconds: float) -> str:
        return f"2026-12-04T12:00:{seconds:09.6f}Z"
    middle = (start + end) / 2
    return [{"name": "compile", "started_at": stamp(start), "completed_at": stamp(middle)},
            {"name": "execute", "started_at": stamp(middle), "completed_at": stamp(end)}]


def test_model_seconds_and_concurrency_from_a_hand_made_run(tmp_path: Path) -> None:
    """Model a runs 0-10 s with b beside it 2-5 s, c starts as a ends (10-12 s), nothing runs 12-13 s, and
    the test 13-14 s: 14 s in all, one node alone for 2 + 5 + 2 + 1 = 10 s, none for 1 s."""
    (tmp_path / "run_results.json").write_text(json.dumps({"results": [
        {"unique_id": "model.p.a", "execution_time": 10.0, "timing": _timing(0, 10)},
        {"unique_id": "model.p.b", "execution_time": 3.0, "timing": _timing(2, 5)},
        {"unique_id": "model.p.c", "execution_time": 2.0, "timing": _timing(10, 12)},
        {"unique_id": "test.p.unique_a_id", "execution_time": 1.0, "timing": _timing(13, 14)},
        # A node that was skipped has no timings and takes no time.
        {"unique_id": "model.p.skipped", "execution_time": 0.0, "timing": []},
    ]}))
    assert benchmark.concurrency(tmp_path) == {"span_seconds": 14.0, "one_node_seconds": 10.0,
                                               "no_node_seconds": 1.0}
    assert benchmark.model_seconds(tmp_path) == {"a": 10.0, "b": 3.0, "c": 2.0, "skipped": 0.0}
    assert list(benchmark.model_seconds(tmp_path)) == ["a", "b", "c", "skipped"]

    small = {"order_items": 1000, "build_model_seconds": {"a": 0.5, "c": 0.2},
             "build_concurrency": {"span_seconds": 1.0, "one_node_seconds": 0.4, "no_node_seconds": 0.0}}
    large = {"order_items": 9000, "build_model_seconds": benchmark.model_seconds(tmp_path),
             "build_concurrency": benchmark.concurrency(tmp_path)}
    older = {"order_items": 500}  # measured by a script without these figures: left out
    lines = benchmark.model_table([older, small, large], min_seconds=2.0)
    assert "| model | 1,000 | 9,000 |" in lines
    # Slowest first at the largest size; a model under the threshold there is left out; a model the smaller
    # run did not have shows a dash.
    assert lines[lines.index("| a | 0.5 | 10.0 |") + 1:][:2] == ["| b | - | 3.0 |", "| c | 0.2 | 2.0 |"]
    assert not any(line.startswith("| skipped ") for line in lines)
    assert "| 9,000 | 14.0 | 10.0 | 1.0 |" in lines and "| 1,000 | 1.0 | 0.4 | 0.0 |" in lines
    assert benchmark.model_table([older]) == []


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
