-- One row per campaign and cluster (or outlier group): its size, typical R/F/M and share of revenue, so a
-- user can read what each cluster is before acting on its recommended action.
with

customer_clusters as (
    select
        campaign_id,
        launch_date,
        customer_id,
        cluster_id,
        cluster_name,
        cluster_action,
        outlier_group,
        recency_days,
        frequency,
        monetary
    from {{ ref('customer_clusters') }}
),

totals as (
    select
        campaign_id,
        count(*) as all_customers,
        sum(monetary) as all_revenue
    from customer_clusters
    group by campaign_id
),

profiles as (
    select
        campaign_id,
        launch_date,
        cluster_id,
        cluster_name,
        cluster_action,
        outlier_group,
        count(*) as customers,
        cast(sum(recency_days) as double) / count(*) as mean_recency_days,
        {{ median('cast(recency_days as double)') }} as median_recency_days,
        cast(sum(frequency) as double) / count(*) as mean_frequency,
        {{ median('cast(frequency as double)') }} as median_frequency,
        -- From the exact decimal sum: a sum of doubles would depend on the order threads add them in.
        cast(sum(monetary) as double) / count(*) as mean_monetary,
        {{ median('cast(monetary as double)') }} as median_monetary,
        sum(monetary) as revenue
    from customer_clusters
    group by campaign_id, launch_date, cluster_id, cluster_name, cluster_action, outlier_group
)

select
    profiles.campaign_id,
    profiles.launch_date,
    profiles.cluster_id,
    profiles.cluster_name,
    profiles.cluster_action,
    profiles.outlier_group is not null as is_outlier_group,
    profiles.customers,
    cast(profiles.customers as double) / totals.all_customers as customer_share,
    profiles.mean_recency_days,
    profiles.median_recency_days,
    profiles.mean_frequency,
    profiles.median_frequency,
    profiles.mean_monetary,
    profiles.median_monetary,
    cast(profiles.revenue as decimal(18, 2)) as revenue,
    cast(profiles.revenue as double) / nullif(cast(totals.all_revenue as double), 0) as revenue_share
from profiles
inner join totals
    on profiles.campaign_id = totals.campaign_id
