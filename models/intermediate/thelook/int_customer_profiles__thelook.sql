-- Registered users of the thelook source in the shape `customers` starts from.
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
from {{ ref('stg_thelook__users') }}
