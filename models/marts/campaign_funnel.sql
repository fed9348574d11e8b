-- From scored customers to the target list, one row per campaign.
with

campaigns as (
    select campaign_id, campaign_name, launch_date, segment_scheme, target_segment, target_category
    from {{ ref('int_campaigns_for_source') }}
),

rfm_features as (
    select campaign_id, customer_id
    from {{ ref('rfm_features') }}
),

segment_members as (
    select campaign_id, customer_id, has_bought_target_category
    from {{ ref('int_campaign_segment_members') }}
),

scored as (
    select campaign_id, count(*) as scored_customers
    from rfm_features
    group by campaign_id
),

segment_counts as (
    select
        campaign_id,
        count(*) as segment_customers,
        sum(case when has_bought_target_category then 1 else 0 end) as already_bought_category,
        sum(case when has_bought_target_category then 0 else 1 end) as target_customers
    from segment_members
    group by campaign_id
),

funnel as (
    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.launch_date,
        campaigns.segment_scheme,
        campaigns.target_segment,
        campaigns.target_category,
        coalesce(scored.scored_customers, 0) as scored_customers,
        cast(coalesce(segment_counts.segment_customers, 0) as bigint) as segment_customers,
        cast(coalesce(segment_counts.already_bought_category, 0) as bigint) as already_bought_category,
        cast(coalesce(segment_counts.target_customers, 0) as bigint) as target_customers
    from campaigns
    left join scored
        on campaigns.campaign_id = scored.campaign_id
    left join segment_counts
        on campaigns.campaign_id = segment_counts.campaign_id
)

select * from funnel
