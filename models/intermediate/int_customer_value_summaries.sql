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
scopes as (
    select
        'reference' as fit_scope,
        reference_date as cutoff_date,
        cast(null as date) as holdout_end
    from as_of
    union all
    select
        'holdout_calibration' as fit_scope,
        cast({{ dbt.dateadd('day', -(holdout_days | float | int), 'reference_date') }} as date) as cutoff_date,
        reference_date as holdout_end
    from as_of
),

calibration as (
    select
        scopes.fit_scope,
        purchase_days.customer_id,
        min(purchase_days.purchase_date) as first_purchase_date,
        max(purchase_days.purchase_date) as last_purchase_date,
        count(*) as purchase_day_count,
        sum(purchase_days.revenue) as total_value,
        sum(purchase_days.gross_margin) as total_margin
    from purchase_days
    inner join scopes
        on purchase_days.purchase_date < scopes.cutoff_date
    group by scopes.fit_scope, purchase_days.customer_id
),

-- Exact decimals, so the repeat days' value is the total less the first day's without rounding error.
first_day as (
    select
        calibration.fit_scope,
        calibration.customer_id,
        purchase_days.revenue as first_day_value
    from calibration
    inner join purchase_days
        on calibration.customer_id = purchase_days.customer_id
        and calibration.first_purchase_date = purchase_days.purchase_date
),

holdout as (
    select
        scopes.fit_scope,
        purchase_days.customer_id,
        count(*) as holdout_purchases,
        sum(purchase_days.revenue) as holdout_value
    from purchase_days
    inner join scopes
        on purchase_days.purchase_date >= scopes.cutoff_date
        and purchase_days.purchase_date < scopes.holdout_end
    group by scopes.fit_scope, purchase_days.customer_id
),

summaries as (
    select
        calibration.fit_scope,
        scopes.cutoff_date,
        scopes.holdout_end,
        calibration.customer_id,
        calibration.first_purchase_date,
        calibration.purchase_day_count - 1 as x,
        cast({{ dbt.datediff('calibration.first_purchase_date', 'calibration.last_purchase_date', 'day') }}
            as double) as t_x,
        cast({{ dbt.datediff('calibration.first_purchase_date', 'scopes.cutoff_date', 'day') }} - 1
            as double) as {{ adapter.quote('T') }},
        cast(calibration.total_value - first_day.first_day_value as decimal(18, 2)) as repeat_value,
        calibration.total_value,
        calibration.total_margin,
        holdout.holdout_purchases,
        holdout.holdout_value
    from calibration
    inner join scopes
        on calibration.fit_scope = scopes.fit_scope
    inner join first_day
        on calibration.fit_scope = first_day.fit_scope
        and calibration.customer_id = first_day.customer_id
    left join holdout
        on calibration.fit_scope = holdout.fit_scope
        and calibration.customer_id = holdout.customer_id
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
