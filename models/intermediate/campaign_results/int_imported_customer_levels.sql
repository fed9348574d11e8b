-- Every customer of an imported campaign once under breakdown 'All' (level 'All'), and once per breakdown
-- attribute (role breakdown or both) under the level it holds: the file's text, '(missing)' when empty.
with

customers as (
    select campaign_id, customer_id, arm
    from {{ ref('stg_campaign_results__customers') }}
),

breakdowns as (
    select campaign_id, customer_id, attribute, value_text
    from {{ ref('stg_campaign_results__attributes') }}
    where is_breakdown
),

overall as (
    select campaign_id, customer_id, arm, 'All' as breakdown, 'All' as level
    from customers
),

by_breakdown as (
    select
        customers.campaign_id,
        customers.customer_id,
        customers.arm,
        breakdowns.attribute as breakdown,
        coalesce(breakdowns.value_text, '(missing)') as level
    from customers
    inner join breakdowns
        on customers.campaign_id = breakdowns.campaign_id
        and customers.customer_id = breakdowns.customer_id
)

select * from overall
union all
select * from by_breakdown
