-- The customers a campaign contacts: its target segment, minus those who already bought its category.
with

campaigns as (
    select campaign_id, launch_date, segment_scheme, target_segment, target_category
    from {{ ref('campaigns') }}
),

rfm_features as (
    select
        campaign_id,
        customer_id,
        last_order_at,
        recency_days,
        frequency,
        monetary,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_score,
        rfm_segment,
        lifecycle_segment
    from {{ ref('rfm_features') }}
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
        campaigns.launch_date,
        campaigns.target_category,
        rfm_features.*
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
),

targets as (
    select
        segment_members.campaign_id,
        segment_members.customer_id,
        segment_members.launch_date,
        segment_members.target_category,
        segment_members.rfm_segment,
        segment_members.lifecycle_segment,
        segment_members.last_order_at,
        segment_members.recency_days,
        segment_members.frequency,
        segment_members.monetary,
        segment_members.recency_score,
        segment_members.frequency_score,
        segment_members.monetary_score,
        segment_members.rfm_score
    from segment_members
    left join category_buyers
        on segment_members.campaign_id = category_buyers.campaign_id
        and segment_members.customer_id = category_buyers.customer_id
    where category_buyers.customer_id is null
)

select * from targets
