-- Every treatment arm of an imported campaign against its control arm, per outcome, breakdown and level: the
-- two arms' counts and sums side by side, and the CUPED adjustment of the comparison. Every treatment arm
-- appears for every (outcome, breakdown, level) the campaign has, with 0 customers where it has none.
--
-- CUPED (Deng et al. 2013), on the POOLED customers of the two arms of the comparison (n = n_t + n_c):
--   theta = cov(Y, X) / var(X) = (S_xy - S_x S_y / n) / (S_xx - S_x^2 / n)  (0 when X is constant there),
--   Y' = Y - theta (X - mean X), so per arm  sum Y' = S_y - theta (S_x - n_arm mean X)  and
--   sum Y'^2 = S_yy - 2 theta S_xy + theta^2 S_xx + 2 c (S_y - theta S_x) + n_arm c^2,  with c = theta mean X.
with

groups as (
    select * from {{ ref('int_imported_outcome_groups') }}
),

arms as (
    select campaign_id, arm, is_control, channel, contact_cost
    from {{ ref('stg_campaign_results__arms') }}
),

campaigns as (
    select campaign_id, cuped_covariate
    from {{ ref('stg_campaign_results__campaigns') }}
),

comparisons as (
    select distinct campaign_id, outcome, outcome_kind, breakdown, level
    from groups
),

control_arms as (
    select campaign_id, arm from arms where is_control
),

paired as (
    select
        comparisons.campaign_id,
        comparisons.outcome,
        comparisons.outcome_kind,
        comparisons.breakdown,
        comparisons.level,
        treatment.arm,
        treatment.channel,
        treatment.contact_cost as contact_cost_per_customer,
        control_arms.arm as control_arm,
        campaigns.cuped_covariate,
        coalesce(treated.customers, 0) as treated_customers,
        coalesce(control.customers, 0) as control_customers,
        coalesce(treated.value_sum, 0) as treated_value_sum,
        coalesce(control.value_sum, 0) as control_value_sum,
        coalesce(treated.value_square_sum, 0) as treated_value_square_sum,
        coalesce(control.value_square_sum, 0) as control_value_square_sum,
        coalesce(treated.covariate_sum, 0) as treated_covariate_sum,
        coalesce(control.covariate_sum, 0) as control_covariate_sum,
        coalesce(treated.covariate_square_sum, 0) as treated_covariate_square_sum,
        coalesce(control.covariate_square_sum, 0) as control_covariate_square_sum,
        coalesce(treated.covariate_value_product_sum, 0) as treated_covariate_value_product_sum,
        coalesce(control.covariate_value_product_sum, 0) as control_covariate_value_product_sum,
        coalesce(treated.covariate_customers, 0) + coalesce(control.covariate_customers, 0)
            as pooled_covariate_customers,
        least(treated.covariate_min, control.covariate_min) as pooled_covariate_min,
        greatest(treated.covariate_max, control.covariate_max) as pooled_covariate_max
    from comparisons
    inner join arms as treatment
        on comparisons.campaign_id = treatment.campaign_id
        and not treatment.is_control
    inner join campaigns
        on comparisons.campaign_id = campaigns.campaign_id
    left join control_arms
        on comparisons.campaign_id = control_arms.campaign_id
    left join groups as treated
        on comparisons.campaign_id = treated.campaign_id
        and comparisons.outcome = treated.outcome
        and comparisons.breakdown = treated.breakdown
        and comparisons.level = treated.level
        and treatment.arm = treated.arm
    left join groups as control
        on comparisons.campaign_id = control.campaign_id
        and comparisons.outcome = control.outcome
        and comparisons.breakdown = control.breakdown
        and comparisons.level = control.level
        and control_arms.arm = control.arm
),

pooled as (
    select
        paired.*,
        treated_customers + control_customers as pooled_customers,
        treated_covariate_sum + control_covariate_sum as pooled_covariate_sum,
        treated_value_sum + control_value_sum as pooled_value_sum,
        treated_covariate_square_sum + control_covariate_square_sum as pooled_covariate_square_sum,
        treated_covariate_value_product_sum + control_covariate_value_product_sum
            as pooled_covariate_value_product_sum
    from paired
),

theta as (
    select
        pooled.*,
        -- Only where the campaign has a covariate and every customer of the comparison holds it.
        cuped_covariate is not null and pooled_customers > 0 and pooled_covariate_customers = pooled_customers
            as has_cuped,
        pooled_covariate_sum / nullif(pooled_customers, 0) as pooled_covariate_mean,
        case
            when cuped_covariate is null or pooled_customers = 0 or pooled_covariate_customers < pooled_customers
                then null
            -- A covariate constant within the comparison explains nothing: no adjustment.
            when pooled_covariate_min = pooled_covariate_max then 0.0
            else {{ cuped_theta('pooled_covariate_value_product_sum', 'pooled_covariate_sum', 'pooled_value_sum',
                                'pooled_covariate_square_sum', 'pooled_customers') }}
        end as cuped_theta
    from pooled
),

adjusted as (
    select
        theta.*,
        case when has_cuped then
            {{ cuped_adjusted_sum('treated_value_sum', 'treated_covariate_sum', 'treated_customers', 'cuped_theta',
                                  'pooled_covariate_mean') }}
        end as treated_cuped_value_sum,
        case when has_cuped then
            {{ cuped_adjusted_sum('control_value_sum', 'control_covariate_sum', 'control_customers', 'cuped_theta',
                                  'pooled_covariate_mean') }}
        end as control_cuped_value_sum
    from theta
)

select
    campaign_id,
    outcome,
    outcome_kind,
    breakdown,
    level,
    arm,
    channel,
    contact_cost_per_customer,
    control_arm,
    treated_customers,
    control_customers,
    treated_value_sum,
    control_value_sum,
    treated_value_square_sum,
    control_value_square_sum,
    case when has_cuped then cuped_covariate end as cuped_covariate,
    cuped_theta,
    case when has_cuped then pooled_covariate_mean end as pooled_covariate_mean,
    treated_covariate_sum / nullif(treated_customers, 0) as treated_covariate_mean,
    control_covariate_sum / nullif(control_customers, 0) as control_covariate_mean,
    treated_cuped_value_sum,
    control_cuped_value_sum,
    case when has_cuped then
        {{ cuped_adjusted_square_sum('treated_value_square_sum', 'treated_covariate_value_product_sum',
                                     'treated_covariate_square_sum', 'treated_value_sum', 'treated_covariate_sum',
                                     'treated_customers', 'cuped_theta', 'pooled_covariate_mean') }}
    end as treated_cuped_value_square_sum,
    case when has_cuped then
        {{ cuped_adjusted_square_sum('control_value_square_sum', 'control_covariate_value_product_sum',
                                     'control_covariate_square_sum', 'control_value_sum', 'control_covariate_sum',
                                     'control_customers', 'cuped_theta', 'pooled_covariate_mean') }}
    end as control_cuped_value_square_sum
from adjusted
