"""Targeting table of the imported campaigns, per campaign, treatment arm, binary outcome, amount outcome and share
of customers targeted (0.1, 0.2, ..., 1.0), as uplift_targeting for the built-in campaigns.

`uplift_model.targeting_table` on the cross-fitted scores of imported_uplift_scores (ranked by the predicted
uplift of `outcome`): the top share of the comparison's customers (arm + control), its incremental successes of
`outcome` and, as the revenue side, its incremental `amount_outcome` (each amount outcome of the campaign in
turn; one set of rows with a null amount_outcome and null amount columns when the campaign has none), next to
random targeting of as many customers. The amount is taken as the value (margin rate 1), as
uplift_imported_amount does: imported files carry no margin.

Contact cost: the arm's `contact_cost` from the mapping, times the customers of the group. When the mapping says
null (unknown, e.g. the Hillstrom file, whose cost per e-mail was never published), the cost and net columns are
null: no cost is invented. Skipped comparisons have no rows.
"""

import numpy as np
import pandas as pd

import model_settings
import uplift_model as um

SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

COLUMNS = {
    "campaign_id": "varchar", "arm": "varchar", "outcome": "varchar", "amount_outcome": "varchar",
    "share": "double", "customers": "bigint", "share_targeted": "double", "treated": "bigint", "control": "bigint",
    "treated_rate": "double", "control_rate": "double", "incremental_successes": "double",
    "incremental_amount": "double", "contact_cost_per_customer": "double", "contact_cost": "double",
    "net_amount": "double", "random_incremental_successes": "double", "random_incremental_amount": "double",
    "random_contact_cost": "double", "random_net_amount": "double",
}
RENAMED = {
    "treated_conversion_rate": "treated_rate", "control_conversion_rate": "control_rate",
    "incremental_conversions": "incremental_successes", "incremental_revenue": "incremental_amount",
    "net_margin": "net_amount", "random_incremental_conversions": "random_incremental_successes",
    "random_incremental_revenue": "random_incremental_amount", "random_net_margin": "random_net_amount",
}
AMOUNT_COLUMNS = ("incremental_amount", "net_amount", "random_incremental_amount", "random_net_amount")
COST_COLUMNS = ("contact_cost_per_customer", "contact_cost", "net_amount", "random_contact_cost",
                "random_net_amount")


def model(dbt, session):
    dbt.config(materialized="table")
    values = dbt.ref("int_imported_customer_outcomes").project(
        "campaign_id, customer_id, outcome, outcome_kind, value").df()
    arms = dbt.ref("stg_campaign_results__arms").project("campaign_id, arm, contact_cost").df()
    scores = dbt.ref("imported_uplift_scores").project(
        "campaign_id, arm, outcome, customer_id, is_treated, predicted_uplift").df()

    tables = []
    for (campaign_id, arm, outcome), scored in sorted(scores.groupby(["campaign_id", "arm", "outcome"]),
                                                      key=lambda item: item[0]):
        campaign = values[values["campaign_id"] == campaign_id]
        cost = arms[(arms["campaign_id"] == campaign_id) & (arms["arm"] == arm)]["contact_cost"].iloc[0]
        known_cost = not pd.isna(cost)
        data = scored.merge(
            campaign[campaign["outcome"] == outcome][["customer_id", "value"]], on="customer_id", how="inner",
            validate="one_to_one").sort_values("customer_id", kind="mergesort").reset_index(drop=True)
        amount_outcomes = sorted(campaign.loc[campaign["outcome_kind"] == "amount", "outcome"].unique())
        for amount_outcome in amount_outcomes or [None]:
            if amount_outcome is None:
                amount = np.zeros(len(data))
            else:
                amounts = campaign[campaign["outcome"] == amount_outcome][["customer_id", "value"]]
                amount = data[["customer_id"]].merge(amounts, on="customer_id", how="left",
                                                     validate="one_to_one")["value"].to_numpy(dtype="float64")
            table = um.targeting_table(data["predicted_uplift"], data["is_treated"], data["value"], amount,
                                       margin_rate=1.0, contact_cost=float(cost) if known_cost else 0.0,
                                       shares=SHARES)
            table = table.rename(columns=RENAMED)
            table.insert(0, "amount_outcome", amount_outcome)
            table.insert(0, "outcome", outcome)
            table.insert(0, "arm", arm)
            table.insert(0, "campaign_id", campaign_id)
            table["contact_cost_per_customer"] = float(cost) if known_cost else np.nan
            if amount_outcome is None:
                table.loc[:, list(AMOUNT_COLUMNS)] = np.nan
            if not known_cost:
                table.loc[:, list(COST_COLUMNS)] = np.nan
            tables.append(table)
    result = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        {name: pd.Series(dtype="object") for name in COLUMNS}
    )
    return model_settings.typed(session, result[list(COLUMNS)], COLUMNS)
