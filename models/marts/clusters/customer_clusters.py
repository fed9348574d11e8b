"""One row per campaign and scored customer: the K-means cluster of their pre-launch RFM, with its name and
recommended action, or the outlier group they were set aside in.

The k and the options come from cluster_selection; the fit is the same deterministic one (fixed seed, one
thread, customers sorted by id), so a rebuild or a reordered input gives the same clusters. Beyond
`k_search_sample_size` clustered customers, the chosen k is fitted on the k search's sample (n_init starts)
and then once on all customers from the sample's centroids (rfm_clusters.fit_clusters).

Only the four RFM columns go through pandas (fetched as numpy arrays, cheaper than DuckDB's DataFrame
conversion), once per launch date; the assignments are joined back to rfm_features in DuckDB, so money stays
decimal and the campaign rows are never copied through Python. Like the SQL marts, the table is stored in no
particular order (query it with an `order by`): sorting millions of wide rows only to store them in order
cost as much as the join and the write together.
"""

import pandas as pd

import model_settings
import rfm_clusters

FEATURES = ["customer_id", "recency_days", "frequency", "monetary"]
COLUMNS = {
    "campaign_id": "varchar", "launch_date": "date", "customer_id": "bigint", "cluster_id": "bigint",
    "cluster_name": "varchar", "cluster_action": "varchar", "outlier_group": "varchar",
    "distance_to_centroid": "double", "recency_days": "integer", "frequency": "bigint",
    # Money stays decimal so that sums over it are exact, whatever the thread count.
    "monetary": "decimal(18,2)", "rfm_score": "integer", "rfm_segment": "varchar", "lifecycle_segment": "varchar",
}
FROM_ASSIGNMENTS = ("cluster_id", "cluster_name", "cluster_action", "outlier_group", "distance_to_centroid")

# One row per launch date and customer: campaigns launched on the same day share the pre-launch RFM, so each
# customer is clustered once. rfm_features repeats exactly these rows of int_customer_rfm_at_launch_dates for
# every campaign; reading them here saves picking one campaign's row out of the repeats.
CUSTOMERS_PER_LAUNCH_DATE = """
    select launch_date, customer_id, recency_days, frequency, cast(monetary as double) as monetary
    from rfm
    order by launch_date, customer_id
"""

def _size(value):
    """A sample size read back from cluster_selection: null (all customers) arrives as NaN."""
    return None if pd.isna(value) else int(value)


def model(dbt, session):
    dbt.config(materialized="table")
    selection = dbt.ref("cluster_selection").df()
    rfm = dbt.ref("rfm_features")
    customer_rfm = dbt.ref("int_customer_rfm_at_launch_dates")
    customers_per_date = pd.DataFrame(customer_rfm.query("rfm", CUSTOMERS_PER_LAUNCH_DATE).fetchnumpy())

    chosen = selection[selection["is_chosen"]]
    clustered = []
    for launch_date, customers in sorted(customers_per_date.groupby("launch_date"), key=lambda item: item[0]):
        settings = chosen[chosen["launch_date"] == launch_date].iloc[0]
        options = model_settings.cluster_options(
            transform=settings["transform"],
            outliers=settings["outliers"],
            k=settings["k_setting"],
            k_min=2,
            k_max=max(2, int(settings["k"])),
            seed=settings["seed"],
            n_init=settings["n_init"],
            silhouette_sample_size=_size(settings["silhouette_sample_size"]),
            k_search_sample_size=_size(settings["k_search_sample_size"]),
        )
        assignments = rfm_clusters.fit_clusters(customers[FEATURES], options, k=int(settings["k"]))
        assignments.insert(0, "launch_date", launch_date)
        clustered.append(assignments)
    types = {"launch_date": "datetime64[us]", "customer_id": "int64", "cluster_id": "Int64", "cluster_name": object,
             "cluster_action": object, "outlier_group": object, "distance_to_centroid": "float64"}
    if clustered:
        assignments = pd.concat(clustered, ignore_index=True)[list(types)]
    else:
        assignments = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in types.items()})

    joined = rfm.set_alias("r").join(
        session.from_df(assignments).set_alias("a"),
        "r.launch_date = cast(a.launch_date as date) and r.customer_id = a.customer_id",
    )
    source = {name: f'a."{name}"' if name in FROM_ASSIGNMENTS else f'r."{name}"' for name in COLUMNS}
    typed = ", ".join(f'cast({source[name]} as {sql_type}) as "{name}"' for name, sql_type in COLUMNS.items())
    return joined.project(typed)
