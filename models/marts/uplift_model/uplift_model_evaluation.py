"""Qini evaluation of the cross-fitted uplift scores, per campaign and treatment arm against control.

Rows per comparison: the Qini curve of `uplift_model.qini_curve(..., n_points=20)` (point 0 = nobody targeted,
then one row per cut up to everyone; fewer than 21 rows when tied scores merge cuts), with the comparison's
metrics (`uplift_model.qini_coefficient`: areas, Qini coefficient, AUUC) REPEATED on every row of the curve.
The outcome is campaign_outcomes.is_converted, so the curves are in conversions.

A comparison that customer_uplift_scores skipped (too few customers in an arm, or a fold without both arms)
gets ONE row with is_skipped = true, null curve and metrics, and the reason in `note`. A scored comparison whose
Qini coefficient is undefined (the perfect curve is not above random, e.g. no conversion at all) keeps its
curve, a null coefficient and a note saying so.
"""

import pandas as pd

import model_settings
import uplift_model as um

N_POINTS = 20

COLUMNS = {
    "campaign_id": "varchar", "arm": "varchar", "point": "bigint", "share_targeted": "double",
    "customers_targeted": "bigint", "treated_targeted": "bigint", "control_targeted": "bigint",
    "treated_conversions": "double", "control_conversions": "double", "qini": "double", "random_qini": "double",
    "uplift_curve": "double", "perfect_qini": "double", "treated_customers": "bigint",
    "control_customers": "bigint", "qini_area": "double", "random_area": "double", "perfect_area": "double",
    "qini_coefficient": "double", "auuc": "double", "random_auuc": "double", "method": "varchar",
    "folds": "bigint", "seed": "bigint", "is_skipped": "boolean", "note": "varchar",
}


def model(dbt, session):
    dbt.config(materialized="table")
    method = model_settings.choice("uplift_model_method", dbt.config.meta_get("uplift_model_method"), um.METHODS)
    folds = model_settings.number("uplift_model_folds", dbt.config.meta_get("uplift_model_folds"), integer=True)
    seed = model_settings.number("uplift_model_seed", dbt.config.meta_get("uplift_model_seed"), integer=True)

    outcomes = dbt.ref("campaign_outcomes").project("campaign_id, customer_id, arm, is_converted").df()
    scores = dbt.ref("customer_uplift_scores").project(
        "campaign_id, arm, customer_id, is_treated, predicted_uplift"
    ).df()

    rows = []
    for campaign_id in sorted(outcomes["campaign_id"].unique()):
        campaign = outcomes[outcomes["campaign_id"] == campaign_id]
        for arm in sorted(a for a in campaign["arm"].unique() if a != "control"):
            base = {"campaign_id": campaign_id, "arm": arm, "method": method, "folds": folds, "seed": seed}
            scored = scores[(scores["campaign_id"] == campaign_id) & (scores["arm"] == arm)]
            if scored.empty:
                frame = campaign[campaign["arm"].isin([arm, "control"])]
                treated = frame["arm"] == arm
                rows.append(um.skipped_evaluation_row(treated, base, um.skip_reason(
                    frame["customer_id"].to_numpy(dtype=object), treated, folds, seed) or "skipped"))
                continue
            data = (scored.merge(campaign[["customer_id", "is_converted"]], on="customer_id", how="inner",
                                 validate="one_to_one")
                    .sort_values("customer_id", kind="mergesort").reset_index(drop=True))
            rows.append(um.evaluation_rows(data["predicted_uplift"], data["is_treated"], data["is_converted"], base,
                                           N_POINTS, "conversions"))
    result = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        {name: pd.Series(dtype="object") for name in COLUMNS}
    )
    for name in COLUMNS:
        if name not in result.columns:
            result[name] = None
    result = result.sort_values(["campaign_id", "arm", "point"], na_position="first")
    return model_settings.typed(session, result[list(COLUMNS)], COLUMNS)
