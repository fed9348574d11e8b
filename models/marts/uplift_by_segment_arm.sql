-- Each treatment arm against the control customers of the same segment (Gold/Silver/Bronze and
-- VIP/Regular/At-risk), so that an effect that differs by segment shows.
select *
from {{ ref('int_campaign_arms_compared_to_control') }}
where segment_scheme <> 'overall'
