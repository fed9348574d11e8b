"""Cross-fitted per-customer uplift scores: one model per campaign and treatment arm against control.

For each campaign and each arm other than `control`, the customers of that arm (treated) and of the control arm
are scored by `uplift_model.cross_fitted_uplift` on their pre-launch features (rfm_features: recency_days,
frequency, monetary, rfm_score numeric; rfm_segment, lifecycle_segment categorical) with `is_converted` as the
outcome. Every customer is scored by models fitted on the other folds only. A comparison that
`uplift_model.skip_reason` refuses (fewer than uplift_model.MIN_ARM_CUSTOMERS, 50, treated or control
customers, or a fold lacking one of the two arms) is skipped (no rows here; uplift_model_evaluation says why in
its `note`).

The decile ranks customers by predicted uplift, highest first, ties broken by customer_id (ascending), so the
deciles are deterministic; decile d holds the ranks ceil((d - 1) N / 10) + 1 .. ceil(d N / 10) (sizes differ by
at most one).
"""

import pandas as pd

import model_settings
import uplift_model as um

NUMERIC = ["recency_days", "frequency", "monetary", "rfm_score"]
CATEGORICAL = ["rfm_segment", "lifecycle_segment"]

COLUMNS = {
    "campaign_id": "varchar", "arm": "varchar", "customer_id": "bigint", "customer_arm": "varchar",
    "is_treated": "boolean", "fold": "bigint", "predicted_conversion_treated": "double",
    "predicted_conversion_control": "double", "predicted_uplift": "double", "uplift_rank": "bigint",
    "uplift_decile": "bigint", "method": "varchar", "folds": "bigint", "seed": "bigint",
}


def model(dbt, session):
    dbt.config(materialized="table")
    method = model_settings.choice("uplift_model_method", dbt.config.meta_get("uplift_model_method"), um.METHODS)
    folds = model_settings.number("uplift_model_folds", dbt.config.meta_get("uplift_model_folds"), integer=True)
    seed = model_settings.number("uplift_model_seed", dbt.config.meta_get("uplift_model_seed"), integer=True)
    if folds < 2:
        raise ValueError(f"variable uplift_model_folds must be at least 2, got {folds}")
    if seed < 0:
        raise ValueError(f"variable uplift_model_seed must be >= 0, got {seed}")

    outcomes = dbt.ref("campaign_outcomes").project("campaign_id, customer_id, arm, is_converted")
    features = dbt.ref("rfm_features").project(
        "campaign_id, customer_id, recency_days, frequency, cast(monetary as double) as monetary, rfm_score, "
        "rfm_segment, lifecycle_segment"
    )
    # Ordered by customer in DuckDB: each comparison's frame below (one campaign, so unique ids) then comes out
    # sorted already, as cross_fitted_uplift returns its rows. Through Arrow: the same frame (text as pandas'
    # Arrow-backed strings) for about half the cost of DuckDB's own DataFrame conversion.
    data = (outcomes.join(features, "campaign_id, customer_id", how="inner").order("customer_id")
            .to_arrow_table().to_pandas())
    campaign_ids, arms = data["campaign_id"], data["arm"]

    results = []
    for campaign_id in sorted(campaign_ids.unique()):
        in_campaign = campaign_ids == campaign_id
        for arm in sorted(a for a in arms[in_campaign].unique() if a != "control"):
            # One filtered copy of the rows per comparison (pandas copies on write: no .copy() needed).
            frame = data[in_campaign & arms.isin([arm, "control"])]
            frame["is_treated"] = frame["arm"] == arm
            # The integer ids as they are (not as objects): assign_folds hashes them on its integer path, once
            # for skip_reason and cross_fitted_uplift together.
            if um.skip_reason(frame["customer_id"].to_numpy(), frame["is_treated"], folds, seed) is not None:
                continue
            scored = um.cross_fitted_uplift(
                frame, features=NUMERIC + CATEGORICAL, treatment_col="is_treated", outcome_col="is_converted",
                id_col="customer_id", method=method, folds=folds, seed=seed, categorical=CATEGORICAL,
                outcome_type="binary",
            )
            # Both frames are sorted by customer_id.
            rank, decile = um.uplift_ranks(scored["predicted_uplift"])
            results.append(pd.DataFrame({
                "campaign_id": campaign_id,
                "arm": arm,
                "customer_id": scored["customer_id"].to_numpy(),
                "customer_arm": frame["arm"].to_numpy(),
                "is_treated": frame["is_treated"].to_numpy(),
                "fold": scored["fold"].to_numpy(),
                "predicted_conversion_treated": scored["predicted_outcome_treated"].to_numpy(),
                "predicted_conversion_control": scored["predicted_outcome_control"].to_numpy(),
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
    return model_settings.typed(session, result, COLUMNS)
