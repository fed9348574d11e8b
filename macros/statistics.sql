{#-
    Statistics for the uplift marts, as portable SQL expressions of column names or constants.
    Each is checked against scipy/statsmodels in tests/python/test_statistics.py.
-#}

{#- Wilson score interval of a proportion x / n at normal quantile z; `bound` is 'lower' or 'upper'. -#}
{% macro wilson_bound(successes, trials, z, bound) -%}
    (case when ({{ trials }}) > 0 then
        (
            cast({{ successes }} as double) / ({{ trials }}) + ({{ z }}) * ({{ z }}) / (2.0 * ({{ trials }}))
            {{ '-' if bound == 'lower' else '+' }} ({{ z }}) * sqrt(
                (cast({{ successes }} as double) / ({{ trials }}))
                * (1 - cast({{ successes }} as double) / ({{ trials }})) / ({{ trials }})
                + ({{ z }}) * ({{ z }}) / (4.0 * ({{ trials }}) * ({{ trials }}))
            )
        ) / (1 + ({{ z }}) * ({{ z }}) / ({{ trials }}))
    end)
{%- endmacro %}

{#-
    Student's t quantile for probability p (given its normal quantile z) and df degrees of freedom:
    the Cornish-Fisher expansion of Abramowitz & Stegun 26.7.5 to the fourth order in 1/df. Error below
    1e-6 for df >= 30 at the quantiles used here (p up to 0.999); the uplift marts' Welch df are in the
    hundreds or more.
-#}
{% macro t_quantile_from_z(z, df) -%}
    (
        ({{ z }})
        + (power({{ z }}, 3) + ({{ z }})) / (4.0 * ({{ df }}))
        + (5 * power({{ z }}, 5) + 16 * power({{ z }}, 3) + 3 * ({{ z }})) / (96.0 * power({{ df }}, 2))
        + (3 * power({{ z }}, 7) + 19 * power({{ z }}, 5) + 17 * power({{ z }}, 3) - 15 * ({{ z }}))
            / (384.0 * power({{ df }}, 3))
        + (79 * power({{ z }}, 9) + 776 * power({{ z }}, 7) + 1482 * power({{ z }}, 5)
            - 1920 * power({{ z }}, 3) - 945 * ({{ z }})) / (92160.0 * power({{ df }}, 4))
    )
{%- endmacro %}

{#-
    Upper tail P(X > x) of a chi-square distribution with an integer df from 1 to `max_df`, in closed form:
    even df = 2m: exp(-x/2) * sum_{j<m} (x/2)^j / j!;
    odd df = 2m+1: 2 (1 - Phi(sqrt x)) + sqrt(2/pi) exp(-x/2) * sum_{j=1..m} x^(j-1/2) / (1*3*...*(2j-1)).
-#}
{% macro chi_square_sf(x, df, max_df=12) -%}
    (case
    {%- for k in range(1, max_df + 1) %}
        when ({{ df }}) = {{ k }} then
        {%- if k % 2 == 0 %}
            exp(-({{ x }}) / 2) * (
            {%- for j in range(k // 2) %}
                {%- set factorial = namespace(value=1) %}
                {%- for i in range(1, j + 1) %}{% set factorial.value = factorial.value * i %}{% endfor %}
                {{ ' + ' if not loop.first }}power(({{ x }}) / 2, {{ j }}) / {{ factorial.value }}
            {%- endfor %}
            )
        {%- else %}
            2 * (1 - {{ normal_cdf('sqrt(' ~ x ~ ')') }})
            {%- for j in range(1, (k - 1) // 2 + 1) %}
                {%- set odd_product = namespace(value=1) %}
                {%- for i in range(1, j + 1) %}{% set odd_product.value = odd_product.value * (2 * i - 1) %}{% endfor %}
                + 0.7978845608028654 * exp(-({{ x }}) / 2) * power({{ x }}, {{ j }} - 0.5) / {{ odd_product.value }}
            {%- endfor %}
        {%- endif %}
    {%- endfor %}
    end)
{%- endmacro %}

{#-
    The columns comparing two proportions, treated x_t / n_t against control x_c / n_c, named `<prefix>_...`:
    both rates with Wilson intervals, the absolute uplift with its Wald (unpooled) interval, the pooled
    two-proportion z statistic and the relative lift. `z` is the normal quantile of the interval's
    confidence level. The two-sided p-value is `two_sided_p_value('<prefix>_z_statistic')` in a later CTE,
    so that the long CDF expression is written over a column, not over the whole statistic.
-#}
{% macro two_proportion_columns(prefix, x_t, n_t, x_c, n_c, z) -%}
    cast({{ x_t }} as double) / nullif({{ n_t }}, 0) as treated_{{ prefix }}_rate,
    {{ wilson_bound(x_t, n_t, z, 'lower') }} as treated_{{ prefix }}_rate_low,
    {{ wilson_bound(x_t, n_t, z, 'upper') }} as treated_{{ prefix }}_rate_high,
    cast({{ x_c }} as double) / nullif({{ n_c }}, 0) as control_{{ prefix }}_rate,
    {{ wilson_bound(x_c, n_c, z, 'lower') }} as control_{{ prefix }}_rate_low,
    {{ wilson_bound(x_c, n_c, z, 'upper') }} as control_{{ prefix }}_rate_high,
    cast({{ x_t }} as double) / nullif({{ n_t }}, 0) - cast({{ x_c }} as double) / nullif({{ n_c }}, 0)
        as {{ prefix }}_uplift,
    {%- for side, sign in [('low', '-'), ('high', '+')] %}
    cast({{ x_t }} as double) / nullif({{ n_t }}, 0) - cast({{ x_c }} as double) / nullif({{ n_c }}, 0)
        {{ sign }} ({{ z }}) * sqrt(
            (cast({{ x_t }} as double) / nullif({{ n_t }}, 0)) * (1 - cast({{ x_t }} as double) / nullif({{ n_t }}, 0))
                / nullif({{ n_t }}, 0)
            + (cast({{ x_c }} as double) / nullif({{ n_c }}, 0)) * (1 - cast({{ x_c }} as double) / nullif({{ n_c }}, 0))
                / nullif({{ n_c }}, 0)
        ) as {{ prefix }}_uplift_{{ side }},
    {%- endfor %}
    {%- set pooled = '(cast((' ~ x_t ~ ') + (' ~ x_c ~ ') as double) / nullif((' ~ n_t ~ ') + (' ~ n_c ~ '), 0))' %}
    {%- set z_statistic -%}
        (cast({{ x_t }} as double) / nullif({{ n_t }}, 0) - cast({{ x_c }} as double) / nullif({{ n_c }}, 0))
        / nullif(sqrt({{ pooled }} * (1 - {{ pooled }}) * (1.0 / nullif({{ n_t }}, 0) + 1.0 / nullif({{ n_c }}, 0))), 0)
    {%- endset %}
    {{ z_statistic }} as {{ prefix }}_z_statistic,
    (cast({{ x_t }} as double) / nullif({{ n_t }}, 0)) / nullif(cast({{ x_c }} as double) / nullif({{ n_c }}, 0), 0) - 1
        as {{ prefix }}_relative_lift
{%- endmacro %}

{#- Two-sided p-value of a standard normal statistic (a column name). -#}
{% macro two_sided_p_value(z_column) -%}
    2 * (1 - {{ normal_cdf('abs(' ~ z_column ~ ')') }})
{%- endmacro %}

{#-
    The columns comparing the means of an amount per customer, in two steps so that each long expression
    is written over columns: `welch_moments` gives both means, the squared standard error and the
    Welch-Satterthwaite degrees of freedom from counts, sums and sums of squares; `welch_interval` (in a
    later CTE) the difference with its Welch interval at normal quantile `z` (Student quantile from it).
-#}
{% macro welch_moments(prefix, sum_t, square_sum_t, n_t, sum_c, square_sum_c, n_c) -%}
    {%- set var_t = '((cast(' ~ square_sum_t ~ ' as double) - cast(' ~ sum_t ~ ' as double) * cast(' ~ sum_t ~ ' as double) / nullif(' ~ n_t ~ ', 0)) / nullif(' ~ n_t ~ ' - 1, 0))' -%}
    {%- set var_c = '((cast(' ~ square_sum_c ~ ' as double) - cast(' ~ sum_c ~ ' as double) * cast(' ~ sum_c ~ ' as double) / nullif(' ~ n_c ~ ', 0)) / nullif(' ~ n_c ~ ' - 1, 0))' -%}
    cast({{ sum_t }} as double) / nullif({{ n_t }}, 0) as treated_{{ prefix }}_per_customer,
    cast({{ sum_c }} as double) / nullif({{ n_c }}, 0) as control_{{ prefix }}_per_customer,
    {{ var_t }} / nullif({{ n_t }}, 0) as {{ prefix }}_treated_variance_of_mean,
    {{ var_c }} / nullif({{ n_c }}, 0) as {{ prefix }}_control_variance_of_mean
{%- endmacro %}

{% macro welch_interval(prefix, n_t, n_c, z) -%}
    {%- set se_squared = '(' ~ prefix ~ '_treated_variance_of_mean + ' ~ prefix ~ '_control_variance_of_mean)' -%}
    {%- set df = '(' ~ se_squared ~ ' * ' ~ se_squared ~ ' / nullif(power(' ~ prefix ~ '_treated_variance_of_mean, 2) / nullif(' ~ n_t ~ ' - 1, 0) + power(' ~ prefix ~ '_control_variance_of_mean, 2) / nullif(' ~ n_c ~ ' - 1, 0), 0))' -%}
    treated_{{ prefix }}_per_customer - control_{{ prefix }}_per_customer as {{ prefix }}_per_customer_diff,
    {{ df }} as {{ prefix }}_welch_df,
    sqrt({{ se_squared }}) as {{ prefix }}_standard_error
{%- endmacro %}

{% macro welch_bounds(prefix, z) -%}
    {{ prefix }}_per_customer_diff - {{ t_quantile_from_z(z, prefix ~ '_welch_df') }} * {{ prefix }}_standard_error
        as {{ prefix }}_per_customer_diff_low,
    {{ prefix }}_per_customer_diff + {{ t_quantile_from_z(z, prefix ~ '_welch_df') }} * {{ prefix }}_standard_error
        as {{ prefix }}_per_customer_diff_high
{%- endmacro %}

{#-
    Sample-ratio-mismatch test: Pearson's chi-square of the customers each arm holds against the campaign's
    customers times the arm's planned share. `per_arm` names a relation with one row per campaign and arm and
    the columns campaign_id, customers, campaign_customers (the campaign's total) and planned_share. Returns a
    query with one row per campaign: campaign_id, degrees_of_freedom (arms - 1), chi_square, p_value.
-#}
{% macro sample_ratio_test(per_arm) -%}
    select
        campaign_id,
        degrees_of_freedom,
        chi_square,
        {{ crm_uplift.chi_square_sf('chi_square', 'degrees_of_freedom') }} as p_value
    from (
        select
            campaign_id,
            count(*) - 1 as degrees_of_freedom,
            sum(
                (customers - campaign_customers * planned_share) * (customers - campaign_customers * planned_share)
                / nullif(campaign_customers * planned_share, 0)
            ) as chi_square
        from {{ per_arm }}
        group by campaign_id
    ) as per_campaign
{%- endmacro %}
