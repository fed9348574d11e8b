-- Step 1 of the cross-sell analysis, written out in full: for one segment, its average basket and purchase
-- frequency per category before the launch, against all scored customers. `dbt compile` prints the SQL to
-- paste into any client; change the campaign or segment with
--   dbt compile --select segment_vs_everyone_by_category --vars '{analysis_campaign_id: ..., analysis_segment: Gold}'
{%- set campaign_id = var('analysis_campaign_id', 'silver_outerwear_2026') -%}
{%- set segment = var('analysis_segment', 'Silver') %}

with

campaign as (
    select launch_date
    from {{ ref('campaigns') }}
    where campaign_id = '{{ campaign_id }}'
),

scored as (
    select customer_id, rfm_segment
    from {{ ref('rfm_features') }}
    where campaign_id = '{{ campaign_id }}'
),

sales as (
    select transactions.customer_id, transactions.order_id, transactions.category, transactions.sale_price
    from {{ ref('transactions') }} as transactions
    cross join campaign
    where transactions.is_sale
        and transactions.ordered_at < cast(campaign.launch_date as timestamp)
),

per_category as (
    select
        sales.category,
        count(distinct case when scored.rfm_segment = '{{ segment }}' then sales.order_id end) as segment_orders,
        sum(case when scored.rfm_segment = '{{ segment }}' then sales.sale_price else 0 end) as segment_revenue,
        count(distinct sales.order_id) as all_orders,
        sum(sales.sale_price) as all_revenue
    from sales
    inner join scored
        on sales.customer_id = scored.customer_id
    group by sales.category
),

sizes as (
    select
        sum(case when rfm_segment = '{{ segment }}' then 1 else 0 end) as segment_customers,
        count(*) as all_customers
    from scored
)

select
    per_category.category,
    per_category.segment_revenue / nullif(per_category.segment_orders, 0) as segment_avg_basket,
    per_category.all_revenue / per_category.all_orders as all_avg_basket,
    (per_category.segment_revenue / nullif(per_category.segment_orders, 0))
        / (per_category.all_revenue / per_category.all_orders) as ratio_panier,
    cast(per_category.segment_orders as double) / sizes.segment_customers as segment_purchase_frequency,
    cast(per_category.all_orders as double) / sizes.all_customers as all_purchase_frequency,
    (cast(per_category.segment_orders as double) / sizes.segment_customers)
        / (cast(per_category.all_orders as double) / sizes.all_customers) as ratio_frequence
from per_category
cross join sizes
order by ratio_frequence
