-- Imported campaigns, amount outcomes: every treatment arm against the control arm, overall (breakdown 'All')
-- and per level of each breakdown attribute. Means per ASSIGNED customer (zeros included), the difference with
-- Welch's interval (Student quantile at the Welch-Satterthwaite df, as uplift_by_arm) and a normal-approximation
-- p-value, incremental amount, cost and ROI; and the same comparison CUPED-adjusted on the campaign's covariate
-- (theta from the pooled customers of the comparison, see int_imported_arms_compared_to_control).
{%- set alpha = var('uplift_alpha') %}

with

compared as (
    select * from {{ ref('int_imported_arms_compared_to_control') }}
    where outcome_kind = 'amount'
),

{{ normal_quantiles_ctes({'z_interval': 1 - alpha / 2}) }},

moments as (
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
        compared.treated_value_sum,
        compared.control_value_sum,
        compared.cuped_covariate,
        compared.cuped_theta,
        compared.pooled_covariate_mean,
        compared.treated_covariate_mean,
        compared.control_covariate_mean,
        {{ welch_moments('amount', 'compared.treated_value_sum', 'compared.treated_value_square_sum',
                         'compared.treated_customers', 'compared.control_value_sum',
                         'compared.control_value_square_sum', 'compared.control_customers') }},
        {{ welch_moments('cuped', 'compared.treated_cuped_value_sum', 'compared.treated_cuped_value_square_sum',
                         'compared.treated_customers', 'compared.control_cuped_value_sum',
                         'compared.control_cuped_value_square_sum', 'compared.control_customers') }},
        quantiles.z_interval
    from compared
    cross join quantiles
),

tested as (
    select
        moments.*,
        {{ welch_interval('amount', 'treated_customers', 'control_customers', 'z_interval') }},
        {{ welch_interval('cuped', 'treated_customers', 'control_customers', 'z_interval') }}
    from moments
),

intervals as (
    select
        tested.*,
        {{ welch_bounds('amount', 'z_interval') }},
        {{ welch_bounds('cuped', 'z_interval') }},
        amount_per_customer_diff / nullif(amount_standard_error, 0) as amount_z_statistic,
        cuped_per_customer_diff / nullif(cuped_standard_error, 0) as cuped_z_statistic
    from tested
),

p_values as (
    select
        intervals.*,
        {{ two_sided_p_value('amount_z_statistic') }} as amount_p_value,
        {{ two_sided_p_value('cuped_z_statistic') }} as cuped_p_value,
        cast(treated_customers * contact_cost_per_customer as decimal(18, 2)) as contact_cost
    from intervals
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
        treated_value_sum as treated_amount,
        control_value_sum as control_amount,
        treated_amount_per_customer,
        control_amount_per_customer,
        amount_per_customer_diff,
        amount_per_customer_diff_low,
        amount_per_customer_diff_high,
        amount_welch_df,
        amount_standard_error,
        amount_z_statistic,
        amount_p_value,
        cast({{ alpha }} as double) as alpha,
        amount_p_value < {{ alpha }} as is_significant,
        amount_per_customer_diff * treated_customers as incremental_amount,
        treated_customers as contacts,
        contact_cost_per_customer,
        contact_cost,
        amount_per_customer_diff * treated_customers - contact_cost as net_incremental_amount,
        (amount_per_customer_diff * treated_customers - contact_cost) / nullif(contact_cost, 0) as roi,
        cuped_covariate,
        cuped_theta,
        pooled_covariate_mean as cuped_covariate_mean,
        case when cuped_covariate is not null then treated_covariate_mean end as treated_covariate_mean,
        case when cuped_covariate is not null then control_covariate_mean end as control_covariate_mean,
        treated_cuped_per_customer as treated_cuped_amount_per_customer,
        control_cuped_per_customer as control_cuped_amount_per_customer,
        cuped_per_customer_diff as cuped_amount_per_customer_diff,
        cuped_per_customer_diff_low as cuped_amount_per_customer_diff_low,
        cuped_per_customer_diff_high as cuped_amount_per_customer_diff_high,
        cuped_welch_df,
        cuped_standard_error,
        cuped_p_value,
        cuped_p_value < {{ alpha }} as cuped_is_significant,
        cuped_per_customer_diff * treated_customers as cuped_incremental_amount,
        1 - (cuped_standard_error * cuped_standard_error)
            / nullif(amount_standard_error * amount_standard_error, 0) as cuped_variance_reduction
    from p_values
)

select * from final
