-- The customers a campaign contacts: its target segment, minus those who already bought its category.
with

segment_members as (
    select * from {{ ref('int_campaign_segment_members') }}
),

targets as (
    select
        campaign_id,
        customer_id,
        launch_date,
        target_category,
        rfm_segment,
        lifecycle_segment,
        last_order_at,
        recency_days,
        frequency,
        monetary,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_score
    from segment_members
    where not has_bought_target_category
)

select * from targets
