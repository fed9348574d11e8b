-- The funnel's targets are the rows of campaign_targets, and every target is exposed in exactly one arm.
with

funnel as (
    select campaign_id, target_customers
    from {{ ref('campaign_funnel') }}
),

targets as (
    select campaign_id, count(*) as target_rows
    from {{ ref('campaign_targets') }}
    group by campaign_id
),

exposure as (
    select campaign_id, count(*) as exposure_rows
    from {{ ref('campaign_exposure') }}
    group by campaign_id
)

select
    funnel.campaign_id,
    funnel.target_customers,
    coalesce(targets.target_rows, 0) as target_rows,
    coalesce(exposure.exposure_rows, 0) as exposure_rows
from funnel
left join targets
    on funnel.campaign_id = targets.campaign_id
left join exposure
    on funnel.campaign_id = exposure.campaign_id
where funnel.target_customers <> coalesce(targets.target_rows, 0)
    or funnel.target_customers <> coalesce(exposure.exposure_rows, 0)
