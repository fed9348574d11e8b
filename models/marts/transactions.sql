-- One row per order line of the source being built (`crm_source`); each source's intermediate model maps
-- its raw data to these columns, so everything downstream is the same whatever the source.
select
    order_item_id,
    order_id,
    customer_id,
    product_id,
    inventory_item_id,
    ordered_at,
    order_date,
    item_created_at,
    shipped_at,
    delivered_at,
    returned_at,
    status,
    is_sale,
    product_name,
    brand,
    category,
    department,
    distribution_center_id,
    sale_price,
    cost,
    gross_margin
from {{ ref('int_order_lines__' ~ var('crm_source')) }}
