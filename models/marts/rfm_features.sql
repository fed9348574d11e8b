-- One row per campaign and scored customer. The RFM, scores and segments are computed once per launch date
-- (int_customer_rfm_at_launch_dates); campaigns launched the same day share them.
with

campaigns as (
    select campaign_id, launch_date
    from {{ ref('int_campaigns_for_source') }}
),

customer_rfm as (
    select
        launch_date,
        customer_id,
        last_order_at,
        recency_days,
        frequency,
        monetary,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_score,
        score_buckets,
        rfm_segment,
        lifecycle_segment
    from {{ ref('int_customer_rfm_at_launch_dates') }}
),

campaign_rfm as (
    select
        campaigns.campaign_id,
        customer_rfm.launch_date,
        customer_rfm.customer_id,
        customer_rfm.last_order_at,
        customer_rfm.recency_days,
        customer_rfm.frequency,
        customer_rfm.monetary,
        customer_rfm.recency_score,
        customer_rfm.frequency_score,
        customer_rfm.monetary_score,
        customer_rfm.rfm_score,
        customer_rfm.score_buckets,
        customer_rfm.rfm_segment,
        customer_rfm.lifecycle_segment
    from campaigns
    inner join customer_rfm
        on campaigns.launch_date = customer_rfm.launch_date
)

select * from campaign_rfm
