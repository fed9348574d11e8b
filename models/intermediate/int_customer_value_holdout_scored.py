"""One row per customer first seen before the holdout cutoff: what the model fitted on the calibration period
(customer_value_fit, scope `holdout_calibration`) predicted for the holdout window, what happened, and the
RFM features the classic logistic churn model uses, with its out-of-fold prediction.
"""

import numpy as np
import pandas as pd

import model_settings

import customer_value as cv

COLUMNS = {
    "customer_id": "bigint", "holdout_start": "date", "holdout_end": "date", "holdout_days": "double",
    "repeat_purchase_days": "bigint", "days_first_to_last_purchase": "double", "days_since_first_purchase": "double",
    "days_since_last_purchase": "double", "calibration_revenue": "double", "p_alive": "double",
    "p_no_purchase_in_holdout": "double", "predicted_holdout_purchases": "double", "holdout_purchases": "bigint",
    "holdout_revenue": "double", "no_purchase_in_holdout": "boolean", "logistic_no_purchase_probability": "double",
}


def model(dbt, session):
    dbt.config(materialized="table")
    fit = dbt.ref("customer_value_fit").df()
    fit = fit[(fit["fit_scope"] == "holdout_calibration") & (fit["model"] == "bg_nbd")]
    estimates = dict(zip(fit["parameter"], fit["estimate"]))
    bg = (estimates["r"], estimates["alpha"], estimates["a"], estimates["b"])
    cutoff = pd.Timestamp(fit["reference_date"].iloc[0]).date()

    # Sorted by customer, so that the cross-fitted churn model does not depend on the order DuckDB's threads
    # returned rows in. The rows stay in this order: the table is written sorted by customer.
    summaries = dbt.ref("int_customer_value_summaries").filter("fit_scope = 'holdout_calibration'")
    holdout_end = summaries.aggregate("max(holdout_end)").fetchall()[0][0]
    summary = model_settings.arrays(
        summaries.project("customer_id, x, t_x, T, recency_days, total_value, holdout_purchases, holdout_value, "
                          "holdout_length")
        .order("customer_id")
    )
    x, t_x, T = summary["x"], summary["t_x"], summary["T"]

    no_purchase = summary["holdout_purchases"] == 0
    features = pd.DataFrame({
        "customer_id": summary["customer_id"],
        "recency": summary["recency_days"],
        "frequency": x + 1,
        "monetary": summary["total_value"],
    })
    # Columns of numpy arrays, no DataFrame (see model_settings.typed).
    scored = {
        "customer_id": summary["customer_id"],
        # Timestamps, not Python dates: DuckDB reads a datetime64 column at once but a column of date objects
        # one object at a time; model_settings.typed casts them back to dates.
        "holdout_start": np.datetime64(cutoff, "us"),
        "holdout_end": np.datetime64(holdout_end, "us"),
        "holdout_days": summary["holdout_length"],
        "repeat_purchase_days": x,
        "days_first_to_last_purchase": t_x,
        "days_since_first_purchase": T,
        "days_since_last_purchase": summary["recency_days"],
        "calibration_revenue": summary["total_value"],
        "p_alive": cv.p_alive(bg, x, t_x, T),
        "p_no_purchase_in_holdout": cv.probability_no_purchase(bg, summary["holdout_length"], x, t_x, T),
        "predicted_holdout_purchases": cv.expected_purchases(bg, summary["holdout_length"], x, t_x, T),
        "holdout_purchases": summary["holdout_purchases"],
        "holdout_revenue": summary["holdout_value"],
        "no_purchase_in_holdout": no_purchase,
        "logistic_no_purchase_probability": cv.cross_fitted_logistic_churn(features, no_purchase),
    }
    return model_settings.typed(session, scored, COLUMNS)
