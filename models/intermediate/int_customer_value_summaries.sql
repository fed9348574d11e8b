-- The BG/NBD and Gamma-Gamma calibration summary per fit scope and customer (Fader, Hardie & Lee 2005):
-- x repeat purchase days, t_x and T in days, the repeat days' mean value, and for the holdout scope what the
-- customer did after its cutoff. The same columns as customer_value.calibration_summary, made here so that the
-- Python models read one row per customer rather than every purchase day. Money is summed as exact decimals,
-- so no figure depends on the thread count or the row order.
{%- set holdout_days = var('clv_holdout_days') | string | trim %}
{%- if not modules.re.fullmatch('[0-9]+(\\.0*)?', holdout_days) or (holdout_days | float) < 1 %}
    {{ exceptions.raise_compiler_error(
        "variable clv_holdout_days must be a whole number of at least 1, got '" ~ holdout_days ~ "'") }}
{%- endif %}
with

purchase_days as (
    select customer_id, purchase_date, revenue, gross_margin, reference_date
    from {{ ref('int_customer_purchase_days') }}
),

as_of as (
    select max(reference_date) as reference_date
    from purchase_days
),

-- `reference` drives customer_value; `holdout_calibration` stops clv_holdout_days earlier and is scored on
-- the days from its cutoff to the reference date.
cutoffs as (
    select
        reference_date,
        cast({{ dbt.dateadd('day', -(holdout_days | float | int), 'reference_date') }} as date) as holdout_cutoff
    from as_of
),

-- One pass over the purchase days, both scopes' figures side by side. Each scope takes every day before its
-- cutoff, so a scope that has the customer at all has their first purchase day: its value is taken once.
customer_days as (
    select
        purchase_days.customer_id,
        min(purchase_days.purchase_date) as first_purchase_date,
        {{ value_at_min('purchase_days.revenue', 'purchase_days.purchase_date') }} as first_day_value,
        {%- for scope, cutoff in [('reference', 'cutoffs.reference_date'), ('calibration', 'cutoffs.holdout_cutoff')] %}
        sum(case when purchase_days.purchase_date < {{ cutoff }} then 1 else 0 end) as {{ scope }}_days,
        max(case when purchase_days.purchase_date < {{ cutoff }} then purchase_days.purchase_date end)
            as {{ scope }}_last_date,
        sum(case when purchase_days.purchase_date < {{ cutoff }} then purchase_days.revenue end) as {{ scope }}_value,
        sum(case when purchase_days.purchase_date < {{ cutoff }} then purchase_days.gross_margin end)
            as {{ scope }}_margin,
        {%- endfor %}
        sum(case
            when purchase_days.purchase_date >= cutoffs.holdout_cutoff
                and purchase_days.purchase_date < cutoffs.reference_date then 1 else 0
        end) as holdout_days_bought,
        sum(case
            when purchase_days.purchase_date >= cutoffs.holdout_cutoff
                and purchase_days.purchase_date < cutoffs.reference_date then purchase_days.revenue
        end) as holdout_days_value
    from purchase_days
    cross join cutoffs
    group by purchase_days.customer_id
),

scoped as (
    select
        'reference' as fit_scope,
        cutoffs.reference_date as cutoff_date,
        cast(null as date) as holdout_end,
        customer_days.customer_id,
        customer_days.first_purchase_date,
        customer_days.reference_last_date as last_purchase_date,
        customer_days.reference_days as purchase_day_count,
        customer_days.first_day_value,
        customer_days.reference_value as total_value,
        customer_days.reference_margin as total_margin,
        cast(null as bigint) as holdout_purchases,
        cast(null as decimal(18, 2)) as holdout_value
    from customer_days
    cross join cutoffs
    where customer_days.reference_days > 0
    union all
    select
        'holdout_calibration' as fit_scope,
        cutoffs.holdout_cutoff as cutoff_date,
        cutoffs.reference_date as holdout_end,
        customer_days.customer_id,
        customer_days.first_purchase_date,
        customer_days.calibration_last_date as last_purchase_date,
        customer_days.calibration_days as purchase_day_count,
        customer_days.first_day_value,
        customer_days.calibration_value as total_value,
        customer_days.calibration_margin as total_margin,
        customer_days.holdout_days_bought as holdout_purchases,
        customer_days.holdout_days_value as holdout_value
    from customer_days
    cross join cutoffs
    where customer_days.calibration_days > 0
),

summaries as (
    select
        fit_scope,
        cutoff_date,
        holdout_end,
        customer_id,
        first_purchase_date,
        purchase_day_count - 1 as x,
        cast({{ dbt.datediff('first_purchase_date', 'last_purchase_date', 'day') }} as double) as t_x,
        cast({{ dbt.datediff('first_purchase_date', 'cutoff_date', 'day') }} - 1 as double)
            as {{ adapter.quote('T') }},
        -- Exact decimals, so the repeat days' value is the total less the first day's without rounding error.
        cast(total_value - first_day_value as decimal(18, 2)) as repeat_value,
        total_value,
        total_margin,
        holdout_purchases,
        holdout_value
    from scoped
)

select
    fit_scope,
    cutoff_date,
    holdout_end,
    customer_id,
    first_purchase_date,
    cast(x as bigint) as x,
    t_x,
    {{ adapter.quote('T') }},
    case when x > 0 then cast(repeat_value as double) / x else 0.0 end as monetary_value,
    cast(total_value as double) as total_value,
    cast(total_margin as double) as total_margin,
    {{ adapter.quote('T') }} - t_x as recency_days,
    -- Null outside the holdout scope; zero for a customer who did not buy in the holdout window.
    case when holdout_end is not null then cast(coalesce(holdout_purchases, 0) as bigint) end
        as holdout_purchases,
    case when holdout_end is not null then cast(coalesce(holdout_value, 0) as double) end as holdout_value,
    cast({{ dbt.datediff('cutoff_date', 'holdout_end', 'day') }} as double) as holdout_length
from summaries
