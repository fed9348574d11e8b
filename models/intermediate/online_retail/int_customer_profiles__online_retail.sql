-- Online Retail customers in the shape `customers` starts from: the files know only a customer's id and
-- country (taken from their first line), so names, contact and demographics stay empty.
with

first_lines as (
    select
        customer_id,
        country,
        invoiced_at,
        row_number() over (partition by customer_id order by invoiced_at, line_id) as line_order
    from {{ ref('stg_online_retail__invoice_lines') }}
    where not is_missing_customer
)

select
    customer_id,
    cast(null as {{ dbt.type_string() }}) as first_name,
    cast(null as {{ dbt.type_string() }}) as last_name,
    cast(null as {{ dbt.type_string() }}) as email,
    cast(null as bigint) as age,
    cast(null as {{ dbt.type_string() }}) as gender,
    cast(null as {{ dbt.type_string() }}) as city,
    cast(null as {{ dbt.type_string() }}) as state,
    cast(null as {{ dbt.type_string() }}) as postal_code,
    country,
    cast(null as double) as latitude,
    cast(null as double) as longitude,
    cast(null as {{ dbt.type_string() }}) as acquisition_channel,
    invoiced_at as signed_up_at
from first_lines
where line_order = 1
