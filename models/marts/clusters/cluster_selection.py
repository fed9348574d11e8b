"""K-means model selection on RFM: inertia and silhouette for every k tried, the chosen k, and the options.

Customers are clustered once per launch date (every campaign with that date has the same pre-launch RFM),
and the rows are repeated for each campaign. customer_clusters reads the chosen k and the options from here,
so the two can never disagree.
"""

import pandas as pd

import model_settings
import rfm_clusters

COLUMNS = {
    "campaign_id": "varchar", "launch_date": "date", "k": "bigint", "inertia": "double", "silhouette": "double",
    "is_chosen": "boolean", "clustered_customers": "bigint", "transform": "varchar", "outliers": "varchar",
    "k_setting": "varchar", "seed": "bigint", "n_init": "bigint", "silhouette_sample_size": "bigint",
}


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
    )
    rfm = (
        dbt.ref("rfm_features")
        .project("campaign_id, launch_date, customer_id, recency_days, frequency, cast(monetary as double) as monetary")
        .df()
    )

    selections = []
    for launch_date, rows in sorted(rfm.groupby("launch_date"), key=lambda item: item[0]):
        # Campaigns launched on the same day see the same pre-launch RFM: cluster each customer once.
        customers = rows.sort_values(["customer_id", "campaign_id"]).drop_duplicates("customer_id")
        features, _ = rfm_clusters.prepare_features(
            customers[["customer_id", "recency_days", "frequency", "monetary"]], options
        )
        selection = rfm_clusters.select_k(features, options)
        selection.insert(0, "launch_date", launch_date)
        selection["clustered_customers"] = len(features)
        selections.append(selection)
    selection = pd.concat(selections, ignore_index=True) if selections else pd.DataFrame(
        columns=["launch_date", "k", "inertia", "silhouette", "is_chosen", "clustered_customers"]
    )

    campaigns = rfm[["campaign_id", "launch_date"]].drop_duplicates()
    result = campaigns.merge(selection, on="launch_date", how="inner")
    result["transform"] = options.transform
    result["outliers"] = options.outliers
    result["k_setting"] = str(options.k)
    result["seed"] = options.seed
    result["n_init"] = options.n_init
    result["silhouette_sample_size"] = options.silhouette_sample_size
    return model_settings.typed(session, result.sort_values(["campaign_id", "k"]), COLUMNS)
