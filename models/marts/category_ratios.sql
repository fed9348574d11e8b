-- How each segment buys each category before a campaign's launch, against all scored customers.
with

sales as (
    select campaign_id, customer_id, order_id, category, sale_price, gross_margin
    from {{ ref('int_sales_joined_to_campaign_launches') }}
    -- A source without categories (Online Retail) gives an empty table, not a null category.
    where category is not null
),

scored_customers as (
    select campaign_id, launch_date, customer_id, rfm_segment, lifecycle_segment
    from {{ ref('rfm_features') }}
),

customer_segments as (
    select campaign_id, launch_date, customer_id, 'rfm_tier' as segment_scheme, rfm_segment as segment
    from scored_customers
    union all
    select campaign_id, launch_date, customer_id, 'lifecycle' as segment_scheme, lifecycle_segment as segment
    from scored_customers
),

segment_sizes as (
    select campaign_id, launch_date, segment_scheme, segment, count(*) as segment_customers
    from customer_segments
    group by campaign_id, launch_date, segment_scheme, segment
),

all_customers as (
    select campaign_id, count(*) as all_customers
    from scored_customers
    group by campaign_id
),

-- Every scored customer has a sale before the launch, so all pre-launch sales are the scored customers' sales.
category_all as (
    select
        campaign_id,
        category,
        count(distinct order_id) as all_orders,
        count(distinct customer_id) as all_buyers,
        sum(sale_price) as all_revenue,
        sum(gross_margin) as all_gross_margin
    from sales
    group by campaign_id, category
),

-- The average basket over all categories: revenue per (order, category) pair.
baseline_basket as (
    select
        campaign_id,
        cast(sum(all_revenue) as double) / sum(all_orders) as average_category_basket
    from category_all
    group by campaign_id
),

category_segment as (
    select
        sales.campaign_id,
        customer_segments.segment_scheme,
        customer_segments.segment,
        sales.category,
        count(distinct sales.order_id) as segment_orders,
        count(distinct sales.customer_id) as segment_buyers,
        sum(sales.sale_price) as segment_revenue
    from sales
    inner join customer_segments
        on sales.campaign_id = customer_segments.campaign_id
        and sales.customer_id = customer_segments.customer_id
    group by sales.campaign_id, customer_segments.segment_scheme, customer_segments.segment, sales.category
),

-- Every segment against every category, including the ones it never bought: those are the largest gaps.
grid as (
    select
        segment_sizes.campaign_id,
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
    inner join category_all
        on segment_sizes.campaign_id = category_all.campaign_id
    inner join all_customers
        on segment_sizes.campaign_id = all_customers.campaign_id
    inner join baseline_basket
        on segment_sizes.campaign_id = baseline_basket.campaign_id
    left join category_segment
        on segment_sizes.campaign_id = category_segment.campaign_id
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
            when is_candidate then rank() over (
                partition by campaign_id, segment_scheme, segment, is_candidate
                order by margin_gap_per_customer desc, category
            )
        end as candidate_rank
    from flagged
)

select * from final
