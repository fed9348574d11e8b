with

source as (
    select * from {{ source('thelook', 'order_items') }}
),

renamed as (
    select
        id as order_item_id,
        order_id,
        user_id as customer_id,
        product_id,
        inventory_item_id,
        status as item_status,
        -- Item rows are created up to days after their order in thelook; the order's time is the purchase time.
        cast(created_at as timestamp) as item_created_at,
        cast(shipped_at as timestamp) as shipped_at,
        cast(delivered_at as timestamp) as delivered_at,
        cast(returned_at as timestamp) as returned_at,
        -- Money in exact decimals: double sums depend on the order in which threads add them up.
        cast(round(sale_price, 2) as decimal(18, 2)) as sale_price
    from source
)

select * from renamed
