{#-
    A quantile score from 1 to `buckets`: 1 + floor(buckets * (rank - 1) / n), with `rank` a SQL rank()
    ordered so that better is later. Tied rows share a rank, hence a score (ntile would split them
    arbitrarily), and the result does not depend on row order or threads.
-#}
{% macro quantile_score(rank_column, count_column, buckets) -%}
    cast(1 + floor({{ buckets }} * ({{ rank_column }} - 1) / cast({{ count_column }} as double)) as integer)
{%- endmacro %}
