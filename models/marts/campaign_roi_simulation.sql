-- The planning view before launch: what the campaign should return if the planning assumptions hold.
with

campaigns as (
    select
        campaign_id,
        campaign_name,
        assumed_conversion_rate,
        assumed_basket,
        assumed_margin_rate,
        offer_amount
    from {{ ref('int_campaigns_for_source') }}
),

arm_sizes as (
    select campaign_id, arm, customers
    from {{ ref('campaign_sample_ratio') }}
),

campaign_arms as (
    select campaign_id, arm, contact_cost
    from {{ ref('campaign_arms') }}
),

audience as (
    select
        arm_sizes.campaign_id,
        cast(sum(case when arm_sizes.arm <> 'control' then arm_sizes.customers else 0 end) as bigint)
            as exposed_customers,
        cast(sum(case when arm_sizes.arm = 'control' then arm_sizes.customers else 0 end) as bigint)
            as control_customers,
        sum(case when arm_sizes.arm <> 'control' then arm_sizes.customers * campaign_arms.contact_cost else 0 end)
            as contact_cost
    from arm_sizes
    inner join campaign_arms
        on arm_sizes.campaign_id = campaign_arms.campaign_id
        and arm_sizes.arm = campaign_arms.arm
    group by arm_sizes.campaign_id
),

expected as (
    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        audience.exposed_customers,
        audience.control_customers,
        campaigns.assumed_conversion_rate,
        campaigns.assumed_basket,
        campaigns.assumed_margin_rate,
        campaigns.offer_amount,
        audience.exposed_customers * campaigns.assumed_conversion_rate as expected_conversions,
        audience.exposed_customers * campaigns.assumed_conversion_rate * campaigns.assumed_basket
            as expected_revenue,
        audience.exposed_customers * campaigns.assumed_conversion_rate * campaigns.assumed_basket
            * campaigns.assumed_margin_rate as expected_gross_margin,
        audience.exposed_customers * campaigns.assumed_conversion_rate * campaigns.offer_amount
            as expected_offer_cost,
        cast(audience.contact_cost as decimal(18, 2)) as contact_cost,
        (campaigns.assumed_basket * campaigns.assumed_margin_rate - campaigns.offer_amount)
            / nullif(campaigns.offer_amount, 0) as roi_per_converted_customer
    from campaigns
    inner join audience
        on campaigns.campaign_id = audience.campaign_id
),

final as (
    select
        expected.*,
        expected_gross_margin - expected_offer_cost - contact_cost as expected_net_margin,
        (expected_gross_margin - expected_offer_cost - contact_cost)
            / nullif(expected_offer_cost + contact_cost, 0) as expected_roi
    from expected
)

select * from final
