-- What every exposed customer did in the campaign's measurement window [launch, launch + window_days).
with

exposure as (
    select
        campaign_id,
        customer_id,
        launch_date,
        window_days,
        rfm_segment,
        lifecycle_segment,
        arm,
        is_treated,
        channel,
        contact_cost
    from {{ ref('campaign_exposure') }}
),

campaigns as (
    select campaign_id, target_category, offer_min_basket
    from {{ ref('int_campaigns_for_source') }}
),

sales as (
    select customer_id, order_id, ordered_at, category, sale_price, gross_margin
    from {{ ref('transactions') }}
    where is_sale
),

exposure_windows as (
    select
        exposure.*,
        cast({{ dbt.dateadd('day', 'exposure.window_days', 'exposure.launch_date') }} as date) as window_end_date
    from exposure
),

window_sales as (
    select
        exposure_windows.campaign_id,
        exposure_windows.customer_id,
        sales.order_id,
        sales.sale_price,
        sales.gross_margin,
        case when sales.category = campaigns.target_category then 1 else 0 end as is_target_category
    from exposure_windows
    inner join campaigns
        on exposure_windows.campaign_id = campaigns.campaign_id
    inner join sales
        on exposure_windows.customer_id = sales.customer_id
        and sales.ordered_at >= cast(exposure_windows.launch_date as timestamp)
        and sales.ordered_at < cast(exposure_windows.window_end_date as timestamp)
),

window_orders as (
    select
        campaign_id,
        customer_id,
        order_id,
        sum(sale_price) as order_value,
        sum(gross_margin) as order_margin,
        max(is_target_category) as has_target_category
    from window_sales
    group by campaign_id, customer_id, order_id
),

customer_window as (
    select
        campaign_id,
        customer_id,
        count(*) as orders,
        sum(has_target_category) as target_category_orders,
        sum(order_value) as revenue,
        sum(order_margin) as gross_margin,
        max(order_value) as largest_order_value
    from window_orders
    group by campaign_id, customer_id
),

outcomes as (
    select
        exposure_windows.campaign_id,
        exposure_windows.customer_id,
        exposure_windows.arm,
        exposure_windows.is_treated,
        exposure_windows.channel,
        exposure_windows.contact_cost,
        exposure_windows.rfm_segment,
        exposure_windows.lifecycle_segment,
        exposure_windows.launch_date,
        exposure_windows.window_end_date,
        coalesce(customer_window.orders, 0) > 0 as is_converted,
        case
            when campaigns.target_category is null then coalesce(customer_window.orders, 0) > 0
            else coalesce(customer_window.target_category_orders, 0) > 0
        end as is_converted_in_category,
        coalesce(customer_window.orders, 0) as orders,
        cast(coalesce(customer_window.revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(customer_window.gross_margin, 0) as decimal(18, 2)) as gross_margin,
        coalesce(customer_window.largest_order_value >= campaigns.offer_min_basket, false)
            as reached_offer_min_basket,
        exposure_windows.is_treated
            and coalesce(customer_window.largest_order_value >= campaigns.offer_min_basket, false) as is_redeemed
    from exposure_windows
    inner join campaigns
        on exposure_windows.campaign_id = campaigns.campaign_id
    left join customer_window
        on exposure_windows.campaign_id = customer_window.campaign_id
        and exposure_windows.customer_id = customer_window.customer_id
)

select * from outcomes
