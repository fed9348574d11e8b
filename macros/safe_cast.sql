{#-
    dbt's cross-database `safe_cast` falls back to a plain cast on DuckDB and Spark, which fails on the first
    value that does not convert. These return null instead; dbt_project.yml's `dispatch` puts this project's
    implementations before dbt's.
-#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
