{#- A Jinja list of strings as a SQL list literal body: ['a', "b'c"] -> 'a', 'b''c' -#}
{% macro sql_string_list(values) -%}
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
