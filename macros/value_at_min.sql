{#-
    As an aggregate, the value of `expression` on the row where `ordering` is smallest (one row per group
    should hold that minimum; with ties any of them). `min_by` on DuckDB, Spark, Snowflake and Databricks;
    BigQuery's ARRAY_AGG form otherwise.
-#}
{% macro value_at_min(expression, ordering) -%}
    {{ return(adapter.dispatch('value_at_min', 'crm_uplift')(expression, ordering)) }}
{%- endmacro %}

{% macro default__value_at_min(expression, ordering) -%}
    min_by({{ expression }}, {{ ordering }})
{%- endmacro %}

{% macro bigquery__value_at_min(expression, ordering) -%}
    array_agg({{ expression }} order by {{ ordering }} limit 1)[offset(0)]
{%- endmacro %}
