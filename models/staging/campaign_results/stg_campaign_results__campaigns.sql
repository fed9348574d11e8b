-- One row per imported campaign, as loaded.
select
    campaign_id,
    campaign_name,
    source_file,
    customers,
    launch_date,
    window_days,
    cuped_covariate
from {{ source('campaign_results', 'result_campaigns') }}
