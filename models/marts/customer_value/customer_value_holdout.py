"""Predicted against actual purchase days in the holdout window, per calibration frequency group
(x = 0, 1, ..., 7+), with the mean absolute error: how far to trust the customer-value model on this data."""

import customer_value as cv
import model_settings

COLUMNS = {
    "holdout_start": "date", "holdout_end": "date", "frequency_group": "varchar", "frequency_group_order": "bigint",
    "customers": "bigint", "actual_mean": "double", "predicted_mean": "double", "actual_total": "double",
    "predicted_total": "double", "absolute_error": "double", "mean_absolute_error": "double",
}


def model(dbt, session):
    dbt.config(materialized="table")
    scored = dbt.ref("int_customer_value_holdout_scored").df().sort_values("customer_id", ignore_index=True)
    table = cv.holdout_table(scored.rename(columns={"repeat_purchase_days": "x"}))
    table["holdout_start"] = scored["holdout_start"].iloc[0]
    table["holdout_end"] = scored["holdout_end"].iloc[0]
    return model_settings.typed(session, table, COLUMNS)
