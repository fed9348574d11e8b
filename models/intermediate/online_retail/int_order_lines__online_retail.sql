-- Invoice lines of the Online Retail files in the shape of the `transactions` mart: an invoice is an order,
-- a line's amount (quantity x unit price) its sale price. Lines without a customer id cannot be attributed
-- and stay out (online_retail_data_quality counts them). The files carry no cost: the margin is the assumed
-- `online_retail_margin_rate`, and there is no category, brand or department.
with

lines as (
    select
        line_id,
        order_id,
        customer_id,
        product_id,
        invoiced_at,
        exclusion_reason,
        is_sale,
        description,
        line_amount
    from {{ ref('stg_online_retail__invoice_lines') }}
    where not is_missing_customer
)

select
    line_id as order_item_id,
    order_id,
    customer_id,
    product_id,
    cast(null as bigint) as inventory_item_id,
    invoiced_at as ordered_at,
    cast(invoiced_at as date) as order_date,
    invoiced_at as item_created_at,
    cast(null as timestamp) as shipped_at,
    cast(null as timestamp) as delivered_at,
    cast(null as timestamp) as returned_at,
    coalesce(exclusion_reason, 'sale') as status,
    is_sale,
    description as product_name,
    cast(null as {{ dbt.type_string() }}) as brand,
    cast(null as {{ dbt.type_string() }}) as category,
    cast(null as {{ dbt.type_string() }}) as department,
    cast(null as bigint) as distribution_center_id,
    line_amount as sale_price,
    cast(round(line_amount * (1 - {{ var('online_retail_margin_rate') }}), 2) as decimal(18, 2)) as cost,
    cast(line_amount - round(line_amount * (1 - {{ var('online_retail_margin_rate') }}), 2) as decimal(18, 2))
        as gross_margin
from lines
