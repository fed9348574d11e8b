-- How each segment buys each category before a campaign's launch, against all scored customers.
with

campaigns as (
    select campaign_id, launch_date
    from {{ ref('int_campaigns_for_source') }}
),

-- Computed once per launch date (campaigns launched the same day share the figures) and repeated for each
-- campaign at the end, on the few rows of the result.
sales as (
    select launch_date, customer_id, category, sale_price, gross_margin
    from {{ ref('int_order_categories_before_launch_dates') }}
    -- A source without categories (Online Retail) gives an empty table, not a null category.
    where category is not null
),

scored_customers as (
    select launch_date, customer_id, rfm_segment, lifecycle_segment
    from {{ ref('int_customer_rfm_at_launch_dates') }}
),

customer_segments as (
    select launch_date, customer_id, 'rfm_tier' as segment_scheme, rfm_segment as segment
    from scored_customers
    union all
    select launch_date, customer_id, 'lifecycle' as segment_scheme, lifecycle_segment as segment
    from scored_customers
),

segment_sizes as (
    select launch_date, segment_scheme, segment, count(*) as segment_customers
    from customer_segments
    group by launch_date, segment_scheme, segment
),

all_customers as (
    select launch_date, count(*) as all_customers
    from scored_customers
    group by launch_date
),

-- One row per customer and category: its rows are distinct orders (the input has one row per order and
-- category), so counting rows counts orders, and summing per-customer counts over customers counts distinct
-- orders because an order belongs to one customer (a data test on the input holds it). This replaces
-- distinct counts over every line, repeated per campaign, by sums over a few million pre-aggregated rows.
customer_categories as (
    select
        launch_date,
        customer_id,
        category,
        count(*) as orders,
        sum(sale_price) as revenue,
        sum(gross_margin) as gross_margin
    from sales
    group by launch_date, customer_id, category
),

-- Every scored customer has a sale before the launch, so all pre-launch sales are the scored customers' sales.
category_all as (
    select
        launch_date,
        category,
        -- Sums of counts are wider integers in some engines: back to the contract's bigint.
        cast(sum(orders) as bigint) as all_orders,
        count(*) as all_buyers,
        sum(revenue) as all_revenue,
        sum(gross_margin) as all_gross_margin
    from customer_categories
    group by launch_date, category
),

-- The average basket over all categories: revenue per (order, category) pair.
baseline_basket as (
    select
        launch_date,
        cast(sum(all_revenue) as double) / sum(all_orders) as average_category_basket
    from category_all
    group by launch_date
),

-- Each customer has one segment in each scheme: their category rows are joined to the customer once and
-- summed per pair of segments (a few hundred rows), and each scheme's figures are sums over the other.
category_segment_pairs as (
    select
        customer_categories.launch_date,
        scored_customers.rfm_segment,
        scored_customers.lifecycle_segment,
        customer_categories.category,
        sum(customer_categories.orders) as segment_orders,
        count(*) as segment_buyers,
        sum(customer_categories.revenue) as segment_revenue
    from customer_categories
    inner join scored_customers
        on customer_categories.launch_date = scored_customers.launch_date
        and customer_categories.customer_id = scored_customers.customer_id
    group by
        customer_categories.launch_date,
        scored_customers.rfm_segment,
        scored_customers.lifecycle_segment,
        customer_categories.category
),

category_segment as (
    {%- for scheme, column in [('rfm_tier', 'rfm_segment'), ('lifecycle', 'lifecycle_segment')] %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select
        launch_date,
        '{{ scheme }}' as segment_scheme,
        {{ column }} as segment,
        category,
        cast(sum(segment_orders) as bigint) as segment_orders,
        cast(sum(segment_buyers) as bigint) as segment_buyers,
        sum(segment_revenue) as segment_revenue
    from category_segment_pairs
    group by launch_date, {{ column }}, category
    {%- endfor %}
),

-- Every segment against every category, including the ones it never bought: those are the largest gaps.
grid as (
    select
        campaigns.campaign_id,
        segment_sizes.launch_date,
        segment_sizes.segment_scheme,
        segment_sizes.segment,
        category_all.category,
        segment_sizes.segment_customers,
        coalesce(category_segment.segment_orders, 0) as segment_orders,
        coalesce(category_segment.segment_buyers, 0) as segment_buyers,
        coalesce(category_segment.segment_revenue, 0) as segment_revenue,
        all_customers.all_customers,
        category_all.all_orders,
        category_all.all_buyers,
        category_all.all_revenue,
        category_all.all_gross_margin,
        baseline_basket.average_category_basket
    from segment_sizes
    inner join campaigns
        on segment_sizes.launch_date = campaigns.launch_date
    inner join category_all
        on segment_sizes.launch_date = category_all.launch_date
    inner join all_customers
        on segment_sizes.launch_date = all_customers.launch_date
    inner join baseline_basket
        on segment_sizes.launch_date = baseline_basket.launch_date
    left join category_segment
        on segment_sizes.launch_date = category_segment.launch_date
        and segment_sizes.segment_scheme = category_segment.segment_scheme
        and segment_sizes.segment = category_segment.segment
        and category_all.category = category_segment.category
),

measures as (
    select
        grid.*,
        case when segment_orders > 0 then cast(segment_revenue as double) / segment_orders end as segment_avg_basket,
        cast(all_revenue as double) / all_orders as all_avg_basket,
        cast(segment_orders as double) / segment_customers as segment_purchase_frequency,
        cast(all_orders as double) / all_customers as all_purchase_frequency,
        cast(segment_buyers as double) / segment_customers as segment_penetration,
        cast(all_buyers as double) / all_customers as all_penetration,
        cast(all_gross_margin as double) / all_revenue as gross_margin_rate
    from grid
),

ratios as (
    select
        measures.*,
        segment_avg_basket / all_avg_basket as ratio_panier,
        segment_purchase_frequency / all_purchase_frequency as ratio_frequence,
        all_avg_basket / average_category_basket as basket_index,
        -- Margin per segment customer the segment would add if it bought the category as often as everyone.
        (all_purchase_frequency - segment_purchase_frequency) * all_avg_basket * gross_margin_rate
            as margin_gap_per_customer
    from measures
),

flagged as (
    select
        ratios.*,
        (
            ratio_frequence < {{ var('candidate_max_ratio_frequence') }}
            and basket_index >= {{ var('candidate_min_basket_index') }}
            and gross_margin_rate >= {{ var('candidate_min_margin_rate') }}
        ) as is_candidate
    from ratios
),

final as (
    select
        campaign_id,
        launch_date,
        segment_scheme,
        segment,
        category,
        segment_customers,
        segment_orders,
        segment_buyers,
        cast(segment_revenue as decimal(18, 2)) as segment_revenue,
        all_customers,
        all_orders,
        all_buyers,
        cast(all_revenue as decimal(18, 2)) as all_revenue,
        segment_avg_basket,
        all_avg_basket,
        ratio_panier,
        segment_purchase_frequency,
        all_purchase_frequency,
        ratio_frequence,
        segment_penetration,
        all_penetration,
        gross_margin_rate,
        basket_index,
        margin_gap_per_customer,
        is_candidate,
        case
            -- rank() is an int on Spark, a bigint on DuckDB: the contract wants one type.
            when is_candidate then cast(rank() over (
                partition by campaign_id, segment_scheme, segment, is_candidate
                order by margin_gap_per_customer desc, category
            ) as bigint)
        end as candidate_rank
    from flagged
)

select * from final
