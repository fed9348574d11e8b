-- One row per customer of an imported campaign, with the arm the customer was assigned to.
select
    campaign_id,
    customer_id,
    source_row,
    arm
from {{ source('campaign_results', 'result_customers') }}
