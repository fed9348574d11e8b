-- The arms of each campaign must split its targets completely.
select campaign_id, sum(share) as total_share
from {{ ref('campaign_arms') }}
group by campaign_id
having abs(sum(share) - 1) > 1e-9
