{%- set buckets = var('rfm_score_buckets') -%}

with

sales as (
    select campaign_id, launch_date, customer_id, order_id, ordered_at, sale_price
    from {{ ref('int_sales_joined_to_campaign_launches') }}
),

segment_maps as (
    select segment_scheme, priority, segment, min_rfm_score, max_rfm_score, min_recency_score, max_recency_score
    from {{ ref('segment_maps') }}
    where score_buckets = {{ buckets }}
),

customer_rfm as (
    select
        campaign_id,
        launch_date,
        customer_id,
        max(ordered_at) as last_order_at,
        count(distinct order_id) as frequency,
        sum(sale_price) as monetary
    from sales
    group by campaign_id, launch_date, customer_id
),

with_recency as (
    select
        campaign_id,
        launch_date,
        customer_id,
        last_order_at,
        {{ dbt.datediff('cast(last_order_at as date)', 'launch_date', 'day') }} as recency_days,
        frequency,
        monetary
    from customer_rfm
),

-- Ranked so that better is later: many days since the last sale is worse, more orders and money better.
ranked as (
    select
        with_recency.*,
        rank() over (partition by campaign_id order by recency_days desc) as recency_rank,
        rank() over (partition by campaign_id order by frequency) as frequency_rank,
        rank() over (partition by campaign_id order by monetary) as monetary_rank,
        count(*) over (partition by campaign_id) as scored_customers
    from with_recency
),

scored as (
    select
        campaign_id,
        launch_date,
        customer_id,
        last_order_at,
        recency_days,
        frequency,
        monetary,
        {{ quantile_score('recency_rank', 'scored_customers', buckets) }} as recency_score,
        {{ quantile_score('frequency_rank', 'scored_customers', buckets) }} as frequency_score,
        {{ quantile_score('monetary_rank', 'scored_customers', buckets) }} as monetary_score
    from ranked
),

totalled as (
    select
        scored.*,
        recency_score + frequency_score + monetary_score as rfm_score
    from scored
),

segment_matches as (
    select
        totalled.campaign_id,
        totalled.customer_id,
        segment_maps.segment_scheme,
        segment_maps.segment,
        row_number() over (
            partition by totalled.campaign_id, totalled.customer_id, segment_maps.segment_scheme
            order by segment_maps.priority
        ) as match_order
    from totalled
    inner join segment_maps
        on totalled.rfm_score between segment_maps.min_rfm_score and segment_maps.max_rfm_score
        and totalled.recency_score between segment_maps.min_recency_score and segment_maps.max_recency_score
),

segmented as (
    select
        totalled.campaign_id,
        totalled.launch_date,
        totalled.customer_id,
        totalled.last_order_at,
        totalled.recency_days,
        totalled.frequency,
        cast(totalled.monetary as decimal(18, 2)) as monetary,
        totalled.recency_score,
        totalled.frequency_score,
        totalled.monetary_score,
        totalled.rfm_score,
        {{ buckets }} as score_buckets,
        rfm_tier.segment as rfm_segment,
        lifecycle.segment as lifecycle_segment
    from totalled
    left join segment_matches as rfm_tier
        on totalled.campaign_id = rfm_tier.campaign_id
        and totalled.customer_id = rfm_tier.customer_id
        and rfm_tier.segment_scheme = 'rfm_tier'
        and rfm_tier.match_order = 1
    left join segment_matches as lifecycle
        on totalled.campaign_id = lifecycle.campaign_id
        and totalled.customer_id = lifecycle.customer_id
        and lifecycle.segment_scheme = 'lifecycle'
        and lifecycle.match_order = 1
)

select * from segmented
