-- Uplift is measured against a control group: every campaign needs exactly one.
select campaigns.campaign_id
from {{ ref('campaigns') }} as campaigns
left join {{ ref('campaign_arms') }} as campaign_arms
    on campaigns.campaign_id = campaign_arms.campaign_id
    and campaign_arms.arm = 'control'
group by campaigns.campaign_id
having count(campaign_arms.arm) <> 1
