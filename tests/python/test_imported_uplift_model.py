"""The uplift model of imported campaigns (imported_uplift_scores, imported_uplift_model_evaluation,
imported_uplift_targeting), end to end through `crm.py import-results`.

A Hillstrom-layout file written here (campaign_results_files: CRLF, quoted fields, "Surburban", no customer id)
has PLANTED heterogeneous effects on conversion, known per customer: the men's e-mail raises conversion only for
customers with history >= 500, the women's e-mail only for customers with newbie = 0. Checked against direct
calls of scripts/uplift_model.py on a frame built here from the generated rows (not read back from the
warehouse): the scores, folds, Qini curves and targeting tables; that no customer's own outcome reaches the
model that scores it; that the model beats random targeting and ranks the planted truth; the documented types;
a byte-identical rebuild; the skip rule (too few customers, no feature) and a bad cost mapping refused with a
clear error. Two tiny campaigns loaded beside it exercise the skips. Kept at 3,000 customers so it stays fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

import campaign_results_files as crf
import load_campaign_results
import uplift_model as um

ROOT = Path(__file__).resolve().parents[2]
YAML_PATH = ROOT / "models" / "marts" / "campaign_results" / "_campaign_results__models.yml"
MODELS = ("imported_uplift_scores", "imported_uplift_model_evaluation", "imported_uplift_targeting")
DUCKDB_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN"}
CAMPAIGN = "planted"
ARMS = {"Mens E-Mail": "mens_email", "Womens E-Mail": "womens_email", "No E-Mail": "no_email"}
MENS_COST = 0.05  # the women's e-mail keeps the Hillstrom mapping's null: cost unknown
# The project defaults (dbt_project.yml), which the build uses.
METHOD, FOLDS, SEED = "t_learner", 5, 42
# The Hillstrom mapping's attributes as the model uses them: covariates numeric, breakdown-only columns
# categorical, each group in name order.
NUMERIC = ["history", "mens", "newbie", "recency", "womens"]
CATEGORICAL = ["channel", "history_segment", "zip_code"]
PLANTED_LIFT = 0.25


def true_conversion_uplift(frame: pd.DataFrame, arm: str) -> np.ndarray:
    """The planted effect of `arm` on the conversion probability, per customer."""
    if arm == "mens_email":
        return np.where(frame["history"].to_numpy() >= 500, PLANTED_LIFT, 0.0)
    return np.where(frame["newbie"].to_numpy() == 0, PLANTED_LIFT, 0.0)


def planted_rows(count: int = 3000, seed: int = 13) -> list[dict]:
    """Hillstrom-layout customers, arms in thirds; conversion 8 % plus the planted effect of the customer's arm;
    a visit always comes with a conversion (and 20 % more without); spend only with a conversion."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        history = round(float(rng.uniform(29.99, 1200.0)), 2)
        segment = list(ARMS)[int(rng.integers(0, 3))]
        mens = bool(rng.random() < 0.55)
        newbie = int(rng.random() < 0.5)
        lift = 0.0
        if segment == "Mens E-Mail" and history >= 500:
            lift = PLANTED_LIFT
        if segment == "Womens E-Mail" and newbie == 0:
            lift = PLANTED_LIFT
        conversion = int(rng.random() < 0.08 + lift)
        visit = int(conversion or rng.random() < 0.2)
        rows.append({
            "recency": int(rng.integers(1, 13)),
            "history_segment": crf.history_segment(history),
            "history": history,
            "mens": int(mens),
            "womens": int((not mens) or rng.random() < 0.2),
            "zip_code": ("Urban", "Surburban", "Rural")[int(rng.integers(0, 3))],
            "newbie": newbie,
            "channel": ("Phone", "Web", "Multichannel")[int(rng.integers(0, 3))],
            "segment": segment,
            "visit": visit,
            "conversion": conversion,
            "spend": round(float(rng.uniform(20.0, 300.0)), 2) if conversion else 0,
        })
    return rows


def planted_mapping() -> dict:
    mapping = yaml.safe_load((ROOT / "mappings" / "hillstrom.yml").read_text())
    mapping["campaign_id"] = CAMPAIGN
    for arm in mapping["arm"]["values"]:
        if arm["name"] == "mens_email":
            arm["contact_cost"] = MENS_COST
    return mapping


def tiny_mapping(campaign_id: str, attributes: bool) -> dict:
    return {
        "campaign_id": campaign_id,
        "campaign_name": f"tiny {campaign_id}",
        "customer_id": "id",
        "arm": {"column": "grp", "control": "C", "values": [
            {"value": "T", "name": "treat", "share": 0.5, "channel": "sms", "contact_cost": 0.1},
            {"value": "C", "name": "holdout", "share": 0.5, "channel": "none", "contact_cost": 0.0},
        ]},
        "outcomes": [{"column": "y", "kind": "binary"}],
        "covariates": ["x"] if attributes else [],
    }


def tiny_rows(count: int) -> list[dict]:
    return [{"id": f"c{i:03d}", "grp": "TC"[i % 2], "y": int(i % 3 == 0), "x": float(i % 7)} for i in range(count)]


def env_for(work: Path) -> dict:
    """dbt writes its target and logs under `work` (others may be using the project's target/)."""
    return {**os.environ, "DBT_TARGET_PATH": str(work / "target"), "DBT_LOG_PATH": str(work / "logs")}


def import_results(source: Path, mapping: Path, db: Path, work: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "scripts" / "crm.py"), "import-results", str(source), "--mapping",
               str(mapping), "--db", str(db)]
    return subprocess.run(command, cwd=ROOT, env=env_for(work), capture_output=True, text=True)


def read_marts(db: Path) -> dict[str, pd.DataFrame]:
    orders = {"imported_uplift_scores": "campaign_id, arm, outcome, customer_id",
              "imported_uplift_model_evaluation": "campaign_id, arm, outcome, point",
              "imported_uplift_targeting": "campaign_id, arm, outcome, amount_outcome, share"}
    with duckdb.connect(str(db), read_only=True) as con:
        return {name: con.execute(f"select * from {name} order by {order}").df() for name, order in orders.items()}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("imported_uplift")
    db = work / "warehouse.duckdb"
    # Two tiny campaigns already in the warehouse: too few customers, and no attribute to learn from.
    for campaign_id, count, attributes in (("tiny", 60, True), ("bare", 400, False)):
        header = ("id", "grp", "y", "x")
        load_campaign_results.load(crf.write_results_csv(work / f"{campaign_id}.csv", tiny_rows(count), header),
                                   tiny_mapping(campaign_id, attributes), db, log=lambda *_: None)
    rows = planted_rows()
    source = crf.write_results_csv(work / "planted.csv", rows)
    mapping = work / "planted.yml"
    mapping.write_text(yaml.safe_dump(planted_mapping(), sort_keys=False))
    result = import_results(source, mapping, db, work)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]

    frame = pd.DataFrame(rows)
    frame["customer_id"] = [str(i) for i in range(1, len(frame) + 1)]  # no id in the file: the row number
    frame["arm"] = frame["segment"].map(ARMS)
    return {"work": work, "db": db, "source": source, "mapping": mapping, "frame": frame,
            "output": result.stdout, **read_marts(db)}


def comparison(frame: pd.DataFrame, arm: str) -> pd.DataFrame:
    """The arm's and the control's customers, sorted by the text id, with is_treated: the model's input."""
    part = frame[frame["arm"].isin([arm, "no_email"])].copy()
    part["is_treated"] = part["arm"] == arm
    return part.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def direct_scores(frame: pd.DataFrame, arm: str, outcome: str) -> pd.DataFrame:
    return um.cross_fitted_uplift(comparison(frame, arm), NUMERIC + CATEGORICAL, "is_treated", outcome,
                                  method=METHOD, folds=FOLDS, seed=SEED, categorical=CATEGORICAL,
                                  outcome_type="binary")


def part_of(mart: pd.DataFrame, **key) -> pd.DataFrame:
    match = mart
    for column, value in key.items():
        match = match[match[column] == value]
    return match.reset_index(drop=True)


COMPARISONS = [(arm, outcome) for arm in ("mens_email", "womens_email") for outcome in ("conversion", "visit")]


def test_marts_have_their_documented_column_types(imported: dict) -> None:
    nodes = {node["name"]: node for node in yaml.safe_load(YAML_PATH.read_text())["models"]}
    with duckdb.connect(str(imported["db"]), read_only=True) as con:
        for name in MODELS:
            actual = con.execute(f"describe {name}").fetchall()
            expected = [(column["name"], DUCKDB_TYPES[column["data_type"]]) for column in nodes[name]["columns"]]
            assert [(row[0], row[1]) for row in actual] == expected, name


@pytest.mark.parametrize("arm,outcome", COMPARISONS)
def test_scores_equal_a_direct_cross_fit_of_the_file(imported: dict, arm: str, outcome: str) -> None:
    """Same customers, features, treatment and outcome as a direct call on the generated rows: same numbers."""
    frame = comparison(imported["frame"], arm)
    direct = direct_scores(imported["frame"], arm, outcome)
    mart = part_of(imported["imported_uplift_scores"], campaign_id=CAMPAIGN, arm=arm, outcome=outcome)
    assert mart["customer_id"].tolist() == direct["customer_id"].tolist() == frame["customer_id"].tolist()
    assert mart["customer_arm"].tolist() == frame["arm"].tolist()
    assert mart["is_treated"].tolist() == frame["is_treated"].tolist()
    assert mart["fold"].tolist() == direct["fold"].tolist()
    for mart_column, direct_column in (("predicted_rate_treated", "predicted_outcome_treated"),
                                       ("predicted_rate_control", "predicted_outcome_control"),
                                       ("predicted_uplift", "predicted_uplift")):
        np.testing.assert_array_equal(mart[mart_column].to_numpy(), direct[direct_column].to_numpy(),
                                      err_msg=f"{arm} {outcome} {mart_column}")
    rank, decile = um.uplift_ranks(direct["predicted_uplift"])
    assert mart["uplift_rank"].tolist() == rank.tolist() and mart["uplift_decile"].tolist() == decile.tolist()
    # Ranks by hand: highest uplift first, ties by the text id.
    by_hand = mart.sort_values(["predicted_uplift", "customer_id"], ascending=[False, True])
    assert by_hand["uplift_rank"].tolist() == list(range(1, len(mart) + 1))
    assert set(mart["method"]) == {METHOD} and set(mart["folds"]) == {FOLDS} and set(mart["seed"]) == {SEED}


def test_no_customer_is_scored_by_a_model_that_saw_it(imported: dict) -> None:
    """Flipping the outcomes of fold 0's customers and fitting again leaves fold 0's scores exactly as in the mart
    (their outcomes never reach the models that score them) while the other folds' scores move; and the folds
    are balanced, every customer once."""
    arm, outcome = "mens_email", "conversion"
    mart = part_of(imported["imported_uplift_scores"], campaign_id=CAMPAIGN, arm=arm, outcome=outcome)
    assert mart["customer_id"].is_unique
    sizes = mart.groupby("fold").size()
    assert sorted(sizes.index) == list(range(FOLDS)) and sizes.max() - sizes.min() <= 1
    for _, rows in mart.groupby("is_treated"):
        per_arm = rows.groupby("fold").size()
        assert len(per_arm) == FOLDS and per_arm.max() - per_arm.min() <= 1

    frame = comparison(imported["frame"], arm)
    in_fold = mart["fold"].to_numpy() == 0
    flipped = frame.copy()
    flipped.loc[in_fold, outcome] = 1 - flipped.loc[in_fold, outcome]
    refit = um.cross_fitted_uplift(flipped, NUMERIC + CATEGORICAL, "is_treated", outcome, method=METHOD,
                                   folds=FOLDS, seed=SEED, categorical=CATEGORICAL, outcome_type="binary")
    np.testing.assert_array_equal(refit["predicted_uplift"].to_numpy()[in_fold],
                                  mart["predicted_uplift"].to_numpy()[in_fold])
    moved = refit["predicted_uplift"].to_numpy()[~in_fold] != mart["predicted_uplift"].to_numpy()[~in_fold]
    assert moved.mean() > 0.5


@pytest.mark.parametrize("arm,outcome", COMPARISONS)
def test_evaluation_is_the_qini_curve_of_the_scores(imported: dict, arm: str, outcome: str) -> None:
    frame = comparison(imported["frame"], arm)
    direct = direct_scores(imported["frame"], arm, outcome)
    curve = um.qini_curve(direct["predicted_uplift"], frame["is_treated"], frame[outcome], n_points=20)
    metrics = um.qini_coefficient(curve)
    rows = part_of(imported["imported_uplift_model_evaluation"], campaign_id=CAMPAIGN, arm=arm, outcome=outcome)
    assert rows["point"].tolist() == list(range(len(curve))) and len(curve) == 21
    for column in ("share_targeted", "customers_targeted", "treated_targeted", "control_targeted", "qini",
                   "random_qini", "uplift_curve", "perfect_qini"):
        np.testing.assert_allclose(rows[column].to_numpy(dtype=float), curve[column].to_numpy(dtype=float),
                                   rtol=1e-12, atol=1e-9, err_msg=f"{arm} {outcome} {column}")
    np.testing.assert_array_equal(rows["treated_successes"], curve["treated_outcome"])
    np.testing.assert_array_equal(rows["control_successes"], curve["control_outcome"])
    for key, value in metrics.items():
        np.testing.assert_allclose(rows[key].to_numpy(dtype=float), value, rtol=1e-12, atol=1e-12)
    assert rows["treated_customers"].eq(int(frame["is_treated"].sum())).all()
    assert rows["control_customers"].eq(int((~frame["is_treated"]).sum())).all()
    assert not rows["is_skipped"].any() and rows["note"].isna().all()
    assert set(rows["features"]) == {"history, mens, newbie, recency, womens (numeric); "
                                     "channel, history_segment, zip_code (categorical)"}


@pytest.mark.parametrize("arm,outcome", COMPARISONS)
def test_targeting_is_the_targeting_table_of_the_scores(imported: dict, arm: str, outcome: str) -> None:
    """Spend (the file's amount outcome) is the revenue side, taken as value; the men's e-mail has a cost, the
    women's e-mail's cost is unknown (null in the mapping), so its cost and net columns are null."""
    frame = comparison(imported["frame"], arm)
    direct = direct_scores(imported["frame"], arm, outcome)
    cost = MENS_COST if arm == "mens_email" else None
    table = um.targeting_table(direct["predicted_uplift"], frame["is_treated"], frame[outcome],
                               frame["spend"].astype(float), margin_rate=1.0, contact_cost=cost or 0.0)
    rows = part_of(imported["imported_uplift_targeting"], campaign_id=CAMPAIGN, arm=arm, outcome=outcome)
    assert rows["amount_outcome"].tolist() == ["spend"] * 10
    pairs = {"share": "share", "customers": "customers", "treated": "treated", "control": "control",
             "treated_rate": "treated_conversion_rate", "control_rate": "control_conversion_rate",
             "incremental_successes": "incremental_conversions", "incremental_amount": "incremental_revenue",
             "random_incremental_successes": "random_incremental_conversions",
             "random_incremental_amount": "random_incremental_revenue"}
    if cost is not None:
        pairs.update({"contact_cost": "contact_cost", "net_amount": "net_margin",
                      "random_contact_cost": "random_contact_cost", "random_net_amount": "random_net_margin"})
        assert (rows["contact_cost_per_customer"] == cost).all()
    else:
        assert rows[["contact_cost_per_customer", "contact_cost", "net_amount", "random_contact_cost",
                     "random_net_amount"]].isna().all().all()
    for mart_column, direct_column in pairs.items():
        np.testing.assert_allclose(rows[mart_column].to_numpy(dtype=float), table[direct_column].to_numpy(dtype=float),
                                   rtol=1e-12, atol=1e-9, err_msg=f"{arm} {outcome} {mart_column}")

    # Share 1.0 by hand: the whole comparison's treated - control difference times its size.
    full = rows[rows["share"] == 1.0].iloc[0]
    treated, control = frame[frame["is_treated"]], frame[~frame["is_treated"]]
    n = len(frame)
    assert full["customers"] == n
    assert full["incremental_successes"] == pytest.approx((treated[outcome].mean() - control[outcome].mean()) * n,
                                                          rel=1e-9)
    assert full["incremental_amount"] == pytest.approx((treated["spend"].mean() - control["spend"].mean()) * n,
                                                       rel=1e-9)
    if cost is not None:
        assert full["contact_cost"] == pytest.approx(n * cost, rel=1e-12)


@pytest.mark.parametrize("arm", ["mens_email", "womens_email"])
def test_the_model_beats_random_targeting_and_ranks_the_planted_truth(imported: dict, arm: str) -> None:
    """Conversion: the Qini coefficient is clearly above every one of 200 random scorings, the top 30 % by
    predicted uplift bring more incremental conversions than 30 % at random, and the predicted uplift ranks the
    planted per-customer effect (Spearman and Kendall well above 0)."""
    frame = comparison(imported["frame"], arm)
    evaluation = part_of(imported["imported_uplift_model_evaluation"], campaign_id=CAMPAIGN, arm=arm,
                         outcome="conversion")
    coefficient = float(evaluation["qini_coefficient"].iloc[0])
    assert float(evaluation["qini_area"].iloc[0]) > float(evaluation["random_area"].iloc[0])
    rng = np.random.default_rng(0)
    random_coefficients = [
        um.qini_coefficient(um.qini_curve(rng.uniform(size=len(frame)), frame["is_treated"], frame["conversion"],
                                          n_points=20))["qini_coefficient"]
        for _ in range(200)
    ]
    assert coefficient > max(random_coefficients), (coefficient, max(random_coefficients))

    targeting = part_of(imported["imported_uplift_targeting"], campaign_id=CAMPAIGN, arm=arm, outcome="conversion")
    top = targeting[targeting["share"] == 0.3].iloc[0]
    assert top["incremental_successes"] > 1.3 * top["random_incremental_successes"]

    scores = part_of(imported["imported_uplift_scores"], campaign_id=CAMPAIGN, arm=arm, outcome="conversion")
    correlation = um.uplift_rank_correlation(scores["predicted_uplift"], true_conversion_uplift(frame, arm))
    assert correlation["n"] == len(frame)
    assert correlation["spearman"] > 0.5 and correlation["kendall"] > 0.4, correlation


def test_skipped_comparisons_say_why(imported: dict) -> None:
    """The same rule as the built-in models (uplift_model.skip_reason): 30 / 30 customers is too few; a campaign
    whose mapping has no attribute has nothing to learn from. Neither has scores or targeting rows."""
    evaluation = imported["imported_uplift_model_evaluation"]
    tiny = part_of(evaluation, campaign_id="tiny")
    assert len(tiny) == 1 and tiny["is_skipped"].all() and tiny["point"].isna().all()
    ids = [row["id"] for row in tiny_rows(60)]
    reason = um.skip_reason(ids, [row["grp"] == "T" for row in tiny_rows(60)], FOLDS, SEED)
    assert tiny["note"].iloc[0] == reason == ("skipped: 30 treated and 30 control customers; each arm needs at "
                                              "least 50")
    assert (tiny["treated_customers"].iloc[0], tiny["control_customers"].iloc[0]) == (30, 30)
    bare = part_of(evaluation, campaign_id="bare")
    assert len(bare) == 1 and bare["is_skipped"].all() and bare["features"].isna().all()
    assert bare["note"].iloc[0].startswith("skipped: the mapping lists no covariate or breakdown")
    for name in ("imported_uplift_scores", "imported_uplift_targeting"):
        assert set(imported[name]["campaign_id"]) == {CAMPAIGN}, name


def test_the_import_prints_the_model_summary(imported: dict) -> None:
    output = imported["output"]
    assert "uplift model of planted (cross-fitted t_learner, 5 folds; features history, mens" in output
    evaluation = imported["imported_uplift_model_evaluation"]
    for arm, outcome in COMPARISONS:
        coefficient = part_of(evaluation, campaign_id=CAMPAIGN, arm=arm, outcome=outcome)["qini_coefficient"].iloc[0]
        line = next(line for line in output.splitlines()
                    if line.split()[:2] == [outcome, arm] and "Qini coefficient" in line)
        assert f"Qini coefficient {coefficient:+.3f}" in line
    assert "contact cost unknown for womens_email (null in the mapping)" in output
    assert "contact cost unknown for mens_email" not in output


def snapshot(db: Path) -> dict[str, str]:
    """Each mart as CSV text, floats with all 17 significant digits: equal text, equal bytes in the tables."""
    return {name: table.to_csv(index=False, float_format="%.17g") for name, table in read_marts(db).items()}


def test_a_rebuild_is_byte_identical(imported: dict) -> None:
    """Importing the same file again (the campaign's rows replaced, everything rebuilt) gives the same bytes."""
    work = imported["work"] / "again"
    work.mkdir()
    before = snapshot(imported["db"])
    result = import_results(imported["source"], imported["mapping"], imported["db"], work)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    after = snapshot(imported["db"])
    for name in MODELS:
        assert after[name] == before[name], name


@pytest.mark.parametrize("cost,message", [
    ("0,05", r"arm\.values\[0\] \(Mens E-Mail\)\.contact_cost: '0,05' is not a cost per contact "
             r"\(a number >= 0, or null when unknown\)"),
    (-0.05, r"arm\.values\[0\] \(Mens E-Mail\)\.contact_cost: -0\.05 is negative \(a cost per contact is >= 0, "
            r"or null when unknown\)"),
])
def test_a_bad_cost_mapping_stops_with_a_clear_error(imported: dict, tmp_path: Path, cost, message) -> None:
    mapping = planted_mapping()
    mapping["arm"]["values"][0]["contact_cost"] = cost
    with pytest.raises(load_campaign_results.LoadError, match=message):
        load_campaign_results.parse_mapping(mapping)
    path = tmp_path / "bad_cost.yml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    with duckdb.connect(str(imported["db"]), read_only=True) as con:
        before = con.execute("select count(*) from imported_uplift_scores").fetchone()[0]
    result = import_results(imported["source"], path, imported["db"], tmp_path)
    assert result.returncode == 1
    assert "load failed, warehouse unchanged" in result.stderr and "contact_cost" in result.stderr
    with duckdb.connect(str(imported["db"]), read_only=True) as con:
        assert con.execute("select count(*) from imported_uplift_scores").fetchone()[0] == before
