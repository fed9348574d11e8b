-- Each campaign sees only the sale lines strictly before its launch date: the guard against leakage
-- that every pre-launch figure (RFM, segments, category ratios, targets) is built on.
with

campaigns as (
    select campaign_id, launch_date
    from {{ ref('int_campaigns_for_source') }}
),

sales as (
    select order_item_id, order_id, customer_id, ordered_at, category, sale_price, gross_margin
    from {{ ref('transactions') }}
    where is_sale
),

sales_before_launch as (
    select
        campaigns.campaign_id,
        campaigns.launch_date,
        sales.order_item_id,
        sales.order_id,
        sales.customer_id,
        sales.ordered_at,
        sales.category,
        sales.sale_price,
        sales.gross_margin
    from campaigns
    inner join sales
        on sales.ordered_at < cast(campaigns.launch_date as timestamp)
)

select * from sales_before_launch
