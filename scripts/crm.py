"""crm-uplift's command line: the main job end to end, and the tests.

    python3 scripts/crm.py run      generate the built-in data if absent, load it, dbt build, print a summary
    python3 scripts/crm.py test     run the test suite (pytest, which runs dbt builds of its own)

`run --source DIR` loads your own thelook_ecommerce export instead of the built-in data. The first call
creates .venv and installs the pinned requirements; later calls reuse it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap_env import ROOT, ensure_venv  # noqa: E402

DEFAULT_DB = ROOT / "warehouse" / "crm_uplift.duckdb"
DEFAULT_DATA = ROOT / "data" / "thelook"
MARTS = ("transactions", "customers", "rfm_features", "category_ratios", "campaign_targets", "campaign_funnel")


def warehouse_path(arg: Path | None) -> Path:
    if arg is not None:
        return arg.resolve()
    return Path(os.environ.get("CRM_UPLIFT_DB", DEFAULT_DB)).resolve()


def dbt(args: list[str], db: Path, extra_env: dict[str, str] | None = None) -> int:
    """Runs the dbt CLI of this environment on the project, against the warehouse file `db`."""
    env = {
        **os.environ,
        "CRM_UPLIFT_DB": str(db),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(extra_env or {}),
    }
    command = [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)]
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def generated_data_matches(data_dir: Path, settings: dict) -> bool:
    manifest = data_dir / "_manifest.json"
    if not manifest.exists():
        return False
    import generate_thelook

    recorded = json.loads(manifest.read_text())
    return (
        recorded.get("generator_version") == generate_thelook.GENERATOR_VERSION
        and "parquet" in recorded.get("formats", [])
        and all(recorded.get(key) == value for key, value in settings.items())
    )


def ensure_generated(data_dir: Path, users: int, seed: int, profile: str, end_date: str) -> bool:
    """Generates the built-in data unless the same settings are already there; False when it cannot."""
    import generate_thelook

    settings = {"users": users, "seed": seed, "profile": profile, "end_date": end_date}
    if generated_data_matches(data_dir, settings):
        print(f"built-in data: reusing {data_dir} ({users:,} users, profile {profile}, seed {seed})")
        return True
    print(f"built-in data: generating {users:,} users (profile {profile}, seed {seed}) into {data_dir}")
    try:
        generate_thelook.generate(data_dir, users=users, seed=seed, profile=profile, end_date=end_date)
    except (FileExistsError, ValueError) as error:
        print(f"cannot generate the built-in data: {error}", file=sys.stderr)
        return False
    return True


def print_summary(db: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        print("\nbuilt:")
        for mart in MARTS:
            (rows,) = con.execute(f"select count(*) from {mart}").fetchone()
            print(f"  {mart:<16} {rows:>12,} rows")
        print_campaigns(con)
    finally:
        con.close()
    print(f"\nwarehouse: {db}")
    print("query it:")
    print(f"  duckdb -readonly {db} \"select category, sum(sale_price) from transactions where is_sale group by 1\"")
    print(f"  python -c \"import duckdb; print(duckdb.connect('{db}', read_only=True).sql('from customers limit 5'))\"")


def print_campaigns(con) -> None:
    """The target funnel of each campaign and the best cross-sell candidates of its segment."""
    funnel = con.execute(
        "select campaign_id, launch_date, segment_scheme, target_segment, target_category, scored_customers, "
        "segment_customers, already_bought_category, target_customers from campaign_funnel order by campaign_id"
    ).fetchall()
    for (campaign_id, launch, scheme, segment, category, scored, members, bought, targets) in funnel:
        print(f"\ncampaign {campaign_id} (launch {launch}): {segment} customers, category {category or '(any)'}")
        print(f"  scored customers (a sale before the launch) {scored:>10,}")
        print(f"  in segment {segment:<30} {members:>10,}")
        print(f"  already bought the category (excluded)    {bought:>10,}")
        print(f"  targets                                   {targets:>10,}")
        candidates = con.execute(
            "select category, ratio_frequence, ratio_panier, basket_index, gross_margin_rate, "
            "margin_gap_per_customer from category_ratios "
            "where campaign_id = ? and segment_scheme = ? and segment = ? and is_candidate "
            "order by candidate_rank limit 5",
            [campaign_id, scheme, segment],
        ).fetchall()
        if not candidates:
            print(f"  no cross-sell candidate category for {segment} with the current thresholds")
            continue
        print(f"  top cross-sell candidates for {segment}: category, frequency ratio, basket ratio, basket index, "
              "margin rate, margin gap per customer")
        for category_name, frequency, basket, index, margin, gap in candidates:
            basket_text = f"{basket:5.2f}" if basket is not None else "  n/a"
            print(f"    {category_name:<30} {frequency:5.2f} {basket_text} {index:5.2f} {margin:6.1%} {gap:8.2f}")


def command_run(args: argparse.Namespace) -> int:
    import load_thelook

    db = warehouse_path(args.db)
    started = time.perf_counter()
    if args.source is None:
        source = args.data_dir.resolve()
        if not ensure_generated(source, args.users, args.seed, args.profile, args.end_date):
            return 1
    else:
        source = args.source.resolve()
    print(f"loading {source} into {db}")
    try:
        load_thelook.load(source, db)
    except load_thelook.LoadError as error:
        print(f"load failed, warehouse unchanged: {error}", file=sys.stderr)
        return 1
    print("building the marts with dbt (models and data tests) ...")
    code = dbt(["build"], db)
    if code != 0:
        print("dbt build failed: see the messages above", file=sys.stderr)
        return code
    print_summary(db)
    print(f"\ndone in {time.perf_counter() - started:.0f} s")
    return 0


def command_build(args: argparse.Namespace) -> int:
    return dbt(["build", *args.dbt_args], warehouse_path(args.db))


def command_test(args: argparse.Namespace) -> int:
    return subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "tests" / "python"), *args.pytest_args], cwd=ROOT).returncode


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main_parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the main job end to end")
    run.add_argument("--source", type=Path, help="folder of your own thelook export (default: the built-in data)")
    run.add_argument("--db", type=Path, help=f"warehouse file (default: $CRM_UPLIFT_DB or {DEFAULT_DB.relative_to(ROOT)})")
    run.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="where the built-in data is generated")
    run.add_argument("--users", type=int, default=100_000, help="built-in data: number of users (default 100000)")
    run.add_argument("--seed", type=int, default=42, help="built-in data: random seed (default 42)")
    run.add_argument("--profile", choices=("shop", "thelook"), default="shop", help="built-in data: profile")
    run.add_argument("--end-date", default="2026-06-06", help="built-in data: last day of the history")
    run.set_defaults(handler=command_run)

    build = commands.add_parser("build", help="dbt build on the current warehouse (extra arguments go to dbt)")
    build.add_argument("--db", type=Path)
    build.add_argument("dbt_args", nargs=argparse.REMAINDER)
    build.set_defaults(handler=command_build)

    test = commands.add_parser("test", help="run the test suite (extra arguments go to pytest)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(handler=command_test)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    ensure_venv()
    sys.exit(main())
