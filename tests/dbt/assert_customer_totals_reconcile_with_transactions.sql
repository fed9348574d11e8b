-- Every sale line of `transactions` is counted once in `customers`: the grand totals agree.
with

from_transactions as (
    select
        count(*) as item_count,
        sum(sale_price) as revenue,
        sum(gross_margin) as gross_margin
    from {{ ref('transactions') }}
    where is_sale
),

from_customers as (
    select
        sum(item_count) as item_count,
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin
    from {{ ref('customers') }}
)

select
    from_transactions.item_count as transactions_item_count,
    from_customers.item_count as customers_item_count,
    from_transactions.revenue as transactions_revenue,
    from_customers.revenue as customers_revenue
from from_transactions
cross join from_customers
where from_transactions.item_count <> from_customers.item_count
    or from_transactions.revenue <> from_customers.revenue
    or from_transactions.gross_margin <> from_customers.gross_margin
