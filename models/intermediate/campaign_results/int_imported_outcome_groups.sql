-- Per imported campaign, outcome, breakdown, level and arm: the customers ASSIGNED to the arm (every one, so a
-- customer without a value counts as 0), the sums of the outcome Y and of its square, and, when the campaign
-- has a CUPED covariate X, the sums of X, X^2 and X*Y and X's range: all the statistics downstream need.
with

customer_levels as (
    select * from {{ ref('int_imported_customer_levels') }}
),

campaigns as (
    select campaign_id, cuped_covariate
    from {{ ref('stg_campaign_results__campaigns') }}
),

-- Every assigned customer once per outcome of the campaign, 0 where they have no value.
customer_outcomes as (
    select campaign_id, customer_id, outcome, outcome_kind, value
    from {{ ref('int_imported_customer_outcomes') }}
),

covariates as (
    select attributes.campaign_id, attributes.customer_id, attributes.value_number as covariate
    from {{ ref('stg_campaign_results__attributes') }} as attributes
    inner join campaigns
        on attributes.campaign_id = campaigns.campaign_id
        and attributes.attribute = campaigns.cuped_covariate
),

customer_values as (
    select
        customer_levels.campaign_id,
        customer_outcomes.outcome,
        customer_outcomes.outcome_kind,
        customer_levels.breakdown,
        customer_levels.level,
        customer_levels.arm,
        customer_outcomes.value as y,
        covariates.covariate as x
    from customer_levels
    inner join customer_outcomes
        on customer_levels.campaign_id = customer_outcomes.campaign_id
        and customer_levels.customer_id = customer_outcomes.customer_id
    left join covariates
        on customer_levels.campaign_id = covariates.campaign_id
        and customer_levels.customer_id = covariates.customer_id
)

select
    campaign_id,
    outcome,
    outcome_kind,
    breakdown,
    level,
    arm,
    count(*) as customers,
    sum(y) as value_sum,
    sum(y * y) as value_square_sum,
    count(x) as covariate_customers,
    sum(x) as covariate_sum,
    sum(x * x) as covariate_square_sum,
    sum(x * y) as covariate_value_product_sum,
    min(x) as covariate_min,
    max(x) as covariate_max
from customer_values
group by campaign_id, outcome, outcome_kind, breakdown, level, arm
