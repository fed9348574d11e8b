"""Targeting table per campaign, treatment arm and share of customers targeted (0.1, 0.2, ..., 1.0).

`uplift_model.targeting_table` on the cross-fitted scores of customer_uplift_scores and the outcomes of
campaign_outcomes: the top share of the arm's comparison group (arm + control customers) by predicted uplift,
its incremental conversions, revenue and margin (treated minus control mean within the group, times the group
size; margin = campaign_outcomes.gross_margin), the cost of contacting the group (group size x the arm's contact
cost from campaign_exposure) and the net margin, next to random targeting of the same number of customers.
Skipped comparisons (see uplift_model_evaluation's note) have no rows.
"""

import numpy as np
import pandas as pd

import model_settings
import uplift_model as um

SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

COLUMNS = {
    "campaign_id": "varchar", "arm": "varchar", "share": "double", "customers": "bigint",
    "share_targeted": "double", "treated": "bigint", "control": "bigint", "treated_conversion_rate": "double",
    "control_conversion_rate": "double", "incremental_conversions": "double", "incremental_revenue": "double",
    "incremental_margin": "double", "contact_cost_per_customer": "double", "contact_cost": "double",
    "net_margin": "double", "random_incremental_conversions": "double", "random_incremental_revenue": "double",
    "random_incremental_margin": "double", "random_contact_cost": "double", "random_net_margin": "double",
}


def model(dbt, session):
    dbt.config(materialized="table")
    outcomes = dbt.ref("campaign_outcomes").project(
        "campaign_id, customer_id, is_converted, cast(revenue as double) as revenue, "
        "cast(gross_margin as double) as gross_margin"
    ).df()
    # One cost per arm (checked below), so its min is the cost itself: an average of doubles would be summed in
    # an order that depends on DuckDB's threads, and its last digits would change from run to run.
    costs = dbt.ref("campaign_exposure").aggregate(
        "campaign_id, arm, cast(min(contact_cost) as double) as contact_cost, "
        "count(distinct contact_cost) as distinct_costs", "campaign_id, arm"
    ).df()
    varying = costs[costs["distinct_costs"] > 1]
    if not varying.empty:
        raise ValueError(f"uplift_targeting: contact cost varies within an arm: {varying.to_dict('records')}")
    cost = {(row.campaign_id, row.arm): float(row.contact_cost) for row in costs.itertuples()}
    scores = dbt.ref("customer_uplift_scores").project(
        "campaign_id, arm, customer_id, is_treated, predicted_uplift"
    ).df()

    tables = []
    for (campaign_id, arm), scored in sorted(scores.groupby(["campaign_id", "arm"]), key=lambda item: item[0]):
        data = (scored.merge(outcomes[outcomes["campaign_id"] == campaign_id].drop(columns="campaign_id"),
                             on="customer_id", how="inner", validate="one_to_one")
                .sort_values("customer_id", kind="mergesort").reset_index(drop=True))
        revenue = data["revenue"].to_numpy(dtype="float64")
        margin = data["gross_margin"].to_numpy(dtype="float64")
        # targeting_table takes margin = revenue x rate: a per-customer rate gives back gross_margin (a customer
        # without revenue has no margin either).
        rate = np.divide(margin, revenue, out=np.zeros_like(margin), where=revenue != 0)
        table = um.targeting_table(data["predicted_uplift"], data["is_treated"], data["is_converted"], revenue,
                                   margin_rate=rate, contact_cost=cost[(campaign_id, arm)], shares=SHARES)
        table.insert(0, "arm", arm)
        table.insert(0, "campaign_id", campaign_id)
        table["contact_cost_per_customer"] = cost[(campaign_id, arm)]
        tables.append(table)
    result = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        {name: pd.Series(dtype="object") for name in COLUMNS}
    )
    return model_settings.typed(session, result[list(COLUMNS)], COLUMNS)
