-- One row per line of the Online Retail files, renamed and typed, with every cleaning rule as a flag and the
-- first rule that removes the line from sales. The rules are counted in `online_retail_data_quality`;
-- docs/online_retail.md explains each.
{%- set drop_duplicates = var('online_retail_drop_duplicate_lines') in (true, 'true', 'True') %}

with

source as (
    select
        source_file,
        source_sheet,
        source_row,
        invoice_no,
        stock_code,
        description,
        quantity,
        -- Already a timestamp in DuckDB; Spark reads the exported Parquet column as timestamp_ntz.
        cast(invoiced_at as timestamp) as invoiced_at,
        unit_price,
        customer_id,
        country
    from {{ source('online_retail', 'invoice_lines') }}
),

exceptions as (
    select stock_code, is_product
    from {{ ref('online_retail_stock_code_exceptions') }}
),

typed as (
    select
        source.source_file,
        source.source_sheet,
        source.source_row,
        {{ hex_to_bigint("substr(md5(" ~ dbt.concat(["source.source_file", "'|'", "coalesce(source.source_sheet, '')", "'|'", "cast(source.source_row as " ~ dbt.type_string() ~ ")"]) ~ "), 1, 15)") }}
            as line_id,
        source.invoice_no,
        -- Invoice, product and customer numbers are ids where they are numbers, a stable hash otherwise.
        coalesce(
            {{ dbt.safe_cast('source.invoice_no', api.Column.translate_type('bigint')) }},
            {{ hex_to_bigint("substr(md5(source.invoice_no), 1, 15)") }}
        ) as order_id,
        source.stock_code,
        coalesce(
            {{ dbt.safe_cast('source.stock_code', api.Column.translate_type('bigint')) }},
            {{ hex_to_bigint("substr(md5(source.stock_code), 1, 15)") }}
        ) as product_id,
        source.description,
        source.quantity,
        source.invoiced_at,
        source.unit_price,
        -- In exact decimals, rounded half away from zero. round() of a double rounds its binary value on DuckDB
        -- and its shortest decimal text on Spark: 1 x 1.005 gave 1.00 on DuckDB, 1.01 on Spark; 5 x 1.255 gave
        -- 6.28 and 6.27. (decimal(20, 0) holds any bigint, and keeps the product from overflowing decimal(18).)
        cast(round(cast(source.quantity as decimal(20, 0)) * cast(source.unit_price as decimal(18, 6)), 2)
            as decimal(18, 2)) as line_amount,
        source.customer_id as customer_code,
        case when source.customer_id is not null then coalesce(
            {{ dbt.safe_cast('source.customer_id', api.Column.translate_type('bigint')) }},
            {{ hex_to_bigint("substr(md5(source.customer_id), 1, 15)") }}
        ) end as customer_id,
        source.country,
        upper(substr(source.invoice_no, 1, 1)) = 'C' as is_cancellation,
        upper(substr(source.invoice_no, 1, 1)) = 'A' as is_adjustment,
        source.quantity <= 0 as has_non_positive_quantity,
        source.unit_price <= 0 as has_non_positive_price,
        not coalesce(
            exceptions.is_product,
            {{ matches_pattern('source.stock_code', var('online_retail_product_code_pattern')) }}
        ) as is_non_product_code,
        source.customer_id is null as is_missing_customer,
        -- Exact duplicates: every field of the line equal to an earlier line's (file order decides which is first).
        row_number() over (
            partition by source.invoice_no, source.stock_code, source.description, source.quantity,
                source.invoiced_at, source.unit_price, source.customer_id, source.country
            order by source.source_file, source.source_sheet, source.source_row
        ) > 1 as is_duplicate_line
    from source
    left join exceptions
        on source.stock_code = exceptions.stock_code
),

classified as (
    select
        typed.*,
        -- The first rule that takes the line out of sales, in the documented order.
        case
            when is_cancellation then 'cancellation'
            when is_adjustment then 'adjustment'
            when has_non_positive_quantity then 'non-positive quantity'
            when has_non_positive_price then 'non-positive price'
            when is_non_product_code then 'non-product stock code'
            {%- if drop_duplicates %}
            when is_duplicate_line then 'exact duplicate line'
            {%- endif %}
        end as exclusion_reason
    from typed
)

select
    classified.*,
    exclusion_reason is null as is_sale
from classified
