{#-
  Coordinated engagement (a ring, SPEC §3b): the three dbt vars, checked where a model is
  rendered (at parse and compile time), and the few engine-specific expressions of the ring
  models (int_ring_accounts, int_ring_videos, int_ring_holds).
-#}

{#-
  The ring parameters as numbers: window_sec (ring_window_min x 60, > 0), min_accounts (an
  integer >= 1) and share (in (0, 1]). A value out of range, or not a number, is a compile
  error naming the var: a window of 0 or a negative count would otherwise hold nothing (or
  everything) silently.
-#}
{% macro ring_params() %}
  {%- set window_min = _ring_number('ring_window_min') -%}
  {%- set min_accounts = _ring_number('ring_min_accounts') -%}
  {%- set share = _ring_number('ring_share') -%}
  {%- if window_min <= 0 -%}
    {{ exceptions.raise_compiler_error("var ring_window_min must be > 0 (minutes), got " ~ var('ring_window_min')) }}
  {%- endif -%}
  {%- if min_accounts < 1 or min_accounts != (min_accounts | int) -%}
    {{ exceptions.raise_compiler_error("var ring_min_accounts must be an integer >= 1, got " ~ var('ring_min_accounts')) }}
  {%- endif -%}
  {%- if share <= 0 or share > 1 -%}
    {{ exceptions.raise_compiler_error("var ring_share must be in (0, 1], got " ~ var('ring_share')) }}
  {%- endif -%}
  {{ return({'window_sec': window_min * 60, 'min_accounts': min_accounts | int, 'share': share}) }}
{% endmacro %}


{#- A var as a float; a compile error when it is not a number (a numeric string is one). -#}
{% macro _ring_number(name) %}
  {%- set raw = var(name) -%}
  {%- set value = raw if raw is number and raw is not boolean else (raw | string | float(default=none)) -%}
  {%- if value is none or raw is boolean -%}
    {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a number, got " ~ raw) }}
  {%- endif -%}
  {{ return(value | float) }}
{% endmacro %}


{#-
  The ring's accounts as a JSON array of strings, sorted by user id, at most `limit` of them
  (an aggregate over the rows of a group whose `rank_column` numbers them 1..n).
-#}
{% macro ring_accounts_json(user_column, rank_column, limit) -%}
  {{ return(adapter.dispatch('ring_accounts_json', 'imoutotv_hot')(user_column, rank_column, limit)) }}
{%- endmacro %}
{% macro default__ring_accounts_json(user_column, rank_column, limit) -%}
  cast(to_json(list_sort(list({{ user_column }}) filter (where {{ rank_column }} <= {{ limit }})))
       as varchar)
{%- endmacro %}
{% macro spark__ring_accounts_json(user_column, rank_column, limit) -%}
  to_json(array_sort(collect_list(case when {{ rank_column }} <= {{ limit }} then {{ user_column }} end)))
{%- endmacro %}
