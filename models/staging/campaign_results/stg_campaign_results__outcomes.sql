-- One row per customer and measured outcome of an imported campaign.
select
    campaign_id,
    customer_id,
    outcome,
    outcome_kind,
    value
from {{ source('campaign_results', 'result_outcomes') }}
