-- Each treatment arm of each campaign against the campaign's control group, over all targets.
select *
from {{ ref('int_campaign_arms_compared_to_control') }}
where segment_scheme = 'overall'
