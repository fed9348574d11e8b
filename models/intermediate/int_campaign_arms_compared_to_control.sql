-- Every treatment arm against the control group of the same campaign and segment: rates, uplift with
-- intervals and tests, money per customer with Welch intervals, incremental figures, cost and ROI.
{%- set alpha = var('uplift_alpha') %}
{%- set power = var('uplift_power') %}

with

aggregated as (
    select * from {{ ref('int_campaign_outcomes_aggregated') }}
),

campaigns as (
    select campaign_id, offer_amount
    from {{ ref('campaigns') }}
),

quantiles as (
    select
        {{ normal_quantile(1 - alpha / 2) }} as z_interval,
        {{ normal_quantile(power) }} as z_power
),

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
        {{ alpha }} as alpha,
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
        {{ welch_columns('revenue', 'treated_revenue_sum', 'treated_revenue_square_sum', 'treated_customers',
                         'control_revenue_sum', 'control_revenue_square_sum', 'control_customers', 'z_interval') }},
        {{ welch_columns('margin', 'treated_margin_sum', 'treated_margin_square_sum', 'treated_customers',
                         'control_margin_sum', 'control_margin_square_sum', 'control_customers', 'z_interval') }},
        treated_customers as contacts,
        cast(treated_customers * contact_cost as decimal(18, 2)) as contact_cost,
        redemptions,
        cast(redemptions * offer_amount as decimal(18, 2)) as offer_cost
    from paired
),

incremental as (
    select
        statistics.*,
        conversion_p_value < alpha as is_significant,
        conversion_uplift * treated_customers as incremental_conversions,
        revenue_per_customer_diff * treated_customers as incremental_revenue,
        margin_per_customer_diff * treated_customers as incremental_margin,
        contact_cost + offer_cost as campaign_cost
    from statistics
),

final as (
    select
        incremental.*,
        incremental_margin - campaign_cost as net_incremental_margin,
        (incremental_margin - campaign_cost) / nullif(campaign_cost, 0) as roi
    from incremental
)

select * from final
