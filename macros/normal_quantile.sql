{#-
    The standard normal quantile (inverse CDF) of a probability p in (0, 1), in portable arithmetic.
    P. J. Acklam's rational approximation (relative error below 1.15e-9), refined by one Halley step on
    `normal_cdf`: error below 1e-14 for 0.001 <= p <= 0.999 and below 1e-8 down to p = 1e-100.
-#}
{% macro normal_quantile(p) -%}
    {{ return(adapter.dispatch('normal_quantile', 'crm_uplift')(p)) }}
{%- endmacro %}

{% macro acklam_quantile(p) -%}
    (case
        when ({{ p }}) <= 0 or ({{ p }}) >= 1 then null
        when ({{ p }}) < 0.02425 then
            (((((-7.784894002430293e-03 * sqrt(-2 * ln({{ p }})) - 3.223964580411365e-01) * sqrt(-2 * ln({{ p }}))
                - 2.400758277161838e+00) * sqrt(-2 * ln({{ p }})) - 2.549732539343734e+00) * sqrt(-2 * ln({{ p }}))
                + 4.374664141464968e+00) * sqrt(-2 * ln({{ p }})) + 2.938163982698783e+00)
            / ((((7.784695709041462e-03 * sqrt(-2 * ln({{ p }})) + 3.224671290700398e-01) * sqrt(-2 * ln({{ p }}))
                + 2.445134137142996e+00) * sqrt(-2 * ln({{ p }})) + 3.754408661907416e+00) * sqrt(-2 * ln({{ p }})) + 1)
        when ({{ p }}) > 1 - 0.02425 then
            -(((((-7.784894002430293e-03 * sqrt(-2 * ln(1 - ({{ p }}))) - 3.223964580411365e-01) * sqrt(-2 * ln(1 - ({{ p }})))
                - 2.400758277161838e+00) * sqrt(-2 * ln(1 - ({{ p }}))) - 2.549732539343734e+00) * sqrt(-2 * ln(1 - ({{ p }})))
                + 4.374664141464968e+00) * sqrt(-2 * ln(1 - ({{ p }}))) + 2.938163982698783e+00)
            / ((((7.784695709041462e-03 * sqrt(-2 * ln(1 - ({{ p }}))) + 3.224671290700398e-01) * sqrt(-2 * ln(1 - ({{ p }})))
                + 2.445134137142996e+00) * sqrt(-2 * ln(1 - ({{ p }}))) + 3.754408661907416e+00) * sqrt(-2 * ln(1 - ({{ p }}))) + 1)
        else
            (((((-3.969683028665376e+01 * (({{ p }}) - 0.5) * (({{ p }}) - 0.5) + 2.209460984245205e+02)
                * (({{ p }}) - 0.5) * (({{ p }}) - 0.5) - 2.759285104469687e+02) * (({{ p }}) - 0.5) * (({{ p }}) - 0.5)
                + 1.383577518672690e+02) * (({{ p }}) - 0.5) * (({{ p }}) - 0.5) - 3.066479806614716e+01)
                * (({{ p }}) - 0.5) * (({{ p }}) - 0.5) + 2.506628277459239e+00) * (({{ p }}) - 0.5)
            / (((((-5.447609879822406e+01 * (({{ p }}) - 0.5) * (({{ p }}) - 0.5) + 1.615858368580409e+02)
                * (({{ p }}) - 0.5) * (({{ p }}) - 0.5) - 1.556989798598866e+02) * (({{ p }}) - 0.5) * (({{ p }}) - 0.5)
                + 6.680131188771972e+01) * (({{ p }}) - 0.5) * (({{ p }}) - 0.5) - 1.328068155288572e+01)
                * (({{ p }}) - 0.5) * (({{ p }}) - 0.5) + 1)
    end)
{%- endmacro %}

{% macro default__normal_quantile(p) -%}
    {{ crm_uplift.halley_refined_quantile(crm_uplift.acklam_quantile(p), p) }}
{%- endmacro %}

{#-
    One Halley step on a first quantile estimate x0 of p: e = Phi(x0) - p, u = e sqrt(2 pi) exp(x0^2 / 2),
    x = x0 - u / (1 + x0 u / 2). Pass column names where possible: the expressions are repeated.
-#}
{% macro halley_refined_quantile(x0, p) -%}
    ({{ x0 }} - (({{ normal_cdf(x0) }} - ({{ p }})) * 2.5066282746310002 * exp({{ x0 }} * {{ x0 }} / 2))
        / (1 + {{ x0 }} * (({{ normal_cdf(x0) }} - ({{ p }})) * 2.5066282746310002 * exp({{ x0 }} * {{ x0 }} / 2)) / 2))
{%- endmacro %}

{#-
    Two CTEs, `first_quantiles` then `quantiles`, holding the standard normal quantile of each constant
    probability in `probabilities` (a mapping of column name to probability), e.g.
    {'z_interval': 1 - alpha / 2, 'z_power': power}: Acklam's estimate, then one Halley step on it. Write
    `{{ normal_quantiles_ctes({...}) }},` inside a `with`; select from `quantiles`.
-#}
{% macro normal_quantiles_ctes(probabilities) -%}
first_quantiles as (
    select
        {%- for name, p in probabilities.items() %}
        {{ crm_uplift.acklam_quantile(p) }} as {{ name }}_estimate{{ ',' if not loop.last }}
        {%- endfor %}
),

quantiles as (
    select
        {%- for name, p in probabilities.items() %}
        {{ crm_uplift.halley_refined_quantile(name ~ '_estimate', p) }} as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from first_quantiles
)
{%- endmacro %}
