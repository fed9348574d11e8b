"""Qini evaluation of the imported campaigns' cross-fitted uplift scores, per campaign, treatment arm and binary
outcome (as uplift_model_evaluation for the built-in campaigns).

Rows per comparison: the Qini curve of `uplift_model.qini_curve(..., n_points=20)` on imported_uplift_scores and
the outcome (point 0 = nobody targeted, then one row per cut up to everyone; fewer than 21 rows when tied scores
merge cuts), in successes of the outcome, with the comparison's metrics (`uplift_model.qini_coefficient`)
REPEATED on every row. A comparison imported_uplift_scores skipped gets ONE row with is_skipped = true, null
curve and metrics, and the reason in `note` (`uplift_model.skip_reason`, or no feature in the mapping). A scored
comparison whose Qini coefficient is undefined keeps its curve, a null coefficient and a note.
"""

import pandas as pd

import model_settings
import uplift_model as um

N_POINTS = 20

COLUMNS = {
    "campaign_id": "varchar", "arm": "varchar", "outcome": "varchar", "point": "bigint",
    "share_targeted": "double", "customers_targeted": "bigint", "treated_targeted": "bigint",
    "control_targeted": "bigint", "treated_successes": "double", "control_successes": "double", "qini": "double",
    "random_qini": "double", "uplift_curve": "double", "perfect_qini": "double", "treated_customers": "bigint",
    "control_customers": "bigint", "qini_area": "double", "random_area": "double", "perfect_area": "double",
    "qini_coefficient": "double", "auuc": "double", "random_auuc": "double", "features": "varchar",
    "method": "varchar", "folds": "bigint", "seed": "bigint", "is_skipped": "boolean", "note": "varchar",
}
NO_FEATURES = "skipped: the mapping lists no covariate or breakdown column to learn from"


def feature_text(features: pd.DataFrame) -> str | None:
    """'history, recency (numeric); zip_code (categorical)': the model's features, in the scores model's order."""
    parts = []
    for kind in ("numeric", "categorical"):
        names = sorted(features.loc[features["feature_type"] == kind, "attribute"])
        if names:
            parts.append(f"{', '.join(names)} ({kind})")
    return "; ".join(parts) or None


def model(dbt, session):
    dbt.config(materialized="table")
    method = model_settings.choice("uplift_model_method", dbt.config.meta_get("uplift_model_method"), um.METHODS)
    folds = model_settings.number("uplift_model_folds", dbt.config.meta_get("uplift_model_folds"), integer=True)
    seed = model_settings.number("uplift_model_seed", dbt.config.meta_get("uplift_model_seed"), integer=True)

    outcomes = dbt.ref("int_imported_customer_outcomes").filter("outcome_kind = 'binary'").project(
        "campaign_id, customer_id, arm, outcome, value").df()
    features = dbt.ref("int_imported_model_features").df()
    arms = dbt.ref("stg_campaign_results__arms").project("campaign_id, arm, is_control").df()
    scores = dbt.ref("imported_uplift_scores").project(
        "campaign_id, arm, outcome, customer_id, is_treated, predicted_uplift").df()

    rows = []
    for campaign_id in sorted(outcomes["campaign_id"].unique()):
        campaign = outcomes[outcomes["campaign_id"] == campaign_id]
        described = feature_text(features[features["campaign_id"] == campaign_id])
        control = arms[(arms["campaign_id"] == campaign_id) & arms["is_control"]]["arm"].iloc[0]
        treatments = sorted(arms[(arms["campaign_id"] == campaign_id) & ~arms["is_control"]]["arm"])
        for outcome in sorted(campaign["outcome"].unique()):
            for arm in treatments:
                base = {"campaign_id": campaign_id, "arm": arm, "outcome": outcome, "features": described,
                        "method": method, "folds": folds, "seed": seed}
                frame = campaign[(campaign["outcome"] == outcome) & campaign["arm"].isin([arm, control])].copy()
                frame["is_treated"] = frame["arm"] == arm
                scored = scores[(scores["campaign_id"] == campaign_id) & (scores["arm"] == arm)
                                & (scores["outcome"] == outcome)]
                if scored.empty:
                    reason = NO_FEATURES if described is None else um.skip_reason(
                        frame["customer_id"].to_numpy(dtype=object), frame["is_treated"], folds, seed)
                    rows.append(um.skipped_evaluation_row(frame["is_treated"], base, reason or "skipped"))
                    continue
                data = (scored.merge(frame[["customer_id", "value"]], on="customer_id", how="inner",
                                     validate="one_to_one")
                        .sort_values("customer_id", kind="mergesort").reset_index(drop=True))
                rows.append(um.evaluation_rows(data["predicted_uplift"], data["is_treated"], data["value"], base,
                                               N_POINTS, "successes"))
    result = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        {name: pd.Series(dtype="object") for name in COLUMNS}
    )
    for name in COLUMNS:
        if name not in result.columns:
            result[name] = None
    result = result.sort_values(["campaign_id", "arm", "outcome", "point"], na_position="first")
    return model_settings.typed(session, result[list(COLUMNS)], COLUMNS)
