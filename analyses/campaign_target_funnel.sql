-- Step 3: from scored customers to the target list, and who the targets are.
{%- set campaign_id = var('analysis_campaign_id', 'silver_outerwear_2026') %}

select
    funnel.campaign_name,
    funnel.scored_customers,
    funnel.segment_customers,
    funnel.already_bought_category,
    funnel.target_customers,
    targets.lifecycle_segment,
    count(*) as targets_in_lifecycle_segment,
    avg(targets.monetary) as average_monetary,
    avg(targets.recency_days) as average_recency_days
from {{ ref('campaign_funnel') }} as funnel
inner join {{ ref('campaign_targets') }} as targets
    on funnel.campaign_id = targets.campaign_id
where funnel.campaign_id = '{{ campaign_id }}'
group by
    funnel.campaign_name,
    funnel.scored_customers,
    funnel.segment_customers,
    funnel.already_bought_category,
    funnel.target_customers,
    targets.lifecycle_segment
order by targets_in_lifecycle_segment desc
