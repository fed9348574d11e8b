{#-
    CUPED from sufficient statistics (sums over customers), so that a comparison needs no second pass:
    theta = cov(Y, X) / var(X) over the pooled customers, and per arm the sum and the sum of squares of the
    adjusted outcome Y' = Y - theta (X - mean X) = Y - theta X + c, with c = theta * mean X.
-#}
{% macro cuped_theta(xy_sum, x_sum, y_sum, x_square_sum, n) -%}
    ({{ xy_sum }} - {{ x_sum }} * {{ y_sum }} / {{ n }})
        / nullif({{ x_square_sum }} - {{ x_sum }} * {{ x_sum }} / {{ n }}, 0)
{%- endmacro %}

{% macro cuped_adjusted_sum(y_sum, x_sum, n, theta, x_mean) -%}
    ({{ y_sum }} - {{ theta }} * ({{ x_sum }} - {{ n }} * {{ x_mean }}))
{%- endmacro %}

{% macro cuped_adjusted_square_sum(y_square_sum, xy_sum, x_square_sum, y_sum, x_sum, n, theta, x_mean) -%}
    ({{ y_square_sum }} - 2 * {{ theta }} * {{ xy_sum }} + {{ theta }} * {{ theta }} * {{ x_square_sum }}
        + 2 * {{ theta }} * {{ x_mean }} * ({{ y_sum }} - {{ theta }} * {{ x_sum }})
        + {{ n }} * {{ theta }} * {{ x_mean }} * {{ theta }} * {{ x_mean }})
{%- endmacro %}
