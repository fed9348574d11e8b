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

-- One pass over the lines: first to orders (whether the order has a sale line, and its sale figures), then to
-- customers. Two distinct counts over every line (placed orders, sale orders) cost twice as much.
customer_orders as (
    select
        customer_id,
        order_id,
        max(case when is_sale then 1 else 0 end) as has_sale,
        min(case when is_sale then ordered_at end) as first_sale_at,
        max(case when is_sale then ordered_at end) as last_sale_at,
        sum(case when is_sale then 1 else 0 end) as sale_items,
        sum(case when is_sale then sale_price end) as revenue,
        sum(case when is_sale then gross_margin end) as gross_margin
    from transactions
    group by customer_id, order_id
),

customer_totals as (
    select
        customer_id,
        count(*) as placed_order_count,
        min(first_sale_at) as first_order_at,
        max(last_sale_at) as last_order_at,
        -- Null for a customer without a sale, as the columns below expect.
        cast(nullif(sum(has_sale), 0) as bigint) as order_count,
        cast(sum(sale_items) as bigint) as item_count,
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin
    from customer_orders
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
        customer_totals.first_order_at,
        customer_totals.last_order_at,
        coalesce(customer_totals.placed_order_count, 0) as placed_order_count,
        coalesce(customer_totals.order_count, 0) as order_count,
        coalesce(customer_totals.item_count, 0) as item_count,
        cast(coalesce(customer_totals.revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(customer_totals.gross_margin, 0) as decimal(18, 2)) as gross_margin,
        -- Half-up to the cent, exactly on every engine: a plain round(revenue / order_count, 2) divides in
        -- double on DuckDB (34.855 becomes 34.85) and in decimal on Spark (34.86).
        cast(
            floor((200 * customer_totals.revenue + customer_totals.order_count) / (2 * customer_totals.order_count))
            / 100 as decimal(18, 2)
        ) as average_order_value,
        customer_totals.order_count is not null as is_buyer,
        as_of.reference_date,
        -- datediff is an int on Spark, a bigint on DuckDB: the contract wants one type.
        cast({{ dbt.datediff('cast(customer_totals.last_order_at as date)', 'as_of.reference_date', 'day') }}
            as bigint)
            as days_since_last_order
    from users
    cross join as_of
    left join customer_totals
        on users.customer_id = customer_totals.customer_id
)

select * from customers_joined
