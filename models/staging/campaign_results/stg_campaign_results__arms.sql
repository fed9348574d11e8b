-- One row per arm of an imported campaign: short name, control flag, planned share, channel, cost per contact.
select
    campaign_id,
    arm_value,
    arm,
    is_control,
    planned_share,
    channel,
    contact_cost
from {{ source('campaign_results', 'result_arms') }}
