{#-
  The pieces of this project's column checks: the failing conditions shared by the
  single-column generic tests (tests/generic/finite*.sql) and the per-model `column_rules`
  test, and that test's failing-row queries, one per rule (column, rule, value as text).
  Portable: NaN compares greater than every double on DuckDB, Spark and Postgres. NULLs pass
  every rule but not_null.
-#}

{# True for a value that is NaN or +/-infinity. #}
{% macro not_finite(column) -%}
  ({{ column }} is not null
   and not ({{ column }} >= -1.7976931348623157e308 and {{ column }} <= 1.7976931348623157e308))
{%- endmacro %}


{# True for a value that is negative, NaN or +/-infinity. #}
{% macro negative_or_not_finite(column) -%}
  ({{ column }} is not null and not ({{ column }} >= 0 and {{ column }} <= 1.7976931348623157e308))
{%- endmacro %}


{# Rows of `model` where `failing_when` holds for `column`. #}
{% macro column_rule_rows(model, column, rule, failing_when) -%}
select '{{ column }}' as column_name, '{{ rule }}' as rule,
       cast({{ column }} as {{ dbt.type_string() }}) as failing_value
from {{ model }}
where {{ failing_when }}
{%- endmacro %}


{# One row per non-NULL value of `column` that occurs more than once. #}
{% macro column_unique_rows(model, column) -%}
select '{{ column }}' as column_name, 'unique' as rule,
       cast({{ column }} as {{ dbt.type_string() }}) as failing_value
from {{ model }}
where {{ column }} is not null
group by {{ column }}
having count(*) > 1
{%- endmacro %}


{# One row (the row count) when `column` does not hold exactly 1..n over the n rows. #}
{% macro column_ranks_rows(model, column) -%}
select '{{ column }}' as column_name, 'ranks' as rule,
       cast(n_rows as {{ dbt.type_string() }}) as failing_value
from (
    select count(*) as n_rows, count(distinct {{ column }}) as n_distinct,
           min({{ column }}) as min_rank, max({{ column }}) as max_rank
    from {{ model }}
) as rank_stats
where n_rows > 0 and (n_distinct <> n_rows or min_rank <> 1 or max_rank <> n_rows)
{%- endmacro %}
