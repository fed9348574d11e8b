-- Revenue per customer, treated arm against control, with CUPED: the difference adjusted by each customer's
-- pre-launch revenue (known before the send, so unaffected by it). theta = cov(Y, X) / var(X) over the
-- treated and control customers of the comparison pooled; Y' = Y - theta (X - mean X). The adjusted
-- difference estimates the same effect with a smaller variance when pre-launch spend predicts window spend.
-- Computed from exact decimal sums, so the numbers do not depend on the thread count.
{%- set alpha = var('uplift_alpha') %}

with

outcomes as (
    select campaign_id, customer_id, arm, rfm_segment, lifecycle_segment, revenue
    from {{ ref('campaign_outcomes') }}
),

covariates as (
    select campaign_id, customer_id, monetary as pre_launch_revenue
    from {{ ref('rfm_features') }}
),

joined as (
    select
        outcomes.campaign_id,
        outcomes.arm,
        outcomes.rfm_segment,
        outcomes.lifecycle_segment,
        outcomes.revenue as y,
        coalesce(covariates.pre_launch_revenue, 0) as x
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

first_quantiles as (
    select {{ acklam_quantile(1 - alpha / 2) }} as z_interval_estimate
),

quantiles as (
    select {{ halley_refined_quantile('z_interval_estimate', 1 - alpha / 2) }} as z_interval
    from first_quantiles
),

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
    cast(treated_x_sum as double) / treated_customers as treated_pre_launch_revenue_per_customer,
    cast(control_x_sum as double) / control_customers as control_pre_launch_revenue_per_customer,
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
