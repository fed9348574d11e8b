{%- set buckets = var('rfm_score_buckets') -%}
-- RFM, scores and segments of every customer with a sale before a launch date, once per launch date: every
-- campaign launched that day has the same scores (rfm_features repeats these rows for each campaign).

with

sales as (
    select launch_date, customer_id, order_id, ordered_at, sale_price
    from {{ ref('int_order_categories_before_launch_dates') }}
),

segment_maps as (
    select segment_scheme, priority, segment, min_rfm_score, max_rfm_score, min_recency_score, max_recency_score
    from {{ ref('segment_maps') }}
    where score_buckets = {{ buckets }}
),

-- An order with lines in several categories is several rows in `sales`: orders first, then customers (two
-- plain group-bys cost less than a distinct count of orders next to the other aggregates).
customer_orders as (
    select
        launch_date,
        customer_id,
        order_id,
        max(ordered_at) as ordered_at,
        sum(sale_price) as sale_price
    from sales
    group by launch_date, customer_id, order_id
),

customer_rfm as (
    select
        launch_date,
        customer_id,
        max(ordered_at) as last_order_at,
        count(*) as frequency,
        sum(sale_price) as monetary
    from customer_orders
    group by launch_date, customer_id
),

with_recency as (
    select
        launch_date,
        customer_id,
        last_order_at,
        cast({{ dbt.datediff('cast(last_order_at as date)', 'launch_date', 'day') }} as bigint) as recency_days,
        frequency,
        monetary
    from customer_rfm
),

-- Ranked so that better is later: many days since the last sale is worse, more orders and money better.
ranked as (
    select
        with_recency.*,
        rank() over (partition by launch_date order by recency_days desc) as recency_rank,
        rank() over (partition by launch_date order by frequency) as frequency_rank,
        rank() over (partition by launch_date order by monetary) as monetary_rank,
        count(*) over (partition by launch_date) as scored_customers
    from with_recency
),

scored as (
    select
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

-- A segment depends only on the RFM total and the recency score: match the few combinations that occur
-- against the maps, then look each customer up, instead of matching every customer against every rule.
score_combinations as (
    select distinct rfm_score, recency_score
    from totalled
),

segment_matches as (
    select
        score_combinations.rfm_score,
        score_combinations.recency_score,
        segment_maps.segment_scheme,
        segment_maps.segment,
        row_number() over (
            partition by score_combinations.rfm_score, score_combinations.recency_score, segment_maps.segment_scheme
            order by segment_maps.priority
        ) as match_order
    from score_combinations
    inner join segment_maps
        on score_combinations.rfm_score between segment_maps.min_rfm_score and segment_maps.max_rfm_score
        and score_combinations.recency_score between segment_maps.min_recency_score and segment_maps.max_recency_score
),

segment_lookup as (
    select
        score_combinations.rfm_score,
        score_combinations.recency_score,
        rfm_tier.segment as rfm_segment,
        lifecycle.segment as lifecycle_segment
    from score_combinations
    left join segment_matches as rfm_tier
        on score_combinations.rfm_score = rfm_tier.rfm_score
        and score_combinations.recency_score = rfm_tier.recency_score
        and rfm_tier.segment_scheme = 'rfm_tier'
        and rfm_tier.match_order = 1
    left join segment_matches as lifecycle
        on score_combinations.rfm_score = lifecycle.rfm_score
        and score_combinations.recency_score = lifecycle.recency_score
        and lifecycle.segment_scheme = 'lifecycle'
        and lifecycle.match_order = 1
),

segmented as (
    select
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
        segment_lookup.rfm_segment,
        segment_lookup.lifecycle_segment
    from totalled
    inner join segment_lookup
        on totalled.rfm_score = segment_lookup.rfm_score
        and totalled.recency_score = segment_lookup.recency_score
)

select * from segmented
