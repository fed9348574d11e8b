with

source as (
    select * from {{ source('thelook', 'products') }}
),

renamed as (
    select
        id as product_id,
        name as product_name,
        brand,
        category,
        department,
        sku,
        distribution_center_id,
        cast(round(retail_price, 2) as decimal(18, 2)) as retail_price,
        cast(round(cost, 2) as decimal(18, 2)) as cost
    from source
)

select * from renamed
