-- The campaigns of the data being built (the `crm_source` variable): a thelook campaign means nothing on the
-- Online Retail files, and the other way round.
select
    campaign_id,
    campaign_name,
    data_source,
    was_sent,
    launch_date,
    window_days,
    segment_scheme,
    target_segment,
    target_category,
    offer_amount,
    offer_min_basket,
    assumed_margin_rate,
    assumed_basket,
    assumed_conversion_rate
from {{ ref('campaigns') }}
where data_source = '{{ var("crm_source") }}'
