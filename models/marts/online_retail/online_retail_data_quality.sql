-- What each cleaning rule did to the Online Retail files: lines flagged by the rule, lines it removed from
-- sales (a line counts under the first rule that removes it, so the removals add up), and their amount.
{%- set drop_duplicates = var('online_retail_drop_duplicate_lines') in (true, 'true', 'True') %}

with

lines as (
    select
        exclusion_reason,
        is_sale,
        is_cancellation,
        is_adjustment,
        has_non_positive_quantity,
        has_non_positive_price,
        is_non_product_code,
        is_missing_customer,
        is_duplicate_line,
        line_amount
    from {{ ref('stg_online_retail__invoice_lines') }}
),

rules as (
    select 1 as rule_order, 'cancellation' as rule, 'invoice number starts with C' as description,
        true as removes_from_sales
    union all select 2, 'adjustment', 'invoice number starts with A (bad-debt adjustments)', true
    union all select 3, 'non-positive quantity', 'quantity is zero or negative', true
    union all select 4, 'non-positive price', 'unit price is zero or negative', true
    union all select 5, 'non-product stock code',
        'stock code does not match online_retail_product_code_pattern (postage, fees, manual lines...), '
        || 'after the exceptions seed', true
    union all select 6, 'exact duplicate line',
        'every field equal to an earlier line; removed only when online_retail_drop_duplicate_lines is true',
        {{ 'true' if drop_duplicates else 'false' }}
    union all select 7, 'missing customer id',
        'a sale that cannot be attributed: kept in the line counts, left out of every customer mart', false
),

flags as (
    select 'cancellation' as rule, is_cancellation as is_flagged, exclusion_reason, is_sale, is_missing_customer, line_amount from lines
    union all select 'adjustment', is_adjustment, exclusion_reason, is_sale, is_missing_customer, line_amount from lines
    union all select 'non-positive quantity', has_non_positive_quantity, exclusion_reason, is_sale, is_missing_customer, line_amount from lines
    union all select 'non-positive price', has_non_positive_price, exclusion_reason, is_sale, is_missing_customer, line_amount from lines
    union all select 'non-product stock code', is_non_product_code, exclusion_reason, is_sale, is_missing_customer, line_amount from lines
    union all select 'exact duplicate line', is_duplicate_line, exclusion_reason, is_sale, is_missing_customer, line_amount from lines
    union all select 'missing customer id', is_missing_customer, exclusion_reason, is_sale, is_missing_customer, line_amount from lines
),

counted as (
    select
        rule,
        sum(case when is_flagged then 1 else 0 end) as lines_flagged,
        sum(case when is_flagged then line_amount else 0 end) as amount_flagged,
        -- Removed by this rule: the rule is the line's first exclusion reason, or, for the missing customer
        -- rule, an otherwise valid sale without a customer.
        sum(case
            when exclusion_reason = rule then 1
            when rule = 'missing customer id' and is_sale and is_missing_customer then 1
            else 0
        end) as lines_removed,
        sum(case
            when exclusion_reason = rule then line_amount
            when rule = 'missing customer id' and is_sale and is_missing_customer then line_amount
            else 0
        end) as amount_removed
    from flags
    group by rule
),

totals as (
    select
        count(*) as lines_loaded,
        sum(case when is_sale and not is_missing_customer then 1 else 0 end) as sale_lines_kept,
        sum(case when is_sale and not is_missing_customer then line_amount else 0 end) as sale_amount_kept
    from lines
)

select
    cast(rules.rule_order as bigint) as rule_order,
    rules.rule,
    rules.description,
    rules.removes_from_sales,
    cast(counted.lines_flagged as bigint) as lines_flagged,
    cast(counted.amount_flagged as decimal(18, 2)) as amount_flagged,
    cast(counted.lines_removed as bigint) as lines_removed,
    cast(counted.amount_removed as decimal(18, 2)) as amount_removed,
    cast(totals.lines_loaded as bigint) as lines_loaded,
    cast(totals.sale_lines_kept as bigint) as sale_lines_kept,
    cast(totals.sale_amount_kept as decimal(18, 2)) as sale_amount_kept
from rules
inner join counted
    on rules.rule = counted.rule
cross join totals
