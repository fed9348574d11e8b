"""Measure how the build's time and memory grow with the data, and where the time goes.

For each size (order items of the built-in shop), every step runs in its own process so that its wall time,
CPU time and peak memory (max resident set) are its own:

    generate    the built-in data (scripts/generate_thelook.py)
    load        the raw files into a fresh warehouse (scripts/load_thelook.py)
    build       dbt build: every model, unit test and data test
    build_sql   dbt build --selector sql_marts: the same without the Python models (K-means, customer value,
                uplift model) and what is built on them, on the warehouse the full build left
    loop        the closed loop: simulate the campaign window, reload, dbt build again
    floor       one full scan-and-aggregate of raw.order_items in DuckDB on the same machine: the least any
                transformation of the order lines can cost, so the build is reported as a multiple of it

plus dbt's fixed overhead, measured once: a build that selects no model (start-up, parse, connection) and a
`dbt parse` that reuses the saved partial-parse state. It writes a Markdown table and a JSON file.

    .venv/bin/python scripts/benchmark.py --items 100000 1000000 10000000 --out benchmarks/

Not a test: machines are noisy, so nothing here asserts a time. Numbers are for comparing runs on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
# Order items per user of the built-in profiles at the default end date (measured at 100 000 users).
ITEMS_PER_USER = {"shop": 2.815, "thelook": 1.81}
TARGETS = {
    "end_to_end_seconds_at_10m": 60.0,
    "peak_memory_gb_at_10m": 4.0,
    "build_over_floor_plus_overhead": 3.0,
    "fixed_overhead_seconds": 5.0,
}


def run_measured(command: list[str], env: dict | None = None) -> dict:
    """Runs one step in its own process; its wall time, CPU time and peak resident memory."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"step failed ({' '.join(command[:4])} ...):\n{output[-3000:]}")
    return {
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        # Linux reports ru_maxrss in kilobytes.
        "peak_memory_mb": round(usage.ru_maxrss / 1024, 1),
        "output": output,
    }


def python_step(code: str) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(SCRIPTS)!r}); {code}"]


def dbt_step(args: list[str], db: Path) -> tuple[list[str], dict]:
    command = [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)]
    return command, {"CRM_UPLIFT_DB": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def target_path() -> Path:
    """Where dbt writes run_results.json: $DBT_TARGET_PATH when set (dbt honours it too), else target/."""
    configured = os.environ.get("DBT_TARGET_PATH")
    return Path(configured) if configured else ROOT / "target"


def run_results(target: Path) -> list[dict]:
    """The per-node results of the last dbt invocation (its run_results.json in `target`)."""
    return json.loads((target / "run_results.json").read_text())["results"]


def model_timings(target: Path, top: int = 5) -> list[dict]:
    """The slowest nodes of the last dbt invocation, from run_results.json."""
    results = run_results(target)
    slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:top]
    return [{"node": r["unique_id"].split(".", 2)[-1], "seconds": round(r["execution_time"], 2)} for r in slowest]


def time_by_language(target: Path) -> dict:
    """Node seconds of the last dbt invocation, summed for the Python models and for everything else (SQL
    models, seeds, tests): the two threads run nodes side by side, so these add up to more than the wall time."""
    results = run_results(target)
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    python = sum(r["execution_time"] for r in results if nodes.get(r["unique_id"], {}).get("language") == "python")
    total = sum(r["execution_time"] for r in results)
    return {"python_models": round(python, 2), "sql_and_tests": round(total - python, 2)}


def model_seconds(target: Path) -> dict[str, float]:
    """Every model's node seconds in the last dbt invocation, slowest first: how each model grows with the data
    (tests and seeds are left out; time_by_language counts them)."""
    results = run_results(target)
    models = [r for r in results if r["unique_id"].startswith("model.")]
    models.sort(key=lambda r: (-r["execution_time"], r["unique_id"]))
    return {r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2) for r in models}


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def concurrency(target: Path) -> dict[str, float]:
    """How many nodes ran at once in the last dbt invocation, from run_results.json's per-node timings (compile
    start to execute end): seconds from the first node's start to the last one's end, and how many of them had
    exactly one node running, or none. A Python model runs on one core, so a stretch with one node running
    leaves the other core idle unless DuckDB is working on both."""
    results = run_results(target)
    events = []
    for result in results:
        stamps = [(_timestamp(t["started_at"]), _timestamp(t["completed_at"]))
                  for t in result.get("timing", []) if t.get("started_at") and t.get("completed_at")]
        if stamps:
            events += [(min(start for start, _ in stamps), 1), (max(end for _, end in stamps), -1)]
    if not events:
        return {"span_seconds": 0.0, "one_node_seconds": 0.0, "no_node_seconds": 0.0}
    # Ends sort before starts at the same instant: a node that starts as another ends does not overlap it.
    events.sort()
    seconds = {0: 0.0, 1: 0.0}
    running, previous = 0, events[0][0]
    for moment, change in events:
        if running in seconds:
            seconds[running] += moment - previous
        running, previous = running + change, moment
    return {"span_seconds": round(events[-1][0] - events[0][0], 2), "one_node_seconds": round(seconds[1], 2),
            "no_node_seconds": round(seconds[0], 2)}


def measure_size(items: int, profile: str, work: Path, seed: int) -> dict:
    users = max(1, round(items / ITEMS_PER_USER[profile]))
    data, db = work / f"data_{items}", work / f"warehouse_{items}.duckdb"
    shutil.rmtree(data, ignore_errors=True)
    db.unlink(missing_ok=True)
    steps = {}
    print(f"\n{items:,} order items ({users:,} users, profile {profile})", flush=True)

    steps["generate"] = run_measured(python_step(
        f"import generate_thelook as g; g.generate({str(data)!r}, users={users}, seed={seed}, profile={profile!r})"
    ))
    actual_items = json.loads((data / "_manifest.json").read_text())["rows"]["order_items"]
    steps["load"] = run_measured(python_step(
        f"import load_thelook as l; l.load({str(data)!r}, {str(db)!r}, log=lambda _: None)"
    ))
    command, env = dbt_step(["build", "--quiet"], db)
    steps["build"] = run_measured(command, env)
    slowest = model_timings(target_path())
    node_seconds = time_by_language(target_path())
    per_model = model_seconds(target_path())
    overlap = concurrency(target_path())
    steps["build_sql"] = run_measured(*dbt_step(["build", "--quiet", "--selector", "sql_marts"], db))
    steps["floor"] = run_measured(python_step(
        "import duckdb, time; con = duckdb.connect(" + repr(str(db)) + ", read_only=True); "
        "con.execute('select user_id, count(*), sum(sale_price), max(created_at) from raw.order_items group by user_id')"
        ".fetchall()"
    ))
    loop_started = time.perf_counter()
    simulate = run_measured(python_step(
        f"import simulate_campaigns as s; s.simulate({str(db)!r}, {str(data)!r}, seed={seed}, log=lambda _: None)"
    ))
    reload = run_measured(python_step(
        f"import load_thelook as l; l.load({str(data)!r}, {str(db)!r}, log=lambda _: None)"
    ))
    rebuild = run_measured(command, env)
    steps["loop"] = {
        "wall_seconds": round(time.perf_counter() - loop_started, 2),
        "cpu_seconds": round(simulate["cpu_seconds"] + reload["cpu_seconds"] + rebuild["cpu_seconds"], 2),
        "peak_memory_mb": max(simulate["peak_memory_mb"], reload["peak_memory_mb"], rebuild["peak_memory_mb"]),
        "parts": {"simulate": simulate["wall_seconds"], "reload": reload["wall_seconds"], "rebuild": rebuild["wall_seconds"]},
    }
    for step in steps.values():
        step.pop("output", None)
        step["items_per_second"] = round(actual_items / step["wall_seconds"]) if step["wall_seconds"] else None
    shutil.rmtree(data, ignore_errors=True)
    db.unlink(missing_ok=True)
    return {"requested_items": items, "order_items": actual_items, "users": users, "steps": steps,
            "slowest_dbt_nodes": slowest, "build_node_seconds": node_seconds, "build_model_seconds": per_model,
            "build_concurrency": overlap}


def measure_overhead(work: Path) -> dict:
    """dbt's cost with nothing to do, on a small warehouse: start-up, parse, connection."""
    data, db = work / "data_overhead", work / "warehouse_overhead.duckdb"
    run_measured(python_step(f"import generate_thelook as g; g.generate({str(data)!r}, users=2000)"))
    run_measured(python_step(f"import load_thelook as l; l.load({str(data)!r}, {str(db)!r}, log=lambda _: None)"))
    command, env = dbt_step(["build", "--quiet"], db)
    run_measured(command, env)
    command, env = dbt_step(["build", "--quiet", "--select", "tag:no_such_tag"], db)
    empty_build = run_measured(command, env)
    command, env = dbt_step(["parse", "--quiet"], db)
    run_measured(command, env)
    partial_parse = run_measured(command, env)
    shutil.rmtree(data, ignore_errors=True)
    db.unlink(missing_ok=True)
    return {
        "empty_build_seconds": empty_build["wall_seconds"],
        "partial_parse_seconds": partial_parse["wall_seconds"],
    }


def summarise(results: dict) -> dict:
    overhead = results["dbt_fixed_overhead"]["empty_build_seconds"]
    for size in results["sizes"]:
        steps = size["steps"]
        floor = steps["floor"]["wall_seconds"]
        size["end_to_end_seconds"] = round(steps["load"]["wall_seconds"] + steps["build"]["wall_seconds"], 2)
        if "build_sql" in steps:
            size["end_to_end_sql_marts_seconds"] = round(
                steps["load"]["wall_seconds"] + steps["build_sql"]["wall_seconds"], 2
            )
        size["peak_memory_mb"] = max(step["peak_memory_mb"] for step in steps.values())
        size["build_over_floor_plus_overhead"] = round(steps["build"]["wall_seconds"] / (floor + overhead), 2)
    return results


def markdown(results: dict) -> str:
    lines = [
        f"Benchmark on {results['machine']['cores']} cores, {results['machine']['python']}, "
        f"duckdb {results['machine']['duckdb']}, profile {results['profile']}.",
        "",
        "| order items | step | wall s | CPU s | peak MB | items/s |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        for name, step in size["steps"].items():
            lines.append(
                f"| {size['order_items']:,} | {name} | {step['wall_seconds']:.1f} | {step['cpu_seconds']:.1f} | "
                f"{step['peak_memory_mb']:,.0f} | {step['items_per_second']:,} |"
            )
    lines += ["", "| order items | load + build s | load + build_sql s | peak MB | build / (floor + dbt overhead) | "
              "node s: Python models / SQL and tests | slowest dbt nodes |",
              "|---:|---:|---:|---:|---:|---:|---|"]
    for size in results["sizes"]:
        slowest = ", ".join(f"{n['node']} {n['seconds']:.1f} s" for n in size["slowest_dbt_nodes"][:3])
        split = size.get("build_node_seconds", {})
        sql_marts = f"{size['end_to_end_sql_marts_seconds']:.1f}" if "end_to_end_sql_marts_seconds" in size else "-"
        lines.append(
            f"| {size['order_items']:,} | {size['end_to_end_seconds']:.1f} | {sql_marts} | "
            f"{size['peak_memory_mb']:,.0f} | "
            f"{size['build_over_floor_plus_overhead']:.1f}x | {split.get('python_models', 0):.1f} / "
            f"{split.get('sql_and_tests', 0):.1f} | {slowest} |"
        )
    lines += model_table(results["sizes"])
    overhead = results["dbt_fixed_overhead"]
    lines += ["", f"dbt fixed overhead: a build selecting nothing {overhead['empty_build_seconds']:.1f} s; "
              f"`dbt parse` with partial parsing {overhead['partial_parse_seconds']:.1f} s.",
              "", "Targets: " + ", ".join(f"{k} {v}" for k, v in TARGETS.items())]
    if results.get("note"):
        lines += ["", results["note"]]
    return "\n".join(lines) + "\n"


def model_table(sizes: list[dict], min_seconds: float = 1.0) -> list[str]:
    """Markdown lines: each model's node seconds per size (the models that took at least ``min_seconds`` at the
    largest size, slowest first), and per size how long the build's nodes ran and how much of it one node ran
    alone. Sizes measured by an older script, without these figures, are left out."""
    sizes = [size for size in sizes if size.get("build_model_seconds")]
    if not sizes:
        return []
    largest = max(sizes, key=lambda size: size["order_items"])["build_model_seconds"]
    models = [name for name, seconds in largest.items() if seconds >= min_seconds]
    header = " | ".join(f"{size['order_items']:,}" for size in sizes)
    lines = ["", f"dbt node seconds per model (models of {min_seconds:g} s or more at the largest size; two threads "
             "run side by side, so a model sharing the cores with another takes longer than alone):", "",
             f"| model | {header} |", "|---|" + "---:|" * len(sizes)]
    for name in models:
        cells = " | ".join(
            f"{size['build_model_seconds'][name]:.1f}" if name in size["build_model_seconds"] else "-"
            for size in sizes
        )
        lines.append(f"| {name} | {cells} |")
    lines += ["", "| order items | nodes running, s | one node alone, s | no node, s |", "|---:|---:|---:|---:|"]
    for size in sizes:
        overlap = size.get("build_concurrency", {})
        lines.append(f"| {size['order_items']:,} | {overlap.get('span_seconds', 0):.1f} | "
                     f"{overlap.get('one_node_seconds', 0):.1f} | {overlap.get('no_node_seconds', 0):.1f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000],
                        help="sizes in order items (default: 100000 1000000 10000000)")
    parser.add_argument("--profile", choices=sorted(ITEMS_PER_USER), default="shop")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="folder for results.md and results.json")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work", help="scratch folder")
    parser.add_argument("--note", default="", help="a line written under the tables (e.g. that the machine was shared)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    import duckdb

    results = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "duckdb": duckdb.__version__,
                    "platform": platform.platform()},
        "profile": args.profile,
        "note": args.note,
        "targets": TARGETS,
    }
    print("dbt fixed overhead ...", flush=True)
    results["dbt_fixed_overhead"] = measure_overhead(args.work)
    results["sizes"] = []
    for items in args.items:
        results["sizes"].append(measure_size(items, args.profile, args.work, args.seed))
        # After every size: a long run that is stopped keeps what it measured.
        table = write_results(summarise(results), args.out)
    print("\n" + table)
    print(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 0


def write_results(results: dict, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (out / "results.md").write_text(table)
    return table


if __name__ == "__main__":
    sys.exit(main())
