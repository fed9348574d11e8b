-- From scored customers to the target list, one row per campaign.
with

campaigns as (
    select campaign_id, campaign_name, launch_date, segment_scheme, target_segment, target_category
    from {{ ref('campaigns') }}
),

rfm_features as (
    select campaign_id, customer_id, rfm_segment, lifecycle_segment
    from {{ ref('rfm_features') }}
),

campaign_targets as (
    select campaign_id, customer_id
    from {{ ref('campaign_targets') }}
),

scored as (
    select campaign_id, count(*) as scored_customers
    from rfm_features
    group by campaign_id
),

segment_members as (
    select rfm_features.campaign_id, count(*) as segment_customers
    from rfm_features
    inner join campaigns
        on rfm_features.campaign_id = campaigns.campaign_id
        and (
            campaigns.target_segment is null
            or campaigns.target_segment = case campaigns.segment_scheme
                when 'lifecycle' then rfm_features.lifecycle_segment
                else rfm_features.rfm_segment
            end
        )
    group by rfm_features.campaign_id
),

targeted as (
    select campaign_id, count(*) as target_customers
    from campaign_targets
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
        coalesce(segment_members.segment_customers, 0) as segment_customers,
        coalesce(segment_members.segment_customers, 0) - coalesce(targeted.target_customers, 0)
            as already_bought_category,
        coalesce(targeted.target_customers, 0) as target_customers
    from campaigns
    left join scored
        on campaigns.campaign_id = scored.campaign_id
    left join segment_members
        on campaigns.campaign_id = segment_members.campaign_id
    left join targeted
        on campaigns.campaign_id = targeted.campaign_id
)

select * from funnel
