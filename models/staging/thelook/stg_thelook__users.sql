with

source as (
    select * from {{ source('thelook', 'users') }}
),

renamed as (
    select
        id as customer_id,
        first_name,
        last_name,
        lower(email) as email,
        age,
        gender,
        state,
        street_address,
        postal_code,
        city,
        country,
        latitude,
        longitude,
        traffic_source as acquisition_channel,
        cast(created_at as timestamp) as signed_up_at
    from source
)

select * from renamed
