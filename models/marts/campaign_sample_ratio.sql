-- Sample-ratio-mismatch check: do the arms hold the shares that were planned? A tiny p-value means the
-- assignment or the data lost customers unevenly, and the uplift figures cannot be trusted.
with

arms as (
    select campaign_arms.campaign_id, campaign_arms.arm, campaign_arms.share
    from {{ ref('campaign_arms') }} as campaign_arms
    inner join {{ ref('int_campaigns_for_source') }} as campaigns
        on campaign_arms.campaign_id = campaigns.campaign_id
),

observed as (
    select campaign_id, arm, count(*) as customers
    from {{ ref('campaign_exposure') }}
    group by campaign_id, arm
),

per_arm as (
    select
        arms.campaign_id,
        arms.arm,
        arms.share as planned_share,
        coalesce(observed.customers, 0) as customers,
        cast(sum(coalesce(observed.customers, 0)) over (partition by arms.campaign_id) as bigint) as campaign_customers
    from arms
    left join observed
        on arms.campaign_id = observed.campaign_id
        and arms.arm = observed.arm
),

tested as (
    {{ sample_ratio_test('per_arm') }}
),

final as (
    select
        per_arm.campaign_id,
        per_arm.arm,
        per_arm.planned_share,
        per_arm.customers,
        cast(per_arm.customers as double) / nullif(per_arm.campaign_customers, 0) as observed_share,
        per_arm.campaign_customers * per_arm.planned_share as expected_customers,
        per_arm.campaign_customers as exposed_customers,
        tested.chi_square,
        tested.degrees_of_freedom,
        tested.p_value,
        tested.p_value < {{ var('srm_alpha') }} as is_sample_ratio_mismatch
    from per_arm
    inner join tested
        on per_arm.campaign_id = tested.campaign_id
)

select * from final
