-- One row per customer and pre-period attribute of an imported campaign; `is_breakdown` / `is_covariate` from
-- the attribute's role (a column may be both).
select
    campaign_id,
    customer_id,
    attribute,
    role,
    role in ('breakdown', 'both') as is_breakdown,
    role in ('covariate', 'both') as is_covariate,
    value_text,
    value_number
from {{ source('campaign_results', 'result_attributes') }}
