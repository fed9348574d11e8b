-- Revenue per customer, treated arm against control, with CUPED: the difference adjusted by a covariate X known
-- before the send (so unaffected by it): the customer's pre-launch revenue per 30 days as a customer. Lifetime
-- revenue grows with tenure, which says little about next month's spend (a five-year customer with three
-- orders buys less often than a new one with two); revenue per 30 days estimates the spending rate the
-- window's revenue follows. theta = cov(Y, X) / var(X) over the treated and control customers of the comparison
-- pooled; Y' = Y - theta (X - mean X). The adjusted difference estimates the same effect with a smaller variance
-- when X predicts window spend. X is rounded to the cent and every sum is an exact decimal, so the numbers do
-- not depend on the thread count.
{%- set alpha = var('uplift_alpha') %}
{%- set covariate_days = 30 %}

with

outcomes as (
    select campaign_id, customer_id, arm, rfm_segment, lifecycle_segment, revenue
    from {{ ref('campaign_outcomes') }}
),

rfm_features as (
    select campaign_id, customer_id, launch_date, monetary
    from {{ ref('rfm_features') }}
),

customers as (
    select customer_id, signed_up_at, first_order_at
    from {{ ref('customers') }}
),

-- Tenure from the signup (or the first sale, if earlier or the signup is unknown) to the launch, at least
-- covariate_days: a customer of one week is not extrapolated to a month.
tenures as (
    select
        rfm_features.campaign_id,
        rfm_features.customer_id,
        rfm_features.monetary,
        {{ dbt.datediff(
            'cast(coalesce(case when customers.first_order_at < customers.signed_up_at
                                then customers.first_order_at end, customers.signed_up_at,
                           customers.first_order_at) as date)',
            'rfm_features.launch_date', 'day') }} as tenure_days
    from rfm_features
    left join customers
        on rfm_features.customer_id = customers.customer_id
),

bounded_tenures as (
    select
        campaign_id,
        customer_id,
        cast(monetary * 100 as bigint) as monetary_cents,
        greatest(coalesce(tenure_days, {{ covariate_days }}), {{ covariate_days }}) as tenure_days
    from tenures
),

-- In whole cents, rounded half up with integer arithmetic: floor((2 d c + t) / (2 t)) for c cents over t days
-- (positive integers, so an engine's integer or floating division floors to the same cent).
covariates as (
    select
        campaign_id,
        customer_id,
        cast(
            cast(floor(({{ 2 * covariate_days }} * monetary_cents + tenure_days) / (2 * tenure_days))
                 as decimal(18, 0)) * 0.01
            as decimal(18, 2)
        ) as pre_launch_revenue_per_30_days
    from bounded_tenures
),

joined as (
    select
        outcomes.campaign_id,
        outcomes.arm,
        outcomes.rfm_segment,
        outcomes.lifecycle_segment,
        outcomes.revenue as y,
        coalesce(covariates.pre_launch_revenue_per_30_days, 0) as x
    from outcomes
    left join covariates
        on outcomes.campaign_id = covariates.campaign_id
        and outcomes.customer_id = covariates.customer_id
),

grouped as (
    select campaign_id, 'overall' as segment_scheme, 'All' as segment, arm, y, x from joined
    union all
    select campaign_id, 'rfm_tier' as segment_scheme, rfm_segment as segment, arm, y, x from joined
    union all
    select campaign_id, 'lifecycle' as segment_scheme, lifecycle_segment as segment, arm, y, x from joined
),

sums as (
    select
        campaign_id,
        segment_scheme,
        segment,
        arm,
        count(*) as customers,
        sum(y) as y_sum,
        sum(y * y) as y_square_sum,
        sum(x) as x_sum,
        sum(x * x) as x_square_sum,
        sum(x * y) as xy_sum
    from grouped
    group by campaign_id, segment_scheme, segment, arm
),

{{ normal_quantiles_ctes({'z_interval': 1 - alpha / 2}) }},

paired as (
    select
        treated.campaign_id,
        treated.segment_scheme,
        treated.segment,
        treated.arm,
        treated.customers as treated_customers,
        control.customers as control_customers,
        treated.y_sum as treated_y_sum,
        treated.y_square_sum as treated_y_square_sum,
        control.y_sum as control_y_sum,
        control.y_square_sum as control_y_square_sum,
        treated.x_sum as treated_x_sum,
        treated.x_square_sum as treated_x_square_sum,
        treated.xy_sum as treated_xy_sum,
        control.x_sum as control_x_sum,
        control.x_square_sum as control_x_square_sum,
        control.xy_sum as control_xy_sum,
        treated.customers + control.customers as pooled_customers,
        treated.x_sum + control.x_sum as pooled_x_sum,
        treated.y_sum + control.y_sum as pooled_y_sum,
        treated.x_square_sum + control.x_square_sum as pooled_x_square_sum,
        treated.xy_sum + control.xy_sum as pooled_xy_sum,
        quantiles.z_interval
    from sums as treated
    inner join sums as control
        on treated.campaign_id = control.campaign_id
        and treated.segment_scheme = control.segment_scheme
        and treated.segment = control.segment
        and control.arm = 'control'
    cross join quantiles
    where treated.arm <> 'control'
),

theta as (
    select
        paired.*,
        cast(pooled_x_sum as double) / pooled_customers as pooled_x_mean,
        -- Covariance over variance of the pooled customers; 0 when the covariate does not vary.
        coalesce({{ cuped_theta('cast(pooled_xy_sum as double)', 'cast(pooled_x_sum as double)',
                                'cast(pooled_y_sum as double)', 'cast(pooled_x_square_sum as double)',
                                'pooled_customers') }}, 0) as cuped_theta
    from paired
),

adjusted as (
    select
        theta.*,
        {{ cuped_adjusted_sum('treated_y_sum', 'treated_x_sum', 'treated_customers', 'cuped_theta', 'pooled_x_mean') }}
            as treated_adjusted_sum,
        {{ cuped_adjusted_sum('control_y_sum', 'control_x_sum', 'control_customers', 'cuped_theta', 'pooled_x_mean') }}
            as control_adjusted_sum,
        {{ cuped_adjusted_square_sum('treated_y_square_sum', 'treated_xy_sum', 'treated_x_square_sum', 'treated_y_sum',
                                     'treated_x_sum', 'treated_customers', 'cuped_theta', 'pooled_x_mean') }}
            as treated_adjusted_square_sum,
        {{ cuped_adjusted_square_sum('control_y_square_sum', 'control_xy_sum', 'control_x_square_sum', 'control_y_sum',
                                     'control_x_sum', 'control_customers', 'cuped_theta', 'pooled_x_mean') }}
            as control_adjusted_square_sum
    from theta
),

moments as (
    select
        adjusted.*,
        {{ welch_moments('revenue', 'treated_y_sum', 'treated_y_square_sum', 'treated_customers',
                         'control_y_sum', 'control_y_square_sum', 'control_customers') }},
        {{ welch_moments('cuped_revenue', 'treated_adjusted_sum', 'treated_adjusted_square_sum', 'treated_customers',
                         'control_adjusted_sum', 'control_adjusted_square_sum', 'control_customers') }}
    from adjusted
),

tested as (
    select
        moments.*,
        {{ welch_interval('revenue', 'treated_customers', 'control_customers', 'z_interval') }},
        {{ welch_interval('cuped_revenue', 'treated_customers', 'control_customers', 'z_interval') }}
    from moments
),

intervals as (
    select
        tested.*,
        {{ welch_bounds('revenue', 'z_interval') }},
        {{ welch_bounds('cuped_revenue', 'z_interval') }},
        {{ two_sided_p_value('revenue_per_customer_diff / nullif(revenue_standard_error, 0)') }} as revenue_p_value,
        {{ two_sided_p_value('cuped_revenue_per_customer_diff / nullif(cuped_revenue_standard_error, 0)') }}
            as cuped_revenue_p_value
    from tested
)

select
    campaign_id,
    segment_scheme,
    segment,
    arm,
    treated_customers,
    control_customers,
    treated_revenue_per_customer,
    control_revenue_per_customer,
    revenue_per_customer_diff,
    revenue_per_customer_diff_low,
    revenue_per_customer_diff_high,
    revenue_standard_error,
    revenue_p_value,
    'pre_launch_revenue_per_30_days' as cuped_covariate,
    cast(treated_x_sum as double) / treated_customers as treated_covariate_mean,
    cast(control_x_sum as double) / control_customers as control_covariate_mean,
    cuped_theta,
    treated_cuped_revenue_per_customer,
    control_cuped_revenue_per_customer,
    cuped_revenue_per_customer_diff,
    cuped_revenue_per_customer_diff_low,
    cuped_revenue_per_customer_diff_high,
    cuped_revenue_standard_error,
    cuped_revenue_p_value,
    cast({{ alpha }} as double) as alpha,
    cuped_revenue_p_value < {{ alpha }} as cuped_is_significant,
    1 - (cuped_revenue_standard_error * cuped_revenue_standard_error)
        / nullif(revenue_standard_error * revenue_standard_error, 0) as variance_reduction
from intervals
