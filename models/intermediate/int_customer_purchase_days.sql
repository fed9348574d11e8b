-- The unit of the customer-value models: a customer's purchase day (several orders on one day are one
-- transaction, as in Fader, Hardie & Lee 2005), over every sale in the data, in exact decimals.
-- int_customer_value_summaries cuts it at each fit's cutoff.
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
    cast(purchase_days.revenue as decimal(18, 2)) as revenue,
    cast(purchase_days.gross_margin as decimal(18, 2)) as gross_margin,
    as_of.reference_date
from purchase_days
cross join as_of
