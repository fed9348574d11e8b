{#-
    A reproducible uniform number in [0, 1) for a key: the first 8 hex digits of md5(key) as an integer,
    divided by 2^32. md5 is the same on every engine and in Python's hashlib, so any engine (and
    `int(hashlib.md5(key.encode()).hexdigest()[:8], 16) / 2**32`) computes the same value. Only the
    hex-to-integer conversion differs between engines.
-#}
{% macro hash_uniform(key_expression) -%}
    (cast({{ hex_to_bigint('substr(md5(' ~ key_expression ~ '), 1, 8)') }} as double) / 4294967296.0)
{%- endmacro %}

{% macro hex_to_bigint(hex_expression) -%}
    {{ return(adapter.dispatch('hex_to_bigint', 'crm_uplift')(hex_expression)) }}
{%- endmacro %}

{% macro default__hex_to_bigint(hex_expression) -%}
    cast(conv({{ hex_expression }}, 16, 10) as bigint)
{%- endmacro %}

{% macro duckdb__hex_to_bigint(hex_expression) -%}
    cast('0x' || {{ hex_expression }} as bigint)
{%- endmacro %}
