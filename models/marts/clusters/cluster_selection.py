"""K-means model selection on RFM: inertia and silhouette for every k tried, the chosen k, and the options.

Customers are clustered once per launch date (every campaign with that date has the same pre-launch RFM),
and the rows are repeated for each campaign. customer_clusters reads the chosen k and the options from here,
so the two can never disagree. With more clustered customers than `cluster_k_search_sample_size`, the k search
runs on that many of them, chosen by a hash of their id (rfm_clusters.k_search_sample): inertia and silhouette
are the sample's, and `k_search_customers` says how many customers the search used.
"""

import pandas as pd

import model_settings
import rfm_clusters

COLUMNS = {
    "campaign_id": "varchar", "launch_date": "date", "k": "bigint", "inertia": "double", "silhouette": "double",
    "is_chosen": "boolean", "clustered_customers": "bigint", "k_search_customers": "bigint",
    "transform": "varchar", "outliers": "varchar", "k_setting": "varchar", "seed": "bigint", "n_init": "bigint",
    "silhouette_sample_size": "bigint", "k_search_sample_size": "bigint",
}

# One row per launch date and customer: campaigns launched on the same day share the pre-launch RFM, so each
# customer is clustered once. rfm_features repeats exactly these rows of int_customer_rfm_at_launch_dates for
# every campaign; reading them here saves picking one campaign's row out of the repeats.
CUSTOMERS_PER_LAUNCH_DATE = """
    select launch_date, customer_id, recency_days, frequency, cast(monetary as double) as monetary
    from rfm
    order by launch_date, customer_id
"""


def model(dbt, session):
    dbt.config(materialized="table")
    options = model_settings.cluster_options(
        transform=dbt.config.meta_get("cluster_transform"),
        outliers=dbt.config.meta_get("cluster_outliers"),
        k=dbt.config.meta_get("cluster_k"),
        k_min=dbt.config.meta_get("cluster_k_min"),
        k_max=dbt.config.meta_get("cluster_k_max"),
        seed=dbt.config.meta_get("cluster_seed"),
        n_init=dbt.config.meta_get("cluster_n_init"),
        silhouette_sample_size=dbt.config.meta_get("cluster_silhouette_sample_size"),
        k_search_sample_size=dbt.config.meta_get("cluster_k_search_sample_size"),
    )
    rfm = dbt.ref("rfm_features")
    campaigns = rfm.project("campaign_id, launch_date").distinct().df()
    # As numpy arrays: DuckDB's DataFrame conversion of millions of rows costs more than the query.
    customer_rfm = dbt.ref("int_customer_rfm_at_launch_dates")
    customers_per_date = pd.DataFrame(customer_rfm.query("rfm", CUSTOMERS_PER_LAUNCH_DATE).fetchnumpy())

    selections = []
    for launch_date, customers in sorted(customers_per_date.groupby("launch_date"), key=lambda item: item[0]):
        features, prepared = rfm_clusters.prepare_features(
            customers[["customer_id", "recency_days", "frequency", "monetary"]], options
        )
        ids = prepared.loc[prepared["outlier_group"].isna(), "customer_id"]
        selection = rfm_clusters.select_k(features, options, customer_ids=ids)
        selection.insert(0, "launch_date", launch_date)
        selection["clustered_customers"] = len(features)
        selections.append(selection)
    selection = pd.concat(selections, ignore_index=True) if selections else pd.DataFrame(
        columns=["launch_date", "k", "inertia", "silhouette", "is_chosen", "k_search_customers",
                 "clustered_customers"]
    )

    result = campaigns.merge(selection, on="launch_date", how="inner")
    result["transform"] = options.transform
    result["outliers"] = options.outliers
    result["k_setting"] = str(options.k)
    result["seed"] = options.seed
    result["n_init"] = options.n_init
    result["silhouette_sample_size"] = options.silhouette_sample_size
    result["k_search_sample_size"] = options.k_search_sample_size
    return model_settings.typed(session, result.sort_values(["campaign_id", "k"]), COLUMNS)
