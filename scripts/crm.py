"""crm-uplift's command line: the main job end to end, and the tests.

    python3 scripts/crm.py run      generate the built-in data if absent, load it, dbt build, run the campaigns'
                                    closed loop, print a summary
    python3 scripts/crm.py test     run the test suite (pytest, which runs dbt builds of its own)
    python3 scripts/crm.py build [-- DBT ARGS]    dbt build on a private copy of the warehouse, then publish
    python3 scripts/crm.py export-exposure CAMPAIGN_ID OUT.csv    the campaign's contact list for a CRM tool
    python3 scripts/crm.py import-results FILE --mapping M.yml    measure a campaign a CRM tool already sent
    python3 scripts/crm.py spark-build [-- DBT ARGS]    the SQL marts on Apache Spark from the same Parquet files
    python3 scripts/crm.py spark-build --from-warehouse DB    ... from a warehouse's loaded raw tables

`run --source DIR` loads your own thelook_ecommerce export instead of the built-in data. Builds write a
private file and publish it over the warehouse by an atomic rename only when they pass, so readers never see
a half-built warehouse. The first call creates .venv and installs the pinned requirements; later calls
reuse it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap_env import ROOT, ensure_venv  # noqa: E402

DEFAULT_DB = ROOT / "warehouse" / "crm_uplift.duckdb"
DEFAULT_DATA = ROOT / "data" / "thelook"
DEFAULT_REPORT = ROOT / "reports" / "campaign_report.html"
MARTS = (
    "transactions",
    "customers",
    "rfm_features",
    "category_ratios",
    "campaign_targets",
    "campaign_funnel",
    "campaign_exposure",
    "campaign_outcomes",
    "uplift_by_arm",
    "uplift_by_segment_arm",
    "campaign_sample_ratio",
    "campaign_roi_simulation",
    "cluster_selection",
    "customer_clusters",
    "cluster_profiles",
    "clusters_by_segment",
    "customer_value_fit",
    "customer_value",
    "customer_value_holdout",
    "churn_model_evaluation",
    "customer_uplift_scores",
    "uplift_model_evaluation",
    "uplift_targeting",
    "uplift_revenue_cuped",
)


def warehouse_path(arg: Path | None) -> Path:
    if arg is not None:
        return arg.resolve()
    return Path(os.environ.get("CRM_UPLIFT_DB", DEFAULT_DB)).resolve()


def dbt(args: list[str], db: Path) -> int:
    """Runs the dbt CLI of this environment on the project, against the warehouse file `db`."""
    env = {**os.environ, "CRM_UPLIFT_DB": str(db), "CRM_UPLIFT_ROOT": str(ROOT), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
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


def print_summary(db: Path, truth: dict | None = None) -> None:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        print("\nbuilt:")
        for mart in MARTS:
            (rows,) = con.execute(f"select count(*) from {mart}").fetchone()
            print(f"  {mart:<24} {rows:>12,} rows")
        if source_type_of(con) == "online_retail":
            print("  (category_ratios is empty: the Online Retail files have no product categories)")
            print_data_quality(con)
        print_campaigns(con)
        print_uplift(con, truth)
        print_clusters_and_value(con)
    finally:
        con.close()
    print(f"\nwarehouse: {db}")
    print("query it:")
    print(f"  duckdb -readonly {db} \"select category, sum(sale_price) from transactions where is_sale group by 1\"")
    print(f"  python -c \"import duckdb; print(duckdb.connect('{db}', read_only=True).sql('from uplift_by_arm'))\"")


def source_type_of(con) -> str:
    """The source a warehouse was built from: runs start from an empty file, so only one raw schema exists."""
    (found,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw_online_retail' "
        "and table_name = 'invoice_lines'"
    ).fetchone()
    return "online_retail" if found else "thelook"


def print_data_quality(con) -> None:
    print("\nOnline Retail cleaning (each line counted under the first rule that removes it):")
    rows = con.execute("""
        select rule, lines_flagged, lines_removed, amount_removed, lines_loaded, sale_lines_kept
        from online_retail_data_quality order by rule_order
    """).fetchall()
    for rule, flagged, removed, amount, _, _ in rows:
        print(f"  {rule:<24} flagged {flagged:>9,}  removed {removed:>9,}  amount removed {amount:>14,.2f}")
    if rows:
        print(f"  {rows[0][4]:,} lines loaded, {rows[0][5]:,} kept as attributable sales")


def truth_lookup(truth: dict | None) -> dict:
    """(campaign, segment, arm) -> true conversion uplift, from the simulation's ground truth."""
    if not truth:
        return {}
    found = {(row["campaign_id"], "All", row["arm"]): row["conversion_uplift"] for row in truth.get("overall", [])}
    for row in truth.get("segments", []):
        found[(row["campaign_id"], row["lifecycle_segment"], row["arm"])] = row["conversion_uplift"]
    return found


def print_uplift(con, truth: dict | None) -> None:
    """Conversion uplift per campaign, segment and arm, with intervals, tests, money and a verdict."""
    rows = con.execute(
        """
        select campaign_id, segment, arm, treated_customers, control_customers, treated_conversion_rate,
            control_conversion_rate, conversion_uplift, conversion_uplift_low, conversion_uplift_high,
            conversion_p_value, is_significant, incremental_margin, campaign_cost, roi, alpha
        from (
            select *, 0 as scheme_order from uplift_by_arm
            union all
            select *, 1 as scheme_order from uplift_by_segment_arm where segment_scheme = 'lifecycle'
        )
        where treated_customers > 0 and control_customers > 0
        order by campaign_id, scheme_order, segment, arm
        """
    ).fetchall()
    if not rows:
        return
    true_uplift = truth_lookup(truth)
    not_sent = {row[0] for row in con.execute("select campaign_id from int_campaigns_for_source where not was_sent").fetchall()}
    srm = dict(con.execute("select distinct campaign_id, p_value from campaign_sample_ratio").fetchall())
    current = None
    for (campaign_id, segment, arm, n_t, n_c, rate_t, rate_c, uplift, low, high, p_value, significant,
         margin, cost, roi, alpha) in rows:
        if campaign_id != current:
            current = campaign_id
            ratio = srm.get(campaign_id)
            ratio_text = "" if ratio is None else (
                f"; arm sizes match the plan (SRM p = {ratio:.3f})" if ratio >= 0.001
                else f"; SAMPLE RATIO MISMATCH (p = {ratio:.2g}): do not trust these figures"
            )
            print(f"\nuplift of {campaign_id} against its control group{ratio_text}")
            if campaign_id in not_sent:
                print("  A/A CHECK: this campaign was never sent (arms laid over history). Every difference below is")
                print("  noise; a significant row is the false positive that happens 1 time in 20 at 95 %, not an")
                print("  effect (and not cannibalisation).")
            header = (f"  {'segment':<9} {'arm':<9} {'treated':>8} {'control':>8} {'conv. t':>8} {'conv. c':>8} "
                      f"{'uplift':>8} {'95 % interval':>17} {'p-value':>8} {'incr. margin':>13} {'ROI':>7}")
            if true_uplift:
                header += f" {'truth':>8}"
            print(header + "  verdict")
        p_text = "n/a" if p_value is None else ("<0.001" if p_value < 0.001 else f"{p_value:.3f}")
        interval = "n/a" if low is None else f"[{low * 100:+.1f}, {high * 100:+.1f}]"
        uplift_text = "n/a" if uplift is None else f"{uplift * 100:+.1f}pp"
        margin_text = "n/a" if margin is None else f"{margin:,.0f}"
        roi_text = "n/a" if roi is None else f"{roi:.2f}"
        line = (f"  {segment:<9} {arm:<9} {n_t:>8,} {n_c:>8,} {rate_t:>8.1%} {rate_c:>8.1%} {uplift_text:>8} "
                f"{interval:>17} {p_text:>8} {margin_text:>13} {roi_text:>7}")
        if true_uplift:
            known = true_uplift.get((campaign_id, segment, arm))
            line += f" {'' if known is None else f'{known * 100:+.1f}pp':>8}"
        verdict = ("A/A: noise by construction" + (" (a false positive)" if significant else "")
                   if campaign_id in not_sent
                   else f"significant at {alpha:.0%}" if significant
                   else "not distinguishable from zero" if p_value is not None else "no test (no variation)")
        print(f"{line}  {verdict}")


def print_clusters_and_value(con) -> None:
    """The data-driven segments and the customer-value model's fit and holdout error, in a few lines."""
    print("\nK-means RFM clusters (first campaign's launch date):")
    rows = con.execute("""
        with first_campaign as (select min(campaign_id) as campaign_id from cluster_profiles)
        select cluster_name, cluster_action, customers, customer_share, median_recency_days, median_frequency,
               median_monetary, revenue_share
        from cluster_profiles
        where campaign_id = (select campaign_id from first_campaign)
        order by cluster_id nulls last, cluster_name
    """).fetchall()
    print(f"  {'cluster':<26} {'action':<18} {'customers':>10} {'share':>6} {'med R':>6} {'med F':>6} "
          f"{'med M':>9} {'rev share':>9}")
    for name, action, customers, share, rec, freq, mon, rev in rows:
        print(f"  {name:<26} {action:<18} {customers:>10,} {share:>6.1%} {rec:>6.0f} {freq:>6.1f} {mon:>9.2f} "
              f"{rev:>9.1%}")
    fit = dict(con.execute("""
        select model || '.' || parameter, estimate from customer_value_fit where fit_scope = 'reference'
    """).fetchall())
    (mae, holdout_start, holdout_end) = con.execute(
        "select max(mean_absolute_error), min(holdout_start), min(holdout_end) from customer_value_holdout"
    ).fetchone()
    aucs = con.execute("select predictor, max(auc) from churn_model_evaluation group by 1 order by 1").fetchall()
    print("\ncustomer value (BG/NBD + Gamma-Gamma, time in days):")
    print(f"  r {fit['bg_nbd.r']:.3f}  alpha {fit['bg_nbd.alpha']:.2f}  a {fit['bg_nbd.a']:.3f}  "
          f"b {fit['bg_nbd.b']:.3f}   p {fit['gamma_gamma.p']:.2f}  q {fit['gamma_gamma.q']:.2f}  "
          f"gamma {fit['gamma_gamma.gamma']:.2f}")
    print(f"  holdout {holdout_start} to {holdout_end}: mean absolute error {mae:.3f} purchase days per customer")
    print("  churn AUC: " + ", ".join(f"{name} {auc:.3f}" for name, auc in aucs))


def print_campaigns(con) -> None:
    """The target funnel of each campaign and the best cross-sell candidates of its segment."""
    funnel = con.execute(
        "select campaign_id, launch_date, segment_scheme, target_segment, target_category, scored_customers, "
        "segment_customers, already_bought_category, target_customers from campaign_funnel order by campaign_id"
    ).fetchall()
    for (campaign_id, launch, scheme, segment, category, scored, members, bought, targets) in funnel:
        audience = f"{segment} customers" if segment else "every scored customer"
        print(f"\ncampaign {campaign_id} (launch {launch}): {audience}, category {category or '(any)'}")
        print(f"  scored customers (a sale before the launch) {scored:>10,}")
        print(f"  in segment {segment or '(all)':<30} {members:>10,}")
        print(f"  already bought the category (excluded)    {bought:>10,}")
        print(f"  targets                                   {targets:>10,}")
        if not segment:
            continue
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


def build_path(published: Path) -> Path:
    """The private file a build writes; readers only ever see the published file."""
    return published.parent / ".build" / published.name


def start_build(published: Path, from_published: bool) -> Path:
    building = build_path(published)
    building.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (building, building.with_name(building.name + ".wal")):
        leftover.unlink(missing_ok=True)
    if from_published and published.exists():
        shutil.copyfile(published, building)
    return building


def publish(building: Path, published: Path) -> None:
    """Replaces the published warehouse by the finished build in one atomic rename.

    A reader that holds the old file open keeps reading it (the rename swaps directory entries, not the
    file under the reader); the next connection sees the new one.
    """
    import duckdb

    # Fold any write-ahead log into the file: a .wal must never travel separately from its database.
    con = duckdb.connect(str(building))
    con.execute("checkpoint")
    con.close()
    stale_log = published.with_name(published.name + ".wal")
    stale_log.unlink(missing_ok=True)
    published.parent.mkdir(parents=True, exist_ok=True)
    os.replace(building, published)


def load_and_build(source: Path, db: Path, source_type: str = "thelook") -> int:
    import load_online_retail
    import load_thelook

    print(f"loading {source} into {db}")
    try:
        if source_type == "online_retail":
            load_online_retail.load(source, db)
        else:
            load_thelook.load(source, db)
    except load_thelook.LoadError as error:
        print(f"load failed, warehouse unchanged: {error}", file=sys.stderr)
        return 1
    print("building the marts with dbt (models and data tests) ...")
    code = dbt(["build", *with_vars(source_variables(source_type), [])], db)
    if code != 0:
        print("dbt build failed: see the messages above", file=sys.stderr)
    return code


def source_variables(source_type: str, imported_results: bool = False) -> dict:
    """dbt vars that select the source the marts are built from (thelook is the project default)."""
    variables = {} if source_type == "thelook" else {"crm_source": source_type}
    if imported_results:
        variables["campaign_results"] = True
    return variables


def with_vars(defaults: dict, dbt_args: list[str]) -> list[str]:
    """`dbt_args` with one `--vars`: `defaults` updated with the user's own `--vars` (theirs win, key by key).

    dbt keeps only the last `--vars` it is given, so passing the user's after ours would drop ours: the source
    a warehouse was loaded from, or where Spark's raw files are. A `--vars` that is not a YAML mapping goes to
    dbt as it is, for dbt to report."""
    user: dict = {}
    rest: list[str] = []
    args = iter(dbt_args)
    for arg in args:
        if arg == "--vars" or arg.startswith("--vars="):
            parsed = yaml_mapping(arg.partition("=")[2] if "=" in arg else next(args, ""))
            if parsed is None:
                return [*_vars_option(defaults), *dbt_args]
            user.update(parsed)
        else:
            rest.append(arg)
    return [*_vars_option({**defaults, **user}), *rest]


def yaml_mapping(text: str) -> dict | None:
    """The mapping a dbt --vars text holds ({} when blank), or None when it is not one."""
    import yaml

    try:
        parsed = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _vars_option(variables: dict) -> list[str]:
    import yaml

    # YAML, as dbt reads it: a date the user wrote stays a date (JSON has none).
    text = yaml.safe_dump(variables, default_flow_style=True, sort_keys=False, width=float("inf")).strip()
    return ["--vars", text] if variables else []


def has_imported_results(con) -> bool:
    (found,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw_campaign_results'"
    ).fetchone()
    return found > 0


def command_run(args: argparse.Namespace) -> int:
    import simulate_campaigns

    published = warehouse_path(args.db)
    started = time.perf_counter()
    built_in = args.source is None
    if args.source_type != "thelook" and built_in:
        print(f"--source-type {args.source_type} needs --source: the file or folder of your data", file=sys.stderr)
        return 2
    if built_in:
        source = args.data_dir.resolve()
        if not ensure_generated(source, args.users, args.seed, args.profile, args.end_date):
            return 1
        # The closed loop starts from the shop as generated: last run's campaign window goes first.
        simulate_campaigns.remove_simulated(source)
    else:
        source = args.source.resolve()
    db = start_build(published, from_published=False)
    code = load_and_build(source, db, args.source_type)
    if code != 0:
        print(f"nothing published: {published} is unchanged", file=sys.stderr)
        return code
    truth = None
    if built_in and not args.no_simulation:
        print("\nclosed loop: the campaigns are sent; simulating their measurement window ...")
        try:
            truth = simulate_campaigns.simulate(db, source, seed=args.seed, aa=args.aa)
        except (simulate_campaigns.SimulationError, ValueError) as error:
            print(f"simulation failed: {error}; nothing published: {published} is unchanged", file=sys.stderr)
            return 1
        code = load_and_build(source, db)
        if code != 0:
            print(f"nothing published: {published} is unchanged", file=sys.stderr)
            return code
    publish(db, published)
    print_summary(published, truth)
    import build_report

    truth_file = source / "_campaign_truth.json" if truth else None
    try:
        report = build_report.build_report(published, args.report.resolve(), truth_file)
    except build_report.ReportError as error:
        print(f"report failed: {error}", file=sys.stderr)
        return 1
    print(f"\nreport: {report} (open it in a browser; it needs no network)")
    print(f"\ndone in {time.perf_counter() - started:.0f} s")
    return 0


def command_export_exposure(args: argparse.Namespace) -> int:
    """Writes a campaign's exposure list as CSV, one row per target with the arm and channel to send on."""
    import duckdb

    db = warehouse_path(args.db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        (found,) = con.execute(
            "select count(*) from campaign_exposure where campaign_id = ?", [args.campaign_id]
        ).fetchone()
        if found == 0:
            known = [row[0] for row in con.execute("select campaign_id from campaigns order by 1").fetchall()]
            print(f"no exposure for campaign {args.campaign_id!r} (campaigns: {', '.join(known)})", file=sys.stderr)
            return 1
        where = "and exposure.is_treated" if args.treated_only else ""
        args.out.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"""
            copy (
                select exposure.campaign_id, exposure.customer_id, customers.email, customers.first_name,
                    customers.last_name, exposure.arm, exposure.channel, exposure.launch_date,
                    exposure.assignment_value
                from campaign_exposure as exposure
                inner join customers on exposure.customer_id = customers.customer_id
                where exposure.campaign_id = $campaign {where}
                order by exposure.customer_id
            ) to '{str(args.out).replace("'", "''")}' (header, delimiter ',')
            """,
            {"campaign": args.campaign_id},
        )
    finally:
        con.close()
    print(f"wrote {found if not args.treated_only else 'the treated part of'} {args.campaign_id} exposure to {args.out}")
    return 0


def command_build(args: argparse.Namespace) -> int:
    """dbt build on a private copy of the published warehouse, published when the build and its tests pass."""
    published = warehouse_path(args.db)
    if not published.exists():
        print(f"no warehouse at {published}: run `python3 scripts/crm.py run` first", file=sys.stderr)
        return 1
    import duckdb

    con = duckdb.connect(str(published), read_only=True)
    try:
        source_type = source_type_of(con)
        imported_results = has_imported_results(con)
    finally:
        con.close()
    building = start_build(published, from_published=True)
    dbt_args = args.dbt_args[1:] if args.dbt_args[:1] == ["--"] else args.dbt_args
    # A warehouse of Online Retail data is rebuilt as one, with its imported campaigns, unless the user's own
    # --vars set crm_source or campaign_results.
    code = dbt(["build", *with_vars(source_variables(source_type, imported_results), dbt_args)], building)
    if code != 0:
        print(f"dbt build failed; nothing published: {published} is unchanged", file=sys.stderr)
        return code
    publish(building, published)
    print(f"published {published}")
    return 0


SPARK_LEFT_OUT = ("the dbt Python models (customer_clusters, cluster_selection, customer_value_fit, "
                  "customer_value, customer_value_holdout, churn_model_evaluation, customer_uplift_scores, "
                  "uplift_model_evaluation, uplift_targeting; with imported campaign results also "
                  "imported_uplift_scores, imported_uplift_model_evaluation, imported_uplift_targeting) and the SQL "
                  "marts built on them")


def spark_raw_variables(args: argparse.Namespace, spark_dir: Path) -> dict | None:
    """The dbt vars that tell Spark where its raw tables are, and which source and marts to build; None (with
    the reason printed) when there is nothing to build from."""
    if args.from_warehouse is None:
        data_dir = (args.data_dir or DEFAULT_DATA).resolve()
        if not (data_dir / "orders.parquet").is_file():
            print(f"no thelook Parquet files in {data_dir}: `python3 scripts/crm.py run` generates them, or point "
                  "--data-dir at a thelook_ecommerce export's Parquet files", file=sys.stderr)
            return None
        print(f"Spark: building from {data_dir} into {spark_dir}")
        return {"raw_parquet_dir": str(data_dir)}
    import duckdb
    import export_raw_parquet

    db = args.from_warehouse.resolve()
    raw_dir = spark_dir / "raw"
    print(f"Spark: exporting the raw tables of {db} to {raw_dir}")
    try:
        tables = export_raw_parquet.export(db, raw_dir)
    except export_raw_parquet.ExportError as error:
        print(f"export failed, nothing built: {error}", file=sys.stderr)
        return None
    # The same vars a DuckDB build of this warehouse gets (command_build).
    con = duckdb.connect(str(db), read_only=True)
    try:
        variables = source_variables(source_type_of(con), has_imported_results(con))
    finally:
        con.close()
    print(f"Spark: building {json.dumps(variables) if variables else 'thelook'} into {spark_dir}")
    return {"raw_parquet_dir": str(raw_dir), "raw_parquet_tables": tables, **variables}


SPARK_BUILT_FOR = "built_for.json"


def prepare_spark_dir(spark_dir: Path, settings: dict) -> None:
    """Empties the Spark metastore and tables when the folder was built with other model-enabling settings
    (crm_source, campaign_results), or by a version that did not record them, and records these.

    dbt replaces only the tables of the models it builds: after a switch of source, the marts only the other
    source enables (the imported campaigns' uplift, say) would stay in the metastore with old figures."""
    record = spark_dir / SPARK_BUILT_FOR
    previous = json.loads(record.read_text()) if record.is_file() else None
    stored = [spark_dir / name for name in ("tables", "metastore_db") if (spark_dir / name).exists()]
    if previous != settings and stored:
        built = f"built for {json.dumps(previous)}" if previous else "built without a record of its settings"
        print(f"Spark: {spark_dir} was {built}; its metastore and tables are removed for {json.dumps(settings)}")
        for path in stored:
            shutil.rmtree(path)
    spark_dir.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(settings) + "\n")


def command_spark_build(args: argparse.Namespace) -> int:
    """dbt build of the SQL marts on Apache Spark (a local PySpark session), from the thelook Parquet files or
    from the raw tables of a DuckDB warehouse exported to Parquet."""
    import bootstrap_env

    # Before the export: a warehouse's raw tables take minutes to export, and without Java nothing could use them.
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        print("Spark needs Java 17 or newer (java is not on the PATH and JAVA_HOME is not set); nothing exported "
              "or built", file=sys.stderr)
        return 1
    spark_dir = args.spark_dir.resolve()
    variables = spark_raw_variables(args, spark_dir)
    if variables is None:
        return 1
    dbt_executable = bootstrap_env.ensure_spark_env()
    env = {**os.environ, "CRM_UPLIFT_SPARK_DIR": str(spark_dir), "CRM_UPLIFT_ROOT": str(ROOT),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt_args = args.dbt_args[1:] if args.dbt_args[:1] == ["--"] else args.dbt_args
    dbt_vars = with_vars(variables, dbt_args)
    merged = yaml_mapping(dbt_vars[1]) if dbt_vars[:1] == ["--vars"] else {}
    prepare_spark_dir(spark_dir, {"crm_source": merged.get("crm_source", "thelook"),
                                  "campaign_results": bool(merged.get("campaign_results", False))})
    print(f"left out on Spark: {SPARK_LEFT_OUT}")
    started = time.perf_counter()
    # Spark's own files (metastore, derby.log) land in the working folder: keep them with the tables.
    command = [str(dbt_executable), "build", "--target", "spark", "--project-dir", str(ROOT), "--profiles-dir",
               str(ROOT), "--target-path", str(spark_dir / "target"), "--log-path", str(spark_dir / "logs"),
               *dbt_vars]
    code = subprocess.run(command, cwd=spark_dir, env=env).returncode
    outcome = "done" if code == 0 else "failed"
    print(f"Spark build {outcome} in {time.perf_counter() - started:.0f} s (tables under {spark_dir / 'tables'})")
    return code


def command_import_results(args: argparse.Namespace) -> int:
    """Loads a finished campaign's results export and builds its uplift marts, published like any build."""
    import duckdb
    import load_campaign_results

    published = warehouse_path(args.db)
    building = start_build(published, from_published=True)
    print(f"loading {args.file} ({args.mapping}) into {building}")
    try:
        loaded = load_campaign_results.load(args.file.resolve(), args.mapping.resolve(), building)
    except load_campaign_results.LoadError as error:
        print(f"load failed, warehouse unchanged: {error}", file=sys.stderr)
        return 1
    # Only the imported campaigns' models: the rest of the warehouse is as it was published.
    variables = {"campaign_results": True}
    if published.exists():
        con = duckdb.connect(str(published), read_only=True)
        try:
            if source_type_of(con) != "thelook":
                variables["crm_source"] = source_type_of(con)
        finally:
            con.close()
    code = dbt(["build", "--select", "path:models/staging/campaign_results+", "--vars", json.dumps(variables)],
               building)
    if code != 0:
        print(f"dbt build failed; nothing published: {published} is unchanged", file=sys.stderr)
        return code
    publish(building, published)
    print_imported_uplift(published, loaded["campaign_id"])
    print_imported_uplift_model(published, loaded["campaign_id"])
    print(f"\npublished {published}")
    if args.report is None:
        return 0
    import build_report

    try:
        report = build_report.build_report(published, args.report.resolve(), args.truth)
    except build_report.ReportError as error:
        print(f"report failed (the import is published): {error}", file=sys.stderr)
        return 1
    print(f"report: {report} (section 13 shows the imported campaigns)")
    return 0


def print_imported_uplift(db: Path, campaign_id: str) -> None:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        print(f"\nuplift of {campaign_id} (every arm against control, all customers):")
        binary = con.execute("""
            select outcome, arm, treated_rate, control_rate, uplift, uplift_low, uplift_high, p_value
            from uplift_imported_binary
            where campaign_id = ? and breakdown = 'All'
            order by outcome, arm
        """, [campaign_id]).fetchall()
        for outcome, arm, rate_t, rate_c, uplift, low, high, p_value in binary:
            print(f"  {outcome:<12} {arm:<14} {rate_t:7.2%} vs {rate_c:7.2%}  {uplift * 100:+6.2f}pp "
                  f"[{low * 100:+.2f}, {high * 100:+.2f}]  p {p_value:.3g}")
        amounts = con.execute("""
            select outcome, arm, amount_per_customer_diff, amount_per_customer_diff_low,
                amount_per_customer_diff_high, cuped_amount_per_customer_diff, cuped_amount_per_customer_diff_low,
                cuped_amount_per_customer_diff_high, cuped_variance_reduction
            from uplift_imported_amount
            where campaign_id = ? and breakdown = 'All'
            order by outcome, arm
        """, [campaign_id]).fetchall()
        for outcome, arm, diff, low, high, cuped, cuped_low, cuped_high, reduction in amounts:
            line = f"  {outcome:<12} {arm:<14} {diff:+.3f} per customer [{low:+.3f}, {high:+.3f}]"
            if cuped is not None:
                line += (f"; CUPED {cuped:+.3f} [{cuped_low:+.3f}, {cuped_high:+.3f}], "
                         f"variance -{reduction:.1%}")
            print(line)
        srm = con.execute("select min(p_value) from imported_sample_ratio where campaign_id = ?",
                          [campaign_id]).fetchone()[0]
        if srm is not None:
            print(f"  sample-ratio check p = {srm:.3g}" + ("  MISMATCH: do not trust these figures" if srm < 0.001 else ""))
    finally:
        con.close()


def print_imported_uplift_model(db: Path, campaign_id: str) -> None:
    """The uplift model's summary: per outcome and arm, the Qini coefficient (0 = random targeting, 1 = perfect)
    and the top 30 % by predicted uplift against random targeting of as many customers."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        unknown_cost = [arm for (arm,) in con.execute(
            "select distinct arm from imported_uplift_targeting where campaign_id = ? "
            "and contact_cost_per_customer is null order by arm", [campaign_id]).fetchall()]
        rows = con.execute("""
            select evaluation.outcome, evaluation.arm, evaluation.qini_coefficient, evaluation.qini_area,
                evaluation.random_area, evaluation.is_skipped, evaluation.note, evaluation.method,
                evaluation.folds, evaluation.features, targeting.incremental_successes,
                targeting.random_incremental_successes
            from imported_uplift_model_evaluation as evaluation
            left join (
                select distinct campaign_id, arm, outcome, incremental_successes, random_incremental_successes
                from imported_uplift_targeting
                where share = 0.3
            ) as targeting
                on evaluation.campaign_id = targeting.campaign_id
                and evaluation.arm = targeting.arm
                and evaluation.outcome = targeting.outcome
            where evaluation.campaign_id = ? and (evaluation.is_skipped or evaluation.point = 0)
            order by evaluation.outcome, evaluation.arm
        """, [campaign_id]).fetchall()
    finally:
        con.close()
    if not rows:
        return
    modelled = [row for row in rows if not row[5]]
    if modelled:
        _, _, _, _, _, _, _, method, folds, features, _, _ = modelled[0]
        print(f"\nuplift model of {campaign_id} (cross-fitted {method}, {folds} folds; features {features}):")
        print("  Qini coefficient: 0 = no better than random targeting, 1 = perfect; top 30 % = the 30 % with the "
              "highest predicted uplift")
    else:
        print(f"\nuplift model of {campaign_id}:")
    for outcome, arm, coefficient, area, random_area, skipped, note, *_, top, random_top in rows:
        if skipped:
            print(f"  {outcome:<12} {arm:<14} {note}")
            continue
        line = f"  {outcome:<12} {arm:<14} Qini coefficient "
        line += "undefined" if coefficient is None else f"{coefficient:+.3f}"
        line += f" (area {area:+.2f} vs random {random_area:+.2f})"
        if top is not None and random_top is not None:
            line += f"; top 30 %: {top:+.1f} incremental {outcome} vs {random_top:+.1f} at random"
        print(line)
    if unknown_cost:
        print(f"  contact cost unknown for {', '.join(unknown_cost)} (null in the mapping): imported_uplift_targeting "
              "leaves cost and net amount empty")


def command_test(args: argparse.Namespace) -> int:
    return subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "tests" / "python"), *args.pytest_args], cwd=ROOT).returncode


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main_parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the main job end to end")
    run.add_argument("--source", type=Path,
                     help="your own data: a thelook export folder, or with --source-type online_retail the Online "
                          "Retail file(s) (default: the built-in data)")
    run.add_argument("--source-type", choices=("thelook", "online_retail"), default="thelook",
                     help="what --source holds (default thelook)")
    run.add_argument("--db", type=Path, help=f"warehouse file (default: $CRM_UPLIFT_DB or {DEFAULT_DB.relative_to(ROOT)})")
    run.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="where the built-in data is generated")
    run.add_argument("--users", type=int, default=100_000, help="built-in data: number of users (default 100000)")
    run.add_argument("--seed", type=int, default=42, help="built-in data: random seed (default 42)")
    run.add_argument("--profile", choices=("shop", "thelook"), default="shop", help="built-in data: profile")
    run.add_argument("--end-date", default="2026-06-06", help="built-in data: last day of the history")
    run.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="where to write the HTML report")
    run.add_argument("--no-simulation", action="store_true", help="built-in data: stop before the campaigns' closed loop")
    run.add_argument("--aa", action="store_true", help="built-in data: simulate the window with no campaign effect (A/A)")
    run.set_defaults(handler=command_run)

    export = commands.add_parser("export-exposure", help="write a campaign's exposure list as CSV for a CRM tool")
    export.add_argument("campaign_id")
    export.add_argument("out", type=Path)
    export.add_argument("--db", type=Path)
    export.add_argument("--treated-only", action="store_true", help="only the customers to contact (no control)")
    export.set_defaults(handler=command_export_exposure)

    build = commands.add_parser("build", help="dbt build on the current warehouse (extra arguments go to dbt)")
    build.add_argument("--db", type=Path)
    build.add_argument("dbt_args", nargs=argparse.REMAINDER)
    build.set_defaults(handler=command_build)

    imported = commands.add_parser("import-results",
                                   help="load a finished campaign's per-customer results export and measure it")
    imported.add_argument("file", type=Path, help="the results file (CSV or Parquet)")
    imported.add_argument("--mapping", type=Path, required=True, help="its YAML mapping (see mappings/README.md)")
    imported.add_argument("--db", type=Path)
    imported.add_argument("--report", type=Path,
                          help="also rebuild the HTML report here (e.g. reports/campaign_report.html)")
    imported.add_argument("--truth", type=Path,
                          help="with --report: the simulation's _campaign_truth.json, to keep the true effects shown")
    imported.set_defaults(handler=command_import_results)

    spark = commands.add_parser("spark-build",
                                help="dbt build of the SQL marts on Apache Spark (local session; docs/spark.md)")
    spark_source = spark.add_mutually_exclusive_group()
    spark_source.add_argument("--data-dir", type=Path,
                              help="the thelook Parquet files (default: the built-in data of `run`)")
    spark_source.add_argument("--from-warehouse", type=Path, metavar="DUCKDB_FILE",
                              help="build from the raw tables of this DuckDB warehouse (thelook, Online Retail, "
                                   "imported campaign results: what its loaders loaded), exported to Parquet in "
                                   "<spark-dir>/raw")
    spark.add_argument("--spark-dir", type=Path, default=ROOT / "warehouse" / "spark",
                       help="where Spark keeps its metastore and tables (default warehouse/spark)")
    spark.add_argument("dbt_args", nargs=argparse.REMAINDER)
    spark.set_defaults(handler=command_spark_build)

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
