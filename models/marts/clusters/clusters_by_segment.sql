-- Clusters against the rule-based segments of the same customers: how far the data-driven grouping agrees
-- with Gold/Silver/Bronze and VIP/Regular/At-risk.
with

customer_clusters as (
    select campaign_id, customer_id, cluster_id, cluster_name, rfm_segment, lifecycle_segment
    from {{ ref('customer_clusters') }}
),

by_scheme as (
    select campaign_id, cluster_id, cluster_name, 'rfm_tier' as segment_scheme, rfm_segment as segment
    from customer_clusters
    union all
    select campaign_id, cluster_id, cluster_name, 'lifecycle' as segment_scheme, lifecycle_segment as segment
    from customer_clusters
),

counted as (
    select
        campaign_id,
        cluster_id,
        cluster_name,
        segment_scheme,
        segment,
        count(*) as customers
    from by_scheme
    group by campaign_id, cluster_id, cluster_name, segment_scheme, segment
)

select
    campaign_id,
    cluster_id,
    cluster_name,
    segment_scheme,
    segment,
    customers,
    cast(customers as double)
        / sum(customers) over (partition by campaign_id, segment_scheme, cluster_name) as share_of_cluster,
    cast(customers as double)
        / sum(customers) over (partition by campaign_id, segment_scheme, segment) as share_of_segment
from counted
