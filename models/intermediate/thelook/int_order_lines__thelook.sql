-- Order lines of the thelook source in the shape of the `transactions` mart (see its documentation).
with

order_items as (
    select
        order_item_id,
        order_id,
        customer_id,
        product_id,
        inventory_item_id,
        item_status,
        item_created_at,
        shipped_at,
        delivered_at,
        returned_at,
        sale_price
    from {{ ref('stg_thelook__order_items') }}
),

orders as (
    select order_id, ordered_at
    from {{ ref('stg_thelook__orders') }}
),

products as (
    select product_id, product_name, brand, category, department, distribution_center_id, cost
    from {{ ref('stg_thelook__products') }}
),

-- Left joins: a line whose order or product is missing stays visible and fails a not_null test.
order_lines_joined as (
    select
        order_items.order_item_id,
        order_items.order_id,
        order_items.customer_id,
        order_items.product_id,
        order_items.inventory_item_id,
        orders.ordered_at,
        cast(orders.ordered_at as date) as order_date,
        order_items.item_created_at,
        order_items.shipped_at,
        order_items.delivered_at,
        order_items.returned_at,
        order_items.item_status as status,
        order_items.item_status in ({{ sql_string_list(var('sale_statuses')) }}) as is_sale,
        products.product_name,
        products.brand,
        products.category,
        products.department,
        products.distribution_center_id,
        order_items.sale_price,
        products.cost,
        cast(order_items.sale_price - products.cost as decimal(18, 2)) as gross_margin
    from order_items
    left join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id
)

select * from order_lines_joined
