{#-
  Adapter-dispatched helpers for the few things dbt's cross-database macros do not cover.
  Each has a `default__` (ANSI / Postgres-like), a `duckdb__` and a `spark__` twin, so the
  project runs on DuckDB (embedded default) and on Spark through dbt-spark (SPEC §9).
-#}

{# 64-bit IEEE float. dbt.type_float() is FLOAT = 32-bit REAL on DuckDB and Spark. #}
{% macro type_double() -%}
  {{ return(adapter.dispatch('type_double', 'imoutotv_hot')()) }}
{%- endmacro %}
{% macro default__type_double() -%}double precision{%- endmacro %}
{% macro duckdb__type_double() -%}double{%- endmacro %}
{% macro spark__type_double() -%}double{%- endmacro %}


{# Seconds since the Unix epoch (double, microsecond precision) of a UTC timestamp. #}
{% macro epoch_seconds(ts) -%}
  {{ return(adapter.dispatch('epoch_seconds', 'imoutotv_hot')(ts)) }}
{%- endmacro %}
{% macro default__epoch_seconds(ts) -%}
  cast(extract(epoch from {{ ts }}) as {{ imoutotv_hot.type_double() }})
{%- endmacro %}
{% macro duckdb__epoch_seconds(ts) -%}
  (cast(epoch_us({{ ts }}) as double) / 1000000)
{%- endmacro %}
{% macro spark__epoch_seconds(ts) -%}
  (cast(unix_micros({{ ts }}) as double) / 1000000)
{%- endmacro %}


{# UTC timestamp (without time zone) from seconds since the Unix epoch. #}
{% macro to_timestamp_from_epoch(x) -%}
  {{ return(adapter.dispatch('to_timestamp_from_epoch', 'imoutotv_hot')(x)) }}
{%- endmacro %}
{% macro default__to_timestamp_from_epoch(x) -%}
  cast(to_timestamp({{ x }}) at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}
{% macro duckdb__to_timestamp_from_epoch(x) -%}
  make_timestamp(cast(round(({{ x }}) * 1000000) as bigint))
{%- endmacro %}
{% macro spark__to_timestamp_from_epoch(x) -%}
  timestamp_micros(cast(round(({{ x }}) * 1000000) as bigint))
{%- endmacro %}


{# 2^x as a double. #}
{% macro exp2(x) -%}
  {{ return(adapter.dispatch('exp2', 'imoutotv_hot')(x)) }}
{%- endmacro %}
{% macro default__exp2(x) -%}
  power(cast(2 as {{ imoutotv_hot.type_double() }}), {{ x }})
{%- endmacro %}
{% macro duckdb__exp2(x) -%}
  pow(cast(2 as double), {{ x }})
{%- endmacro %}
{% macro spark__exp2(x) -%}
  pow(cast(2 as double), {{ x }})
{%- endmacro %}


{# log2(x) for x > 0, as a double. #}
{% macro log2(x) -%}
  {{ return(adapter.dispatch('log2', 'imoutotv_hot')(x)) }}
{%- endmacro %}
{% macro default__log2(x) -%}
  (ln({{ x }}) / ln(cast(2 as {{ imoutotv_hot.type_double() }})))
{%- endmacro %}
{% macro duckdb__log2(x) -%}
  log2({{ x }})
{%- endmacro %}
{% macro spark__log2(x) -%}
  log2({{ x }})
{%- endmacro %}
