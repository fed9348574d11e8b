{#-
    The "as of" date of customer metrics: the `reference_date` variable when set, else the day after the
    last order in the data, so that the built-in data and a user's export both work without a setting.
-#}
{% macro reference_date() -%}
    {%- if var('reference_date') -%}
        cast('{{ var("reference_date") }}' as date)
    {%- else -%}
        (
            select cast({{ dbt.dateadd('day', 1, 'max(ordered_at)') }} as date)
            from {{ ref('transactions') }}
        )
    {%- endif -%}
{%- endmacro %}
