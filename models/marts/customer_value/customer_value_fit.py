"""Fitted BG/NBD and Gamma-Gamma parameters with standard errors and log-likelihoods.

Two fits: `reference` uses every purchase day strictly before the reference date and drives customer_value;
`holdout_calibration` stops `clv_holdout_days` earlier and drives the holdout check, so a user can see how
well the same model, fitted the same way, predicted days it had not seen.
"""

import datetime as dt

import pandas as pd

import customer_value as cv
import model_settings

COLUMNS = {
    "fit_scope": "varchar", "reference_date": "date", "model": "varchar", "parameter": "varchar",
    "estimate": "double", "std_error": "double", "estimate_weeks": "double", "log_likelihood": "double",
    "customers": "bigint", "converged": "boolean", "calibration_start": "date", "calibration_end": "date",
    "time_unit": "varchar",
}
SUMMARY_COLUMNS = "customer_id, first_purchase_date, x, t_x, T, monetary_value"


def fit_rows(summary: pd.DataFrame, scope: str, cutoff) -> list[dict]:
    bg = cv.fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
    gg = cv.fit_gamma_gamma(summary["x"], summary["monetary_value"])
    common = {
        "fit_scope": scope,
        "reference_date": cutoff,
        "calibration_start": summary["first_purchase_date"].min(),
        "calibration_end": cutoff - dt.timedelta(days=1),
        "time_unit": "day",
    }
    rows = []
    for name in ("r", "alpha", "a", "b"):
        estimate = getattr(bg, name)
        rows.append({
            **common, "model": "bg_nbd", "parameter": name, "estimate": estimate,
            "std_error": bg.std_errors[name],
            # Only alpha carries the time unit (lambda ~ Gamma(r, alpha) is a rate per day).
            "estimate_weeks": estimate / 7.0 if name == "alpha" else estimate,
            "log_likelihood": bg.log_likelihood, "customers": bg.n_customers, "converged": bg.converged,
        })
    for name in ("p", "q", "gamma"):
        estimate = getattr(gg, name)
        rows.append({
            **common, "model": "gamma_gamma", "parameter": name, "estimate": estimate,
            "std_error": gg.std_errors[name], "estimate_weeks": estimate,
            "log_likelihood": gg.log_likelihood, "customers": gg.n_customers, "converged": gg.converged,
        })
    return rows


def model(dbt, session):
    dbt.config(materialized="table")
    holdout_days = model_settings.holdout_days(dbt.config.meta_get("clv_holdout_days"))
    summaries = dbt.ref("int_customer_value_summaries")
    scope_cutoffs = dict(summaries.aggregate("fit_scope, max(cutoff_date)").fetchall())
    if "reference" not in scope_cutoffs:
        raise ValueError("customer_value_fit: there are no purchase days to fit (no sales in transactions)")
    reference_date = scope_cutoffs["reference"]
    cutoff = reference_date - dt.timedelta(days=holdout_days)
    # The summary is an upstream table: a build that selected only this model could pair it with another
    # holdout length, and fit one cutoff's data under another's dates.
    built_cutoff = scope_cutoffs.get("holdout_calibration")
    if built_cutoff is not None and built_cutoff != cutoff:
        raise ValueError(
            f"customer_value_fit: int_customer_value_summaries was built for a holdout cutoff of {built_cutoff}, "
            f"but clv_holdout_days={holdout_days} gives {cutoff}; build it with the same variables "
            "(dbt build --select int_customer_value_summaries+)"
        )

    def summary(scope):
        # Sorted by customer, so that the fits do not depend on the order DuckDB's threads returned rows in.
        return (summaries.filter(f"fit_scope = '{scope}'").project(SUMMARY_COLUMNS).order("customer_id").df())

    reference, holdout = summary("reference"), summary("holdout_calibration")

    rows = fit_rows(reference, "reference", reference_date) + fit_rows(holdout, "holdout_calibration", cutoff)
    return model_settings.typed(session, pd.DataFrame(rows), COLUMNS)
