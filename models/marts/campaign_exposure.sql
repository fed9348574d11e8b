-- Who gets what: every target of a campaign is put in an arm by a hash of (campaign, customer), so the
-- assignment is random across customers but never changes on a rebuild, and a customer added later
-- never moves anyone else.
with

targets as (
    select campaign_id, customer_id, launch_date, rfm_segment, lifecycle_segment
    from {{ ref('campaign_targets') }}
),

campaigns as (
    select campaign_id, window_days
    from {{ ref('int_campaigns_for_source') }}
),

campaign_arms as (
    select campaign_id, arm, share, channel, contact_cost
    from {{ ref('campaign_arms') }}
),

-- Control first, then the treatment arms by name: a fixed order, so the cut points never depend on row order.
arm_bounds as (
    select
        campaign_id,
        arm,
        channel,
        contact_cost,
        sum(share) over (
            partition by campaign_id
            order by case when arm = 'control' then 0 else 1 end, arm
            rows between unbounded preceding and 1 preceding
        ) as lower_bound,
        sum(share) over (
            partition by campaign_id
            order by case when arm = 'control' then 0 else 1 end, arm
            rows between unbounded preceding and current row
        ) as upper_bound,
        row_number() over (
            partition by campaign_id
            order by case when arm = 'control' then 0 else 1 end desc, arm desc
        ) = 1 as is_last_arm
    from campaign_arms
),

hashed as (
    select
        targets.*,
        {{ hash_uniform(dbt.concat(["targets.campaign_id", "':'", dbt.cast("targets.customer_id", dbt.type_string())])) }}
            as assignment_value
    from targets
),

assigned as (
    select
        hashed.campaign_id,
        hashed.customer_id,
        hashed.launch_date,
        campaigns.window_days,
        hashed.rfm_segment,
        hashed.lifecycle_segment,
        hashed.assignment_value,
        arm_bounds.arm,
        arm_bounds.arm <> 'control' as is_treated,
        arm_bounds.channel,
        arm_bounds.contact_cost
    from hashed
    inner join campaigns
        on hashed.campaign_id = campaigns.campaign_id
    inner join arm_bounds
        on hashed.campaign_id = arm_bounds.campaign_id
        and hashed.assignment_value >= coalesce(arm_bounds.lower_bound, 0)
        -- The last arm takes everything up to 1, whatever the float sum of the shares.
        and (hashed.assignment_value < arm_bounds.upper_bound or arm_bounds.is_last_arm)
)

select * from assigned
