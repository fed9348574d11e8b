"""One row per campaign and scored customer: the K-means cluster of their pre-launch RFM, with its name and
recommended action, or the outlier group they were set aside in.

The k and the options come from cluster_selection; the fit is the same deterministic one (fixed seed, one
thread, customers sorted by id), so a rebuild or a reordered input gives the same clusters.
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


def model(dbt, session):
    dbt.config(materialized="table")
    selection = dbt.ref("cluster_selection").df()
    rfm = (
        dbt.ref("rfm_features")
        .project(
            "campaign_id, launch_date, customer_id, recency_days, frequency, monetary, "
            "rfm_score, rfm_segment, lifecycle_segment"
        )
        .df()
    )

    chosen = selection[selection["is_chosen"]]
    clustered = []
    for launch_date, rows in sorted(rfm.groupby("launch_date"), key=lambda item: item[0]):
        # Campaigns launched on the same day see the same pre-launch RFM: cluster each customer once.
        customers = rows.sort_values(["customer_id", "campaign_id"]).drop_duplicates("customer_id")
        settings = chosen[chosen["launch_date"] == launch_date].iloc[0]
        options = model_settings.cluster_options(
            transform=settings["transform"],
            outliers=settings["outliers"],
            k=settings["k_setting"],
            k_min=2,
            k_max=max(2, int(settings["k"])),
            seed=settings["seed"],
            n_init=settings["n_init"],
            silhouette_sample_size=settings["silhouette_sample_size"],
        )
        features = customers[FEATURES].astype({"monetary": "float64"})
        assignments = rfm_clusters.fit_clusters(features, options, k=int(settings["k"]))
        assignments.insert(0, "launch_date", launch_date)
        clustered.append(assignments)
    columns = ["launch_date", "customer_id", "cluster_id", "cluster_name", "cluster_action", "outlier_group",
               "distance_to_centroid"]
    assignments = pd.concat(clustered, ignore_index=True) if clustered else pd.DataFrame(columns=columns)

    result = rfm.merge(assignments[columns], on=["launch_date", "customer_id"], how="inner", validate="many_to_one")
    result["cluster_id"] = result["cluster_id"].astype("Int64")
    return model_settings.typed(session, result.sort_values(["campaign_id", "customer_id"]), COLUMNS)
