{#-
    The median of a column as an aggregate: the ANSI ordered-set form by default, DuckDB's `median`
    (the same interpolated value) and Spark's exact `percentile`.
-#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'crm_uplift')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro spark__median(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}
