-- Imported campaigns' sample-ratio-mismatch check: do the arms hold the shares the mapping planned? Pearson's
-- chi-square over the campaign's arms (df = arms - 1); a p-value below srm_alpha flags a mismatch, and the
-- campaign's uplift figures cannot be trusted. As campaign_sample_ratio, for the imported campaigns.
with

arms as (
    select campaign_id, arm, is_control, planned_share
    from {{ ref('stg_campaign_results__arms') }}
),

observed as (
    select campaign_id, arm, count(*) as customers
    from {{ ref('stg_campaign_results__customers') }}
    group by campaign_id, arm
),

per_arm as (
    select
        arms.campaign_id,
        arms.arm,
        arms.is_control,
        arms.planned_share,
        cast(coalesce(observed.customers, 0) as bigint) as customers,
        cast(sum(coalesce(observed.customers, 0)) over (partition by arms.campaign_id) as bigint)
            as campaign_customers
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
        per_arm.is_control,
        per_arm.planned_share,
        per_arm.customers,
        cast(per_arm.customers as double) / nullif(per_arm.campaign_customers, 0) as observed_share,
        per_arm.campaign_customers * per_arm.planned_share as expected_customers,
        per_arm.campaign_customers,
        tested.chi_square,
        tested.degrees_of_freedom,
        tested.p_value,
        tested.p_value < {{ var('srm_alpha') }} as is_sample_ratio_mismatch
    from per_arm
    inner join tested
        on per_arm.campaign_id = tested.campaign_id
)

select * from final
