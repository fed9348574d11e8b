-- Every treatment arm against the control group of the same campaign and segment: rates, uplift with
-- intervals and tests, money per customer with Welch intervals, incremental figures, cost and ROI.
{#- A table on Spark: the Hive metastore keeps a view's text in a column of at most 32,700 characters. -#}
{{ config(materialized='table' if target.type == 'spark' else 'view') }}
{%- set alpha = var('uplift_alpha') %}
{%- set power = var('uplift_power') %}

with

aggregated as (
    select * from {{ ref('int_campaign_outcomes_aggregated') }}
),

campaigns as (
    select campaign_id, offer_amount
    from {{ ref('int_campaigns_for_source') }}
),

{{ normal_quantiles_ctes({'z_interval': 1 - alpha / 2, 'z_power': power}) }},

treated as (
    select * from aggregated where arm <> 'control'
),

control as (
    select * from aggregated where arm = 'control'
),

paired as (
    select
        treated.campaign_id,
        treated.segment_scheme,
        treated.segment,
        treated.arm,
        treated.channel,
        treated.contact_cost,
        treated.customers as treated_customers,
        coalesce(control.customers, 0) as control_customers,
        treated.conversions as treated_conversions,
        coalesce(control.conversions, 0) as control_conversions,
        treated.category_conversions as treated_category_conversions,
        coalesce(control.category_conversions, 0) as control_category_conversions,
        treated.redemptions,
        treated.revenue_sum as treated_revenue_sum,
        treated.revenue_square_sum as treated_revenue_square_sum,
        control.revenue_sum as control_revenue_sum,
        control.revenue_square_sum as control_revenue_square_sum,
        treated.margin_sum as treated_margin_sum,
        treated.margin_square_sum as treated_margin_square_sum,
        control.margin_sum as control_margin_sum,
        control.margin_square_sum as control_margin_square_sum,
        campaigns.offer_amount,
        quantiles.z_interval,
        quantiles.z_power
    from treated
    inner join campaigns
        on treated.campaign_id = campaigns.campaign_id
    cross join quantiles
    left join control
        on treated.campaign_id = control.campaign_id
        and treated.segment_scheme = control.segment_scheme
        and treated.segment = control.segment
),

statistics as (
    select
        campaign_id,
        segment_scheme,
        segment,
        arm,
        channel,
        treated_customers,
        control_customers,
        treated_conversions,
        control_conversions,
        {{ two_proportion_columns('conversion', 'treated_conversions', 'treated_customers',
                                  'control_conversions', 'control_customers', 'z_interval') }},
        cast({{ alpha }} as double) as alpha,
        -- The smallest absolute uplift these sample sizes detect with the chosen power at level alpha.
        (z_interval + z_power) * sqrt(
            (cast(control_conversions as double) / nullif(control_customers, 0))
            * (1 - cast(control_conversions as double) / nullif(control_customers, 0))
            * (1.0 / nullif(treated_customers, 0) + 1.0 / nullif(control_customers, 0))
        ) as minimum_detectable_uplift,
        treated_category_conversions,
        control_category_conversions,
        {{ two_proportion_columns('category_conversion', 'treated_category_conversions', 'treated_customers',
                                  'control_category_conversions', 'control_customers', 'z_interval') }},
        {{ welch_moments('revenue', 'treated_revenue_sum', 'treated_revenue_square_sum', 'treated_customers',
                         'control_revenue_sum', 'control_revenue_square_sum', 'control_customers') }},
        {{ welch_moments('margin', 'treated_margin_sum', 'treated_margin_square_sum', 'treated_customers',
                         'control_margin_sum', 'control_margin_square_sum', 'control_customers') }},
        z_interval,
        treated_customers as contacts,
        cast(treated_customers * contact_cost as decimal(18, 2)) as contact_cost,
        redemptions,
        cast(redemptions * offer_amount as decimal(18, 2)) as offer_cost
    from paired
),

tested as (
    select
        statistics.*,
        {{ two_sided_p_value('conversion_z_statistic') }} as conversion_p_value,
        {{ two_sided_p_value('category_conversion_z_statistic') }} as category_conversion_p_value,
        {{ welch_interval('revenue', 'treated_customers', 'control_customers', 'z_interval') }},
        {{ welch_interval('margin', 'treated_customers', 'control_customers', 'z_interval') }}
    from statistics
),

intervals as (
    select
        tested.*,
        {{ welch_bounds('revenue', 'z_interval') }},
        {{ welch_bounds('margin', 'z_interval') }}
    from tested
),

incremental as (
    select
        intervals.*,
        conversion_p_value < alpha as is_significant,
        conversion_uplift * treated_customers as incremental_conversions,
        revenue_per_customer_diff * treated_customers as incremental_revenue,
        margin_per_customer_diff * treated_customers as incremental_margin,
        cast(contact_cost + offer_cost as decimal(18, 2)) as campaign_cost
    from intervals
),

final as (
    select
        campaign_id,
        segment_scheme,
        segment,
        arm,
        channel,
        treated_customers,
        control_customers,
        treated_conversions,
        control_conversions,
        treated_conversion_rate,
        treated_conversion_rate_low,
        treated_conversion_rate_high,
        control_conversion_rate,
        control_conversion_rate_low,
        control_conversion_rate_high,
        conversion_uplift,
        conversion_uplift_low,
        conversion_uplift_high,
        conversion_z_statistic,
        conversion_p_value,
        conversion_relative_lift,
        alpha,
        minimum_detectable_uplift,
        treated_category_conversions,
        control_category_conversions,
        treated_category_conversion_rate,
        treated_category_conversion_rate_low,
        treated_category_conversion_rate_high,
        control_category_conversion_rate,
        control_category_conversion_rate_low,
        control_category_conversion_rate_high,
        category_conversion_uplift,
        category_conversion_uplift_low,
        category_conversion_uplift_high,
        category_conversion_z_statistic,
        category_conversion_p_value,
        category_conversion_relative_lift,
        treated_revenue_per_customer,
        control_revenue_per_customer,
        revenue_per_customer_diff,
        revenue_per_customer_diff_low,
        revenue_per_customer_diff_high,
        revenue_welch_df,
        treated_margin_per_customer,
        control_margin_per_customer,
        margin_per_customer_diff,
        margin_per_customer_diff_low,
        margin_per_customer_diff_high,
        margin_welch_df,
        contacts,
        contact_cost,
        redemptions,
        offer_cost,
        is_significant,
        incremental_conversions,
        incremental_revenue,
        incremental_margin,
        campaign_cost,
        incremental_margin - campaign_cost as net_incremental_margin,
        (incremental_margin - campaign_cost) / nullif(campaign_cost, 0) as roi
    from incremental
)

select * from final
