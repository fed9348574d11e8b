-- The unit of the customer-value models: a customer's purchase day (several orders on one day are one
-- transaction, as in Fader, Hardie & Lee 2005), over every sale in the data. The Python models cut it at the
-- reference date themselves, because the holdout check needs the days after its own, earlier cutoff.
with

sales as (
    select customer_id, order_date, sale_price, gross_margin
    from {{ ref('transactions') }}
    where is_sale
),

as_of as (
    select {{ reference_date() }} as reference_date
),

purchase_days as (
    select
        customer_id,
        order_date as purchase_date,
        sum(sale_price) as revenue,
        sum(gross_margin) as gross_margin
    from sales
    group by customer_id, order_date
)

select
    purchase_days.customer_id,
    purchase_days.purchase_date,
    cast(purchase_days.revenue as double) as revenue,
    cast(purchase_days.gross_margin as double) as gross_margin,
    as_of.reference_date
from purchase_days
cross join as_of
