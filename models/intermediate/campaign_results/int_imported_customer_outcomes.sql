-- Every customer of an imported campaign once per outcome of the campaign, with the arm and the value: a customer
-- without an outcome row counts as 0 (per assigned customer, as in the uplift marts). The uplift model's input.
with

customers as (
    select campaign_id, customer_id, arm
    from {{ ref('stg_campaign_results__customers') }}
),

arms as (
    select campaign_id, arm, is_control
    from {{ ref('stg_campaign_results__arms') }}
),

outcomes as (
    select campaign_id, customer_id, outcome, outcome_kind, value
    from {{ ref('stg_campaign_results__outcomes') }}
),

campaign_outcomes as (
    select distinct campaign_id, outcome, outcome_kind
    from outcomes
),

final as (
    select
        customers.campaign_id,
        customers.customer_id,
        customers.arm,
        arms.is_control,
        campaign_outcomes.outcome,
        campaign_outcomes.outcome_kind,
        coalesce(outcomes.value, 0) as value
    from customers
    inner join arms
        on customers.campaign_id = arms.campaign_id
        and customers.arm = arms.arm
    inner join campaign_outcomes
        on customers.campaign_id = campaign_outcomes.campaign_id
    left join outcomes
        on customers.campaign_id = outcomes.campaign_id
        and customers.customer_id = outcomes.customer_id
        and campaign_outcomes.outcome = outcomes.outcome
)

select * from final
