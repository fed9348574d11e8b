"""Cross-fitted per-customer uplift scores of the imported campaigns: one model per campaign, treatment arm and
binary outcome, treated = that arm against the campaign's control arm.

The same model as customer_uplift_scores (`uplift_model.cross_fitted_uplift`, settings uplift_model_method /
_folds / _seed, binary outcome) on the mapping's pre-send attributes (int_imported_model_features): covariates
as numeric features, breakdown-only columns as categorical ones (one-hot), numeric features first, each group
in name order. The outcome is int_imported_customer_outcomes.value (0 for an assigned customer without an
outcome row). Every customer is scored by models fitted on the other folds only. A comparison that
`uplift_model.skip_reason` refuses (fewer than 50 treated or control customers, a fold lacking an arm), or a
campaign whose mapping has no attribute to learn from, is skipped: no rows here, the reason in
imported_uplift_model_evaluation's note.

customer_id is the loader's text id, so the frame is sorted, the folds hashed and rank ties broken on that text
(ids "1", "10", "2" sort in that order): deterministic, whatever the row order of the raw tables.
"""

import pandas as pd

import model_settings
import uplift_model as um

COLUMNS = {
    "campaign_id": "varchar", "arm": "varchar", "outcome": "varchar", "customer_id": "varchar",
    "customer_arm": "varchar", "is_treated": "boolean", "fold": "bigint", "predicted_rate_treated": "double",
    "predicted_rate_control": "double", "predicted_uplift": "double", "uplift_rank": "bigint",
    "uplift_decile": "bigint", "method": "varchar", "folds": "bigint", "seed": "bigint",
}


def feature_lists(features: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) attribute names of one campaign, each in name order."""
    numeric = sorted(features.loc[features["feature_type"] == "numeric", "attribute"])
    categorical = sorted(features.loc[features["feature_type"] == "categorical", "attribute"])
    return numeric, categorical


def wide_features(attributes: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """One row per customer (index customer_id), one column per feature: value_number for numeric features,
    value_text (null when empty) for categorical ones. Columns are named f0, f1, ... in feature order so that
    no attribute name can clash with the id, treatment or outcome columns."""
    parts = []
    for names, value in ((numeric, "value_number"), (categorical, "value_text")):
        if names:
            part = attributes[attributes["attribute"].isin(names)].pivot(
                index="customer_id", columns="attribute", values=value)
            parts.append(part.reindex(columns=names))
    wide = pd.concat(parts, axis=1)
    wide.columns = [f"f{i}" for i in range(len(wide.columns))]
    return wide


def model(dbt, session):
    dbt.config(materialized="table")
    method = model_settings.choice("uplift_model_method", dbt.config.meta_get("uplift_model_method"), um.METHODS)
    folds = model_settings.number("uplift_model_folds", dbt.config.meta_get("uplift_model_folds"), integer=True)
    seed = model_settings.number("uplift_model_seed", dbt.config.meta_get("uplift_model_seed"), integer=True)
    if folds < 2:
        raise ValueError(f"variable uplift_model_folds must be at least 2, got {folds}")
    if seed < 0:
        raise ValueError(f"variable uplift_model_seed must be >= 0, got {seed}")

    outcomes = dbt.ref("int_imported_customer_outcomes").filter("outcome_kind = 'binary'").project(
        "campaign_id, customer_id, arm, is_control, outcome, value").df()
    features = dbt.ref("int_imported_model_features").df()
    attributes = dbt.ref("stg_campaign_results__attributes").project(
        "campaign_id, customer_id, attribute, value_text, value_number").df()
    arms = dbt.ref("stg_campaign_results__arms").project("campaign_id, arm, is_control").df()

    results = []
    for campaign_id in sorted(outcomes["campaign_id"].unique()):
        numeric, categorical = feature_lists(features[features["campaign_id"] == campaign_id])
        if not numeric + categorical:
            continue
        names = [f"f{i}" for i in range(len(numeric) + len(categorical))]
        wide = wide_features(attributes[attributes["campaign_id"] == campaign_id], numeric, categorical)
        campaign = outcomes[outcomes["campaign_id"] == campaign_id]
        control = arms[(arms["campaign_id"] == campaign_id) & arms["is_control"]]["arm"].iloc[0]
        treatments = sorted(arms[(arms["campaign_id"] == campaign_id) & ~arms["is_control"]]["arm"])
        for outcome in sorted(campaign["outcome"].unique()):
            for arm in treatments:
                frame = campaign[(campaign["outcome"] == outcome) & campaign["arm"].isin([arm, control])].copy()
                frame["is_treated"] = frame["arm"] == arm
                if um.skip_reason(frame["customer_id"].to_numpy(dtype=object), frame["is_treated"], folds,
                                  seed) is not None:
                    continue
                frame = (frame.join(wide, on="customer_id")
                         .sort_values("customer_id", kind="mergesort").reset_index(drop=True))
                scored = um.cross_fitted_uplift(
                    frame, features=names, treatment_col="is_treated", outcome_col="value", id_col="customer_id",
                    method=method, folds=folds, seed=seed, categorical=names[len(numeric):], outcome_type="binary",
                )
                # Both frames are sorted by customer_id: rank ties go to the smaller id.
                rank, decile = um.uplift_ranks(scored["predicted_uplift"])
                results.append(pd.DataFrame({
                    "campaign_id": campaign_id,
                    "arm": arm,
                    "outcome": outcome,
                    "customer_id": scored["customer_id"].to_numpy(),
                    "customer_arm": frame["arm"].to_numpy(),
                    "is_treated": frame["is_treated"].to_numpy(),
                    "fold": scored["fold"].to_numpy(),
                    "predicted_rate_treated": scored["predicted_outcome_treated"].to_numpy(),
                    "predicted_rate_control": scored["predicted_outcome_control"].to_numpy(),
                    "predicted_uplift": scored["predicted_uplift"].to_numpy(),
                    "uplift_rank": rank,
                    "uplift_decile": decile,
                    "method": method,
                    "folds": folds,
                    "seed": seed,
                }))
    result = pd.concat(results, ignore_index=True) if results else pd.DataFrame(
        {name: pd.Series(dtype="object") for name in COLUMNS}
    )
    return model_settings.typed(session, result[list(COLUMNS)], COLUMNS)
