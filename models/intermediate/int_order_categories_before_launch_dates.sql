-- The sales every pre-launch figure is built on: sale lines strictly before each campaign launch date (the
-- guard against leakage), pre-aggregated to one row per order and category. Campaigns that share a launch
-- date see the same history, so the fact table is joined and aggregated once per date, not once per campaign,
-- and the consumers (RFM, category ratios, targets) read ~30 % fewer rows than there are lines.
with

launch_dates as (
    select distinct launch_date
    from {{ ref('int_campaigns_for_source') }}
),

sales as (
    select customer_id, order_id, ordered_at, category, sale_price, gross_margin
    from {{ ref('transactions') }}
    where is_sale
),

order_categories as (
    select
        launch_dates.launch_date,
        sales.customer_id,
        sales.order_id,
        sales.category,
        -- The filter applies to lines, before grouping: exact even if an order's lines had different times.
        max(sales.ordered_at) as ordered_at,
        count(*) as sale_lines,
        cast(sum(sales.sale_price) as decimal(18, 2)) as sale_price,
        cast(sum(sales.gross_margin) as decimal(18, 2)) as gross_margin
    from launch_dates
    inner join sales
        on sales.ordered_at < cast(launch_dates.launch_date as timestamp)
    group by launch_dates.launch_date, sales.customer_id, sales.order_id, sales.category
)

select * from order_categories
