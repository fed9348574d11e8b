"""One row per customer with a purchase before the reference date: the BG/NBD and Gamma-Gamma view of
them — P(alive), churn-risk band, expected purchases, expected order value and CLV.

Parameters come from customer_value_fit (scope `reference`), so this model only scores.
"""

import math

import numpy as np
import pandas as pd

import customer_value as cv
import model_settings

COLUMNS = {
    "customer_id": "bigint", "reference_date": "date", "first_purchase_date": "date", "purchase_days": "bigint",
    "repeat_purchase_days": "bigint", "days_first_to_last_purchase": "double", "days_since_first_purchase": "double",
    "days_since_last_purchase": "double", "calibration_revenue": "double", "mean_repeat_purchase_value": "double",
    "p_alive": "double", "churn_risk": "varchar", "p_no_purchase_90d": "double", "expected_purchases_90d": "double",
    "expected_purchases_365d": "double", "expected_order_value": "double", "clv": "double",
    "clv_horizon_days": "bigint", "margin_rate": "double", "annual_discount_rate": "double",
}


def model(dbt, session):
    dbt.config(materialized="table")
    horizon_days = model_settings.number("clv_horizon_days", dbt.config.meta_get("clv_horizon_days"), integer=True)
    margin_setting = model_settings.rate("clv_margin_rate", dbt.config.meta_get("clv_margin_rate"), optional=True)
    discount = model_settings.number("clv_annual_discount_rate", dbt.config.meta_get("clv_annual_discount_rate"))
    high_below = model_settings.rate("churn_high_risk_below", dbt.config.meta_get("churn_high_risk_below"))
    low_from = model_settings.rate("churn_low_risk_from", dbt.config.meta_get("churn_low_risk_from"))

    fit = dbt.ref("customer_value_fit").df()
    fit = fit[fit["fit_scope"] == "reference"]
    estimates = dict(zip(fit["model"] + "." + fit["parameter"], fit["estimate"]))
    bg = (estimates["bg_nbd.r"], estimates["bg_nbd.alpha"], estimates["bg_nbd.a"], estimates["bg_nbd.b"])
    gg = (estimates["gamma_gamma.p"], estimates["gamma_gamma.q"], estimates["gamma_gamma.gamma"])

    # Sorted by customer, and money summed with fsum, so that nothing depends on the order DuckDB's threads
    # returned rows in. The rows stay in this order: the table is written sorted by customer.
    summary = model_settings.arrays(
        dbt.ref("int_customer_value_summaries").filter("fit_scope = 'reference'")
        .project("customer_id, first_purchase_date, x, t_x, T, monetary_value, total_value, total_margin, "
                 "recency_days")
        .order("customer_id")
    )
    reference_date = pd.Timestamp(fit["reference_date"].iloc[0]).date()
    # Without a margin-rate setting, the margin actually earned on the calibration period's sales.
    margin_rate = (
        margin_setting if margin_setting is not None
        else math.fsum(summary["total_margin"]) / math.fsum(summary["total_value"])
    )

    x, t_x, T = summary["x"], summary["t_x"], summary["T"]
    mean_value = summary["monetary_value"]
    p_alive = cv.p_alive(bg, x, t_x, T)

    # Columns of numpy arrays, no DataFrame (see model_settings.typed).
    result = {
        "customer_id": summary["customer_id"],
        # A timestamp, not a Python date: DuckDB reads a datetime64 column at once but a column of date objects
        # one object at a time; model_settings.typed casts it back to a date.
        "reference_date": np.datetime64(reference_date, "us"),
        "first_purchase_date": summary["first_purchase_date"],
        "purchase_days": x + 1,
        "repeat_purchase_days": x,
        "days_first_to_last_purchase": t_x,
        "days_since_first_purchase": T,
        "days_since_last_purchase": summary["recency_days"],
        "calibration_revenue": summary["total_value"],
        "mean_repeat_purchase_value": np.where(x > 0, mean_value, np.nan),
        "p_alive": p_alive,
        "churn_risk": cv.churn_band(p_alive, high_below=high_below, low_from=low_from),
        "p_no_purchase_90d": cv.probability_no_purchase(bg, 90.0, x, t_x, T),
        "expected_purchases_90d": cv.expected_purchases(bg, 90.0, x, t_x, T),
        "expected_purchases_365d": cv.expected_purchases(bg, 365.0, x, t_x, T),
        "expected_order_value": cv.expected_order_value(gg, x, mean_value),
        "clv": cv.customer_lifetime_value(
            bg, gg, x, t_x, T, mean_value, horizon_days=horizon_days, margin_rate=margin_rate,
            annual_discount_rate=discount,
        ),
        "clv_horizon_days": horizon_days,
        "margin_rate": margin_rate,
        "annual_discount_rate": discount,
    }
    return model_settings.typed(session, result, COLUMNS)
