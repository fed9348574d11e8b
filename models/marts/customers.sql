with

users as (
    select
        customer_id,
        first_name,
        last_name,
        email,
        age,
        gender,
        city,
        state,
        postal_code,
        country,
        latitude,
        longitude,
        acquisition_channel,
        signed_up_at
    from {{ ref('int_customer_profiles__' ~ var('crm_source')) }}
),

transactions as (
    select customer_id, order_id, ordered_at, is_sale, sale_price, gross_margin
    from {{ ref('transactions') }}
),

placed_orders as (
    select
        customer_id,
        count(distinct order_id) as placed_order_count
    from transactions
    group by customer_id
),

sales as (
    select
        customer_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(distinct order_id) as order_count,
        count(*) as item_count,
        sum(sale_price) as revenue,
        sum(gross_margin) as gross_margin
    from transactions
    where is_sale
    group by customer_id
),

as_of as (
    select {{ reference_date() }} as reference_date
),

customers_joined as (
    select
        users.customer_id,
        users.first_name,
        users.last_name,
        users.email,
        users.age,
        users.gender,
        users.city,
        users.state,
        users.postal_code,
        users.country,
        users.latitude,
        users.longitude,
        users.acquisition_channel,
        users.signed_up_at,
        sales.first_order_at,
        sales.last_order_at,
        coalesce(placed_orders.placed_order_count, 0) as placed_order_count,
        coalesce(sales.order_count, 0) as order_count,
        coalesce(sales.item_count, 0) as item_count,
        cast(coalesce(sales.revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(sales.gross_margin, 0) as decimal(18, 2)) as gross_margin,
        cast(round(sales.revenue / sales.order_count, 2) as decimal(18, 2)) as average_order_value,
        sales.order_count is not null as is_buyer,
        as_of.reference_date,
        {{ dbt.datediff('cast(sales.last_order_at as date)', 'as_of.reference_date', 'day') }}
            as days_since_last_order
    from users
    cross join as_of
    left join placed_orders
        on users.customer_id = placed_orders.customer_id
    left join sales
        on users.customer_id = sales.customer_id
)

select * from customers_joined
