-- Imported campaigns, binary outcomes: every treatment arm against the control arm, overall (breakdown 'All')
-- and per level of each breakdown attribute. Rates with Wilson intervals, the uplift with its Wald interval,
-- the pooled two-proportion z-test, the minimum detectable uplift, incremental successes and their cost; the
-- same macros and column meanings as uplift_by_arm.
{%- set alpha = var('uplift_alpha') %}
{%- set power = var('uplift_power') %}

with

compared as (
    select * from {{ ref('int_imported_arms_compared_to_control') }}
    where outcome_kind = 'binary'
),

{{ normal_quantiles_ctes({'z_interval': 1 - alpha / 2, 'z_power': power}) }},

counted as (
    select
        compared.campaign_id,
        compared.outcome,
        compared.breakdown,
        compared.level,
        compared.arm,
        compared.channel,
        compared.contact_cost_per_customer,
        cast(compared.treated_customers as bigint) as treated_customers,
        cast(compared.control_customers as bigint) as control_customers,
        cast(round(compared.treated_value_sum) as bigint) as treated_successes,
        cast(round(compared.control_value_sum) as bigint) as control_successes,
        quantiles.z_interval,
        quantiles.z_power
    from compared
    cross join quantiles
),

statistics as (
    select
        campaign_id,
        outcome,
        breakdown,
        level,
        arm,
        channel,
        contact_cost_per_customer,
        treated_customers,
        control_customers,
        treated_successes,
        control_successes,
        {{ two_proportion_columns('outcome', 'treated_successes', 'treated_customers',
                                  'control_successes', 'control_customers', 'z_interval') }},
        cast({{ alpha }} as double) as alpha,
        (z_interval + z_power) * sqrt(
            (cast(control_successes as double) / nullif(control_customers, 0))
            * (1 - cast(control_successes as double) / nullif(control_customers, 0))
            * (1.0 / nullif(treated_customers, 0) + 1.0 / nullif(control_customers, 0))
        ) as minimum_detectable_uplift
    from counted
),

tested as (
    select
        statistics.*,
        {{ two_sided_p_value('outcome_z_statistic') }} as outcome_p_value,
        outcome_uplift * treated_customers as incremental_successes,
        cast(treated_customers * contact_cost_per_customer as decimal(18, 2)) as contact_cost
    from statistics
),

final as (
    select
        campaign_id,
        outcome,
        breakdown,
        level,
        arm,
        channel,
        treated_customers,
        control_customers,
        treated_successes,
        control_successes,
        treated_outcome_rate as treated_rate,
        treated_outcome_rate_low as treated_rate_low,
        treated_outcome_rate_high as treated_rate_high,
        control_outcome_rate as control_rate,
        control_outcome_rate_low as control_rate_low,
        control_outcome_rate_high as control_rate_high,
        outcome_uplift as uplift,
        outcome_uplift_low as uplift_low,
        outcome_uplift_high as uplift_high,
        outcome_z_statistic as z_statistic,
        outcome_p_value as p_value,
        outcome_relative_lift as relative_lift,
        alpha,
        minimum_detectable_uplift,
        outcome_p_value < alpha as is_significant,
        incremental_successes,
        treated_customers as contacts,
        contact_cost_per_customer,
        contact_cost,
        case when incremental_successes > 0 then cast(contact_cost as double) / incremental_successes end
            as cost_per_incremental_success
    from tested
)

select * from final
