-- Step 2: the categories a segment under-buys although they carry a high basket and a good margin,
-- best first (thresholds: the candidate_* variables in dbt_project.yml).
{%- set campaign_id = var('analysis_campaign_id', 'silver_outerwear_2026') -%}
{%- set segment = var('analysis_segment', 'Silver') %}

select
    category,
    ratio_frequence,
    ratio_panier,
    basket_index,
    gross_margin_rate,
    segment_penetration,
    all_penetration,
    margin_gap_per_customer,
    candidate_rank
from {{ ref('category_ratios') }}
where campaign_id = '{{ campaign_id }}'
    and segment_scheme = 'rfm_tier'
    and segment = '{{ segment }}'
    and is_candidate
order by candidate_rank
