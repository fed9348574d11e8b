{#- What the project needs to run on Apache Spark (dbt-spark) that dbt does not give it (docs/spark.md). -#}

{#- On Spark the raw tables are views over Parquet files; DuckDB has them from the loaders. Two layouts:
    - raw_parquet_tables null: the thelook generator's folder (the shards the closed loop writes included);
    - raw_parquet_tables a mapping schema -> tables: a warehouse's raw tables as exported by
      scripts/export_raw_parquet.py, <raw_parquet_dir>/<schema>/<table>.parquet (thelook, Online Retail,
      imported campaign results: whichever the warehouse held).
    Run as an on-run-start hook. -#}
{% macro create_raw_views() %}
    {{ return(adapter.dispatch('create_raw_views', 'crm_uplift')()) }}
{% endmacro %}

{% macro default__create_raw_views() %}
{% endmacro %}

{% macro spark__create_raw_views() %}
    {%- set folder = var('raw_parquet_dir', none) -%}
    {%- set exported = var('raw_parquet_tables', none) -%}
    {%- if execute and exported is not none -%}
        {%- if folder is none -%}
            {{ exceptions.raise_compiler_error(
                "raw_parquet_tables is set but raw_parquet_dir is not: set it to the folder of the exported "
                ~ "<schema>/<table>.parquet files (scripts/crm.py spark-build --from-warehouse does).") }}
        {%- endif -%}
        {%- for schema, tables in exported.items() -%}
            {%- do run_query('create database if not exists ' ~ schema) -%}
            {%- for table in tables -%}
                {%- do run_query(
                    'create or replace view ' ~ schema ~ '.' ~ table ~ ' as select * from parquet.`'
                    ~ folder ~ '/' ~ schema ~ '/' ~ table ~ '.parquet`') -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- elif execute and var('crm_source', 'thelook') == 'thelook' -%}
        {%- if folder is none -%}
            {{ exceptions.raise_compiler_error(
                "On Spark the raw thelook tables are read from Parquet files: set the variable raw_parquet_dir "
                ~ "to their folder (scripts/crm.py spark-build does).") }}
        {%- endif -%}
        {%- set schema = var('thelook_raw_schema') -%}
        {%- do run_query('create database if not exists ' ~ schema) -%}
        {%- for table in ['users', 'orders', 'order_items', 'products', 'distribution_centers'] -%}
            {%- do run_query(
                'create or replace view ' ~ schema ~ '.' ~ table ~ ' as select * from parquet.`'
                ~ folder ~ '/{' ~ table ~ '.parquet,' ~ table ~ '-*.parquet}`') -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}

{#- dbt-spark's session mode pastes seed values into the SQL unquoted-for-quotes, so a value holding an
    apostrophe (the Online Retail exceptions seed has three) breaks the insert: write escaped literals. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    {%- if value is none -%}cast(null as {{ types[loop.index0] }})
                    {%- else -%}cast('{{ (value | string) | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ types[loop.index0] }})
                    {%- endif -%}
                    {%- if not loop.last -%},{%- endif -%}
                {%- endfor -%})
                {%- if not loop.last -%},{%- endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}
