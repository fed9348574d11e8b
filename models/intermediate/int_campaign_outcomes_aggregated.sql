-- Sufficient statistics per campaign, segment and arm: counts and exact decimal sums (and sums of
-- squares), from which every uplift statistic follows without a second pass over customers.
with

outcomes as (
    select
        campaign_id,
        arm,
        channel,
        contact_cost,
        rfm_segment,
        lifecycle_segment,
        is_converted,
        is_converted_in_category,
        is_redeemed,
        revenue,
        gross_margin
    from {{ ref('campaign_outcomes') }}
),

grouped as (
    select campaign_id, 'overall' as segment_scheme, 'All' as segment, outcomes.* from outcomes
    union all
    select campaign_id, 'rfm_tier' as segment_scheme, rfm_segment as segment, outcomes.* from outcomes
    union all
    select campaign_id, 'lifecycle' as segment_scheme, lifecycle_segment as segment, outcomes.* from outcomes
),

aggregated as (
    select
        campaign_id,
        segment_scheme,
        segment,
        arm,
        channel,
        contact_cost,
        cast(count(*) as bigint) as customers,
        cast(sum(case when is_converted then 1 else 0 end) as bigint) as conversions,
        cast(sum(case when is_converted_in_category then 1 else 0 end) as bigint) as category_conversions,
        cast(sum(case when is_redeemed then 1 else 0 end) as bigint) as redemptions,
        sum(revenue) as revenue_sum,
        sum(revenue * revenue) as revenue_square_sum,
        sum(gross_margin) as margin_sum,
        sum(gross_margin * gross_margin) as margin_square_sum
    from grouped
    group by campaign_id, segment_scheme, segment, arm, channel, contact_cost
)

select * from aggregated
