-- The customers of each campaign's target segment, with whether they bought its target category before
-- the launch: the one place the segment rule of `campaigns` is applied (targets and funnel both use it).
with

campaigns as (
    select campaign_id, launch_date, segment_scheme, target_segment, target_category
    from {{ ref('int_campaigns_for_source') }}
),

rfm_features as (
    select * from {{ ref('rfm_features') }}
),

category_buyers as (
    select distinct sales.campaign_id, sales.customer_id
    from {{ ref('int_sales_joined_to_campaign_launches') }} as sales
    inner join campaigns
        on sales.campaign_id = campaigns.campaign_id
        and sales.category = campaigns.target_category
),

segment_members as (
    select
        campaigns.campaign_id,
        campaigns.target_category,
        rfm_features.customer_id,
        rfm_features.launch_date,
        rfm_features.rfm_segment,
        rfm_features.lifecycle_segment,
        rfm_features.last_order_at,
        rfm_features.recency_days,
        rfm_features.frequency,
        rfm_features.monetary,
        rfm_features.recency_score,
        rfm_features.frequency_score,
        rfm_features.monetary_score,
        rfm_features.rfm_score,
        category_buyers.customer_id is not null as has_bought_target_category
    from campaigns
    inner join rfm_features
        on campaigns.campaign_id = rfm_features.campaign_id
        and (
            campaigns.target_segment is null
            or campaigns.target_segment = case campaigns.segment_scheme
                when 'lifecycle' then rfm_features.lifecycle_segment
                else rfm_features.rfm_segment
            end
        )
    left join category_buyers
        on rfm_features.campaign_id = category_buyers.campaign_id
        and rfm_features.customer_id = category_buyers.customer_id
)

select * from segment_members
