-- The uplift model's features per imported campaign: every attribute of the mapping once. A covariate (role
-- covariate or both) is a number every customer holds, so it enters as a numeric feature; a breakdown-only
-- column may hold any text, so it enters as a categorical one (one-hot encoded by scripts/uplift_model.py).
with

attributes as (
    select distinct campaign_id, attribute, is_covariate
    from {{ ref('stg_campaign_results__attributes') }}
),

final as (
    select
        campaign_id,
        attribute,
        case when is_covariate then 'numeric' else 'categorical' end as feature_type
    from attributes
)

select * from final
