-- Each campaign sees only the sales strictly before its launch date: the guard against leakage that every
-- pre-launch figure (RFM, segments, category ratios, targets) is built on. The lines are filtered and
-- pre-aggregated once per launch date (int_order_categories_before_launch_dates); this view only attaches the
-- campaigns of that date.
with

campaigns as (
    select campaign_id, launch_date
    from {{ ref('int_campaigns_for_source') }}
),

order_categories as (
    select launch_date, customer_id, order_id, ordered_at, category, sale_lines, sale_price, gross_margin
    from {{ ref('int_order_categories_before_launch_dates') }}
),

sales_before_launch as (
    select
        campaigns.campaign_id,
        order_categories.launch_date,
        order_categories.customer_id,
        order_categories.order_id,
        order_categories.ordered_at,
        order_categories.category,
        order_categories.sale_lines,
        order_categories.sale_price,
        order_categories.gross_margin
    from campaigns
    inner join order_categories
        on campaigns.launch_date = order_categories.launch_date
)

select * from sales_before_launch
