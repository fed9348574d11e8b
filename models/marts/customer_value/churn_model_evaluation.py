"""Predictors of "no purchase in the holdout window" side by side, all fitted only on data before the cutoff:
1 - P(alive) (the classic BG/NBD churn score), the BG/NBD probability of no purchase in the window itself,
and a cross-fitted logistic regression on recency, frequency and monetary (the classic notebook approach).
AUC for each, and a calibration table by decile of the predicted value.

BG/NBD lets a customer drop out only right after a purchase, so P(alive) is 1 for everyone with a single
purchase day, the likeliest not to come back: 1 - P(alive) ranks them as the safest. The table shows what
that costs against the other two.
"""

import pandas as pd

import customer_value as cv
import model_settings

COLUMNS = {
    "predictor": "varchar", "holdout_start": "date", "holdout_end": "date", "decile": "bigint",
    "customers": "bigint", "mean_predicted": "double", "min_predicted": "double", "max_predicted": "double",
    "observed_rate": "double", "auc": "double", "observed_base_rate": "double",
}


def model(dbt, session):
    dbt.config(materialized="table")
    # Only the columns used here are fetched (the scored table has sixteen).
    scored = dbt.ref("int_customer_value_holdout_scored").project(
        "customer_id, holdout_start, holdout_end, no_purchase_in_holdout, p_alive, p_no_purchase_in_holdout, "
        "logistic_no_purchase_probability"
    ).df().sort_values("customer_id")
    label = scored["no_purchase_in_holdout"].to_numpy()
    customer_ids = scored["customer_id"].to_numpy()
    predictors = {
        "bg_nbd_one_minus_p_alive": 1.0 - scored["p_alive"].to_numpy(),
        "bg_nbd_p_no_purchase": scored["p_no_purchase_in_holdout"].to_numpy(),
        "logistic_rfm": scored["logistic_no_purchase_probability"].to_numpy(),
    }
    tables = []
    for name, probability in predictors.items():
        table = cv.calibration_by_decile(probability, label, key=customer_ids)
        table["predictor"] = name
        table["auc"] = cv.auc(probability, label)
        table["observed_base_rate"] = float(label.mean())
        tables.append(table)
    result = pd.concat(tables, ignore_index=True)
    result["holdout_start"] = scored["holdout_start"].iloc[0]
    result["holdout_end"] = scored["holdout_end"].iloc[0]
    return model_settings.typed(session, result, COLUMNS)
